"""The one reader of the gradebook: what each student got, per assignment.

The autograde report, the check for interrupted grading, the demo's table and the tests all read
grades here, from the gradebook the course's nbgrader_config.py names (Layout.db_url).
"""
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class Grades:
    """One student's grades for one assignment (summed over its notebooks)."""
    score: float       # the points, less a late penalty (never below 0: nbgrader's export does the same)
    max_score: float
    cells: dict        # {grade_id: score} of every graded cell, autograded or graded by hand
    failed: list       # autograded code cells that lost points, sorted
    by_hand: float     # points of answers waiting to be graded by hand (free responses)
    missing: bool      # a code cell has no autograded score: its grading never finished
    penalty: float     # points off for coming in after the due date (c.LateSubmissionPlugin)


def grades(layout, assignment=None):
    """{(student, assignment): Grades} for one assignment, or for all of them.

    A student appears once their submission has a notebook in the gradebook. Raises ValueError if
    a student has two rows for one notebook: grading must never duplicate.
    """
    from nbgrader.api import Gradebook, MissingEntry
    rows, penalties, seen = {}, {}, set()
    with Gradebook(layout.db_url) as gb:
        try:
            found = [gb.find_assignment(assignment)] if assignment else gb.assignments
        except MissingEntry:                  # never released into this gradebook: nobody has grades
            return {}
        for a in found:
            for nb in a.notebooks:
                for sub in nb.submissions:
                    if (sub.student.id, a.name, nb.name) in seen:
                        raise ValueError(f"{sub.student.id} has two rows for {a.name}/{nb.name}")
                    seen.add((sub.student.id, a.name, nb.name))
                    key = (sub.student.id, a.name)
                    rows.setdefault(key, []).extend(map(_Cell.of, sub.grades))
                    penalties[key] = penalties.get(key, 0.0) + (sub.late_submission_penalty or 0.0)
    return {key: _summary(cells, penalties[key]) for key, cells in rows.items()}


def registered(layout, assignment):
    """Does the gradebook know assignment and its notebooks (generate_assignment adds them)?"""
    from nbgrader.api import Gradebook, MissingEntry
    with Gradebook(layout.db_url) as gb:
        try:
            return bool(gb.find_assignment(assignment).notebooks)
        except MissingEntry:
            return False


NO_ROSTER = ("the roster is empty: import the class list first "
             "(./course roster import FILE, or ./course roster group on the hub)")


def roster(db_url):
    """The ids of the class's students: the gradebook's students table (nbgrader db student add)."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb:
        return {student.id for student in gb.students}


def class_list(layout):
    """(students [(id, first name, last name, email, LMS user id)], assignments [(name, max score)])."""
    from nbgrader.api import Gradebook
    with Gradebook(layout.db_url) as gb:
        students = [(s.id, s.first_name or "", s.last_name or "", s.email or "", s.lms_user_id or "")
                    for s in sorted(gb.students, key=lambda s: s.id)]
        assignments = [(a.name, a.max_score) for a in sorted(gb.assignments, key=lambda a: a.name)]
    return students, assignments


def late(layout, assignment):
    """{student: seconds after the due date} of the submissions of assignment that came in after
    its due date (nbgrader's --duedate), in the order of the students."""
    from nbgrader.api import Gradebook, MissingEntry
    with Gradebook(layout.db_url) as gb:
        try:
            subs = gb.find_assignment(assignment).submissions
        except MissingEntry:
            return {}
        return {sub.student.id: sub.total_seconds_late
                for sub in sorted(subs, key=lambda sub: sub.student.id) if sub.total_seconds_late > 0}


class _Cell(NamedTuple):
    """What a summary needs of one of nbgrader's Grade rows (read while the database session is open)."""
    name: str
    score: float
    max_score: float
    auto_score: float | None
    code: bool
    by_hand: bool

    @classmethod
    def of(cls, grade):
        return cls(grade.name, grade.score, grade.max_score, grade.auto_score, grade.cell.cell_type == "code",
                   grade.needs_manual_grade)


def _summary(cells, penalty):
    return Grades(score=max(0.0, sum(c.score for c in cells) - penalty),
                  max_score=sum(c.max_score for c in cells),
                  cells={c.name: c.score for c in cells},
                  failed=sorted(c.name for c in cells if c.code and c.auto_score is not None
                                and c.auto_score < c.max_score),
                  by_hand=sum(c.max_score for c in cells if c.by_hand),
                  missing=any(c.code and c.auto_score is None for c in cells),
                  penalty=penalty)


def describe_export(layout):
    """What ./course export wrote: a line for the instructor."""
    found = grades(layout)
    where = layout.grades_csv.relative_to(layout.root)
    if not found:
        return f"wrote {where}: no grades yet (./course autograde first)"
    students = {student for student, _ in found}
    waiting = sum(1 for g in found.values() if g.by_hand)
    line = f"wrote {where}: {len(found)} graded submissions of {len(students)} students"
    return line + (f"; free responses to grade by hand in {waiting} (./course formgrader)" if waiting else "")
