"""Grades in an LMS's gradebook import format: ./course export --lms canvas|moodle [--missing-as-zero].

    python -m instructor.lms --lms canvas [--missing-as-zero]     (in the course root)

One row per student of the gradebook (the roster: ./course roster import puts the LMS's students
there, instructor/roster.py), one column per assignment holding the student's score
(hand-graded points included: the score nbgrader's own CSV gives), written next to that CSV
(c.ExportPlugin.to) as <name>-canvas.csv or <name>-moodle.csv. A student who did not submit an
assignment gets an empty cell, which both systems import as "no grade" (an existing grade stays);
--missing-as-zero writes 0 instead.

canvas  Canvas's gradebook CSV, as its Export gives it: Student, ID, SIS User ID, SIS Login ID,
        Section, one column per assignment, then a "Points Possible" row. Canvas finds each
        student by ID (the gradebook's lms_user_id: Canvas's ID, from the roster import) or by SIS
        Login ID (the course's student id). A column whose name is not yet an assignment becomes one.
moodle  Moodle's grade import (Grades > Import > CSV file): Username, ID number, First name, Last
        name, Email address, one column per assignment. Import with "Map from: Username" to
        "username", and map each assignment's column to its grade item.
"""
import csv
import sys
from pathlib import Path

from .gradebook import grades
from .layout import Layout
from .roster import not_imported

LMS = ("canvas", "moodle")
USAGE = "usage: ./course export [--lms canvas|moodle] [--missing-as-zero]"


def parse(argv):
    """(the LMS or None, --missing-as-zero, a one-line complaint or None) of export's arguments."""
    zero, args = "--missing-as-zero" in argv, [a for a in argv if a != "--missing-as-zero"]
    if args[:1] == ["--lms"]:
        args = [f"--lms={args[1] if len(args) > 1 else ''}", *args[2:]]
    lms = args[0].removeprefix("--lms=") if args and args[0].startswith("--lms=") else None
    if len(args) > (lms is not None):
        return lms, zero, f"unknown argument {args[lms is not None]!r}; {USAGE}"
    if lms is not None and lms not in LMS:
        return lms, zero, f"--lms takes {' or '.join(LMS)}, not {lms!r}"
    if zero and lms is None:
        return lms, zero, "--missing-as-zero is for an LMS's file: add --lms canvas or --lms moodle"
    return lms, zero, None


def roster(layout):
    """(students [(id, first name, last name, email, LMS user id)], assignments [(name, max score)])."""
    from nbgrader.api import Gradebook
    with Gradebook(layout.db_url) as gb:
        students = [(s.id, s.first_name or "", s.last_name or "", s.email or "", s.lms_user_id or "")
                    for s in sorted(gb.students, key=lambda s: s.id)]
        assignments = [(a.name, a.max_score) for a in sorted(gb.assignments, key=lambda a: a.name)]
    return students, assignments


def rows(layout, lms, missing_as_zero=False):
    """The LMS's CSV rows, header first."""
    students, assignments = roster(layout)
    found = grades(layout)
    names = [name for name, _ in assignments]

    def scores(student):
        return [f"{found[student, a].score:g}" if (student, a) in found else "0" if missing_as_zero else ""
                for a in names]

    if lms == "canvas":
        return ([["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *names],
                 ["    Points Possible", "", "", "", "", *(f"{points:g}" for _, points in assignments)]]
                + [[f"{last}, {first}" if last and first else sid, lms_id, "", sid, "", *scores(sid)]
                   for sid, first, last, _, lms_id in students])
    return ([["Username", "ID number", "First name", "Last name", "Email address", *names]]
            + [[sid, "", first, last, email, *scores(sid)] for sid, first, last, email, _ in students])


def export(layout, lms, missing_as_zero=False):
    """Write the LMS's file next to the course's CSV; returns its path."""
    path = layout.grades_csv.with_name(f"{layout.grades_csv.stem}-{lms}.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows(layout, lms, missing_as_zero))
    return path


def main(argv):
    lms, zero, complaint = parse(argv)
    if complaint:
        print(f"./course export: {complaint}", file=sys.stderr)
        return 2
    layout = Layout(Path.cwd())
    path = export(layout, lms, zero)
    students, assignments = roster(layout)
    note = not_imported(layout)
    print(f"wrote {path.relative_to(layout.root)}: {len(students)} students x {len(assignments)} assignments, "
          f"in {lms.capitalize()}'s gradebook import format" + (f"; {note}" if note else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
