"""Shared fixtures: one released copy of the course, made once per test session; Jupyter servers."""
import contextlib
import os
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


@pytest.fixture(scope="session")
def course():
    """A temporary course directory with every assignment released by nbgrader."""
    from instructor.demo import make_course
    with tempfile.TemporaryDirectory() as tmp:
        yield make_course(tmp)


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
    this checkout's .venv, so ./course can run there without touching the real grading/."""
    import shutil
    for name in ("course", "pyproject.toml", "nbgrader_config.py"):
        shutil.copy2(ROOT / name, dest / name)
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
    answers. Its output goes to the file log, shown if it does not come up."""
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
