"""How long the lessons take to run and to grade.

    .venv/bin/python benchmarks/grading_speed.py [ASSIGNMENT ...]

Prints, per assignment: the solution notebook's execution time (nbclient, fresh kernel), and the
autograde time for a batch of example submissions (correct, blank, buggy) with nbgrader's CLI,
per submission and in total. Goals: each notebook under 20 s, one student's three notebooks of
lessons 01-03 autograded in under 30 s.
"""
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from instructor.commands.demo import STUDENTS, autograde, submit_examples  # noqa: E402
from instructor.model.layout import Layout, ROOT, notebook_path  # noqa: E402
from instructor.pipeline.grade import make_course  # noqa: E402


def execution_time(path):
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def main(which):
    print(f"{'assignment':22s} {'execute':>9s} {'autograde':>10s} {'per submission':>15s}")
    total_exec = total_grade = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        course = make_course(tmp, which)
        submit_examples(course, which)
        for a in which:
            run = execution_time(notebook_path(Layout(ROOT).source, a))
            start = time.perf_counter()
            result = autograde(course, a)
            grade = time.perf_counter() - start
            if result.returncode:
                print(result.stderr[-2000:])
            total_exec, total_grade = total_exec + run, total_grade + grade
            print(f"{a:22s} {run:8.1f}s {grade:9.1f}s {grade / len(STUDENTS):14.1f}s")
    print(f"{'total':22s} {total_exec:8.1f}s {total_grade:9.1f}s "
          f"{total_grade / len(STUDENTS):14.1f}s  (= autograding one student's notebooks, batched)")


if __name__ == "__main__":
    main(sys.argv[1:] or Layout(ROOT).assignments())
