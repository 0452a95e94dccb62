"""Shared fixtures: one released copy of the course, made once per test run; Jupyter servers.

The suite runs in parallel (./course test: pytest-xdist, one process per worker). A session fixture
runs once per worker, so the expensive read-only ones (the released course, the class) are built
once per run in the run's folder by whichever worker asks first (shared()); a test that changes a
course changes its own copy. The run's folder also holds the grading canary's cache, which every
temporary course of the run shares (instructor/pipeline/canary.py, RNN_CANARY_CACHE).
"""
import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import matplotlib
import pytest

from rnnlib.grading import LESSONS

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # the instructor/ tooling lives beside rnnlib, not inside it

# The exercise functions of each assignment, in order, as each lesson's grading module declares them.
EXERCISES = {lesson.assignment: list(lesson.exercises) for lesson in LESSONS}
RUN = "RNN_TEST_RUN"        # the folder this run's workers share


# In the run's folder: the canary's cache, and the state kernels and Jupyter servers keep (never
# the machine's: its IPython profile's startup files would run in every test's kernel).
IN_THE_RUN = {"RNN_CANARY_CACHE": "canary", "IPYTHONDIR": "ipython", "JUPYTER_RUNTIME_DIR": "jupyter-runtime"}


def pytest_configure(config):
    """The run's shared folder, made by the main process before xdist starts its workers (they
    inherit the environment, and so do the processes the tests start)."""
    if RUN not in os.environ:
        os.environ[RUN] = tempfile.mkdtemp(prefix="rnn-test-run-")
        for variable, folder in IN_THE_RUN.items():
            os.environ[variable] = str(Path(os.environ[RUN]) / folder)
        config.made_run_folder = True


def pytest_unconfigure(config):
    if getattr(config, "made_run_folder", False):
        shutil.rmtree(os.environ.pop(RUN), ignore_errors=True)
        for variable in IN_THE_RUN:
            os.environ.pop(variable, None)


# The slow tiers, slowest first. Each test module runs as a block, in this order (the rest after,
# as collected): with --no-loadscope-reorder xdist hands out work in this order, so the longest
# start at once and the many quick tests fill the workers' gaps at the end.
SLOWEST_FIRST = ("hub", "class_scale", "postgres", "browser", "e2e")


def pytest_collection_modifyitems(items):
    modules = {}
    for item in items:
        modules.setdefault(item.path, []).append(item)

    def tier(tests):
        marks = {mark.name for test in tests for mark in test.iter_markers()}
        return next((i for i, name in enumerate(SLOWEST_FIRST) if name in marks), len(SLOWEST_FIRST))
    items[:] = [test for tests in sorted(modules.values(), key=tier) for test in tests]


def shared(name, build):
    """The folder name in the run's folder, made by build(folder) once per run: the first worker
    to ask builds it while the others wait, then all use it. Read only (checked at the end)."""
    folder = Path(os.environ[RUN]) / name
    with open(folder.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / BUILT).exists():
            shutil.rmtree(folder, ignore_errors=True)        # a build that failed halfway
            folder.mkdir()
            build(folder)
            (folder / BUILT).write_text(contents(folder))
    return folder


BUILT = ".built"      # in a shared folder: the digest of what was built


def contents(folder):
    """A digest of the names and contents of the files in folder."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.name != BUILT):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@pytest.fixture(scope="session", autouse=True)
def shared_courses_stay_as_built():
    """Every test after one that changed a shared course would see its changes: fail the run."""
    yield
    changed = [built.parent.name for built in Path(os.environ[RUN]).glob(f"*/{BUILT}")
               if built.read_text() != contents(built.parent)]
    assert not changed, f"a test changed the shared, read-only {changed}: change a copy of it (copy_class)"


@pytest.fixture(scope="session")
def course():
    """A temporary course directory with every assignment released by nbgrader. Read only: copy
    it (copy_class) to change it."""
    from instructor.pipeline.grade import make_course
    return shared("course", make_course)


# The class graded by the class-grading, workers and LMS-export tests: per assignment, students
# who hand in an honest, buggy, blank or hostile notebook (one kills its kernel, one calls rnnlib's
# reference answer), or a file that is not one.
ASSIGNMENTS = ["01_forward_pass", "02_softmax_stability", "04_vanishing_gradients"]
BUGS = {"01_forward_pass": {"rnn_forward": "def rnn_forward(x, h0, Wx, Wh, b):\n    return None, []\n"},
        "02_softmax_stability": {"softmax": "def softmax(z, axis=-1):\n    e = np.exp(z)\n    return e / e.sum(axis, keepdims=True)\n"},
        "04_vanishing_gradients": {"clip_grad_norm": "from rnnlib import clip_grad_norm\n"}}
HOSTILE = "import os\nos._exit(1)\n"
HONEST = 3          # identical right answers: enough for the class's runs to interleave them with the others
CLASS = {**{f"good{i}": "correct" for i in range(HONEST)}, "buggy0": "buggy", "buggy1": "buggy", "blank0": "blank",
         "hostile0": "hostile", "delegate0": "delegate", "broken0": "broken"}


def make_class(root):
    """A course in root with every student of CLASS submitted for each of ASSIGNMENTS, nothing graded."""
    import nbformat
    from instructor.commands.demo import submit
    from instructor.pipeline.grade import make_course
    from rnnlib.grading import lesson
    from instructor.model.layout import Layout, notebook_path
    from instructor.pipeline.submissions import make_submission
    course = make_course(root, ASSIGNMENTS)
    layout = Layout(course)
    for a in ASSIGNMENTS:
        release = nbformat.read(layout.release_notebook(a), as_version=4)
        solution = nbformat.read(notebook_path(layout.source, a), as_version=4)
        for student, kind in CLASS.items():
            replace = {"buggy": BUGS[a], "hostile": dict.fromkeys(BUGS[a], HOSTILE),
                       "delegate": {fn: lesson(a).delegating_answer(fn) for fn in BUGS[a]}}.get(kind)
            submit(course, student, a, make_submission(release, solution, "blank" if kind == "blank" else "correct",
                                                       replace))
            if kind == "broken":
                layout.submitted_notebook(student, a).write_text("not a notebook")
    return course


def copy_class(course, dest):
    """A copy of a class's course in dest/course (its config finds its folders wherever it is)."""
    return shutil.copytree(course, Path(dest) / "course", symlinks=True)


@pytest.fixture(scope="session")
def class_submissions():
    """The class, submitted and not graded: copy it (copy_class) before grading it."""
    return shared("class", make_class)


@pytest.fixture(scope="session")
def graded_class(class_submissions):
    """A copy of the class graded the serial way (one nbgrader process per assignment). Read only."""
    from instructor.pipeline.grade import autograde

    def grade(folder):
        course = copy_class(class_submissions, folder)
        for a in ASSIGNMENTS:
            autograde(course, a)
    return shared("serial", grade) / "course"


def gradebook_rows(db_url):
    """{(student, assignment, notebook): everything grading wrote}: the submission's timestamp and
    late penalty, each cell's autograde, manual score and review flag, each comment. Fails on a
    duplicated row."""
    from nbgrader.api import Gradebook
    out = {}
    with Gradebook(db_url) as gb:
        for a in gb.assignments:
            for nb in a.notebooks:
                for sub in nb.submissions:
                    key = (sub.student.id, a.name, nb.name)
                    assert key not in out, f"two rows for {key}"
                    out[key] = (sub.assignment.timestamp, sub.late_submission_penalty,
                                sorted((g.name, g.auto_score, g.manual_score, g.needs_manual_grade) for g in sub.grades),
                                sorted((c.name, c.auto_comment, c.manual_comment) for c in sub.comments))
    return out


def as_student(*functions):
    """Recompile functions (e.g. grading's deliberately wrong variants) as if a student had written
    them in a notebook, so the delegation check sees student code, not rnnlib's. All functions share
    one namespace, so they may call each other; returns the first."""
    import inspect
    import textwrap
    namespace = dict(functions[0].__globals__)
    for fn in functions:
        exec(compile(textwrap.dedent(inspect.getsource(fn)), "<student>", "exec"), namespace)
    return namespace[functions[0].__name__]


def fails(check, fn, **kwargs):
    """The message of the GradingFailure that check(fn, **kwargs) must raise."""
    from rnnlib.grading import GradingFailure
    with pytest.raises(GradingFailure) as e:
        check(fn, **kwargs)
    return str(e.value)


def without_venv():
    """The environment of someone who never activated the venv: its bin/ is not on PATH."""
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p)
    return {**os.environ, "PATH": path}


def course_copy(dest, *folders):
    """A copy of the course's commands and config (plus folders, e.g. "notebooks") in dest, sharing
    this checkout's .venv, so ./course can run there without touching the real grading/ or the
    machine's exchange (a hub's): its exchange is dest/exchange."""
    for name in ("course", "pyproject.toml", "nbgrader_config.py"):
        shutil.copy2(ROOT / name, dest / name)
    with open(dest / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Exchange.root = {str(dest / 'exchange')!r}\n")
    for folder in folders:
        shutil.copytree(ROOT / folder, dest / folder)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_server(argv, cwd, env, probe, log):
    """Run a Jupyter server (argv) until the with-block ends; waits up to 60 s until the URL probe
    answers. Its output goes to the file log, shown if it does not come up. Its user config and
    workspaces are in a folder of its own beside log, not the machine's."""
    env = {"JUPYTER_CONFIG_DIR": str(Path(log).with_suffix(".jupyter")), **env}
    with open(log, "w") as out:
        server = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(probe, timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"{argv[0]} did not start:\n{Path(log).read_text()[-3000:]}")
                time.sleep(0.3)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, 15)
        server.wait(timeout=30)
