"""The grading canary's cache is keyed on what its verdict depends on, never on where a course is.

Copies of a course in other folders (the suite's temporary courses, a course moved elsewhere)
share a passed canary; a changed solution, grading setting, kernel rnnlib or grader makes it run
again. The canary itself (what it grades and refuses) is tests/test_grading_environments.py's.
"""
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from instructor.model.layout import CONFIG_FILE, Layout, notebook_path
from instructor.pipeline import canary, sandbox, strip

A = "01_forward_pass"


def lesson_course(folder, config_lines=""):
    """A course in folder with A's solution and the course's config, plus config_lines."""
    folder.mkdir(parents=True)
    shutil.copy(ROOT / CONFIG_FILE, folder)
    with open(folder / CONFIG_FILE, "a") as config:
        config.write(config_lines)
    shutil.copytree(Layout(ROOT).source / A, Layout(folder).source / A)
    return Layout(folder)


@pytest.fixture(scope="module")
def kernel():
    """(the rnnlib the grading kernel imports, its sys.path)."""
    return strip.locate()


def key(layout, kernel, rnnlib=None):
    return canary.fingerprint(layout, A, rnnlib or kernel[0], kernel[1])


def test_copies_elsewhere_with_their_own_exchange_and_gradebook_share_a_fingerprint(tmp_path, kernel):
    here = lesson_course(tmp_path / "here")
    there = lesson_course(tmp_path / "elsewhere" / "there", f"\nc.Exchange.root = {str(tmp_path / 'x')!r}\n"
                          f"c.CourseDirectory.db_url = 'sqlite:///{tmp_path / 'g.db'}'\n"
                          "c.ExportPlugin.to = 'out.csv'\n"
                          'c.ExchangeFactory.collect = "nbgrader.exchange.default.collect.ExchangeCollect"\n'
                          "c.GuardedCollect.ctime_tolerance = 5\n")
    assert key(here, kernel) == key(there, kernel)


def edit_solution(layout):
    path = notebook_path(layout.source, A)
    path.write_text(path.read_text().replace("### END SOLUTION", "h = h * 1.0\n    ### END SOLUTION", 1))


def edit_first(package, module="rnn.py"):
    """Change one function of a copy of rnnlib: what a student's call would run."""
    path = package / module
    path.write_text(re.sub(r"(?m)^(def \w+\(.*\n)", r"\1    _ = 0\n", path.read_text(), count=1))


def rnnlib_copy(folder):
    return Path(shutil.copytree(ROOT / "rnnlib", folder / "rnnlib", ignore=shutil.ignore_patterns("__pycache__")))


def test_a_change_to_the_solution_a_grading_setting_or_the_kernels_rnnlib_changes_it(tmp_path, kernel):
    before = key(lesson_course(tmp_path / "before"), kernel)
    solution = lesson_course(tmp_path / "solution")
    edit_solution(solution)
    timeout = lesson_course(tmp_path / "timeout", "\nc.Execute.timeout = 30\n")
    assert key(solution, kernel) != before and key(timeout, kernel) != before
    package, course = rnnlib_copy(tmp_path / "kernel"), lesson_course(tmp_path / "own")   # a kernel with its own rnnlib
    unchanged = key(course, kernel, package)
    edit_first(package)
    assert key(course, kernel, package) != unchanged


@pytest.mark.parametrize("package", ["rnnlib", "instructor"])
def test_a_change_to_the_graders_code_changes_it(tmp_path, kernel, monkeypatch, package):
    layout = lesson_course(tmp_path / "course")
    before = key(layout, kernel)
    grader = tmp_path / "grader"
    for name in ("rnnlib", "instructor"):
        shutil.copytree(ROOT / name, grader / name, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(sandbox, "GRADER", grader)
    assert key(layout, kernel) == before
    edit_first(grader / package, "rnn.py" if package == "rnnlib" else "pipeline/intake.py")
    assert key(layout, kernel) != before


def test_the_instructors_course_keeps_its_own_cache_in_grading_canary(monkeypatch):
    monkeypatch.delenv(canary.SHARED_CACHE, raising=False)
    layout = Layout(ROOT)
    assert canary.remembered(layout, A, "f00") == ROOT / "grading" / "canary" / f"{A}.json"


def never_again(*args, **kwargs):
    raise AssertionError("the canary graded again")


@pytest.mark.e2e
def test_a_copy_elsewhere_reuses_the_passed_canary_and_a_changed_copy_runs_it_again(tmp_path, kernel, monkeypatch):
    first, copy = lesson_course(tmp_path / "first"), lesson_course(tmp_path / "a" / "copy")
    canary.check(first, A)                                      # runs, or was run by another test of this run
    passed = canary.remembered(first, A, key(first, kernel))
    assert passed.parent == Path(os.environ[canary.SHARED_CACHE]) and passed.is_file()
    monkeypatch.setattr(canary, "make_course", never_again)
    canary.check(copy, A)                                       # the same contents: nothing graded
    edit_solution(copy)
    with pytest.raises(AssertionError, match="graded again"):
        canary.check(copy, A)
    package = rnnlib_copy(tmp_path / "kernel")                  # the kernel imports a changed rnnlib
    edit_first(package)
    monkeypatch.setattr(strip, "locate", lambda: (package, kernel[1]))
    with pytest.raises(AssertionError, match="graded again"):
        canary.check(first, A)
