"""nbgrader end to end: release, submit (correct, blank, buggy), autograde, feedback, zip, CSV."""
import csv
import zipfile

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import EXERCISES, copy_class
from instructor.commands.demo import BUGGY_RNN_BACKWARD, autograde, format_table, grades, submit
from instructor.model.layout import Layout, notebook_path
from instructor.pipeline.grade import nbgrader
from instructor.pipeline.submissions import make_submission

# Buggy BPTT submissions: replaced answer cells, the test cells they must lose, and a word the
# feedback must contain (the wrong gradient, or the cause).
STEP_TANH_PREV = '''def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, b, next_h = cache
    da = dnext_h * (1 - prev_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
'''
STEP_NO_TRANSPOSE = '''def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, b, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh, x.T @ da, prev_h.T @ da, da.sum(axis=0)
'''
STEP_DB_MEAN = '''def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, b, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.mean(axis=0)
'''
SEQ_NO_CARRY = '''def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0][0].shape[1]))
    dWx, dWh, db = 0, 0, 0
    for t in reversed(range(T)):
        dx[:, t], dprev_h, gx, gh, gb = rnn_step_backward(dh[:, t], cache[t])
        dWx, dWh, db = dWx + gx, dWh + gh, db + gb
    return dx, dprev_h, dWx, dWh, db
'''
SEQ_FORWARD_ORDER = '''def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0][0].shape[1]))
    dWx, dWh, db, dprev_h = 0, 0, 0, np.zeros((N, H))
    for t in range(T):
        dx[:, t], dprev_h, gx, gh, gb = rnn_step_backward(dh[:, t] + dprev_h, cache[t])
        dWx, dWh, db = dWx + gx, dWh + gh, db + gb
    return dx, dprev_h, dWx, dWh, db
'''
SEQ_LAST_STEP = '''def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0][0].shape[1]))
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dprev_h, gx, gh, gb = rnn_step_backward(dh[:, t] + dprev_h, cache[t])
        if t == T - 1:
            dWx, dWh, db = gx, gh, gb
    return dx, dprev_h, dWx, dWh, db
'''
SEQ_DELEGATES = '''from rnnlib import rnn_backward as reference_backward

def rnn_backward(dh, cache):
    return reference_backward(dh, cache)
'''
BUGS = {  # student: (replaced answer cells, tests lost, the cause named in the feedback, a wrong gradient named)
    "bug-overwrite": ({"rnn_backward": BUGGY_RNN_BACKWARD}, {"test_rnn_backward"}, "overwritten at every step", "dWh"),
    "bug-laststep": ({"rnn_backward": SEQ_LAST_STEP}, {"test_rnn_backward"}, "last time step only", "dWx"),
    "bug-nocarry": ({"rnn_backward": SEQ_NO_CARRY}, {"test_rnn_backward"}, "flowing back from step t+1", "dh0"),
    "bug-order": ({"rnn_backward": SEQ_FORWARD_ORDER}, {"test_rnn_backward"}, "time runs the wrong way", "dh0"),
    "bug-tanhprev": ({"rnn_step_backward": STEP_TANH_PREV}, {"test_rnn_step_backward", "test_rnn_backward"},
                     "not 1 - prev_h**2", "dWh"),
    "bug-transpose": ({"rnn_step_backward": STEP_NO_TRANSPOSE}, {"test_rnn_step_backward", "test_rnn_backward"},
                      "a transpose is missing", "dprev_h"),
    "bug-dbmean": ({"rnn_step_backward": STEP_DB_MEAN}, {"test_rnn_step_backward", "test_rnn_backward"},
                   "bias gradient is averaged", "db"),
    "bug-delegate": ({"rnn_backward": SEQ_DELEGATES}, {"test_rnn_backward"}, "earns no points", None),
}
for _replaced, lost, *_ in BUGS.values():
    lost.add("test_TimeRNN")     # the TimeRNN layer's backward runs the student's rnn_backward


# One worker grades this module's course: its tests share the grading, and some add to it.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("autograde")]


@pytest.fixture(scope="module")
def course(course, tmp_path_factory):
    """This module's own copy of the released course: it submits, grades and edits the config
    there, never in the session's."""
    return copy_class(course, tmp_path_factory.mktemp("autograde"))


@pytest.fixture(scope="module")
def layout(course):
    return Layout(course)


def load(folder, assignment):
    return nbformat.read(notebook_path(folder, assignment), as_version=4)


@pytest.fixture(scope="module")
def graded(course, layout):
    """Submit alice (correct) and bob (blank) everywhere, the buggy students in 03, autograde all."""
    for a in EXERCISES:
        release, solution = load(layout.release, a), load(layout.source, a)
        submit(course, "alice", a, make_submission(release, solution, "correct"))
        submit(course, "bob", a, make_submission(release, solution, "blank"))
    release, solution = load(layout.release, "03_bptt"), load(layout.source, "03_bptt")
    for student, (replace, *_) in BUGS.items():
        submit(course, student, "03_bptt", make_submission(release, solution, "correct", replace))
    for a in EXERCISES:
        result = autograde(course, a)
        assert result.returncode == 0, result.stderr[-3000:]
    return grades(course)


def exercise_tests(assignment):
    return {f"test_{f}" for f in EXERCISES[assignment]}


@pytest.mark.parametrize("assignment", list(EXERCISES))
def test_correct_submission_gets_full_autograded_marks(graded, assignment):
    alice = graded["alice", assignment]
    assert {cell for cell in alice.cells if cell.startswith("test_")} == exercise_tests(assignment)
    assert not alice.failed and not alice.missing
    assert alice.score == alice.max_score - alice.by_hand, alice      # all but the answers graded by hand


@pytest.mark.parametrize("assignment", list(EXERCISES))
def test_blank_submission_gets_zero(graded, assignment):
    bob = graded["bob", assignment]
    assert set(bob.failed) == exercise_tests(assignment) and bob.score == 0 and not bob.missing, bob


@pytest.mark.parametrize("student", list(BUGS))
def test_each_buggy_bptt_loses_exactly_its_tests(graded, student):
    assert set(graded[student, "03_bptt"].failed) == BUGS[student][1]


def test_grade_table_separates_failed_tests_from_answers_to_grade_by_hand(graded):
    rows = {tuple(line.split()[:2]): line for line in format_table(graded).splitlines()[1:-1]}
    alice, bob, laststep = rows["alice", "03_bptt"], rows["bob", "03_bptt"], rows["bug-laststep", "03_bptt"]
    assert alice.split()[2:] == ["14.0", "/", "18.0", "4.0", "-"]   # full marks but for 4 points of free responses
    assert "q_" not in bob and "test_rnn_backward" in bob            # a blank answer is not a failed test
    assert laststep.endswith("test_rnn_backward")


@pytest.fixture(scope="module")
def feedback(graded, course, layout):
    result = nbgrader(course, "generate_feedback", "03_bptt", "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    return lambda student: layout.feedback_html(student, "03_bptt").read_text()


@pytest.mark.parametrize("student", list(BUGS))
def test_feedback_names_the_mistake(feedback, student):
    html = feedback(student).replace("&#39;", "'").replace("&quot;", '"')
    _, _, cause, gradient = BUGS[student]
    assert cause in html
    if gradient:
        assert f"{gradient}: relative error" in html and "worst at index" in html


def failed_test_cells(nb):
    """grade_id -> the error message of every test cell that failed."""
    return {c.metadata.nbgrader["grade_id"]: o.evalue for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_")
            for o in c.get("outputs", []) if o.output_type == "error"}


@pytest.mark.parametrize("student", [s for s in BUGS if s != "bug-delegate"])
def test_student_and_autograder_see_the_same_message(graded, layout, student):
    """The visible test the student runs in their own kernel fails with the very message the
    autograder puts into the feedback (there the test cell runs in the grader, hidden tests added)."""
    submitted = layout.submitted_notebook(student, "03_bptt")
    nb = nbformat.read(submitted, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(submitted.parent)}}).execute()
    visible = failed_test_cells(nb)
    autograded = failed_test_cells(nbformat.read(layout.autograded_notebook(student, "03_bptt"), as_version=4))
    assert set(visible) == set(autograded) == BUGS[student][1]
    for test in visible:
        assert visible[test] == autograded[test]


def test_feedback_hides_hidden_tests(feedback, layout):
    solution = load(layout.source, "03_bptt")
    hidden = [line for c in solution.cells if "### BEGIN HIDDEN TESTS" in c.source
              for line in c.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0].splitlines()
              if line.strip()]
    html = feedback("alice")
    assert hidden and not any(line.strip() in html for line in hidden)


def test_grading_without_a_sandbox_says_so_and_still_grades(graded, course, layout):
    """RNN_SANDBOX=off (as on a machine without bubblewrap): the grading kernel warns as it starts,
    and the references are still stripped, so a correct submission scores and delegation does not."""
    from instructor.pipeline.grade import autograde as grade
    release, solution = load(layout.release, "03_bptt"), load(layout.source, "03_bptt")
    submit(course, "plain-correct", "03_bptt", make_submission(release, solution, "correct"))
    submit(course, "plain-delegate", "03_bptt", make_submission(release, solution, "correct", BUGS["bug-delegate"][0]))
    result, _ = grade(course, "03_bptt", env={"RNN_SANDBOX": "off"})   # grades only the two new students
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("WARNING: grading WITHOUT a sandbox (RNN_SANDBOX=off)") >= 2   # one per kernel
    table = grades(course)
    assert table["plain-correct", "03_bptt"].failed == []
    assert set(table["plain-delegate", "03_bptt"].failed) == {"test_rnn_backward", "test_TimeRNN"}


def test_late_work_is_graded_flagged_and_penalised_as_the_config_says(graded, course, layout):
    """A due date set as README says; a late submission is graded and reported late, with no points
    off by default and all of them with c.LateSubmissionPlugin.penalty_method = "zero"."""
    from datetime import datetime, timedelta
    from nbgrader.api import Gradebook
    from instructor.commands.autograde import report
    from instructor.pipeline.grade import autograde as grade
    a, due = "01_forward_pass", datetime(2026, 1, 5, 12)
    release, solution = load(layout.release, a), load(layout.source, a)
    config, kept = course / "nbgrader_config.py", (course / "nbgrader_config.py").read_text()
    assert nbgrader(course, "db", "assignment", "add", a, f"--duedate={due:%Y-%m-%d %H:%M:%S} UTC").returncode == 0
    try:
        for student, late, policy in (("late-lou", timedelta(hours=1), None),
                                      ("late-zoe", timedelta(days=1, hours=2), "zero")):
            if policy:
                config.write_text(f"{kept}\nc.LateSubmissionPlugin.penalty_method = {policy!r}\n")
            submit(course, student, a, make_submission(release, solution, "correct"))
            (layout.submission(student, a) / "timestamp.txt").write_text(f"{due + late:%Y-%m-%d %H:%M:%S.%f} UTC")
            result, repairs = grade(course, a)              # grades only the new student
            assert result.returncode == 0, result.stderr[-3000:]
            g = grades(course)[student, a]
            full = g.max_score - g.by_hand
            assert (g.score, g.penalty) == ((full, 0) if policy is None else (0, full)), g
            assert f"late {student}: submitted {late} after the due date, {g.penalty:g} points off" \
                in report(course, a, repairs)
        assert grades(course)["alice", a].penalty == 0          # graded before the due date was set
    finally:
        config.write_text(kept)
        with Gradebook(layout.db_url) as gb:
            gb.update_or_create_assignment(a, duedate=None)


def test_lms_zip_is_collected(course, layout, tmp_path):
    archive = tmp_path / "lms.zip"
    release = load(layout.release, "01_forward_pass")
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("submissions/dave_forward_pass.ipynb", nbformat.writes(release))
        z.writestr("submissions/erin_late_1234_5678_forward_pass.ipynb", nbformat.writes(release))
    target = layout.downloaded / "01_forward_pass" / "archive"
    target.mkdir(parents=True, exist_ok=True)
    (target / archive.name).write_bytes(archive.read_bytes())
    result = nbgrader(course, "zip_collect", "01_forward_pass", "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    for student in ("dave", "erin"):
        assert layout.submitted_notebook(student, "01_forward_pass").is_file()


def test_grades_export_to_csv(graded, course, tmp_path):
    out = tmp_path / "grades.csv"
    result = nbgrader(course, "export", "--to", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader(out.open()))
    alice = {r["assignment"]: float(r["score"]) for r in rows if r["student_id"] == "alice"}
    assert set(alice) >= set(EXERCISES) and all(v > 0 for v in alice.values())
