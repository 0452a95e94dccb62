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
remembered per assignment and environment (a fingerprint of the lesson's source, the config's
grading settings, the grader's and the kernel's rnnlib, the interpreter and the sandbox), so it
costs seconds once and nothing after. The fingerprint is of contents, never of where the course
is: a copy of the course elsewhere has the same one. RNN_CANARY_CACHE may name a folder that
several courses share (the test suite's temporary courses do) instead of the course's own.
"""
import fcntl
import hashlib
import json
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import nbformat

from rnnlib import grading

from ..model.gradebook import grades
from ..model.layout import Layout, course_config, notebook_path
from . import sandbox, strip
from .grade import autograde, make_course
from .submissions import make_submission

STUDENTS = ("solution", "blank", "delegating")
# nbgrader runs in the course root, so it grades with the course's own rnnlib and instructor
# (python -m puts the working directory first): in the throwaway course, the same ones.
GRADER_FIRST = {"PYTHONPATH": str(sandbox.GRADER)}
PACKAGES = ("nbgrader", "nbclient", "ipykernel", "jupyter_client", "numpy")
# Settings in nbgrader_config.py that cannot change a verdict (None: the whole section): where the
# course, its gradebook, the exchange, exports and LMS downloads are, which classes hand work in and
# out through the exchange and how the collector checks it (autograde never uses them), and one
# grading run's sockets.
ELSEWHERE = {"CourseDirectory": {"root", "db_url"}, "Exchange": None, "ExchangeFactory": None, "GuardedCollect": None,
             "ExportPlugin": None, "ZipCollectApp": None, "FileNameCollectorPlugin": None,
             "GradingKernelManager": {"ip"}}
SHARED_CACHE = "RNN_CANARY_CACHE"


class CanaryFailed(Exception):
    """Grading here cannot be trusted; the message says which canary failed and why."""


def _files(folder, pattern="*"):
    """(path relative to folder, contents) of each file: contents and names, not where folder is."""
    paths = sorted(p for p in Path(folder).rglob(pattern) if p.is_file() and "__pycache__" not in p.parts)
    return [(str(p.relative_to(folder)), p.read_bytes()) for p in paths]


def grading_settings(course):
    """The course config's settings that can change how a submission is graded, as text."""
    kept = []
    for section, values in course_config(course).items():
        skip = ELSEWHERE.get(section, ())
        if skip is not None:
            kept += [(section, key, repr(value)) for key, value in values.items() if key not in skip]
    return json.dumps(sorted(kept))


def _resolved(path):
    """A sys.path entry with symbolic links resolved (a course copy that links to the venv runs the
    same Python); entries that are not paths (an editable install's import hook) as they are."""
    return os.path.realpath(path) if os.path.isabs(path) else path


def fingerprint(layout, assignment, kernel_rnnlib, kernel_path):
    """What the canary's verdict depends on, hashed: contents, not the course's own paths."""
    digest = hashlib.sha256()
    parts = {"lesson": _files(layout.source / assignment), "kernel rnnlib": _files(kernel_rnnlib, "*.py"),
             "grader rnnlib": _files(sandbox.GRADER / "rnnlib", "*.py"),
             "grader instructor": _files(sandbox.GRADER / "instructor", "*.py")}
    for part, files in parts.items():
        for name, content in files:
            digest.update(f"{part}/{name}".encode() + b"\0" + content + b"\0")
    versions = {name: metadata.version(name) for name in PACKAGES}
    digest.update(json.dumps([grading_settings(layout.root), str(Path(sys.prefix).resolve()), sys.version,
                              os.path.realpath(kernel_rnnlib), [_resolved(p) for p in kernel_path], versions,
                              sandbox.problem(), os.environ.get("RNN_SANDBOX")]).encode())
    return digest.hexdigest()


def remembered(layout, assignment, key):
    """The file that says the canary passed: grading/canary/<assignment>.json in the course, or one
    file per assignment and fingerprint in the shared folder RNN_CANARY_CACHE names."""
    shared = os.environ.get(SHARED_CACHE)
    return Path(shared) / f"{assignment}-{key}.json" if shared else layout.canary / f"{assignment}.json"


def _passed(path, key):
    return path.exists() and json.loads(path.read_text()).get("fingerprint") == key


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


def run(layout, assignment, kernel_rnnlib):
    """Grade the three canary submissions of assignment in a throwaway course; raise CanaryFailed
    unless each got what it must."""
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


def check(layout, assignment):
    """Raise CanaryFailed unless grading assignment here is proven to work; cached when it is."""
    try:
        kernel_rnnlib, kernel_path = strip.locate()
        with tempfile.TemporaryDirectory() as tmp:
            strip.build(assignment, tmp, kernel_rnnlib)
    except strip.CannotStrip as e:
        raise CanaryFailed(f"{assignment}: the grading kernel's rnnlib cannot be stripped of the answers: {e}") from None
    key = fingerprint(layout, assignment, kernel_rnnlib, kernel_path)
    passed = remembered(layout, assignment, key)
    passed.parent.mkdir(parents=True, exist_ok=True)
    # One canary per fingerprint at a time: whoever waits finds it passed (or runs it, if it failed).
    with open(passed.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _passed(passed, key):
            run(layout, assignment, kernel_rnnlib)
            partial = passed.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps({"fingerprint": key}))
            partial.replace(passed)                # whole or not at all, for whoever reads it
