"""./course export --lms canvas|moodle: the files parse as CSV in each system's gradebook import
layout and agree with the gradebook for every student and assignment of the graded class, points
given by hand included; a student without a submission gets an empty cell (0 when asked)."""
import csv
import subprocess

import pytest

from conftest import ASSIGNMENTS, CLASS, copy_class, course_copy
from instructor.commands.lms import export
from instructor.model.gradebook import grades
from instructor.model.layout import Layout
from instructor.pipeline import sandbox

pytestmark = [pytest.mark.skipif(sandbox.problem() is not None, reason="no grading sandbox here"),
              pytest.mark.class_scale]


@pytest.fixture(scope="module")
def layout(graded_class, tmp_path_factory):
    """A copy of the graded class in which good0's free response in 01 got 2 points by hand and a
    student (with an LMS user id) submitted nothing."""
    from nbgrader.api import Gradebook
    layout = Layout(copy_class(graded_class, tmp_path_factory.mktemp("lms")))
    notebook = layout.release_notebook(ASSIGNMENTS[0]).stem
    with Gradebook(layout.db_url) as gb:
        free = [g for g in gb.find_submission_notebook(notebook, ASSIGNMENTS[0], "good0").grades if g.name.startswith("q_")]
        free[0].manual_score = 2
        gb.db.commit()
        gb.update_or_create_student("zoe", first_name="Zoe", last_name="Absent", lms_user_id="4242")
    return layout


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def expected(layout, student, missing=""):
    found = grades(layout)
    return [f"{found[student, a].score:g}" if (student, a) in found else missing for a in ASSIGNMENTS]


def test_canvas_file_matches_the_gradebook(layout):
    points, *students = read(export(layout, "canvas"))
    assert points["Student"].strip() == "Points Possible"
    assert [float(points[a]) for a in ASSIGNMENTS] == [grades(layout)["good0", a].max_score for a in ASSIGNMENTS]
    by_login = {row["SIS Login ID"]: row for row in students}
    assert set(by_login) == {*CLASS, "zoe"}
    for student, row in by_login.items():
        assert [row[a] for a in ASSIGNMENTS] == expected(layout, student), student
    assert by_login["zoe"]["ID"] == "4242" and by_login["zoe"]["Student"] == "Absent, Zoe"
    assert [by_login["zoe"][a] for a in ASSIGNMENTS] == ["", "", ""]
    full = grades(layout)["good1", ASSIGNMENTS[0]].score
    assert float(by_login["good0"][ASSIGNMENTS[0]]) == full + 2          # the hand-graded points count


@pytest.mark.e2e
def test_moodle_file_through_course_export_and_zeros_when_asked(layout):
    course = course_copy(layout.root)
    result = subprocess.run([str(course / "course"), "export", "--lms", "moodle"], cwd=course, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert f"wrote grading/grades-moodle.csv: {len(CLASS) + 1} students x {len(ASSIGNMENTS)} assignments" in result.stdout
    rows = read(course / "grading" / "grades-moodle.csv")
    assert list(rows[0])[:5] == ["Username", "ID number", "First name", "Last name", "Email address"]
    by_user = {row["Username"]: row for row in rows}
    for student, row in by_user.items():
        assert [row[a] for a in ASSIGNMENTS] == expected(layout, student), student
    zeros = {row["Username"]: row for row in read(export(layout, "moodle", missing_as_zero=True))}
    assert [zeros["zoe"][a] for a in ASSIGNMENTS] == ["0", "0", "0"] and zeros["good0"] == by_user["good0"]
