"""./course feedback and ./course return, one student at a time, and feedback pages whose maths
show without a script or a network.

Four students submit lesson 01 through a temporary exchange and are graded; then cat's submission
loses its submission_secret.txt (as if copied in by hand) and dan's graded notebook is deleted.
feedback and return do everyone else and name those two with the reason. The feedback page carries
its maths as MathML: no $...$ left in the text, no MathJax, no remote script; headless Chromium,
offline, lays the formulas out (screenshot in test-artifacts/feedback/).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from conftest import ROOT, course_copy, without_venv
from instructor.commands.feedback import generate, nbgrader_api, released
from instructor.model.layout import CONFIG_FILE, Layout, notebook_path
from instructor.pipeline import submissions
from instructor.pipeline.grade import autograde, make_course
from instructor.pipeline.mathml import MathToMathML, markdown_to_mathml
from instructor.pipeline.submissions import make_submission
from test_watch import PLAIN_COLLECT  # the students are names, not Unix accounts

pytestmark = pytest.mark.xdist_group("feedback")     # its module fixtures are built once, on one worker

A = "01_forward_pass"
GOOD, NO_SECRET, NOT_GRADED = ["ann", "ben"], "cat", "dan"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "feedback"


def course_command(course, *args):
    """python -m instructor ARGS in course, as ./course feedback|return runs it."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run([sys.executable, "-m", "instructor", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The graded course (see the module's docstring), its exchange root in a temporary folder."""
    tmp = tmp_path_factory.mktemp("feedback")
    (tmp / "course").mkdir()
    course = make_course(tmp / "course", [A])
    with open(course / CONFIG_FILE, "a") as config:
        config.write(f"\nc.Exchange.root = {str(tmp / 'exchange')!r}\n{PLAIN_COLLECT}")
    layout = Layout(course)
    api = nbgrader_api(layout)
    assert api.release_assignment(A)["success"]                      # ./course hand-out
    release = nbformat.read(layout.release_notebook(A), as_version=4)
    solution = nbformat.read(notebook_path(layout.source, A), as_version=4)
    for student in [*GOOD, NO_SECRET, NOT_GRADED]:
        submissions.hand_in(layout, student, A, make_submission(release, solution), tmp / "home")
    assert api.collect(A, update=True)["success"]                     # ./course collect
    result, _ = autograde(course, A)
    assert result.returncode == 0, result.stderr[-3000:]
    for folder in (layout.submission(NO_SECRET, A), layout.autograded / NO_SECRET / A):
        (folder / "submission_secret.txt").unlink()
    graded_nb = layout.autograded_notebook(NOT_GRADED, A)
    graded_nb.parent.chmod(0o755)                                     # nbgrader leaves graded files read-only
    graded_nb.unlink()
    return course


@pytest.fixture(scope="module")
def ran(graded):
    """(feedback's result, return's result), run in that order."""
    return course_command(graded, "feedback"), course_command(graded, "return")


def skipped_lines(result):
    return {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("  ")}


@pytest.mark.e2e
def test_feedback_writes_everyone_elses_and_names_who_was_skipped(graded, ran):
    feedback, _ = ran
    assert feedback.returncode == 0, feedback.stdout + feedback.stderr
    layout = Layout(graded)
    assert [s for s in [*GOOD, NO_SECRET, NOT_GRADED] if layout.feedback_html(s, A).is_file()] == [*GOOD, NO_SECRET]
    assert f"{A}: feedback written for 3 of 4 students" in feedback.stdout
    assert list(skipped_lines(feedback)) == [NOT_GRADED]
    assert "no graded notebook" in skipped_lines(feedback)[NOT_GRADED]


@pytest.mark.e2e
def test_return_releases_everyone_elses_and_names_who_was_skipped(graded, ran):
    _, returned = ran
    assert returned.returncode == 0, returned.stdout + returned.stderr
    layout = Layout(graded)
    for student in GOOD:       # where the student's Fetch Feedback looks: a hash of their submission's secret
        html = layout.feedback_html(student, A)
        assert released(layout, html).read_bytes() == html.read_bytes()
    assert f"{A}: feedback returned to the exchange for 2 of 4 students" in returned.stdout
    lines = skipped_lines(returned)
    assert list(lines) == [NO_SECRET, NOT_GRADED]
    assert "no submission_secret.txt: this submission did not come through the exchange" in lines[NO_SECRET]
    assert f"./course regrade {A} {NO_SECRET}" in lines[NO_SECRET]
    assert "no graded notebook" in lines[NOT_GRADED]


@pytest.mark.e2e
def test_return_with_no_one_to_return_exits_non_zero(graded, ran, tmp_path):
    course = shutil.copytree(graded, tmp_path / "course")     # its config finds its own folders
    for secret in Layout(course).feedback.glob(f"*/{A}/submission_secret.txt"):
        secret.unlink()
    result = course_command(course, "return", A)
    assert result.returncode == 1
    assert result.stderr.strip() == "./course return: nothing could be done for anyone (see above)"
    assert set(skipped_lines(result)) == {*GOOD, NO_SECRET, NOT_GRADED}


def test_a_bad_argument_is_one_line_and_status_2(tmp_path):
    course = course_copy(tmp_path)
    shutil.copytree(ROOT / "solutions" / A, course / "solutions" / A)
    result = subprocess.run([str(course / "course"), "return", "99_nope"], cwd=course, capture_output=True,
                            text=True, env=without_venv(), timeout=600)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"./course return: no assignment '99_nope'; the assignments are {A}\n"


@pytest.fixture(scope="module")
def page(graded, ran):
    html = Layout(graded).feedback_html(GOOD[0], A)
    return html, BeautifulSoup(html.read_text(), "html.parser")


@pytest.mark.e2e
def test_feedback_shows_maths_as_mathml_and_loads_no_script(graded, page):
    _, soup = page
    release = nbformat.read(Layout(graded).release_notebook(A), as_version=4)
    formulas = sum(markdown_to_mathml(c.source).count("<math") for c in release.cells if c.cell_type == "markdown")
    assert formulas > 20 and len(soup.find_all("math")) == formulas
    markdown = " ".join(cell.get_text() for cell in soup.select(".text_cell_render"))
    assert "$" not in markdown
    assert not soup("script", src=True) and not any("mathjax" in s.get_text().lower() for s in soup("script"))
    code = " ".join(cell.get_text() for cell in soup.select(".input_area"))
    assert '"$h_0$"' in code and 'label="$h_t$"' in code           # a $ in code stays


@pytest.mark.e2e
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)")
def test_feedback_maths_renders_offline_in_chromium(page):
    from playwright.sync_api import sync_playwright
    from test_browser import ARGS
    html, _ = page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
        tab, requests = context.new_page(), []
        tab.on("request", lambda r: requests.append(r.url))
        tab.goto(html.as_uri())
        formula = tab.locator("math[display=block]").first
        formula.scroll_into_view_if_needed()
        tab.screenshot(path=ARTIFACTS / "forward_pass-maths.png")
        formula.screenshot(path=ARTIFACTS / "forward_pass-block-formula.png")
        boxes = tab.eval_on_selector_all("math", "els => els.map(e => e.getBoundingClientRect().width)")
        base, script = tab.eval_on_selector("math msub", """s => [...s.children].map(e => {
            const r = e.getBoundingClientRect();
            return {left: r.left, right: r.right, top: r.top, height: r.height}; })""")
        browser.close()
    assert boxes and min(boxes) > 0
    # Laid out as maths, not as a line of text: the subscript sits lower, smaller, after its base.
    assert script["top"] > base["top"] + 1 and script["height"] < base["height"] and script["left"] >= base["right"] - 1
    assert all(url.startswith(("file:", "data:")) for url in requests), requests


# The converter on its own: every formula of the course, and what it must leave alone.

def markdown_cells():
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                yield path.parent.name, cell.source


def test_every_formula_of_the_course_converts():
    warnings, converted = [], 0
    for lesson, source in markdown_cells():
        mathml = markdown_to_mathml(source, warn=warnings.append)
        assert "$" not in mathml and "\\begin{" not in mathml, (lesson, mathml)
        rendered = BeautifulSoup(markdown2html_mistune(mathml), "html.parser")     # as the feedback page renders it
        assert [str(m) for m in rendered("math")] == [str(m) for m in BeautifulSoup(mathml, "html.parser")("math")]
        converted += len(rendered("math"))
    assert warnings == [] and converted > 400


@pytest.mark.parametrize("markdown", [
    "in code: `$x$`, ``a $b$ c``", "```python\nprint('$x$')\n```", r"costs \$5 or \$6", "price $5 and\n\n$6 later"])
def test_code_escaped_dollars_and_split_paragraphs_are_left_alone(markdown):
    assert markdown_to_mathml(markdown) == markdown


def test_markdown_inside_a_formula_is_not_markdown():
    html = markdown2html_mistune(markdown_to_mathml(r"$a * b * c_{x_y}$ and $\texttt{dprev\_h} | W$"))
    soup = BeautifulSoup(html, "html.parser")
    assert not soup("em") and not soup("strong") and not soup("table")
    assert "dprev_h" in soup.get_text() and "\\" not in soup.get_text()


def test_a_formula_latex2mathml_cannot_convert_stays_as_its_tex():
    warnings = []
    html = markdown2html_mistune(markdown_to_mathml(r"ok $x^2$, bad $\unknowncommand{x}$ and $a^$", warnings.append))
    soup = BeautifulSoup(html, "html.parser")
    assert [c.get_text() for c in soup("code")] == [r"$\unknowncommand{x}$", "$a^$"]
    assert len(soup("math")) == 1 and len(warnings) == 2 and "\\unknowncommand" in warnings[0]


def test_the_preprocessor_changes_markdown_cells_only():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("the state $h_t$"),
        nbformat.v4.new_code_cell('print("$h_t$")', outputs=[nbformat.v4.new_output("stream", text="$h_t$\n")]),
        nbformat.v4.new_raw_cell("$h_t$")])
    before = nbformat.writes(nb)
    nb, _ = MathToMathML()(nb, {})
    assert nb.cells[0].source.startswith("the state <math>")
    after = nbformat.reads(before, as_version=4)
    assert nb.cells[1:] == after.cells[1:]


def test_an_unexpected_error_costs_only_that_student():
    class Unreadable:
        def autograded_notebook(self, student, assignment):
            raise PermissionError(f"grading/autograded/{student}: permission denied")
    assert generate(None, Unreadable(), A, "eve") == "PermissionError: grading/autograded/eve: permission denied"
