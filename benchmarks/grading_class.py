"""How long a whole class takes to grade, and what the sandbox costs per submission.

    .venv/bin/python benchmarks/grading_class.py [--students 60] [--smoke]

Builds a temporary course with N students x 3 notebooks (lessons 01, 02, 04): most honest, some
buggy, some hostile (delegating to rnnlib, peeking at solutions/, killing the kernel), some files
that are not notebooks. Grades it the way ./course autograde does and prints the wall time, the
time per submission and the score table's shape, and what the grading canary costs the first time
and when cached. Then grades the same K submissions with and
without the sandbox (RNN_SANDBOX=off: same trusted tests, plain kernel) and prints the sandbox's
overhead per submission and as a ratio.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from instructor import canary  # noqa: E402
from instructor.autograde import autograde  # noqa: E402
from instructor.demo import make_course, submit  # noqa: E402
from instructor.layout import Layout  # noqa: E402
from instructor.submissions import make_submission, notebook_path  # noqa: E402
from rnnlib.grading import lesson  # noqa: E402

ASSIGNMENTS = ["01_forward_pass", "02_softmax_stability", "04_vanishing_gradients"]
HOSTILE = {"delegate": lambda a, fn: lesson(a).delegating_answer(fn),
           "peek": lambda a, fn: "print(open('../../../../solutions/01_forward_pass/forward_pass.ipynb').read())\n",
           "kill": lambda a, fn: "import os\nos._exit(1)\n"}


# Every 20 students: 13 honest, 3 buggy, 3 hostile, 1 broken file.
MIX = ["honest"] * 13 + ["buggy"] * 3 + ["delegate", "peek", "kill", "broken"]


def make_class(root, n):
    root.mkdir()
    course = make_course(root, ASSIGNMENTS)
    layout = Layout(course)
    for a in ASSIGNMENTS:
        release = nbformat.read(layout.release_notebook(a), as_version=4)
        solution = nbformat.read(notebook_path(layout.source, a), as_version=4)
        fn = next(iter(lesson(a).exercises))      # buggy and hostile answers replace the first exercise
        for i in range(n):
            kind = MIX[i % len(MIX)]
            replace = ({fn: f"def {fn}(*args, **kwargs):\n    return None\n"} if kind == "buggy" else
                       {fn: HOSTILE[kind](a, fn)} if kind in HOSTILE else None)
            student = f"student{i:03d}"
            submit(course, student, a, make_submission(release, solution, "correct", replace))
            if kind == "broken":
                layout.submitted_notebook(student, a).write_text("{ not json")
    return course


def grade_all(course, env=None):
    start, codes = time.perf_counter(), []
    for a in ASSIGNMENTS:
        result, _ = autograde(course, a, "--force", env=env)
        codes.append(result.returncode)
    return time.perf_counter() - start, codes


def time_canary(layout):
    start = time.perf_counter()
    for a in ASSIGNMENTS:
        canary.check(layout, a)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--overhead", type=int, default=10, help="submissions per assignment for the overhead run")
    parser.add_argument("--smoke", action="store_true", help="2 students, 1 for the overhead run")
    args = parser.parse_args()
    n, k = (2, 1) if args.smoke else (args.students, args.overhead)
    with tempfile.TemporaryDirectory() as tmp:
        course = make_class(Path(tmp) / "class", n)
        seconds, codes = grade_all(course)
        subs = n * len(ASSIGNMENTS)
        print(f"class of {n} students x {len(ASSIGNMENTS)} notebooks = {subs} submissions, sandboxed: "
              f"{seconds:.1f} s ({seconds / subs:.2f} s per submission; nbgrader exit codes {codes})")
        first, cached = time_canary(Layout(course)), time_canary(Layout(course))
        print(f"grading canary for {len(ASSIGNMENTS)} assignments (./course autograde runs it first): "
              f"{first:.1f} s the first time ({first / seconds:.2f} x grading this class), "
              f"{cached * 1000:.0f} ms when cached ({first / cached:.0f} x faster)")

        small = make_class(Path(tmp) / "small", k)
        with_sandbox, _ = grade_all(small)
        without, _ = grade_all(small, env={"RNN_SANDBOX": "off"})
        per = k * len(ASSIGNMENTS)
        print(f"{per} submissions: {with_sandbox / per:.2f} s each in the sandbox, {without / per:.2f} s without: "
              f"overhead {(with_sandbox - without) / per:+.2f} s per submission "
              f"(ratio {with_sandbox / without:.2f} x)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
