"""The widgets in a real JupyterLab, in a real browser (headless Debian chromium via Playwright).

Starts JupyterLab on 127.0.0.1 (free port, token, isolated settings), opens lessons 02-04, runs
every cell once the kernel is connected and idle, checks that every widget rendered (no error
widget, no "Loading widget", no console errors), moves a slider with the keyboard, and asserts
that the plot changed (pixel difference) and the readout shows the new value. Before/after
screenshots are saved in test-artifacts/browser/.

Then, in JupyterLab as ./course lab starts it, the Validate button on a lesson with a known mistake:
its dialog shows the whole likely cause, wrapped inside the dialog (test-artifacts/browser/validate.png).
"""
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest

from conftest import ROOT, free_port, jupyter_server
from instructor.commands.cli import student_lab
from instructor.commands.demo import BUGGY_RNN_BACKWARD
from instructor.model.layout import notebook_path
from instructor.pipeline.submissions import make_submission
from rnnlib.grading import bptt

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
KERNEL_IDLE = """() => { const k = window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel;
                        return !!k && k.connectionStatus === 'connected' && k.status === 'idle'; }"""
NOTHING_RUNNING = "() => ![...document.querySelectorAll('.jp-InputPrompt')].some(e => e.textContent.includes('*'))"

# lesson -> the CSS class of the widget it displays (set with add_class in rnnlib.widgets) and how
# many steps to move its first slider so that the picture must change. The softmax explorer starts
# at scale 100, where both softmaxes are already one-hot: 10 steps (0.1 each, log scale) reach 794,
# past exp's overflow at 709.78, where the naive bars turn into nan.
WIDGETS = {
    "02_softmax_stability": ("softmax-overflow-explorer", 10),
    "03_bptt": ("bptt-stepper", 5),
    "04_vanishing_gradients": ("gradient-flow-explorer", 5),
    "08_seq2seq_attention": ("attention-heatmap", 3),
}

pytestmark = [pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed "
                                 "(./course test installs it when run as root: apt-get install chromium)"),
              pytest.mark.browser, pytest.mark.e2e,
              pytest.mark.xdist_group("browser")]    # one worker: one JupyterLab server for all four


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a copy of the solution notebooks; yields (base_url, token)."""
    home = tmp_path_factory.mktemp("lab")
    for lesson in WIDGETS:
        shutil.copy(notebook_path(ROOT / "solutions", lesson), home)
    settings = home / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port, token = free_port(), "rnn-browser-test"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / ".config"), JUPYTER_RUNTIME_DIR=str(home / ".runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(home / ".settings"), JUPYTERLAB_WORKSPACES_DIR=str(home / ".workspaces"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         "--port-retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home}",
         "--expose-app-in-browser"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("JupyterLab did not start within 60 s")
            time.sleep(0.3)
    yield base, token
    server.terminate()
    server.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


def changed_fraction(before, after):
    import matplotlib.image as mpimg
    a, b = mpimg.imread(before), mpimg.imread(after)
    if a.shape != b.shape:
        return 1.0
    return float(np.mean(np.any(np.abs(a - b) > 1e-3, axis=-1)))


def wait_until_stable(page, plot, quiet_ms=1000, timeout_s=30):
    """Wait until the kernel is idle and the plot's image has not changed for quiet_ms."""
    deadline, src = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        page.wait_for_function(KERNEL_IDLE, timeout=30_000)
        if plot.get_attribute("src") == src:
            return
        src = plot.get_attribute("src")
        page.wait_for_timeout(quiet_ms)
    pytest.fail(f"the plot kept changing for {timeout_s} s")


@pytest.mark.parametrize("lesson", list(WIDGETS))
def test_widget_renders_and_reacts_in_jupyterlab(lab, browser, lesson):
    base, token = lab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    name = notebook_path(ROOT / "solutions", lesson).name
    page.goto(f"{base}/lab/tree/{name}?token={token}&reset")
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

    css, presses = WIDGETS[lesson]
    widget = page.locator(f".{css}").first
    widget.wait_for(timeout=90_000)
    plot = widget.locator("img").first
    plot.wait_for(timeout=60_000)
    page.wait_for_function(NOTHING_RUNNING, timeout=90_000)
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)
    page.wait_for_timeout(500)

    assert page.locator(".jupyter-widgets-error-widget").count() == 0
    assert "Loading widget" not in page.inner_text(".jp-Notebook")
    assert not [c for c in page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all()]

    readout = widget.locator(".widget-readout").first
    before_value, before_src = readout.inner_text(), plot.get_attribute("src")
    widget.screenshot(path=ARTIFACTS / f"{lesson}-before.png")
    plot.screenshot(path=ARTIFACTS / f"{lesson}-plot-before.png")
    widget.locator(".noUi-handle").first.focus()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("([el, old]) => el.innerText !== old", arg=[readout.element_handle(), before_value],
                           timeout=10_000)
    # Each key press is one update; the plot is final once its image stops changing.
    page.wait_for_function("([sel, old]) => document.querySelector(sel)?.src !== old",
                           arg=[f".{css} img", before_src], timeout=30_000)
    wait_until_stable(page, plot)
    widget.screenshot(path=ARTIFACTS / f"{lesson}-after.png")
    plot.screenshot(path=ARTIFACTS / f"{lesson}-plot-after.png")

    assert readout.inner_text() != before_value
    assert changed_fraction(ARTIFACTS / f"{lesson}-plot-before.png", ARTIFACTS / f"{lesson}-plot-after.png") > 0.005
    assert not errors, errors
    page.close()


# BUGGY_RNN_BACKWARD's likely cause, as rnn_backward's check words it: one line of about 190 characters.
CAUSE = "Likely cause: " + next(hint for mistake, hint in bptt._SEQUENCE_MISTAKES
                                if mistake == {"accumulate": "overwrite"})
# Scrolls the dialog down to the cause's last words; returns where they are on the page, where the
# dialog is, and by how much its text and its body are wider than their boxes.
LAYOUT = """(cause) => {
    const dialog = document.querySelector('.jp-Dialog-content'), body = dialog.querySelector('.jp-Dialog-body');
    const pre = [...dialog.querySelectorAll('#validation-message pre')].find(p => p.textContent.includes(cause));
    const text = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = text.nextNode()) && !node.textContent.includes(cause)) {}
    const end = node.textContent.indexOf(cause) + cause.length, words = document.createRange();
    words.setStart(node, end - 20);
    words.setEnd(node, end);
    body.scrollTop += words.getBoundingClientRect().bottom - body.getBoundingClientRect().bottom + 20;
    const box = r => ({left: r.left, right: r.right, top: r.top, bottom: r.bottom});
    return {words: box(words.getBoundingClientRect()), dialog: box(dialog.getBoundingClientRect()),
            overflow: [pre, body].map(e => e.scrollWidth - e.clientWidth)};
}"""


def test_validate_shows_the_whole_likely_cause(browser, tmp_path):
    """Lesson 03 with the weight gradients overwritten at every step, in JupyterLab started as ./course
    lab starts it (in the course root, whose nbgrader_config.py Validate reads, with the students'
    Jupyter paths): Validate's dialog holds the likely cause whole, and its last words are in sight."""
    assert len(CAUSE) > 120
    root = tmp_path / "notebooks"
    root.mkdir()
    release, solution = (nbformat.read(notebook_path(ROOT / folder, "03_bptt"), as_version=4)
                         for folder in ("notebooks", "solutions"))
    name = notebook_path(ROOT / "notebooks", "03_bptt").name
    nbformat.write(make_submission(release, solution, replace={"rnn_backward": BUGGY_RNN_BACKWARD}), root / name)
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port, token = free_port(), "rnn-validate-test"
    env = dict(os.environ, **student_lab(tmp_path / "student-lab"), JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
            "--port-retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    base = f"http://127.0.0.1:{port}"
    with jupyter_server(argv, ROOT, env, f"{base}/api/status?token={token}", tmp_path / "lab.log"):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/lab/tree/{name}?token={token}&reset")
        page.locator(".jp-ToolbarButtonComponent[title='Validate Assignment']").click(timeout=90_000)
        message = page.locator(".jp-Dialog #validation-message")
        message.wait_for(timeout=180_000)
        shown, layout = message.inner_text(), page.evaluate(LAYOUT, CAUSE)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "validate.png")
        page.close()
    assert CAUSE in shown
    assert layout["overflow"] == [0, 0]              # nothing to scroll sideways to
    words, dialog = layout["words"], layout["dialog"]
    assert dialog["left"] <= words["left"] and words["right"] <= dialog["right"], layout
    assert dialog["top"] <= words["top"] and words["bottom"] <= dialog["bottom"], layout
