"""Autograde submissions the way ./course autograde does: prepare, grade in the sandbox, report.

    python -m instructor.autograde [ASSIGNMENT ...]      (run from the course root)

For each assignment: every submission in grading/submitted/ is checked and, where needed,
repaired (instructor/intake.py); nbgrader grades them all in one process, each kernel in the
sandbox (instructor/sandbox.py); then the report lists, per student, the score and everything
that needs the instructor's eye: repaired files, cells whose kernel died or hung, and submissions
that have no grades at all.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from . import intake
from .submissions import assignments, notebook_path

KERNEL_TROUBLE = re.compile(r"Cell (\d+): (KernelDied|KernelHung): ([^.]*)")


def nbgrader(course, *args, env=None):
    """Run one nbgrader command in a course directory, with the venv's bin/ on PATH (for alembic)."""
    env = dict(os.environ, **(env or {}),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True)


def gradebook_url(course):
    return f"sqlite:///{Path(course, 'grading', 'gradebook.db')}"


def grade_table(assignment, db_url):
    """{student: {cell: score}} for every submission of assignment in the gradebook at db_url.

    Raises ValueError if a student has more than one row for a notebook (grading must never
    duplicate).
    """
    from nbgrader.api import Gradebook
    table = {}
    with Gradebook(db_url) as gb:
        for nb in gb.find_assignment(assignment).notebooks:
            for sub in nb.submissions:
                if sub.student.id in table:
                    raise ValueError(f"{sub.student.id} has two rows for {assignment}/{nb.name}")
                table[sub.student.id] = {g.name: g.score for g in sub.grades}
    return table


def unfinished(course, assignment, db_url=None):
    """Students whose autograded folder exists but whose grades do not: a run was interrupted.

    nbgrader skips a student whose autograded folder exists, so without this a grader killed in
    the middle of a notebook would leave that student with no scores for good.
    """
    from nbgrader.api import Gradebook, MissingEntry
    folders = sorted(Path(course, "grading", "autograded").glob(f"*/{assignment}"))
    if not folders:
        return []
    found = []
    with Gradebook(db_url or gradebook_url(course)) as gb:
        for folder in folders:
            try:
                subs = gb.find_submission(assignment, folder.parent.name).notebooks
            except MissingEntry:
                found.append(folder.parent.name)
                continue
            if not subs or any(g.auto_score is None and g.cell.cell_type == "code" for nb in subs for g in nb.grades):
                found.append(folder.parent.name)
    return found


def autograde(course, assignment, *args, env=None, db_url=None):
    """Prepare and autograde every submission of assignment; returns (nbgrader's result, repairs).

    Students whose grading was interrupted are graded again; everyone else is graded once (pass
    "--force" to grade everyone again). db_url: the gradebook, if not grading/gradebook.db.
    """
    repairs = intake.prepare(course, assignment, notebook_path(Path(course, "notebooks"), assignment))
    for student in unfinished(course, assignment, db_url):
        shutil.rmtree(Path(course, "grading", "autograded", student, assignment))
        repairs.setdefault(student, []).append("its grading had been interrupted; it was graded again.")
    db = [f"--CourseDirectory.db_url={db_url}"] if db_url else []
    return nbgrader(course, "autograde", assignment, *db, *args, env=env), repairs


def kernel_trouble(stderr):
    """[(student, message)] for every cell whose kernel died or hung, from nbgrader's log."""
    found, student = [], None
    for line in stderr.splitlines():
        autograding = re.search(r"Autograding .*/autograded/([^/]+)/", line)
        student = autograding.group(1) if autograding else student
        trouble = KERNEL_TROUBLE.search(line)
        if trouble:
            found.append((student, f"cell {trouble.group(1)}: {trouble.group(3)}"))
    return found


def report(course, assignment, result, repairs, db_url=None):
    """The instructor's summary: one line per student, then what needs a look."""
    from nbgrader.api import Gradebook, MissingEntry
    lines = [f"== {assignment}"]
    with Gradebook(db_url or gradebook_url(course)) as gb:
        for student in sorted(p.parent.name for p in Path(course, "grading", "submitted").glob(f"*/{assignment}")):
            try:
                sub = gb.find_submission(assignment, student)
                lines.append(f"  {student:20s} {sub.score:6.1f} / {sub.max_score:g}"
                             + ("  (free responses to grade by hand)" if sub.needs_manual_grade else ""))
            except MissingEntry:
                lines.append(f"  {student:20s} NOT GRADED: see nbgrader's log above")
    for student, problems in sorted(repairs.items()):
        lines += [f"  repaired {student}: {p}" for p in problems]
    lines += [f"  kernel trouble {student}: {what}" for student, what in kernel_trouble(result.stderr)]
    return "\n".join(lines)


def main(argv):
    course, status = Path.cwd(), 0
    for assignment in argv or assignments(course):
        result, repairs = autograde(course, assignment)
        sys.stderr.write(result.stderr)
        print(report(course, assignment, result, repairs))
        status |= result.returncode != 0
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
