"""Autograde example submissions in a throwaway course and print the grade table.

    ./course demo

Builds a temporary copy of the course (config + solutions), releases every assignment, submits
three students (alice: correct, bob: blank, carol: buggy BPTT and softmax), runs nbgrader's
autograder and prints what each student got per test cell. The real gradebook is not touched.
"""
import tempfile
import time

import nbformat

from ..model.gradebook import grades as read_grades
from ..model.layout import Layout, notebook_path
from ..pipeline.grade import autograde as grade, make_course
from ..pipeline.submissions import make_submission

BUGGY_SOFTMAX = '''def softmax(z, axis=-1):
    e = np.exp(z)          # no max subtraction: overflows for large logits
    return e / e.sum(axis=axis, keepdims=True)
'''
BUGGY_RNN_BACKWARD = '''def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0][0].shape[1]))
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        # the shared weights' gradients are overwritten at every step instead of summed
        dx[:, t], dprev_h, dWx, dWh, db = rnn_step_backward(dh[:, t] + dprev_h, cache[t])
    return dx, dprev_h, dWx, dWh, db
'''
STUDENTS = {
    "alice": ("correct", {}),
    "bob": ("blank", {}),
    "carol": ("correct", {"02_softmax_stability": {"softmax": BUGGY_SOFTMAX},
                          "03_bptt": {"rnn_backward": BUGGY_RNN_BACKWARD}}),
}




def submit(course, student, assignment, nb):
    """Put a notebook where nbgrader's collect step would: <submitted>/<student>/<assignment>/."""
    path = Layout(course).submitted_notebook(student, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def submit_examples(course, which=None):
    layout = Layout(course)
    for a in which or layout.assignments():
        release = nbformat.read(layout.release_notebook(a), as_version=4)
        solution = nbformat.read(notebook_path(layout.source, a), as_version=4)
        for student, (kind, bugs) in STUDENTS.items():
            submit(course, student, a, make_submission(release, solution, kind, bugs.get(a)))


def autograde(course, assignment):
    return grade(course, assignment, "--force")[0]


def grades(course):
    """{(student, assignment): Grades} of every submission in the course's gradebook."""
    return read_grades(Layout(course))


def format_table(table):
    lines = [f"{'student':10s} {'assignment':22s} {'score':>11s}  {'by hand':>7s}  failed tests"]
    for (student, a), g in sorted(table.items()):
        lines.append(f"{student:10s} {a:22s} {g.score:5.1f} / {g.max_score:<4.1f}  {g.by_hand or '':>7}  "
                     f"{', '.join(g.failed) or '-'}")
    lines.append("(by hand: points of free-response answers waiting to be graded in the formgrader)")
    return "\n".join(lines)


def run():
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        course = make_course(tmp)
        submit_examples(course)
        for a in Layout(course).assignments():
            result = autograde(course, a)
            print(f"autograded {a} ({len(STUDENTS)} submissions): exit {result.returncode}")
        print(format_table(grades(course)))
        print(f"total {time.perf_counter() - start:.1f} s")
