"""Grades in an LMS's gradebook import format: ./course export --lms canvas|moodle [--missing-as-zero].

One row per student of the gradebook (the roster: ./course roster import puts the LMS's students
there, instructor/commands/roster.py), one column per assignment holding the student's score
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

from ..model.gradebook import class_list, grades
from .roster import not_imported

LMS = ("canvas", "moodle")


def rows(layout, lms, missing_as_zero=False):
    """The LMS's CSV rows, header first."""
    students, assignments = class_list(layout)
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


def written(layout, lms, missing_as_zero=False):
    """Write the LMS's file; returns the line that says what it holds."""
    path = export(layout, lms, missing_as_zero)
    students, assignments = class_list(layout)
    note = not_imported(layout)
    return (f"wrote {path.relative_to(layout.root)}: {len(students)} students x {len(assignments)} assignments, "
            f"in {lms.capitalize()}'s gradebook import format" + (f"; {note}" if note else ""))
