"""Build submissions from the course's own notebooks: a correct one, a blank one, a buggy one.

A correct submission is the released (student) notebook with every answer cell filled in from
solutions/; a buggy one replaces chosen answer cells with other code. Used by the autograding
demo and by the end-to-end grading tests.
"""
import re
from pathlib import Path

import nbformat
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default.submit import ExchangeSubmit

from ..model.layout import course_config

_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


def solution_answers(solution):
    """grade_id -> source of every answer cell of a solution notebook, markers removed."""
    return {c.metadata.nbgrader["grade_id"]: _MARKERS.sub("", c.source)
            for c in solution.cells if c.metadata.get("nbgrader", {}).get("solution")}


def make_submission(release_nb, solution_nb, kind="correct", replace=None):
    """A submission built from the released notebook.

    kind: "correct" fills every answer cell from the solution; "blank" leaves them as released.
    replace: {grade_id: source} answer cells to overwrite afterwards (e.g. a buggy function).
    Returns a new nbformat notebook.
    """
    nb = nbformat.from_dict(release_nb)
    answers = solution_answers(solution_nb) if kind == "correct" else {}
    answers.update(replace or {})
    unknown = set(replace or {}) - {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    if unknown:
        raise ValueError(f"replace: no answer cells with grade_id {sorted(unknown)}")
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers and cell.metadata.nbgrader.get("solution"):
            cell.source = answers[gid]
    return nb


def hand_in(layout, student, assignment, nb, home):
    """What a student's Submit button does: nbgrader's exchange copies the student's assignment
    folder (home/student/assignment, written here from nb) into its inbound folder, with a timestamp."""
    folder = Path(home) / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / layout.release_notebook(assignment).name)
    config = course_config(layout.root)
    config.Exchange.assignment_dir, config.Exchange.cache = str(Path(home) / student), str(Path(home) / "cache")
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id, coursedir.student_id = assignment, student
    ExchangeSubmit(coursedir=coursedir, authenticator=Authenticator(config=config), config=config).start()
