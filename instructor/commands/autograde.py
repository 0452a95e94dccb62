"""./course autograde [--workers N] [--scheduler ADDRESS] [ASSIGNMENT...]: prepare, grade in the sandbox, report.

For each assignment: every submission (where, instructor/model/layout.py reads from nbgrader_config.py)
is checked and, where needed, repaired (instructor/pipeline/intake.py); nbgrader grades them all in one
process, each kernel in the sandbox (instructor/pipeline/sandbox.py); then the report lists, per student,
the score and everything that needs the instructor's eye: repaired files, cells whose kernel died
or hung (read from the graded notebooks), and submissions that have no grades at all.
With --workers (or --scheduler), the same steps, but each submission is a task for Dask's
workers (instructor/pipeline/workers.py) instead of one nbgrader process grading them in turn.
"""
import sys
from datetime import timedelta

import nbformat

from ..model.gradebook import grades, late
from ..model.layout import Layout
from ..pipeline import canary, workers
from ..pipeline.execute import DIED, HUNG
from ..pipeline.grade import autograde, prepare, register
from .arguments import unknown_argument


def autograde_with_workers(layout, todo, opts):
    """./course autograde --workers N [--scheduler ADDRESS]: the same preparation, grades and report
    as one nbgrader process per assignment, one Dask task per submission (instructor/pipeline/workers.py)."""
    repairs = {a: prepare(layout, a) for a in todo}
    work = [(a, s) for a in todo for s in layout.students(a) if workers.needs_grading(layout, a, s)]
    skipped = sum(len(layout.students(a)) for a in todo) - len(work)
    where = f"the Dask cluster at {opts['scheduler']}" if opts.get("scheduler") else f"{opts['workers']} workers"
    noun = "submission" if len(work) == 1 else "submissions"
    print(f"grading {len(work)} {noun} on {where}" + (f" ({skipped} already graded: skipped)" if skipped else ""),
          flush=True)
    failed = {}
    if work:
        try:
            with workers.dask_client(**opts) as client:
                failed = workers.grade(layout, work, client)
        except workers.SchedulerLost as e:
            return refuse(f"{e}; the grades so far are saved: run it again to grade the rest")
    for (a, student), log in failed.items():
        sys.stderr.write(f"nbgrader could not grade {student}'s {a}:\n{log}\n")
    for assignment in todo:
        print(report(layout.root, assignment, repairs[assignment]))
    return int(bool(failed))


def kernel_trouble(notebook):
    """"cell <grade_id or index>: <what happened>" for each cell of a graded notebook whose kernel
    died or hung: the error output instructor/pipeline/execute.py gave that cell."""
    cells = nbformat.read(notebook, as_version=4).cells
    return [f"cell {cell.metadata.get('nbgrader', {}).get('grade_id', index)}: {out.evalue.split('. ')[0]}"
            for index, cell in enumerate(cells) for out in cell.get("outputs", [])
            if out.output_type == "error" and (out.ename, out.evalue) in (DIED, HUNG)]


def report(course, assignment, repairs):
    """The instructor's summary: one line per student, then what needs a look."""
    layout = Layout(course)
    graded = grades(layout, assignment)
    lines = [f"== {assignment}"]
    for student in layout.students(assignment):
        g = graded.get((student, assignment))
        lines.append(f"  {student:20s} NOT GRADED: see nbgrader's log above" if g is None else
                     f"  {student:20s} {g.score:6.1f} / {g.max_score:g}"
                     + ("  (free responses to grade by hand)" if g.by_hand else ""))
    for student, seconds in late(layout, assignment).items():
        off = graded[student, assignment].penalty if (student, assignment) in graded else 0
        lines.append(f"  late {student}: submitted {timedelta(seconds=round(seconds))} after the due date, "
                     f"{off:g} points off (c.LateSubmissionPlugin.penalty_method)")
    for student, problems in sorted(repairs.items()):
        lines += [f"  repaired {student}: {p}" for p in problems]
    for student in layout.students(assignment):
        notebook = layout.autograded_notebook(student, assignment)
        if notebook.exists():             # nbgrader removes the folder of a submission it could not grade
            lines += [f"  kernel trouble {student}: {what}" for what in kernel_trouble(notebook)]
    return "\n".join(lines)


def run(layout, assignments, opts):
    """./course autograde [--workers N] [--scheduler ADDRESS] [ASSIGNMENT...]: the canary, then
    every submission of assignments (default: all), then the report; returns the exit status."""
    known, status = layout.assignments(), 0
    problem = unknown_argument(assignments, known)
    if problem:
        return refuse(problem)
    todo = [a for a in assignments or known if layout.students(a)]
    if not todo:
        print(f"nothing submitted for {', '.join(assignments or known)}: put each notebook in "
              f"{layout.submitted}/<student>/<assignment>/ (or ./course collect an LMS zip) first")
        return 0
    for assignment in todo:
        problem = register(layout, assignment)
        if problem:
            return refuse(f"{assignment} is not in the gradebook and could not be added: {problem}")
    try:
        for assignment in todo:
            canary.check(layout, assignment)
    except canary.CanaryFailed as e:
        return refuse(f"refusing to grade: {e}")
    if opts:
        return autograde_with_workers(layout, todo, opts)
    for assignment in todo:
        result, repairs = autograde(layout.root, assignment)
        sys.stderr.write(result.stderr)
        print(report(layout.root, assignment, repairs))
        status |= result.returncode != 0
    return status


def refuse(message):
    print(f"./course autograde: {message}", file=sys.stderr)
    return 2

