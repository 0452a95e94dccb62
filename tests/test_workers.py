"""./course autograde --workers: the class of tests/conftest.py graded by two Dask workers gets the
gradebook rows the serial run gives it (the sqlite gradebook written by the coordinator only); a
worker killed while it grades and then the coordinator killed, and a rerun: the same rows, nobody
graded twice. (On PostgreSQL, where every worker writes: tests/test_postgres.py.) The class's
first two lessons are enough (24 submissions): lesson 04's notebook costs as much as both."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ASSIGNMENTS, CLASS, copy_class, gradebook_rows
from instructor import sandbox
from instructor.autograde import autograde_with_workers, main
from instructor.gradebook import grades
from instructor.layout import Layout
from instructor.workers import options

pytestmark = pytest.mark.skipif(sandbox.problem() is not None, reason="no grading sandbox here")
TWO = ASSIGNMENTS[:2]
SUBMISSIONS = len(CLASS) * len(TWO)
COORDINATOR = ("import sys\nfrom instructor.autograde import autograde_with_workers\nfrom instructor.layout import Layout\n"
               "sys.exit(autograde_with_workers(Layout('.'), sys.argv[1:], {'workers': 2}))\n")


@pytest.fixture(scope="module")
def serial(graded_class):
    """The serial run's rows of the first two lessons."""
    return {key: row for key, row in gradebook_rows(Layout(graded_class).db_url).items() if key[1] in TWO}


def graded_now(layout):
    """How many submissions have their grades in the gradebook (read while others may write)."""
    try:
        return sum(not g.missing for g in grades(layout).values())
    except Exception:                      # a read racing a write: ask again later
        return 0


def test_two_workers_give_the_serial_rows_and_a_second_run_grades_nobody(serial, class_submissions, tmp_path, capsys):
    layout = Layout(copy_class(class_submissions, tmp_path))
    assert autograde_with_workers(layout, TWO, {"workers": 2}) == 0
    out, err = capsys.readouterr()
    assert len(serial) == SUBMISSIONS and gradebook_rows(layout.db_url) == serial
    assert f"grading {SUBMISSIONS} submissions on 2 workers" in out
    assert "kernel trouble hostile0" in out and "repaired broken0" in out and "NOT GRADED" not in out
    assert f"{SUBMISSIONS}/{SUBMISSIONS}" in err and "failed=0" in err       # the progress bar's last state
    assert "database is locked" not in err and "Traceback" not in err

    assert autograde_with_workers(layout, TWO, {"workers": 2}) == 0
    assert f"grading 0 submissions on 2 workers ({SUBMISSIONS} already graded: skipped)" in capsys.readouterr().out
    assert gradebook_rows(layout.db_url) == serial


def grading_worker(coordinator):
    """A worker process of the coordinator's LocalCluster that is running a grading kernel."""
    import psutil
    for process in psutil.Process(coordinator.pid).children(recursive=True):
        try:
            parent = process.parent()
            if process.name() == "bwrap" and parent.name() != "bwrap":
                return parent
        except psutil.NoSuchProcess:
            pass
    return None


def test_a_worker_then_the_coordinator_killed_a_rerun_gives_the_serial_rows(serial, class_submissions, tmp_path):
    layout = Layout(copy_class(class_submissions, tmp_path))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    with open(tmp_path / "coordinator.log", "w") as log:
        coordinator = subprocess.Popen([sys.executable, "-c", COORDINATOR, *TWO], cwd=layout.root, env=env,
                                       stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while (worker := grading_worker(coordinator)) is None and time.monotonic() < deadline:
            assert coordinator.poll() is None, (tmp_path / "coordinator.log").read_text()[-2000:]
            time.sleep(0.2)
        worker.kill()                                          # in the middle of a notebook
        at_kill = graded_now(layout)
        while graded_now(layout) < max(at_kill + 4, SUBMISSIONS // 2) and time.monotonic() < deadline:
            assert coordinator.poll() is None, "the coordinator gave up when a worker died"
            time.sleep(0.5)
    finally:
        os.killpg(coordinator.pid, signal.SIGKILL)
        coordinator.wait()
    graded = graded_now(layout)
    assert 0 < graded < SUBMISSIONS, "the coordinator was killed too late to test anything"

    assert autograde_with_workers(layout, TWO, {"workers": 2}) == 0
    assert gradebook_rows(layout.db_url) == serial


def test_worker_options_are_checked_in_one_line(course, capsys, monkeypatch):
    assert options(["--workers", "3", "01_forward_pass"]) == ({"workers": 3}, ["01_forward_pass"], None)
    assert options(["--workers=2", "--scheduler", "tcp://10.0.0.5:8786"])[0] == {"workers": 2,
                                                                                 "scheduler": "tcp://10.0.0.5:8786"}
    monkeypatch.chdir(course)
    for argv, complaint in ((["--workers"], "--workers needs a number of workers"),
                            (["--workers", "0"], "--workers needs at least 1 worker"),
                            (["--workers", "2", "--fast"], "unknown option '--fast'")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 2 and complaint in err and "usage:" in err
