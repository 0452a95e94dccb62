"""Autograde example submissions in a throwaway course and print the grade table.

    python -m instructor.demo

Builds a temporary copy of the course (config + solutions), releases every assignment, submits
three students (alice: correct, bob: blank, carol: buggy BPTT and softmax), runs nbgrader's
autograder and prints what each student got per test cell. The real gradebook is not touched.
"""
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from .autograde import autograde as grade, gradebook_url, nbgrader
from .submissions import ROOT, assignments, make_submission, notebook_path

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


def make_course(course, which=None):
    """Copy the config and solutions into course/ and release the assignments there."""
    course = Path(course)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    for a in which or assignments():
        shutil.copytree(ROOT / "solutions" / a, course / "solutions" / a)
        result = nbgrader(course, "generate_assignment", a, "--force")
        if result.returncode:
            raise RuntimeError(f"generate_assignment {a} failed:\n{result.stderr}")
    return course


def submit(course, student, assignment, nb):
    """Put a notebook where nbgrader's collect step would: grading/submitted/<student>/<a>/."""
    path = Path(course, "grading", "submitted", student, assignment, notebook_path(Path(course, "notebooks"), assignment).name)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def submit_examples(course, which=None):
    for a in which or assignments():
        release = nbformat.read(notebook_path(Path(course, "notebooks"), a), as_version=4)
        solution = nbformat.read(notebook_path(Path(course, "solutions"), a), as_version=4)
        for student, (kind, bugs) in STUDENTS.items():
            submit(course, student, a, make_submission(release, solution, kind, bugs.get(a)))


def autograde(course, assignment):
    return grade(course, assignment, "--force")[0]


def grades(course):
    """{(student, assignment): (score, max_score, [failed test cells], points left to grade by hand)}."""
    from nbgrader.api import Gradebook
    table = {}
    with Gradebook(gradebook_url(course)) as gb:
        for assignment in gb.assignments:
            for nb in assignment.notebooks:
                for sub in nb.submissions:
                    failed = sorted(g.name for g in sub.grades if g.cell.cell_type == "code"
                                    and g.auto_score is not None and g.auto_score < g.max_score)
                    by_hand = sum(g.max_score for g in sub.grades if g.needs_manual_grade)
                    table[sub.student.id, assignment.name] = (sub.score, sub.max_score, failed, by_hand)
    return table


def format_table(table):
    lines = [f"{'student':10s} {'assignment':22s} {'score':>11s}  {'by hand':>7s}  failed tests"]
    for (student, a), (score, max_score, failed, by_hand) in sorted(table.items()):
        lines.append(f"{student:10s} {a:22s} {score:5.1f} / {max_score:<4.1f}  {by_hand or '':>7}  {', '.join(failed) or '-'}")
    lines.append("(by hand: points of free-response answers waiting to be graded in the formgrader)")
    return "\n".join(lines)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        course = make_course(tmp)
        submit_examples(course)
        for a in assignments():
            result = autograde(course, a)
            print(f"autograded {a} ({len(STUDENTS)} submissions): exit {result.returncode}")
        print(format_table(grades(course)))
        print(f"total {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
