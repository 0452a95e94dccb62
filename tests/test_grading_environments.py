"""The sandbox strips the rnnlib the grading kernel really imports, wherever it is installed.

A class is graded with environments an instructor really has: rnnlib installed non-editable (as a
hub image or a packaged environment has it), an environment installed from another checkout of
the course, and one from an older checkout that lacks a function the lessons declare. Each is a
venv whose own site-packages holds rnnlib (a copy, or a .pth pointing at the other checkout) and
which borrows the course venv's other packages through a .pth file. Grading runs as
``./course autograde`` does (python -m instructor autograde, from the course root, with that
venv's Python): an honest answer must earn full marks and a delegating one nothing, or the canary
must refuse to grade with one line that says why.
"""
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from instructor.model.gradebook import grades
from instructor.model.layout import Layout, notebook_path
from instructor.pipeline import canary, strip
from instructor.pipeline.grade import nbgrader
from instructor.pipeline.submissions import make_submission
from rnnlib.grading import lesson

A = "01_forward_pass"
LESSON = lesson(A)
pytestmark = pytest.mark.e2e


def venv(folder, rnnlib_line):
    """A venv in folder whose rnnlib comes from rnnlib_line(site_packages), numpy and the rest from ours."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    site = folder / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (site / "course-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    rnnlib_line(site)
    return folder / "bin" / "python"


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A checkout of the course (its rnnlib and instructor too) with A released and two submissions."""
    course = tmp_path_factory.mktemp("released") / "course"
    course.mkdir()
    for name in ("rnnlib", "instructor"):
        shutil.copytree(ROOT / name, course / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "nbgrader_config.py", course)
    layout = Layout(course)
    layout.make_gradebook_folder()          # as ./course does before a command
    shutil.copytree(Layout(ROOT).source / A, layout.source / A)
    assert nbgrader(course, "generate_assignment", A).returncode == 0
    release = nbformat.read(layout.release_notebook(A), as_version=4)
    solution = nbformat.read(notebook_path(layout.source, A), as_version=4)
    delegating = {f: LESSON.delegating_answer(f) for f in LESSON.exercises}
    for student, nb in {"honest": make_submission(release, solution),
                        "delegator": make_submission(release, solution, replace=delegating)}.items():
        path = layout.submitted_notebook(student, A)
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    return course


@pytest.fixture
def course(released, tmp_path):
    """This test's own copy of the released course (its config finds its folders wherever it is)."""
    return Path(shutil.copytree(released, tmp_path / "course", symlinks=True))


def autograde(course, python):
    # nbgrader's gradebook migration runs `alembic`, which that environment borrows from ours.
    env = {**os.environ, "PATH": f"{os.environ['PATH']}{os.pathsep}{Path(sys.executable).parent}"}
    return subprocess.run([str(python), "-m", "instructor", "autograde", A], cwd=course, capture_output=True,
                          text=True, timeout=900, env=env)


def assert_graded_right(course, result):
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    table = grades(Layout(course), A)
    honest, delegator = table["honest", A], table["delegator", A]
    assert honest.failed == [] and honest.score == honest.max_score - honest.by_hand
    assert delegator.score == 0, delegator.cells


def copy_of_rnnlib(site):
    shutil.copytree(ROOT / "rnnlib", site / "rnnlib", ignore=shutil.ignore_patterns("__pycache__"))


def test_rnnlib_installed_non_editable(course, tmp_path):
    python = venv(tmp_path / "env", copy_of_rnnlib)
    assert_graded_right(course, autograde(course, python))


def other_checkout(folder, change=None):
    """A .pth line to another checkout's rnnlib (its editable install), optionally changed."""
    def install(site):
        shutil.copytree(ROOT / "rnnlib", folder / "rnnlib", ignore=shutil.ignore_patterns("__pycache__"))
        if change:
            change(folder / "rnnlib")
        (site / "other-checkout.pth").write_text(f"{folder}\n")
    return install


def test_environment_from_another_checkout(course, tmp_path):
    python = venv(tmp_path / "env", other_checkout(tmp_path / "other"))
    assert_graded_right(course, autograde(course, python))


def test_environment_that_cannot_be_stripped_is_refused(course, tmp_path):
    def older(package):     # an older checkout: rnn.py has no step_forward yet
        for module in ("rnn.py", "models.py"):
            path = package / module
            path.write_text(re.sub(r"\bstep_forward\(", "_step_forward(", path.read_text()))
    python = venv(tmp_path / "env", other_checkout(tmp_path / "old", older))
    result = autograde(course, python)
    assert result.returncode != 0
    refusal = [line for line in result.stderr.splitlines() if "refusing to grade" in line]
    assert len(refusal) == 1 and "step_forward" in refusal[0] and str(tmp_path / "old") in refusal[0], result.stderr
    assert grades(Layout(course), A) == {}, "it refused, so nobody was graded"


def test_canary_is_cached_until_the_lesson_or_environment_changes(course, monkeypatch):
    layout = Layout(course)
    canary.check(layout, A)
    passed = {p.name for p in Path(os.environ[canary.SHARED_CACHE]).glob(f"{A}-*.json")}
    assert f"{A}-{canary.fingerprint(layout, A, *strip.locate())}.json" in passed     # the run's shared cache

    def graded_again(*args, **kwargs):
        raise AssertionError("the canary graded again")
    monkeypatch.setattr(canary, "make_course", graded_again)
    canary.check(layout, A)                                    # cached: nothing graded
    solution = notebook_path(layout.source, A)
    solution.write_text(solution.read_text() + "\n")          # the lesson changed
    with pytest.raises(AssertionError, match="graded again"):
        canary.check(layout, A)


def test_canary_refuses_a_broken_solution(course):
    """An instructor's edit that breaks the solution is caught before any student is graded."""
    solution = notebook_path(Layout(course).source, A)
    nb = nbformat.read(solution, as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "rnn_forward")
    answer.source = answer.source.replace("### END SOLUTION", "h = h[:, ::-1]\n    ### END SOLUTION")
    nbformat.write(nb, solution)
    with pytest.raises(canary.CanaryFailed) as refused:
        canary.check(Layout(course), A)
    assert "the instructor's solution lost points on test_rnn_forward (GradingFailure: rnn_forward" in str(refused.value)
