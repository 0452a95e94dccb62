"""Which lessons' answers students may hold: derived from the term, never from a setting.

    ./course close ASSIGNMENT      close a lesson now
    ./course answers               what students get now (and make the hub's edition so)

A lesson is *handed out* once its notebooks are in the exchange's outbound folder (./course
hand-out), and *closed* once ./course close closed it or its due date (nbgrader's gradebook:
`nbgrader db assignment add A --duedate=...`) plus the late allowance has passed. The student
edition (instructor/commands/publish.py) then holds:

    every lesson up to the last one handed out    its notebooks, its checks
    ... closed, or never handed out               rnnlib's code for its exercises
    ... handed out and not closed (open)          their results for the visible tests, no code
    lessons after it                              nothing but stubs that say when they come

With no due date, a lesson stays open until ./course close. The safe default: nothing is answered
that is not closed. On a hub, every change (hand-out, close, a due date passing: ./course watch
looks at each round) swaps the students' edition without stopping a server or a kernel
(instructor/commands/hub.py refresh_edition): the next kernel a student starts sees it.
"""
import json
from datetime import datetime, timedelta, timezone

from .layout import exchange


def _now():
    return datetime.now(timezone.utc)


def handed_out(layout):
    """Assignments whose notebooks are in the exchange's outbound folder, in lesson order."""
    course_id, root = exchange(layout.root)
    return [a for a in layout.assignments() if (root / course_id / "outbound" / a).is_dir()]


def closes(layout):
    """{assignment: when it closes (UTC) or None}: the explicit close, else due date + allowance."""
    from nbgrader.api import Gradebook, MissingEntry
    closed = explicitly_closed(layout)
    allowance = timedelta(hours=late_allowance_hours(layout))
    found = {}
    with Gradebook(layout.db_url) as gb:
        for a in layout.assignments():
            try:
                due = gb.find_assignment(a).duedate
            except MissingEntry:
                due = None
            due = due and due.replace(tzinfo=timezone.utc) + allowance   # nbgrader stores naive UTC
            when = closed.get(a)
            found[a] = min(filter(None, [when and datetime.fromisoformat(when), due]), default=None)
    return found


def plan(layout, now=None):
    """(published, open): the lessons the edition holds, and those of them whose answers are results only."""
    now = now or _now()
    out = handed_out(layout)
    if not out:
        return [], []
    assignments = layout.assignments()
    published = assignments[:assignments.index(out[-1]) + 1]
    closing = closes(layout)
    return published, [a for a in out if closing[a] is None or closing[a] > now]


def explicitly_closed(layout):
    path = closed_file(layout)
    return json.loads(path.read_text()) if path.exists() else {}


def closed_file(layout):
    return layout.canary.parent / "closed.json"


def late_allowance_hours(layout):
    from .layout import course_config
    return float(course_config(layout.root).Answers.get("late_allowance_hours", 0))


def close(layout, assignment, now=None):
    """Close assignment now (its answers go to students); returns when it closed."""
    closed = explicitly_closed(layout)
    closed.setdefault(assignment, (now or _now()).isoformat())
    path = closed_file(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".new").write_text(json.dumps(closed, indent=1, sort_keys=True))
    path.with_suffix(".new").replace(path)
    return datetime.fromisoformat(closed[assignment])


def describe(layout, now=None):
    published, open_ = plan(layout, now)
    if not published:
        return "students get no lesson yet: nothing was handed out (./course hand-out ASSIGNMENT)"
    closing = closes(layout)
    lines = [f"students get lessons {published[0]} to {published[-1]}:"]
    for a in published:
        if a in open_:
            when = closing[a]
            lines.append(f"  {a}: open, results only, no answer code (closes "
                         + (f"{when:%Y-%m-%d %H:%M} UTC)" if when else "with ./course close)"))
        else:
            lines.append(f"  {a}: closed, rnnlib's answers included")
    return "\n".join(lines)
