"""./course's commands: one table, one parser, each command a short function over the modules.

    python -m instructor COMMAND [ARGS...]      (in the course root; ./course sets up .venv/ and runs it)

argparse checks the shape of every command line (which options, how many arguments, of what
type); the facts of the course (is there such an assignment, was it released, graded, handed
out) are checked by instructor/commands/arguments.py once the line parses. Either way a bad line is one
line on stderr, `./course COMMAND: what is wrong`, and exit status 2.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..model import answers
from ..model.gradebook import describe_export
from ..model.layout import CONFIG_FILE, Layout
from ..pipeline.grade import with_venv_path
from . import arguments, autograde, demo, feedback, hub, insights, lms, publish, regrade, roster, watch
from .hub import refresh_edition

# `./course test --quick` leaves out the slow tiers (the markers registered in pyproject.toml).
QUICK = "not (browser or hub or postgres or class_scale or e2e)"
# Students see the lessons, not nbgrader's instructor tools: no formgrader, course or assignment
# lists (they need an exchange this course does not use) and no "Create Assignment" panel (it edits
# the grading metadata). nbgrader's Validate button stays.
STUDENT_LAB = {
    "labconfig/page_config.json":
        '{"disabledExtensions": {"@jupyter/nbgrader:menu": true, "@jupyter/nbgrader:formgrader": true,\n'
        '                        "@jupyter/nbgrader:course-list": true, "@jupyter/nbgrader:assignment-list": true,\n'
        '                        "@jupyter/nbgrader:create-assignment": true}}\n',
    "jupyter_server_config.json":
        '{"ServerApp": {"jpserver_extensions": {"nbgrader.server_extensions.formgrader": false,\n'
        '                                       "nbgrader.server_extensions.course_list": false,\n'
        '                                       "nbgrader.server_extensions.assignment_list": false}}}\n',
}


class Refused(Exception):
    """A command line that cannot run: its one-line reason (exit status 2); command: whose, if known."""

    def __init__(self, reason, command=None):
        super().__init__(reason)
        self.command = command


class CommandParser(argparse.ArgumentParser):
    """argparse's parser, whose complaints are one line naming the command, with its usage."""

    def error(self, message):
        usage = " ".join(self.format_usage().split())
        raise Refused(f"{message}; {usage}", self.prog)


# --- the commands: each gets the parsed line, returns the exit status ---------------------------

def help_(args):
    args.top.print_help()
    return 0


def setup(args):
    return 0        # ./course has set up .venv/ before it runs this


def lab(args):
    """JupyterLab on notebooks/, as students get it (student_lab)."""
    jupyter_lab(args, f"--notebook-dir={args.course / 'notebooks'}", **student_lab(Path(sys.prefix) / "student-lab"))


def student_lab(prefix):
    """The Jupyter search paths that make JupyterLab the students' (without nbgrader's instructor
    tools, with the course's lab extension, as on the hub), their files written under prefix."""
    config, data = Path(prefix) / "etc" / "jupyter", Path(prefix) / "share" / "jupyter"
    for name, text in STUDENT_LAB.items():
        (config / name).parent.mkdir(parents=True, exist_ok=True)
        (config / name).write_text(text)
    hub.install_feedback_opener(prefix)
    return {variable: os.pathsep.join(filter(None, [str(folder), os.environ.get(variable)]))
            for variable, folder in (("JUPYTER_CONFIG_PATH", config), ("JUPYTER_PATH", data))}


def formgrader(args):
    course_layout(args)
    # The formgrader only works when the course root lies inside the server's root directory.
    jupyter_lab(args, f"--notebook-dir={args.course}", "--LabApp.default_url=/formgrader")


def jupyter_lab(args, *options, **env):
    """Become `jupyter lab OPTIONS` with the options typed after the command."""
    refuse_if(arguments.jupyter_problem(args.rest))
    as_root = ["--allow-root"] if os.geteuid() == 0 else []   # Jupyter refuses root without it (containers, VMs)
    os.execvpe("jupyter", ["jupyter", "lab", *options, *as_root, *args.rest], {**os.environ, **env})


def test(args):
    """Become pytest: the whole suite (or its fast tier) in parallel."""
    ensure_debian("/usr/bin/chromium", "chromium", "the browser tests")
    ensure_debian("/usr/bin/bwrap", "bubblewrap", "the grading sandbox and its red-team tests")
    ensure_debian("/usr/lib/postgresql/*/bin/initdb", "postgresql", "the PostgreSQL gradebook test")
    hub_proxy(args.course)
    # Three workers on two cores: much of the suite waits on kernels, servers and subprocesses.
    # Tests sharing a server or a module's grading carry an xdist_group (--dist loadgroup keeps them
    # on one worker); work is handed out in the order tests/conftest.py gives it, the slowest first.
    quick = ["-m", QUICK] if args.quick else []
    argv = [sys.executable, "-m", "pytest", "-n", "3", "--dist", "loadgroup", "--no-loadscope-reorder", *quick,
            *args.rest]
    os.execv(sys.executable, argv)


def release(args):
    """solutions/ -> notebooks/ with nbgrader."""
    layout = course_layout(args)
    refuse_if(arguments.unknown_argument(args.assignments, layout.assignments()))
    for assignment in args.assignments or layout.assignments():
        nbgrader("generate_assignment", assignment, "--force")
    return 0


def roster_(args):
    layout = course_layout(args)
    action = args.action or "list"
    if action == "import":
        given = [str(typed(args, args.file))]
    else:
        given = [args.group] if action == "group" and args.group else []
    try:
        print("\n".join(roster.run(layout, action, given)))
    except roster.RosterError as e:
        raise Refused(str(e)) from None
    return 0


def collect(args):
    """From the hub's exchange (no ZIP), or from an LMS download (ZIP) through nbgrader's zip_collect."""
    layout = course_layout(args)
    refuse_if(arguments.unknown_argument([args.assignment], layout.assignments()))
    if args.zip is None:       # each student's latest acceptable submission (all stay in the exchange)
        refuse_if(arguments.not_handed_out(args.course, args.assignment,
                                           f"; for an LMS download: ./course collect {args.assignment} ZIP"))
        return nbgrader("collect", args.assignment, "--update")
    zip_file = typed(args, args.zip)
    refuse_if(not zip_file.is_file() and f"no file {zip_file}")
    archive = layout.downloaded / args.assignment / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    shutil.copy(zip_file, archive)
    return nbgrader("zip_collect", args.assignment, "--force")


def autograde_(args):
    ensure_debian("/usr/bin/bwrap", "bubblewrap", "the grading sandbox")
    return autograde.run(course_layout(args), args.assignments, workers_options(args))


def feedback_(args):
    """feedback or return: one student at a time; the skipped are named at the end."""
    layout = course_layout(args)
    if args.command == "feedback":
        assignments, problem = arguments.graded_assignments(layout, args.assignments)
    else:
        assignments, problem = arguments.with_feedback(layout, args.assignments)
    refuse_if(problem)
    done, skipped = feedback.run(layout, args.command, assignments, say=lambda line: print(line, flush=True))
    if skipped:
        print(f"skipped {len(skipped)}:")
        for student, assignment, why in skipped:
            print(f"  {student} {assignment}: {why}")
    if not done:
        print(f"./course {args.command}: nothing could be done for anyone (see above)", file=sys.stderr)
    return 0 if done else 1


def export(args):
    """nbgrader's CSV, a line on what it holds, and the LMS's file when asked."""
    refuse_if(args.missing_as_zero and not args.lms
              and "--missing-as-zero is for an LMS's file: add --lms canvas or --lms moodle")
    layout = course_layout(args)
    nbgrader("export")
    print(describe_export(layout))
    if args.lms:
        print(lms.written(layout, args.lms, args.missing_as_zero))
    return 0


def insights_(args):
    """The class's pages, one per graded assignment, in grading/insights/."""
    layout = course_layout(args)
    assignments, problem = arguments.graded_assignments(layout, args.assignments)
    refuse_if(problem)
    for assignment in assignments:
        page, data = insights.write(layout, assignment, args.anonymous, args.threshold)
        pairs = len(data["similar"]["pairs"])
        print(f"{assignment}: {data['submissions']} submissions, {len(data['causes'])} causes, "
              f"{pairs} similar pair{'s' if pairs != 1 else ''} to look at -> {page.relative_to(layout.root)}")
    return 0


def demo_(args):
    demo.run()
    return 0


def publish_(args):
    destination = typed(args, args.dir)
    try:
        published = publish.publish(args.course, destination, args.through)
    except ValueError as e:
        raise Refused(str(e)) from None
    print(f"wrote the student edition to {destination}: {', '.join(published)}")
    return 0


def hub_(args):
    course_layout(args)
    if not args.check:              # --check only reports: it installs nothing
        hub_proxy(args.course)
    return hub.serve(args.course, args.check)


def hand_out(args):
    """Released notebooks -> nbgrader's exchange; the students' rnnlib follows what is handed out."""
    layout = course_layout(args)
    refuse_if(arguments.unknown_argument(args.assignments, layout.assignments())
              or arguments.not_released(layout, args.assignments))
    for assignment in args.assignments or layout.assignments():
        nbgrader("release_assignment", assignment, "--force")
    return students_edition(layout)


def close(args):
    layout = course_layout(args)
    refuse_if(arguments.unknown_argument([args.assignment], layout.assignments()))
    when = answers.close(layout, args.assignment)
    print(f"{args.assignment} closed at {when:%Y-%m-%d %H:%M} UTC: its answers go to students from now on")
    return students_edition(layout)


def answers_(args):
    return students_edition(course_layout(args))


def regrade_(args):
    ensure_debian("/usr/bin/bwrap", "bubblewrap", "the grading sandbox")
    layout = course_layout(args)
    refuse_if(arguments.regrade_problem(layout, args.assignment, args.student))
    return regrade.regrade(layout, args.assignment, args.student)


def watch_(args):
    ensure_debian("/usr/bin/bwrap", "bubblewrap", "the grading sandbox")
    return watch.run(course_layout(args), args.every, workers_options(args))


# --- what the commands share ---------------------------------------------------------------------

def course_layout(args):
    """The course the command works on, its gradebook's folder made (nbgrader makes only the file)."""
    layout = Layout(args.course)
    layout.make_gradebook_folder()
    return layout


def refuse_if(problem):
    """Stop the command with problem as its one-line reason, if there is one."""
    if problem:
        raise Refused(problem)


def typed(args, path):
    """A path the user typed, relative to where they typed it."""
    return Path(args.typed_in, os.path.expanduser(path))


def nbgrader(*argv):
    """Run an nbgrader command in the course, its output on the terminal; stop with its exit status if it fails."""
    status = subprocess.run([sys.executable, "-m", "nbgrader", *argv], env=with_venv_path()).returncode
    if status:
        raise SystemExit(status)
    return 0


def workers_options(args):
    """{"workers": N, "scheduler": ADDRESS}, as given."""
    return {name: value for name in ("workers", "scheduler") if (value := getattr(args, name)) is not None}


def students_edition(layout):
    """Make the students' rnnlib what the term allows now (instructor/model/answers.py) and say what it holds."""
    try:
        print(refresh_edition(layout.root) or answers.describe(layout))
    except PermissionError as e:
        print(f"./course: the students' edition was not updated ({e.strerror}: {e.filename}): run this as root "
              f"on the hub's machine", file=sys.stderr)
        return 1
    return 0


def ensure_debian(pattern, package, what_for):
    """Install a Debian package the command uses (apt, as root), or say what cannot run without it."""
    if glob.glob(pattern):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"Installing {package} ({what_for}) ...", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], stdout=subprocess.DEVNULL, check=True)
    else:
        print(f"note: {package} is missing, so {what_for} cannot run (install it with: sudo apt-get install {package})",
              file=sys.stderr)


def hub_proxy(course):
    """The hub's proxy (hub/package.json), with Node.js from Debian when missing."""
    ensure_debian("/usr/bin/node", "nodejs", "the hub's proxy")
    ensure_debian("/usr/bin/npm", "npm", "the hub's proxy")
    if not (course / "hub/node_modules/.bin/configurable-http-proxy").exists() and shutil.which("npm"):
        print("Installing the hub's proxy (npm ci --prefix hub) ...", flush=True)
        subprocess.run(["npm", "ci", "--prefix", "hub", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=course, stdout=subprocess.DEVNULL, check=True)


def share(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"takes a share between 0 and 1 (e.g. 0.6), got {text!r}")
    return value


def positive_int(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expects a whole number of workers, at least 1, got {text!r}")
    return int(text)


# --- the command table ---------------------------------------------------------------------------

def parser():
    top = CommandParser(prog="./course", allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="The course's one entry point. Needs only python3 (3.11+); never needs an "
                                    "activated venv.",
                        epilog="Start with ./course lab (the lessons in JupyterLab) or ./course test [--quick] (the\n"
                               "test suite). For instructors (nbgrader; everything lands in the git-ignored grading/\n"
                               "folder) and for a class on JupyterHub: README.md. ./course COMMAND --help says what\n"
                               "one takes.")
    top.add_argument("--typed-in", default=".", help=argparse.SUPPRESS)    # where paths typed are relative to
    top.set_defaults(run=help_, top=top)
    top.commands = commands = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)

    def command(name, run, summary, passes_on=None, **more):
        more.setdefault("epilog", passes_on and f"Anything else is passed on: {passes_on}.")
        cmd = commands.add_parser(name, help=summary, description=summary, allow_abbrev=False, **more)
        cmd.set_defaults(run=run, parser=cmd, passes_on=passes_on)
        return cmd

    def assignments(cmd, default):
        cmd.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help=f"(default: {default})")

    def grading_workers(cmd):
        cmd.add_argument("--workers", type=positive_int, metavar="N", help="grade on N Dask worker processes here")
        cmd.add_argument("--scheduler", metavar="ADDRESS", help="... or on the Dask cluster at ADDRESS")

    command("help", help_, "this list of commands")
    command("setup", setup, "set up .venv/ (./course does it first time only, before any command)")
    command("lab", lab, "set up .venv/ (first time only) and open the course in JupyterLab",
            passes_on="JupyterLab's options, e.g. --no-browser --port=8899")
    cmd = command("test", test, "set up .venv/ (first time only) and run the whole test suite, in parallel",
                  passes_on="pytest's options and test files")
    cmd.add_argument("--quick", action="store_true",
                     help="only its fast tier (no browser, hub, PostgreSQL, class-scale or end-to-end tests)")
    assignments(command("release", release, "solutions/ -> notebooks/"), "every assignment")
    cmd = command("roster", roster_, "the class list in the gradebook (no subcommand: list it)",
                  usage="./course roster [-h] [import FILE | group [GROUP]]",
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.description, cmd.epilog = roster.__doc__.split("\n\n")[1:4:2]      # its commands, and FILE's formats
    actions = cmd.add_subparsers(dest="action", prog="./course roster", parser_class=CommandParser)
    actions.add_parser("import", help="the LMS's roster CSV (Canvas's, Moodle's or a plain one)").add_argument(
        "file", metavar="FILE")
    actions.add_parser("group", help="the members of the hub's students' Unix group (PAM)").add_argument(
        "group", metavar="GROUP", nargs="?", help="(default: students_group in hub/settings.toml)")
    cmd = command("collect", collect, "an LMS download (ZIP) or the hub's exchange -> grading/submitted/")
    cmd.add_argument("assignment", metavar="ASSIGNMENT")
    cmd.add_argument("zip", metavar="ZIP", nargs="?", help="the LMS download (without it: the latest submissions "
                                                           "from the exchange; forged ones refused)")
    cmd = command("autograde", autograde_, "grade grading/submitted/ in a sandbox")
    grading_workers(cmd)
    assignments(cmd, "every assignment")
    command("formgrader", formgrader, "JupyterLab at the course root, open at nbgrader's formgrader (hand grading)",
            passes_on="JupyterLab's options")
    assignments(command("feedback", feedback_, "feedback HTML in grading/feedback/"), "every autograded one")
    cmd = command("export", export, "all grades as CSV: grading/grades.csv (c.ExportPlugin.to)")
    cmd.add_argument("--lms", choices=lms.LMS, help="... and in Canvas's or Moodle's gradebook import format")
    cmd.add_argument("--missing-as-zero", action="store_true", help="0 where the LMS's file has no grade")
    cmd = command("insights", insights_, "after grading: what the class got wrong, by cause, and similar "
                                         "submissions, in grading/insights/<assignment>.html (and .json)")
    cmd.add_argument("--anonymous", action="store_true", help="students as 'student NN', for sharing with colleagues")
    cmd.add_argument("--threshold", type=share, default=insights.DEFAULT_THRESHOLD, metavar="SHARE",
                     help=f"how alike two submissions are to be shown (default: {insights.DEFAULT_THRESHOLD})")
    assignments(cmd, "every autograded one")
    command("demo", demo_, "autograde example submissions in a temporary course")
    cmd = command("publish", publish_, "the student edition (released lessons, no answers) in DIR")
    cmd.add_argument("dir", metavar="DIR", help="where to write the edition (replaced if it exists)")
    cmd.add_argument("--through", metavar="ASSIGNMENT", help="the last lesson to publish (default: all)")
    cmd = command("hub", hub_, "the course's JupyterHub on this machine (as root)")
    cmd.add_argument("--check", action="store_true", help="all that is missing, one line each; changes nothing")
    assignments(command("hand-out", hand_out, "released notebooks -> nbgrader's exchange (students Fetch them)"),
                "every assignment")
    cmd = command("regrade", regrade_, "one student again: their latest acceptable submission, graded, returned")
    cmd.add_argument("assignment", metavar="ASSIGNMENT")
    cmd.add_argument("student", metavar="STUDENT")
    assignments(command("return", feedback_, "feedback -> the exchange (students Fetch feedback)"),
                "every one with feedback")
    cmd = command("close", close, "stop taking work: its answers go to the students' rnnlib")
    cmd.add_argument("assignment", metavar="ASSIGNMENT")
    command("answers", answers_, "which lessons students get, and whose answers (and refresh it)")
    cmd = command("watch", watch_, "grade on submit: collect, autograde on workers, return feedback")
    cmd.add_argument("--every", type=float, default=30.0, metavar="SECONDS", help="how often to look (default: 30)")
    grading_workers(cmd)
    return top


def parse(argv):
    """The parsed command line; what a command passes on (JupyterLab's, pytest's options) in .rest."""
    args, rest = parser().parse_known_args(argv)
    if rest and not getattr(args, "passes_on", None):
        getattr(args, "parser", args.top).error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest, args.course = rest, Path.cwd()
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    command = "./course"
    try:                # argparse exits after --help: main returns, whoever calls it
        args = parse(argv)
        command = f"./course {args.command}" if args.command else command
        if args.command not in (None, "help"):
            if not (args.course / CONFIG_FILE).is_file():
                raise Refused(f"{args.course} is not the course (no {CONFIG_FILE} in it)")
        return args.run(args)
    except Refused as e:
        print(f"{e.command or command}: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:
        return e.code
