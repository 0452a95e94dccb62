"""Make every submitted notebook gradable before nbgrader sees it, and say what was done.

nbgrader 0.9 drops a whole submission, or stops, when a notebook is not valid JSON or not a
notebook, when a graded cell was deleted or duplicated, or when a cell's nbgrader metadata was
edited. Here each submission is checked against the released notebook first:

* unreadable (not JSON, not nbformat 4, invalid): graded as the blank release, so it scores 0;
* a graded cell missing: the released cell is put back where it was (a test runs again; an answer
  cell comes back blank);
* a graded cell duplicated: the copies lose their nbgrader metadata (the first one counts);
* a locked or test cell's metadata edited: restored from the release (nbgrader restores the source).

The original file is kept unchanged in Layout.originals/<student>/<assignment>/ (grading/originals/,
see instructor/model/layout.py; nothing is lost), and a note at the top of the graded notebook tells the
student what happened: it shows in their feedback.
"""
import json
import shutil
import uuid
from pathlib import Path

import nbformat

NOTE_ID = "grading-note"


def _graded_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _note(problems):
    lines = "\n".join(f"- {p}" for p in problems)
    cell = nbformat.v4.new_markdown_cell(f"**Note from grading.** This submission needed repairs before it could "
                                         f"be graded:\n\n{lines}\n\nYour original file is kept by the instructor.")
    cell.id = NOTE_ID
    return cell


def repair(nb, release):
    """Repair a readable submission in place against the release; returns the problems found."""
    problems, seen = [], set()
    released = {_graded_id(c): c for c in release.cells if _graded_id(c)}
    for cell in nb.cells:
        if "nbgrader" in cell.metadata and not isinstance(cell.metadata["nbgrader"], dict):
            del cell.metadata["nbgrader"]
            problems.append("a cell's grading settings were not readable; they were removed.")
        gid = _graded_id(cell)
        if gid is None or gid not in released:
            continue
        if gid in seen:
            del cell.metadata["nbgrader"]
            cell.id = uuid.uuid4().hex[:8]         # copies share the original's cell id too
            problems.append(f"cell `{gid}` appeared more than once; only the first copy was graded.")
            continue
        seen.add(gid)
        want = released[gid].metadata["nbgrader"]
        if want.get("locked") and cell.metadata["nbgrader"] != want:
            cell.metadata["nbgrader"] = want.copy()
            problems.append(f"the grading settings of locked cell `{gid}` had been changed; they were restored.")
    order = [_graded_id(c) for c in release.cells if _graded_id(c)]
    for k, gid in enumerate(order):
        if gid in seen:
            continue
        before = next((g for g in reversed(order[:k]) if g in seen), None)
        at = 0 if before is None else next(i for i, c in enumerate(nb.cells) if _graded_id(c) == before) + 1
        nb.cells.insert(at, nbformat.from_dict(released[gid]))
        seen.add(gid)
        problems.append(f"cell `{gid}` was missing; the released version was put back"
                        + (" (so this answer is blank)." if released[gid].metadata["nbgrader"].get("solution") else "."))
    return problems


def read_problem(path):
    """None if path holds a valid nbformat-4 notebook, else why not."""
    try:
        data = json.loads(Path(path).read_bytes())
    except (ValueError, UnicodeDecodeError) as e:
        return f"the file is not valid JSON ({str(e)[:100]})."
    version = data.get("nbformat") if isinstance(data, dict) else None
    if version != 4:
        return f"the file is not a Jupyter notebook in format 4 (its nbformat is {version!r})."
    try:
        nbformat.validate(nbformat.from_dict(data))
    except nbformat.ValidationError as e:
        return f"the notebook is not valid ({str(e).splitlines()[0][:120]})."
    return None


def prepare(layout, assignment):
    """Check and repair every submission of assignment; returns {student: [problems]} for those repaired."""
    release = nbformat.read(layout.release_notebook(assignment), as_version=4)
    report = {}
    for student in layout.students(assignment):
        path = layout.submitted_notebook(student, assignment)
        problem = read_problem(path) if path.exists() else "the notebook was not in the submission."
        if not problem:
            try:
                nb = nbformat.read(path, as_version=4)
                problems = repair(nb, release)
            except Exception as e:               # whatever it is, it must not stop the class's grading
                problem = f"the notebook could not be repaired ({type(e).__name__}: {str(e)[:100]})."
        if problem:
            nb, problems = nbformat.from_dict(release), [problem + " It was graded as the blank release."]
        if not problems:
            continue
        if path.exists():
            keep = layout.original_notebook(student, assignment)
            keep.parent.mkdir(parents=True, exist_ok=True)
            if not keep.exists():                # the very first original is the one worth keeping
                shutil.copy2(path, keep)
        nb.cells = [c for c in nb.cells if c.get("id") != NOTE_ID]
        nb.cells.insert(0, _note(problems))
        nbformat.write(nb, path)
        report[student] = problems
    return report
