"""The facts of the course a command line must agree with, checked once argparse has parsed it
(instructor/commands/cli.py): is there such an assignment, was it released, graded, handed out. Each check
returns None or a one-line complaint naming the argument and what would be valid.
"""
from ..model.gradebook import NO_ROSTER, roster
from ..model.layout import exchange


def unknown_argument(arguments, assignments):
    """A one-line complaint about the first argument that is not one of assignments, or None."""
    for arg in arguments:
        if arg not in assignments:
            what = "unknown option" if arg.startswith("-") else "no assignment"
            return f"{what} {arg!r}; the assignments are {', '.join(assignments)}"
    return None


def jupyter_problem(argv):
    """A one-line complaint about the first argument JupyterLab would not take, or None.

    Accepted: JupyterLab's flags (--no-browser), its aliases with a value (--port=8899 or --port 8899)
    and any --Class.trait=value setting."""
    if not argv:
        return None
    from jupyterlab.labapp import LabApp       # 3 s to import: only when there is something to check
    args = iter(argv)
    for arg in args:
        name, equals, _ = arg.lstrip("-").partition("=")
        if not arg.startswith("-"):
            return f"unexpected argument {arg!r}; it takes JupyterLab's options only (jupyter lab --help)"
        takes_value = "." in name or (name in LabApp.aliases and name not in LabApp.flags)
        if "." not in name and name not in LabApp.flags and name not in LabApp.aliases:
            return f"unknown option {arg!r}; JupyterLab's options are listed by: jupyter lab --help"
        if takes_value and not equals and next(args, None) is None:
            return f"option {arg!r} needs a value"
    return None


def graded_assignments(layout, arguments):
    """The assignments to write feedback for: those given (each must have been autograded), or
    every autograded one. Returns (assignments, problem)."""
    problem = unknown_argument(arguments, layout.assignments())
    if problem:
        return [], problem
    graded = [a for a in layout.assignments() if layout.graded_students(a)]
    for assignment in arguments:
        if assignment not in graded:
            return [], f"nothing autograded for {assignment} yet: run ./course autograde {assignment} first"
    if not graded:
        return [], "nothing autograded yet: run ./course autograde first"
    return arguments or graded, None


def not_handed_out(course, assignment, more=""):
    """A complaint if the course's exchange has no inbound folder (nothing was handed out), or None."""
    course_id, root = exchange(course)
    if (root / course_id / "inbound").is_dir():
        return None
    return f"nothing was handed out through the exchange ({root / course_id}) yet: ./course hand-out {assignment} first{more}"


def regrade_problem(layout, assignment, student):
    """./course regrade ASSIGNMENT STUDENT: a known assignment, a student on the roster, an exchange."""
    problem = unknown_argument([assignment], layout.assignments())
    if problem:
        return problem
    students = roster(layout.db_url)
    if not students:
        return NO_ROSTER
    if student not in students:
        return f"no student {student!r} on the roster ({len(students)} students in the gradebook: nbgrader db student list)"
    return not_handed_out(layout.root, assignment)


def not_released(layout, assignments):
    """A complaint if one of assignments (default: all) has no released notebook to hand out, or None."""
    missing = [a for a in assignments or layout.assignments() if not any((layout.release / a).glob("*.ipynb"))]
    return missing and f"{missing[0]} is not released yet: run ./course release {missing[0]} first"


def with_feedback(layout, arguments):
    """The assignments to return feedback for: those given (each must have feedback), or every one
    that has. Returns (assignments, problem)."""
    problem = unknown_argument(arguments, layout.assignments())
    if problem:
        return [], problem
    found = [a for a in layout.assignments() if any(layout.feedback.glob(f"*/{a}/*.html"))]
    missing = [a for a in arguments if a not in found]
    if missing or not found:
        which = missing[0] if missing else ""
        return [], f"no feedback for {which or 'any assignment'} yet: run ./course feedback {which}".rstrip() + " first"
    return arguments or found, None
