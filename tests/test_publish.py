"""The student edition (./course publish DIR --through A) holds no answers to later lessons and runs.

Published through lesson 03: no line of a later lesson's solution and no hidden test of any lesson
appears anywhere in DIR; lessons 01-03, answered with their solutions, run top to bottom against
DIR's rnnlib (every test cell passes, so Validate would); an answer that delegates to a later
lesson's reference gets the stub's message; DIR builds into an installable wheel, which holds the
course's lab extension. (tests/test_validate_messages.py: DIR's nbgrader_config.py.)
"""
import re
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT
from instructor.commands.publish import FEEDBACK_OPENER, OPENER_IN_PREFIX, publish, write_rnnlib
from instructor.model.layout import Layout, notebook_path
from instructor.pipeline.submissions import make_submission
from rnnlib import grading
from rnnlib.grading import LESSONS

THROUGH = "03_bptt"
PUBLISHED = [lesson.assignment for lesson in LESSONS][:3]
LATER = [lesson for lesson in LESSONS if lesson.assignment not in PUBLISHED]
MARKED = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.DOTALL)


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    folder = tmp_path_factory.mktemp("edition") / "rnns"
    assert publish(ROOT, folder, THROUGH) == PUBLISHED
    return folder


def marked_lines(assignment, kind):
    """The distinctive lines between ### BEGIN <kind> and ### END <kind> in a lesson's solution notebook."""
    nb = nbformat.read(notebook_path(Layout(ROOT).source, assignment), as_version=4)
    lines = {line.strip() for cell in nb.cells for found_kind, block in MARKED.findall(cell.source)
             if found_kind == kind for line in block.splitlines()}
    return {line for line in lines if len(line) >= 24 and not line.startswith("#")}


def edition_text(edition):
    return "\n".join(p.read_text(errors="ignore") for p in edition.rglob("*")
                     if p.is_file() and p.suffix != ".txt")


def test_holds_the_published_lessons_and_nothing_of_the_instructors(edition):
    assert sorted(p.name for p in edition.iterdir()) == [
        "README.md", "nbgrader_config.py", "notebooks", "pyproject.toml", "rnnlib", "share"]
    assert sorted(p.name for p in (edition / "notebooks").iterdir()) == PUBLISHED
    assert sorted(p.stem for p in (edition / "rnnlib" / "grading").glob("*.py")) == [
        "__init__", "bptt", "core", "forward_pass", "softmax_stability"]


@pytest.fixture(scope="module")
def allowed(tmp_path_factory):
    """Text an edition through lesson 03 may hold: rnnlib with every lesson's answers stubbed, the
    published lessons' checks, and their solution notebooks (some lines are simply common: a later
    lesson's `for t in reversed(range(T)):` is lesson 03's too)."""
    package = tmp_path_factory.mktemp("allowed") / "rnnlib"
    write_rnnlib(package, [])
    published = [notebook_path(Layout(ROOT).source, a).read_text() for a in PUBLISHED]
    checks = [(ROOT / "rnnlib" / "grading" / f"{m.__name__.rsplit('.', 1)[1]}.py").read_text()
              for m in grading.MODULES if m.LESSON.assignment in PUBLISHED]
    return edition_text(package) + "\n".join(published + checks)


@pytest.mark.parametrize("lesson", LATER, ids=lambda x: x.assignment)
def test_no_solution_line_of_a_later_lesson(edition, allowed, lesson):
    text = edition_text(edition)
    solution = marked_lines(lesson.assignment, "SOLUTION")
    assert solution, "nothing to look for"
    assert sorted(line for line in solution if line in text and line not in allowed) == []


@pytest.mark.parametrize("assignment", [lesson.assignment for lesson in LESSONS])
def test_no_hidden_test(edition, assignment):
    text = edition_text(edition)
    assert sorted(line for line in marked_lines(assignment, "HIDDEN TESTS") if line in text) == []


def in_edition(edition, code):
    """Run code in a fresh Python whose rnnlib is the edition's."""
    return subprocess.run([sys.executable, "-c", code], cwd=edition, capture_output=True, text=True,
                          env={"PYTHONPATH": str(edition), "PATH": "/usr/bin:/bin"})


def test_a_delegating_answer_to_a_later_lesson_gets_the_stub(edition):
    lesson = next(x for x in LATER if x.assignment == "07_lstm")
    answer = lesson.delegating_answer("lstm_forward")
    result = in_edition(edition, f"import rnnlib, numpy as np\nassert rnnlib.__file__.startswith({str(edition)!r})\n"
                                 f"{answer}\nlstm_forward(np.zeros((1, 2, 3)), np.zeros((1, 4)), np.zeros((3, 16)), "
                                 f"np.zeros((4, 16)), np.zeros(16))")
    assert "RuntimeError: rnnlib.lstm.lstm_forward comes with lesson 07_lstm, which is not released yet" in result.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("assignment", PUBLISHED)
def test_published_lessons_run_top_to_bottom_against_the_edition(edition, assignment, monkeypatch, tmp_path):
    layout = Layout(ROOT)
    release = nbformat.read(edition / "notebooks" / assignment / layout.release_notebook(assignment).name, as_version=4)
    solution = nbformat.read(notebook_path(layout.source, assignment), as_version=4)
    nb = make_submission(release, solution)
    nb.cells.append(nbformat.v4.new_code_cell(f"import rnnlib\nassert rnnlib.__file__.startswith({str(edition)!r})"))
    monkeypatch.setenv("PYTHONPATH", str(edition))          # the kernel imports the edition's rnnlib
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()


def test_builds_into_a_wheel_of_rnnlib_alone(edition, tmp_path):
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(tmp_path), str(edition)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("rnnlib-*.whl")
    import zipfile
    names = zipfile.ZipFile(wheel).namelist()
    assert "rnnlib/grading/bptt.py" in names and not any(n.startswith(("instructor/", "rnnlib/grading/lstm")) for n in names)
    # the course's lab extension (Validate's dialog wraps long lines), for pip to put where JupyterLab finds it
    opener = sorted(f"{OPENER_IN_PREFIX}/{p.relative_to(FEEDBACK_OPENER)}"
                    for p in FEEDBACK_OPENER.rglob("*") if p.is_file())
    assert sorted(n.split(".data/data/", 1)[1] for n in names if ".data/data/" in n) == opener
