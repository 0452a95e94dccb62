"""The course layout is read from nbgrader_config.py, the gradebook through one reader, and the
autograde report finds dead and hung kernels in the graded notebooks: on a small hand-made course
whose config puts everything somewhere else than this course does (no nbgrader run, no kernel)."""
import os
import shutil
import sys
import warnings
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from instructor.commands.autograde import report
from instructor.model.gradebook import grades
from instructor.model.layout import CONFIG_FILE, Layout
from instructor.pipeline.execute import DIED, HUNG

A, NB = "a1", "lesson"
ELSEWHERE = '''from pathlib import Path
HERE = Path(__file__).resolve().parent
c = get_config()
c.CourseDirectory.root = str(HERE)
c.CourseDirectory.source_directory = "teacher"
c.CourseDirectory.release_directory = "handout"
c.CourseDirectory.submitted_directory = "marking/in"
c.CourseDirectory.autograded_directory = "marking/graded"
c.CourseDirectory.feedback_directory = "marking/back"
c.CourseDirectory.db_url = f"sqlite:///{HERE / 'marks.sqlite'}"
c.ZipCollectApp.downloaded_directory = "marking/lms"
'''


def make_course(root):
    (root / CONFIG_FILE).write_text(ELSEWHERE)
    for folder in ("teacher", "handout"):
        (root / folder / A).mkdir(parents=True)
        nbformat.write(nbformat.v4.new_notebook(), root / folder / A / f"{NB}.ipynb")
    return root


@pytest.fixture
def course(tmp_path):
    return make_course(tmp_path)


def test_folders_and_gradebook_come_from_the_config(course):
    layout = Layout(course)
    assert layout.root == course and layout.db_url == f"sqlite:///{course / 'marks.sqlite'}"
    assert (layout.source, layout.release) == (course / "teacher", course / "handout")
    marking = course / "marking"
    assert (layout.submitted, layout.autograded, layout.feedback, layout.downloaded, layout.originals) == (
        marking / "in", marking / "graded", marking / "back", marking / "lms", marking / "originals")
    assert layout.assignments() == [A]
    assert layout.release_notebook(A) == course / "handout" / A / f"{NB}.ipynb"
    assert layout.submitted_notebook("ann", A) == marking / "in" / "ann" / A / f"{NB}.ipynb"
    assert layout.autograded_notebook("ann", A) == marking / "graded" / "ann" / A / f"{NB}.ipynb"
    assert layout.original_notebook("ann", A) == marking / "originals" / "ann" / A / f"{NB}.ipynb"
    assert layout.feedback_html("ann", A) == marking / "back" / "ann" / A / f"{NB}.html"


def test_what_the_config_leaves_out_is_nbgrader_default_at_the_course_folder(tmp_path, monkeypatch):
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / CONFIG_FILE).write_text("c = get_config()\n")
    monkeypatch.chdir(tmp_path)          # nbgrader's default root is where it runs: the course folder
    layout = Layout(tmp_path / "course")
    root = tmp_path / "course"
    assert (layout.root, layout.db_url) == (root, f"sqlite:///{root / 'gradebook.db'}")
    assert (layout.submitted, layout.downloaded, layout.originals) == (root / "submitted", root / "downloaded",
                                                                       root / "originals")


def test_reading_the_course_config_creates_nothing_and_the_gradebook_folder_is_made_when_asked(tmp_path):
    shutil.copy(ROOT / CONFIG_FILE, tmp_path)
    layout = Layout(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [CONFIG_FILE]
    layout.make_gradebook_folder()
    assert layout.db_url == f"sqlite:///{tmp_path / 'grading' / 'gradebook.db'}" and (tmp_path / "grading").is_dir()


def test_another_directory_structure_is_refused(course):
    with open(course / CONFIG_FILE, "a") as config:
        config.write('c.CourseDirectory.directory_structure = "{nbgrader_step}/{assignment_id}/{student_id}"\n')
    with pytest.raises(ValueError, match="directory_structure"):
        Layout(course)


def submit(layout, student, cells=()):
    """A submission folder, and the graded notebook with these code cells' outputs."""
    layout.submission(student, A).mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(metadata=meta, outputs=outputs)
                                         for meta, outputs in cells])
    layout.autograded_notebook(student, A).parent.mkdir(parents=True)
    nbformat.write(nb, layout.autograded_notebook(student, A))


def error(ename, evalue):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A gradebook as nbgrader leaves it: ann full marks, ben a failed test, cat's grading cut short
    (no autograded scores), dan no grades at all; two points of free response each."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning
    course = make_course(tmp_path_factory.mktemp("graded"))
    layout = Layout(course)
    with pytest.MonkeyPatch.context() as mp:   # a new gradebook asks the `alembic` command for its version
        mp.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        Gradebook(layout.db_url).close()
    with Gradebook(layout.db_url) as gb:
        gb.add_assignment(A)
        gb.add_notebook(NB, A)
        for cell, points in (("test_one", 3), ("test_two", 5)):
            gb.add_grade_cell(cell, NB, A, max_score=points, cell_type="code")
        gb.add_grade_cell("q_why", NB, A, max_score=2, cell_type="markdown")
        for student, scores in {"ann": (3, 5), "ben": (3, 1), "cat": (None, None)}.items():
            gb.add_student(student)
            with warnings.catch_warnings():     # nbgrader's own call trips SQLAlchemy's autoflush warning
                warnings.simplefilter("ignore", SAWarning)
                gb.add_submission(A, student)
            for cell, score in zip(("test_one", "test_two"), scores):
                grade = gb.find_grade(cell, NB, A, student)
                grade.auto_score, grade.needs_manual_grade = score, score is None
        gb.db.commit()
    test_two = {"nbgrader": {"grade": True, "grade_id": "test_two"}}
    submit(layout, "ann")
    submit(layout, "ben", [({}, [error(*HUNG)]), (test_two, [error(*DIED)]),
                           ({}, [error("KernelDied", "raised by the student's own code. Not by grading.")])])
    submit(layout, "cat")
    layout.submission("dan", A).mkdir(parents=True)
    return course


def test_the_reader_summarises_each_students_grades(graded):
    table = grades(Layout(graded), A)
    assert set(table) == {("ann", A), ("ben", A), ("cat", A)}
    ann, ben, cat = (table[s, A] for s in ("ann", "ben", "cat"))
    assert (ann.score, ann.max_score, ann.failed, ann.by_hand, ann.missing) == (8, 10, [], 2, False)
    assert (ben.score, ben.failed, ben.missing) == (4, ["test_two"], False)
    assert ben.cells == {"test_one": 3, "test_two": 1, "q_why": 0}
    assert (cat.score, cat.failed, cat.missing, cat.by_hand) == (0, [], True, 10)
    assert grades(Layout(graded)) == table                    # every assignment: the only one
    assert grades(Layout(graded), "never-released") == {}


def test_the_report_lists_scores_and_the_kernel_trouble_in_the_graded_notebooks(graded):
    lines = report(graded, A, {"ben": ["cell `x` was missing."]}).splitlines()
    assert lines == [
        f"== {A}",
        f"  {'ann':20s}    8.0 / 10  (free responses to grade by hand)",
        f"  {'ben':20s}    4.0 / 10  (free responses to grade by hand)",
        f"  {'cat':20s}    0.0 / 10  (free responses to grade by hand)",
        f"  {'dan':20s} NOT GRADED: see nbgrader's log above",
        "  repaired ben: cell `x` was missing.",
        f"  kernel trouble ben: cell 0: {HUNG[1].split('. ')[0]}",
        f"  kernel trouble ben: cell test_two: {DIED[1].split('. ')[0]}",
    ]
