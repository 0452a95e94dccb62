"""A student's Fetch Feedback and Assignments tab when there is no feedback to fetch
(instructor/pipeline/student_exchange.py), through nbgrader's ExchangeFactory configured as the student
environment's nbgrader_config.py would be, against a temporary exchange.

ann and ben submit lesson 01; only ann's feedback is returned; cat never submits. Then ben's own
JupyterLab, in headless Chromium: what his Assignments tab shows before and after his feedback is
returned, and the page its "(view feedback)" opens, through the course's lab extension
(instructor/commands/labextensions/; screenshots in test-artifacts/feedback/).
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeError, ExchangeFactory

from conftest import ROOT, free_port, jupyter_server
from instructor.commands import hub
from instructor.commands.feedback import nbgrader_api
from instructor.model.layout import CONFIG_FILE, Layout, course_config
from instructor.pipeline import submissions
from instructor.pipeline.grade import make_course
from instructor.pipeline.mathml import tex_to_mathml
from instructor.pipeline.student_exchange import NO_FEEDBACK_YET
from test_watch import PLAIN_COLLECT  # the students are names, not Unix accounts

pytestmark = pytest.mark.xdist_group("student-exchange")     # its module fixtures are built once, on one worker

A = "01_forward_pass"
CHROMIUM = Path("/usr/bin/chromium")
HUB_CSP = "frame-ancestors 'none'"         # what JupyterHub's single-user servers send
ARTIFACTS = ROOT / "test-artifacts" / "feedback"
FEEDBACK = "<!DOCTYPE html><html><body><p>Your hidden state %s is right.</p></body></html>" % tex_to_mathml(
    r"h_t = \tanh(a_t)")


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("released"), [A])


@pytest.fixture
def course(released, tmp_path):
    """A copy of the course with its own exchange: handed out, ann's and ben's submissions collected."""
    course = shutil.copytree(released, tmp_path / "course")
    with open(course / CONFIG_FILE, "a") as config:
        config.write(f"\nc.Exchange.root = {str(tmp_path / 'exchange')!r}\n{PLAIN_COLLECT}")
    layout = Layout(course)
    api = nbgrader_api(layout)
    assert api.release_assignment(A)["success"]
    release = nbformat.read(layout.release_notebook(A), as_version=4)
    for student in ("ann", "ben"):
        submissions.hand_in(layout, student, A, release, home(tmp_path, student))
    assert api.collect(A, update=True)["success"]
    return layout


def home(tmp_path, student):
    return tmp_path / "homes" / student         # each student's own home, and so their own cache


def student_side(layout, tmp_path, student):
    """(ExchangeFactory, CourseDirectory, config) as student's JupyterLab sets them up."""
    config = course_config(layout.root)
    config.ExchangeFactory.list = "instructor.pipeline.student_exchange.ListSayingWhenNoFeedback"
    config.ExchangeFactory.fetch_feedback = "instructor.pipeline.student_exchange.FetchFeedbackSayingWhy"
    config.Exchange.assignment_dir = str(home(tmp_path, student) / student)
    config.Exchange.cache = str(home(tmp_path, student) / "cache")
    config.ExchangeList.cached = True
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = A
    return ExchangeFactory(config=config), coursedir, config


def fetch_feedback(layout, tmp_path, student):
    factory, coursedir, config = student_side(layout, tmp_path, student)
    factory.FetchFeedback(coursedir=coursedir, authenticator=Authenticator(config=config), config=config).start()
    return sorted((home(tmp_path, student) / student / A / "feedback").glob("*/*.html"))


def submission_rows(layout, tmp_path, student):
    """The timestamps the Assignments tab shows under 'Submitted assignments'."""
    factory, coursedir, config = student_side(layout, tmp_path, student)
    listed = factory.List(coursedir=coursedir, authenticator=Authenticator(config=config), config=config).start()
    return [s["timestamp"] for a in listed for s in a["submissions"]]


def return_feedback(layout, student):
    """What ./course feedback and ./course return leave in the exchange, without grading."""
    html = layout.feedback_html(student, A)
    html.parent.mkdir(parents=True)
    html.write_text(FEEDBACK)
    for name in ("timestamp.txt", "submission_secret.txt"):
        shutil.copy(layout.submission(student, A) / name, html.parent / name)
    assert nbgrader_api(layout).release_feedback(A, student)["success"]


def test_fetch_feedback_before_any_feedback_is_returned_says_so(course, tmp_path):
    with pytest.raises(ExchangeError, match="your instructor has not returned feedback on your submission"):
        fetch_feedback(course, tmp_path, "ann")
    assert submission_rows(course, tmp_path, "ann")[0].endswith(f" UTC ({NO_FEEDBACK_YET})")


def test_only_the_student_without_feedback_is_told_there_is_none(course, tmp_path):
    return_feedback(course, "ann")
    [fetched] = fetch_feedback(course, tmp_path, "ann")
    assert fetched.read_text() == FEEDBACK
    assert not submission_rows(course, tmp_path, "ann")[0].endswith(f"({NO_FEEDBACK_YET})")
    with pytest.raises(ExchangeError, match="your instructor has not returned feedback on your submission"):
        fetch_feedback(course, tmp_path, "ben")
    assert submission_rows(course, tmp_path, "ben")[0].endswith(f" UTC ({NO_FEEDBACK_YET})")


def test_fetch_feedback_without_a_submission_says_so(course, tmp_path):
    return_feedback(course, "ann")
    with pytest.raises(ExchangeError, match=f"you have not submitted {A} from this account"):
        fetch_feedback(course, tmp_path, "cat")


# The lab extension's script in Node.js, against a stand-in for JupyterLab's command registry: each
# command run (id, path) as the app would announce it; prints the plugin and the pages it opened.
DRIVE_THE_OPENER = """
globalThis.window = globalThis;
require(process.argv[1]);
const container = window._JUPYTERLAB["rnns-feedback-opener"];
(async () => {
  container.init({});
  const plugin = (await container.get("./extension"))().default;
  const listeners = [], opened = [];
  const commands = {
    commandExecuted: { connect: listener => listeners.push(listener) },
    execute: (id, args) => { if (id === "docmanager:open") opened.push(args.path); return Promise.resolve(); },
  };
  plugin.activate({ commands });
  for (const [id, path] of JSON.parse(process.argv[2])) {
    listeners.forEach(listener => listener(commands, { id, args: { path }, result: Promise.resolve() }));
  }
  await new Promise(resolve => setTimeout(resolve, 0));
  console.log(JSON.stringify({ id: plugin.id, autoStart: plugin.autoStart, opened }));
})();
"""


@pytest.mark.skipif(not shutil.which("node"), reason="needs Node.js (apt-get install nodejs)")
def test_the_lab_extension_opens_fetched_feedback_pages_and_nothing_else():
    """It opens the page "(view feedback)" goes to, once there, and ignores every other path and command."""
    page = f"{A}/feedback/2026-12-07 13:13:47.415301 UTC/forward_pass.html"
    executed = [("filebrowser:go-to-path", page),                            # (view feedback): opened
                ("filebrowser:go-to-path", os.path.dirname(page)),           # nbgrader's own link: a folder
                ("filebrowser:go-to-path", f"{A}/forward_pass.ipynb"),
                ("filebrowser:go-to-path", "notes/feedback.html"),           # not a fetched feedback page
                ("filebrowser:open-path", page), ("docmanager:open", page)]  # other commands: left alone
    [script] = (hub.FEEDBACK_OPENER / "static").glob("remoteEntry.*.js")
    ran = subprocess.run(["node", "-e", DRIVE_THE_OPENER, str(script), json.dumps(executed)],
                         capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(ran.stdout) == {"id": "rnns-feedback-opener:plugin", "autoStart": True, "opened": [page]}


def test_the_lab_extensions_script_is_named_by_its_content():
    """Browsers may keep the script in their cache: its name changes whenever it does."""
    package = json.loads((hub.FEEDBACK_OPENER / "package.json").read_text())
    script = hub.FEEDBACK_OPENER / package["jupyterlab"]["_build"]["load"]
    assert script.name == f"remoteEntry.{hashlib.sha256(script.read_bytes()).hexdigest()[:16]}.js"
    assert list((hub.FEEDBACK_OPENER / "static").iterdir()) == [script]


@pytest.mark.e2e
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
def test_the_assignments_tab_says_no_feedback_yet_then_shows_the_feedback(course, tmp_path):
    """ben's JupyterLab, configured as above, in headless Chromium: his submission's row says that no
    feedback was returned, Fetch Feedback leaves it so; once returned, Fetch Feedback brings it, and
    its "(view feedback)" opens it (the course's lab extension) in JupyterLab's HTML viewer, which
    runs no scripts and shows its maths."""
    from playwright.sync_api import sync_playwright
    from test_browser import ARGS
    port, token, settings, root = free_port(), "student-tab-test", tmp_path / "lab", home(tmp_path, "ben") / "ben"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--expose-app-in-browser"]
    (settings / "config").mkdir(parents=True)
    news = settings / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    (settings / "config" / "nbgrader_config.py").write_text(
        "c = get_config()\n" + "".join(f"c.{name} = {value!r}\n" for name, value in student_config(course, tmp_path)))
    # As on the hub, whose JupyterLab may not be framed (JupyterHub's frame-ancestors 'none'): the
    # HTML viewer's frame, a page of the lab's own, must still show.
    (settings / "config" / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"tornado_settings": {"headers": {"Content-Security-Policy": HUB_CSP}}}}))
    # The course's lab extension, installed as ./course hub installs it in the student environment.
    opener = hub.install_feedback_opener(tmp_path / "student-env")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(settings / "config"), JUPYTER_RUNTIME_DIR=str(settings / "runtime"),
               JUPYTER_PATH=str(opener.parent.parent),
               JUPYTERLAB_SETTINGS_DIR=str(settings / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(settings / "ws"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    base = f"http://127.0.0.1:{port}"
    # Run in the home, as on a hub: nbgrader's Fetch Feedback writes under the server's working directory.
    with jupyter_server(argv, root, env, f"{base}/api/status?token={token}", tmp_path / "lab.log"), \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 700})
        assert page.goto(f"{base}/lab?token={token}&reset").headers["content-security-policy"] == HUB_CSP
        page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('nbgrader:open-assignment-list')",
                               timeout=90_000)
        page.evaluate("window.jupyterapp.commands.execute('nbgrader:open-assignment-list')")
        row = page.locator("#submitted_assignments_list .nested_list_item").first
        row.wait_for(timeout=60_000)
        assert row.inner_text().strip().endswith(f"({NO_FEEDBACK_YET})")
        fetch = page.get_by_role("button", name="Fetch Feedback")
        fetch.click()
        page.wait_for_timeout(2000)
        row = page.locator("#submitted_assignments_list .nested_list_item").first
        assert row.inner_text().strip().endswith(f"({NO_FEEDBACK_YET})")
        page.screenshot(path=ARTIFACTS / "assignments-tab-no-feedback-yet.png")
        return_feedback(course, "ben")
        page.get_by_role("button", name="Fetch Feedback").click()
        page.get_by_text("(view feedback)").wait_for(timeout=30_000)
        assert NO_FEEDBACK_YET not in page.locator("#submitted_assignments_list").inner_text()
        page.screenshot(path=ARTIFACTS / "assignments-tab-feedback-fetched.png")
        page.get_by_text("(view feedback)").click()           # the page, selected and opened by itself
        [fetched] = (root / A / "feedback").glob("*/*.html")
        selected = page.locator(".jp-DirListing-item.jp-mod-selected")
        selected.wait_for(timeout=30_000)
        assert selected.inner_text().strip().startswith(fetched.name)
        formula = page.frame_locator(".jp-HTMLViewer iframe").locator("math").first   # JupyterLab's HTML viewer
        formula.wait_for(timeout=30_000)
        box = formula.bounding_box()
        opened = page.evaluate("() => window.jupyterapp.shell.currentWidget?.context?.path")
        page.screenshot(path=ARTIFACTS / "feedback-in-jupyterlab-html-viewer.png")
        browser.close()
    assert opened == str(fetched.relative_to(root))
    assert box["width"] > 20 and box["height"] > 5


def student_config(layout, tmp_path):
    """ben's nbgrader_config.py settings in the student environment, with this module's two classes."""
    return [("CourseDirectory.course_id", course_config(layout.root).CourseDirectory.course_id),
            ("Exchange.root", str(tmp_path / "exchange")),
            ("Exchange.cache", str(home(tmp_path, "ben") / "cache")),
            ("ExchangeFactory.list", "instructor.pipeline.student_exchange.ListSayingWhenNoFeedback"),
            ("ExchangeFactory.fetch_feedback", "instructor.pipeline.student_exchange.FetchFeedbackSayingWhy")]
