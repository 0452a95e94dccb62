"""How long ./course insights takes to write an assignment's page for a big class.

    .venv/bin/python benchmarks/insights_speed.py [--students 300] [--smoke]

Grades one submission of lesson 01 of each kind for real (tests/insights_class.py: honest, each
mistake, blank; no copied pair), then makes a class of N students from them: each student gets
the gradebook rows and graded notebook of one of those, and a submitted notebook written in a
style of their own (so every pair is compared for similarity). Then times writing the page and its
JSON (reading the gradebook and every notebook, the causes, the similarity of every pair, the
plots) and prints it against the goal: under 30 s for 300 submissions.
--smoke: 3 graded kinds, 20 students (the test suite).
"""
import argparse
import os
import random
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
import insights_class as ic  # noqa: E402
from instructor.commands import insights  # noqa: E402
from instructor.commands.demo import submit  # noqa: E402
from instructor.model.layout import Layout  # noqa: E402
from instructor.pipeline.grade import autograde, make_course  # noqa: E402

A = ic.A
GOAL = 30.0


def clone(layout, source, student, nb):
    """student gets source's grades and graded notebook, and nb as what they handed in."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning
    # nbgrader's add_submission makes SQLAlchemy warn about its autoflush; the rows are right
    warnings.simplefilter("ignore", SAWarning)
    submit(layout.root, student, A, nb)
    graded = layout.autograded_notebook(student, A)
    graded.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(layout.autograded_notebook(source, A), graded)
    with Gradebook(layout.db_url) as gb:
        original = gb.find_submission(A, source)
        gb.update_or_create_student(student)
        gb.add_submission(A, student, timestamp=original.timestamp)
        for notebook in original.notebooks:
            for grade in notebook.grades:
                mine = gb.find_grade(grade.name, notebook.name, A, student)
                mine.auto_score, mine.manual_score = grade.auto_score, grade.manual_score
        gb.db.commit()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--smoke", action="store_true", help="3 graded kinds, 20 students")
    args = parser.parse_args()
    kinds = ["honest", "no_bias", "blank"] if args.smoke else [*ic.KINDS, "blank"]
    n = 20 if args.smoke else args.students
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"     # alembic
    rng = random.Random(27)
    with tempfile.TemporaryDirectory() as tmp:
        course = make_course(Path(tmp), [A])
        layout = Layout(course)
        start = time.perf_counter()
        for kind in kinds:
            submit(course, f"graded-{kind}", A, ic.submission(layout, kind, rng))
        result, _ = autograde(course, A)
        assert result.returncode == 0, result.stderr[-2000:]
        print(f"graded {len(kinds)} submissions for real in {time.perf_counter() - start:.1f} s", flush=True)
        start = time.perf_counter()
        for i in range(n - len(kinds)):
            kind = kinds[i % len(kinds)]
            clone(layout, f"graded-{kind}", f"s{i:03d}", ic.submission(layout, kind, rng))
        print(f"class of {n} submissions made from them in {time.perf_counter() - start:.1f} s", flush=True)
        start = time.perf_counter()
        page, data = insights.write(layout, A)
        took = time.perf_counter() - start
        pairs = len(data["similar"]["scores"])
        print(f"insights for {data['submissions']} submissions ({pairs} pairs compared): page written in {took:.1f} s "
              f"({page.stat().st_size / 1e6:.1f} MB)")
        print(f"goal: under {GOAL:g} s for 300 submissions: {'met' if took <= GOAL else 'missed'}"
              + ("" if data["submissions"] == 300 else f" (measured for {data['submissions']})"))


if __name__ == "__main__":
    main()
