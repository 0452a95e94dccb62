"""A class (tests/conftest.py, class_submissions) graded end to end: one grade row per student and
notebook, the same scores when graded without a break, after the grader is killed in the middle
and run again, and on a re-run. The grader is killed in the middle of the class's second lesson,
so the interrupted run grades the first two lessons only: a third one would be graded after the
resume exactly as in the uninterrupted run, at the cost of nine more notebooks."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ASSIGNMENTS, CLASS, HONEST, copy_class
from instructor.model.gradebook import grades
from instructor.model.layout import Layout
from instructor.pipeline import sandbox
from instructor.pipeline.grade import autograde

pytestmark = [pytest.mark.skipif(sandbox.problem() is not None, reason="no grading sandbox here"),
              pytest.mark.class_scale]


def table(course, assignments=ASSIGNMENTS):
    """{(student, assignment): {cell: score}} of assignments and the number of submitted notebooks."""
    out = {key: g.cells for key, g in grades(Layout(course)).items() if key[1] in assignments}
    return out, len(out)


def total(cells):
    return sum(cells.values())


@pytest.fixture(scope="module")
def uninterrupted(graded_class):
    return table(graded_class)


def test_every_student_has_one_row_per_notebook_and_sensible_scores(uninterrupted):
    scores, rows = uninterrupted
    assert rows == len(CLASS) * len(ASSIGNMENTS) and len(scores) == rows
    for a in ASSIGNMENTS:
        full = total(scores["good0", a])
        assert full > 0 and all(total(scores[f"good{i}", a]) == full for i in range(HONEST))
        assert 0 < total(scores["buggy0", a]) < full and scores["buggy0", a] == scores["buggy1", a]
        assert total(scores["hostile0", a]) < full and total(scores["delegate0", a]) < full
        assert total(scores["blank0", a]) == total(scores["broken0", a]) == 0


def test_a_grader_killed_midway_resumes_to_the_same_grades(request, class_submissions, tmp_path):
    course = copy_class(class_submissions, tmp_path)
    two = ASSIGNMENTS[:2]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    grader = subprocess.Popen([sys.executable, "-m", "instructor", "autograde", *two], cwd=course, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    second = Layout(course).autograded / "good2" / two[1]
    deadline = time.monotonic() + 600
    while not second.exists() and grader.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)                      # in the middle of a notebook of the second assignment
    os.killpg(grader.pid, signal.SIGKILL)
    grader.wait()
    uninterrupted = table(request.getfixturevalue("graded_class"), two)   # graded meanwhile, once per run
    assert table(course, two)[0] != uninterrupted[0], "the kill came too late to test anything"

    repairs = {}
    for a in two:
        repairs[a] = autograde(course, a)[1]
    assert table(course, two) == uninterrupted
    assert any("interrupted" in p for r in repairs.values() for ps in r.values() for p in ps)

    result, _ = autograde(course, two[0])                           # a re-run changes nothing
    assert "Skipping existing assignment" in result.stderr and table(course, two) == uninterrupted
