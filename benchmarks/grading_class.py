"""How long a whole class takes to grade, and what the sandbox costs per submission.

    .venv/bin/python benchmarks/grading_class.py [--students 60] [--workers N] [--smoke]   (--smoke: the test suite's)

Builds a temporary course with N students x 3 notebooks (lessons 01, 02, 04): most honest, some
buggy, some hostile (delegating to rnnlib, peeking at solutions/, killing the kernel), some files
that are not notebooks. Grades it the way ./course autograde does and prints the wall time, the
time per submission and the score table's shape, and what the grading canary costs the first time
and when cached. Then grades the same K submissions with and
without the sandbox (RNN_SANDBOX=off: same trusted tests, plain kernel) and prints the sandbox's
overhead per submission and as a ratio.

With --workers N, a copy of the same class is also graded the way ./course autograde --workers N
does (Dask, a LocalCluster of N single-threaded workers), its grades compared with the serial
run's, and it prints the speedup, the CPU-seconds per submission (of every process grading
spends: nbgrader, the workers, the kernels), what the coordinator spends writing each
submission into the sqlite gradebook, and the wall time projected from these figures for 300
students x 7 lessons on 16 and 64 cores.
"""
import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from instructor.commands.autograde import autograde_with_workers  # noqa: E402
from instructor.commands.demo import submit  # noqa: E402
from instructor.model.gradebook import grades  # noqa: E402
from instructor.model.layout import Layout, notebook_path  # noqa: E402
from instructor.pipeline import canary, workers  # noqa: E402
from instructor.pipeline.grade import autograde, make_course  # noqa: E402
from instructor.pipeline.submissions import make_submission  # noqa: E402
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


def children_cpu():
    """CPU-seconds used so far by this process's finished descendants (nbgrader, workers, kernels)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class TimedMerge:
    """Adds up the wall and CPU time the coordinator spends writing tasks' grades into the gradebook."""

    def __init__(self):
        self.seconds, self.cpu, self.merge = 0.0, 0.0, workers.merge

    def __call__(self, *args):
        start, cpu = time.perf_counter(), time.thread_time()
        self.merge(*args)
        self.seconds += time.perf_counter() - start
        self.cpu += time.thread_time() - cpu


def compare_workers(pristine, serial_course, serial_seconds, serial_cpu, n_workers):
    """Grade a copy of the class with n_workers workers; print the figures against the serial run."""
    course = Path(shutil.copytree(pristine, pristine.parent / "with-workers"))
    workers.merge = timed = TimedMerge()
    cpu, start = children_cpu(), time.perf_counter()
    autograde_with_workers(Layout(course), ASSIGNMENTS, {"workers": n_workers})   # the cluster closes: CPU counted
    seconds, cpu = time.perf_counter() - start, children_cpu() - cpu
    workers.merge = timed.merge
    same = ({k: g.cells for k, g in grades(Layout(course)).items()}
            == {k: g.cells for k, g in grades(Layout(serial_course)).items()})
    subs = sum(len(Layout(course).students(a)) for a in ASSIGNMENTS)
    speedup = serial_seconds / seconds
    print(f"{n_workers} workers: {seconds:.1f} s against {serial_seconds:.1f} s serial on {os.cpu_count()} cores: "
          f"speedup {speedup:.2f} x; grades {'identical' if same else 'DIFFERENT'} to the serial run's")
    print(f"CPU-seconds per submission: {serial_cpu / subs:.2f} serial, {cpu / subs:.2f} with workers "
          f"(the cluster's start included); the coordinator's gradebook writing: {timed.cpu / subs * 1000:.0f} ms CPU, "
          f"{timed.seconds / subs * 1000:.0f} ms wall per submission")
    # Grading is CPU-bound (kernel start-up, the notebook's cells, the checks), so the projection
    # divides the CPU-seconds per submission by the cores; the coordinator's gradebook writing (what
    # finished meanwhile in one write: per submission, no dearer with more workers) bounds it from below. Wall times on a loaded machine would inflate both.
    total = 300 * 7
    print(f"projected wall time for 300 students x 7 lessons ({total} submissions), one worker per core, "
          f"from {cpu / subs:.2f} CPU-s per submission and {timed.cpu / subs * 1000:.0f} ms of gradebook writing per submission:")
    for cores in (16, 64):
        wall = max(total * cpu / subs / cores, total * timed.cpu / subs)
        print(f"  {cores:3d} cores: {wall / 60:5.1f} min")
    return same


def time_canary(layout):
    start = time.perf_counter()
    for a in ASSIGNMENTS:
        canary.check(layout, a)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--overhead", type=int, default=10, help="submissions per assignment for the overhead run")
    parser.add_argument("--workers", type=int, help="also grade the class with this many Dask workers and compare")
    parser.add_argument("--smoke", action="store_true", help="2 students, 1 for the overhead run, lesson 01 only")
    args = parser.parse_args()
    n, k = (2, 1) if args.smoke else (args.students, args.overhead)
    if args.smoke:
        global ASSIGNMENTS
        ASSIGNMENTS = ASSIGNMENTS[:1]
    with tempfile.TemporaryDirectory() as tmp:
        course = make_class(Path(tmp) / "class", n)
        pristine = Path(shutil.copytree(course, Path(tmp) / "pristine")) if args.workers else None
        cpu = children_cpu()
        seconds, codes = grade_all(course)
        cpu = children_cpu() - cpu
        subs = n * len(ASSIGNMENTS)
        print(f"class of {n} students x {len(ASSIGNMENTS)} notebooks = {subs} submissions, sandboxed: "
              f"{seconds:.1f} s ({seconds / subs:.2f} s per submission; nbgrader exit codes {codes})")
        if args.workers and not compare_workers(pristine, course, seconds, cpu, args.workers):
            sys.exit("grading with workers gave other grades than the serial run")
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
