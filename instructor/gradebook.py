"""The one reader of the gradebook: what each student got, per assignment.

The autograde report, the check for interrupted grading, the demo's table and the tests all read
grades here, from the gradebook the course's nbgrader_config.py names (Layout.db_url).
"""
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple


@dataclass(frozen=True)
class Grades:
    """One student's grades for one assignment (summed over its notebooks)."""
    score: float
    max_score: float
    cells: dict        # {grade_id: score} of every graded cell, autograded or graded by hand
    failed: list       # autograded code cells that lost points, sorted
    by_hand: float     # points of answers waiting to be graded by hand (free responses)
    missing: bool      # a code cell has no autograded score: its grading never finished


def grades(layout, assignment=None):
    """{(student, assignment): Grades} for one assignment, or for all of them.

    A student appears once their submission has a notebook in the gradebook. Raises ValueError if
    a student has two rows for one notebook: grading must never duplicate.
    """
    from nbgrader.api import Gradebook, MissingEntry
    rows, seen = {}, set()
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
                    rows.setdefault((sub.student.id, a.name), []).extend(map(_Cell.of, sub.grades))
    return {key: _summary(cells) for key, cells in rows.items()}


def registered(layout, assignment):
    """Does the gradebook know assignment and its notebooks (generate_assignment adds them)?"""
    from nbgrader.api import Gradebook, MissingEntry
    with Gradebook(layout.db_url) as gb:
        try:
            return bool(gb.find_assignment(assignment).notebooks)
        except MissingEntry:
            return False


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


def _summary(cells):
    return Grades(score=sum(c.score for c in cells),
                  max_score=sum(c.max_score for c in cells),
                  cells={c.name: c.score for c in cells},
                  failed=sorted(c.name for c in cells if c.code and c.auto_score is not None
                                and c.auto_score < c.max_score),
                  by_hand=sum(c.max_score for c in cells if c.by_hand),
                  missing=any(c.code and c.auto_score is None for c in cells))


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


if __name__ == "__main__":     # ./course export: say what nbgrader export wrote
    from .layout import Layout
    print(describe_export(Layout(Path.cwd())))
