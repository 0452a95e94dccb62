"""Before a class is graded, prove that grading works here: the canary.

A grade is only as good as the environment it is computed in: a sandbox that strips a copy of
rnnlib the kernel never imports gives full marks for delegation, and a kernel that cannot import
rnnlib at all gives everyone 0 without a word. So ``./course autograde`` first grades, in a
throwaway course with this course's config, the same Python, the same sandbox and the same
pipeline, three submissions of each assignment it is about to grade:

    solution    the instructor's solution         must get full marks on every autograded cell
    blank       the released notebook              must get 0 on every autograded cell
    delegating  each exercise only calls rnnlib's  must get 0 on every autograded cell
                reference (Lesson.delegating_answer)

If one is off, grading is refused with one line that says which and why. A passing canary is
remembered per assignment and environment (a fingerprint of the lesson's source, the config,
the grader's and the kernel's rnnlib, the interpreter and the sandbox), so it costs seconds once
and nothing after.
"""
import hashlib
import json
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import nbformat

from rnnlib import grading

from . import sandbox, strip
from .autograde import autograde
from .gradebook import grades
from .layout import CONFIG_FILE, Layout
from .demo import make_course
from .submissions import make_submission, notebook_path

STUDENTS = ("solution", "blank", "delegating")
# nbgrader runs in the course root, so it grades with the course's own rnnlib and instructor
# (python -m puts the working directory first): in the throwaway course, the same ones.
GRADER_FIRST = {"PYTHONPATH": str(sandbox.GRADER)}
PACKAGES = ("nbgrader", "nbclient", "ipykernel", "jupyter_client", "numpy")


class CanaryFailed(Exception):
    """Grading here cannot be trusted; the message says which canary failed and why."""


def _files(folder, pattern="*"):
    return sorted(p for p in Path(folder).rglob(pattern) if p.is_file() and "__pycache__" not in p.parts)


def fingerprint(layout, assignment, kernel_rnnlib, kernel_path):
    """What the canary's verdict depends on, hashed."""
    digest = hashlib.sha256()
    files = [*_files(layout.source / assignment), layout.root / CONFIG_FILE, *_files(kernel_rnnlib, "*.py"),
             *_files(sandbox.GRADER / "rnnlib", "*.py"), *_files(sandbox.GRADER / "instructor", "*.py")]
    for path in files:
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    versions = {name: metadata.version(name) for name in PACKAGES}
    digest.update(json.dumps([sys.executable, sys.version, kernel_path, versions,
                              sandbox.problem(), os.environ.get("RNN_SANDBOX")]).encode())
    return digest.hexdigest()


def submissions(layout, assignment):
    """{canary student: notebook} for assignment: solution, blank and delegating."""
    release = nbformat.read(layout.release_notebook(assignment), as_version=4)
    solution = nbformat.read(notebook_path(layout.source, assignment), as_version=4)
    lesson = grading.lesson(assignment)
    delegating = {exercise: lesson.delegating_answer(exercise) for exercise in lesson.exercises}
    return {"solution": make_submission(release, solution, "correct"),
            "blank": make_submission(release, solution, "blank"),
            "delegating": make_submission(release, solution, "correct", delegating)}


def _why(course, student, assignment, cell):
    """The first line of the error a graded cell shows, if any."""
    path = course.autograded_notebook(student, assignment)
    if not path.exists():
        return "nbgrader could not grade the notebook at all"
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == cell:
            errors = [o for o in c.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                return f"{errors[0]['ename']}: {errors[0]['evalue'].splitlines()[0][:160]}"
    return "no error shown"


def verdicts(course, assignment):
    """The canary's verdict: None if all three were graded as they must be, else why not."""
    graded = grades(course, assignment)
    for student in STUDENTS:
        row = graded.get((student, assignment))
        if row is None or row.missing:
            return f"the {student} submission was not graded ({_why(course, student, assignment, None)})"
        if student == "solution" and row.failed:
            return (f"the instructor's solution lost points on {row.failed[0]} "
                    f"({_why(course, student, assignment, row.failed[0])})")
        scored = sorted(cell for cell, score in row.cells.items() if score > 0)
        if student != "solution" and scored:
            return (f"the {student} submission scored {row.cells[scored[0]]:g} on {scored[0]} instead of 0 "
                    f"({_why(course, student, assignment, scored[0])})")
    return None


def check(layout, assignment):
    """Raise CanaryFailed unless grading assignment here is proven to work; cached when it is."""
    try:
        kernel_rnnlib, kernel_path = strip.locate()
        with tempfile.TemporaryDirectory() as tmp:
            strip.build(assignment, tmp, kernel_rnnlib)
    except strip.CannotStrip as e:
        raise CanaryFailed(f"{assignment}: the grading kernel's rnnlib cannot be stripped of the answers: {e}") from None
    key = fingerprint(layout, assignment, kernel_rnnlib, kernel_path)
    passed = layout.canary / f"{assignment}.json"
    if passed.exists() and json.loads(passed.read_text()).get("fingerprint") == key:
        return
    with tempfile.TemporaryDirectory(prefix="rnn-canary-") as tmp:
        try:
            course = Layout(make_course(tmp, [assignment], layout.root, env=GRADER_FIRST))
        except RuntimeError as e:
            raise CanaryFailed(f"{assignment}: nbgrader could not release it: {str(e).strip().splitlines()[-1]}") from None
        for student, nb in submissions(course, assignment).items():
            path = course.submitted_notebook(student, assignment)
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
        result, _ = autograde(Path(tmp), assignment, "--force", env=GRADER_FIRST)
        problem = verdicts(course, assignment)
    if problem and result.returncode:
        errors = [line for line in result.stderr.splitlines() if "ERROR" in line or "Error" in line]
        problem += f"; nbgrader said: {errors[-1].strip()[:300] if errors else result.stderr.strip()[-300:]}"
    if problem:
        raise CanaryFailed(f"{assignment}: {problem}; the grading kernel imports rnnlib from {kernel_rnnlib}")
    passed.parent.mkdir(parents=True, exist_ok=True)
    passed.write_text(json.dumps({"fingerprint": key}))
