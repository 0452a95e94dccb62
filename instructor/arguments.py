"""What each ./course command accepts, checked before it runs: one line naming the first bad
argument (and what would be valid), exit status 2, never a traceback or a page of usage.

    python -m instructor.arguments COMMAND [ARG...]

prints the arguments the command should run with (for release, feedback, hand-out and return: the
assignments, one a line) or the complaint on stderr. ./course calls it; autograde uses unknown_argument
itself; regrade calls check itself.
"""
import sys
from pathlib import Path

from .gradebook import NO_ROSTER, roster
from .layout import Layout, exchange


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


def regrade_problem(layout, argv, course):
    """./course regrade ASSIGNMENT STUDENT: a known assignment, a student on the roster, an exchange."""
    if len(argv) != 2:
        return "expects ASSIGNMENT STUDENT: ./course regrade 03_bptt alice"
    problem = unknown_argument(argv[:1], layout.assignments())
    if problem:
        return problem
    students = roster(layout.db_url)
    if not students:
        return NO_ROSTER
    if argv[1] not in students:
        return f"no student {argv[1]!r} on the roster ({len(students)} students in the gradebook: nbgrader db student list)"
    return not_handed_out(course, argv[0])


def check(command, argv, course):
    """(lines to print, problem) for ./course COMMAND ARGV."""
    layout = Layout(course)
    if command == "release":
        problem = unknown_argument(argv, layout.assignments())
        return argv or layout.assignments(), problem
    if command == "feedback":
        return graded_assignments(layout, argv)
    if command == "collect":
        if len(argv) not in (1, 2):
            return [], ("expects ASSIGNMENT [ZIP]: ./course collect 03_bptt ~/Downloads/bptt.zip (an LMS download) "
                        "or ./course collect 03_bptt (from the hub's exchange)")
        problem = unknown_argument(argv[:1], layout.assignments())
        if not problem and len(argv) == 2 and not Path(argv[1]).is_file():
            problem = f"no file {argv[1]}"
        if not problem and len(argv) == 1:
            problem = not_handed_out(course, argv[0], f"; for an LMS download: ./course collect {argv[0]} ZIP")
        return argv, problem
    if command == "regrade":
        return argv, regrade_problem(layout, argv, course)
    if command == "hand-out":
        problem = unknown_argument(argv, layout.assignments())
        missing = [a for a in argv or layout.assignments() if not layout.release_notebook(a).exists()]
        if not problem and missing:
            problem = f"{missing[0]} is not released yet: run ./course release {missing[0]} first"
        return argv or layout.assignments(), problem
    if command == "return":
        problem = unknown_argument(argv, layout.assignments())
        with_feedback = [a for a in layout.assignments() if any(layout.feedback.glob(f"*/{a}/*.html"))]
        missing = [a for a in argv if a not in with_feedback]
        if not problem and (missing or not with_feedback):
            which = missing[0] if missing else ""
            problem = f"no feedback for {which or 'any assignment'} yet: run ./course feedback {which}".rstrip() + " first"
        return argv or with_feedback, problem
    if command == "hub":
        return argv, None if argv in ([], ["--check"]) else f"takes --check only, got {' '.join(argv)!r}"
    if command == "export":
        from .lms import parse
        return argv, parse(argv)[2]
    if command == "insights":
        from .insights import parse
        return argv, parse(layout, argv)[-1]
    if command in ("lab", "formgrader"):
        return argv, jupyter_problem(argv)
    return argv, argv and f"takes no arguments, got {argv[0]!r}"


def checked(argv):
    """The arguments ./course ARGV runs with, or None after saying in one line on stderr why not."""
    command, arguments = argv[0], argv[1:]
    lines, problem = check(command, arguments, Path.cwd())
    if problem:
        print(f"./course {command}: {problem}", file=sys.stderr)
        return None
    return lines


def main(argv):
    lines = checked(argv)
    if lines is None:
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
