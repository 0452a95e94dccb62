"""The gradebook on PostgreSQL (what a course on JupyterHub uses): a local server started for the
test and named in the course's nbgrader_config.py, as an instructor would; a class graded into it,
the grader killed midway and run again, the same grades, no duplicates. nbgrader, the autograde
command, its report and the gradebook reader all find the database through the config alone."""
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from instructor.commands.autograde import report
from instructor.commands.demo import submit
from instructor.model.gradebook import grades
from instructor.model.layout import CONFIG_FILE, Layout, notebook_path
from instructor.pipeline import sandbox
from instructor.pipeline.grade import autograde, make_course, nbgrader
from instructor.pipeline.submissions import make_submission

A = "01_forward_pass"
INITDB = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
CLASS = {"ann": None, "ben": None, "cat": {"rnn_forward": "def rnn_forward(x, h0, Wx, Wh, b):\n    return None, []\n"},
         "dan": {"rnn_forward": "import os\nos._exit(1)\n"}}
EXPECTED = {"ann": 8.0, "ben": 8.0, "cat": 5.0, "dan": 5.0}

pytestmark = [pytest.mark.skipif(not INITDB, reason="PostgreSQL is not installed (apt-get install postgresql)"),
              pytest.mark.skipif(sandbox.problem() is not None, reason="no grading sandbox here"),
              pytest.mark.postgres, pytest.mark.class_scale,
              pytest.mark.xdist_group("postgres")]    # one worker: one server for both tests


def as_postgres(*argv):
    """Run a PostgreSQL tool as the postgres user when we are root (it refuses to run as root)."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


@pytest.fixture(scope="module")
def postgres():
    """A throwaway server on a Unix socket only (no TCP); yields its SQLAlchemy URL."""
    pytest.importorskip("psycopg2")
    bin_dir = Path(INITDB[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="rnn-pg-"))
    root.chmod(0o755)
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"),
                   check=True, capture_output=True)
    port = "54329"        # only names the socket file in our own directory: no TCP
    subprocess.run(as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "-o",
                               f"-k {sockets} -p {port} -c listen_addresses=''", "start"), check=True, capture_output=True)
    yield f"postgresql+psycopg2://postgres@/postgres?host={sockets}&port={port}"
    subprocess.run(as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"), capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def scores(course):
    """{student: autograded score} and the number of submitted notebooks, read by the one reader."""
    table = grades(Layout(course), A)
    return {s: sum(v for k, v in g.cells.items() if k.startswith("test_")) for (s, _), g in table.items()}, len(table)


def direct_scores(db_url):
    """The same, read straight from the database at db_url (not through the course's config)."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb:
        return {sub.student.id: sum(g.score for g in sub.grades if g.name.startswith("test_"))
                for nb in gb.find_assignment(A).notebooks for sub in nb.submissions}


def test_a_class_graded_into_postgresql_survives_an_interruption(postgres, tmp_path):
    course = make_course(tmp_path, [A])
    sqlite_file = Path(Layout(course).db_url.removeprefix("sqlite:///"))
    sqlite_file.unlink()                 # released into the default gradebook; from now on nothing may use it
    with open(course / CONFIG_FILE, "a") as config:       # where an instructor sets it
        config.write(f"\nc.CourseDirectory.db_url = {postgres!r}\n")
    assert Layout(course).db_url == postgres
    assert nbgrader(course, "generate_assignment", A, "--force").returncode == 0
    layout = Layout(course)
    release = nbformat.read(layout.release_notebook(A), as_version=4)
    solution = nbformat.read(notebook_path(layout.source, A), as_version=4)
    for student, replace in CLASS.items():
        submit(course, student, A, make_submission(release, solution, "correct", replace))

    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    grader = subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", A],
                              cwd=course, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    while not (layout.autograded / "ben").exists() and grader.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)
    os.killpg(grader.pid, signal.SIGKILL)
    grader.wait()
    assert scores(course)[0] != EXPECTED, "the kill came too late to test anything"

    result, repairs = autograde(course, A)
    table, rows = scores(course)
    assert table == EXPECTED and rows == len(CLASS) and direct_scores(postgres) == EXPECTED
    assert any("interrupted" in problems[-1] for problems in repairs.values())
    summary = report(course, A, repairs)
    assert "kernel trouble dan" in summary and "NOT GRADED" not in summary
    for student, score in EXPECTED.items():                     # the report's scores come from PostgreSQL too
        assert f"  {student:20s} {score:6.1f} / " in summary

    autograde(course, A, "--force")              # grading everyone again: same rows, same grades
    assert scores(course) == (EXPECTED, len(CLASS))
    assert not sqlite_file.exists(), "something graded into the default SQLite gradebook"


def test_two_workers_writing_into_postgresql_give_the_serial_sqlite_rows(postgres, request, class_submissions,
                                                                          tmp_path, monkeypatch):
    """Every worker writes its grades straight into PostgreSQL, concurrently: the same rows as the
    serial run into sqlite, one per student and notebook (the first lesson: a submission per student, two
    workers writing all along)."""
    import sqlalchemy
    from conftest import ASSIGNMENTS, CLASS, copy_class, gradebook_rows
    from instructor.commands.autograde import autograde_with_workers
    from instructor.pipeline.grade import register
    first = ASSIGNMENTS[:1]
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")    # alembic
    engine = sqlalchemy.create_engine(postgres, isolation_level="AUTOCOMMIT")
    with engine.connect() as db:
        db.execute(sqlalchemy.text("CREATE DATABASE workers"))
    engine.dispose()
    db_url = postgres.replace("/postgres?", "/workers?")
    course = copy_class(class_submissions, tmp_path)
    with open(course / CONFIG_FILE, "a") as config:
        config.write(f"\nc.CourseDirectory.db_url = {db_url!r}\n")
    layout = Layout(course)
    assert layout.db_url == db_url and not any(register(layout, a) for a in first)
    assert autograde_with_workers(layout, first, {"workers": 2}) == 0
    graded_class = request.getfixturevalue("graded_class")      # the serial run, meanwhile on another worker
    serial = {k: row for k, row in gradebook_rows(Layout(graded_class).db_url).items() if k[1] in first}
    assert len(serial) == len(CLASS) and gradebook_rows(db_url) == serial
