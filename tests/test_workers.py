"""./course autograde --workers: the class of tests/conftest.py graded by two Dask workers gets the
gradebook rows the serial run gives it (the sqlite gradebook written by the coordinator only); a
worker killed while it grades and then the coordinator killed, and a rerun: the same rows, nobody
graded twice. (On PostgreSQL, where every worker writes: tests/test_postgres.py.) The class's
first two lessons are enough (18 submissions): lesson 04's notebook costs as much as both."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ASSIGNMENTS, CLASS, copy_class, course_copy, gradebook_rows
from instructor.commands.autograde import autograde_with_workers
from instructor.commands.cli import main, parse, workers_options
from instructor.model.gradebook import grades
from instructor.model.layout import Layout
from instructor.pipeline import sandbox

pytestmark = pytest.mark.skipif(sandbox.problem() is not None, reason="no grading sandbox here")
TWO = ASSIGNMENTS[:2]
SUBMISSIONS = len(CLASS) * len(TWO)
COORDINATOR = ("import json, sys\nfrom instructor.commands.autograde import autograde_with_workers\n"
               "from instructor.model.layout import Layout\n"
               "sys.exit(autograde_with_workers(Layout('.'), sys.argv[2:], json.loads(sys.argv[1])))\n")


def serial_rows(request):
    """The serial run's rows of the first two lessons, asked for once a test has graded with
    workers: meanwhile the class's serial run (once per test run) goes on on another worker."""
    graded_class = request.getfixturevalue("graded_class")
    return {key: row for key, row in gradebook_rows(Layout(graded_class).db_url).items() if key[1] in TWO}


def graded_now(layout):
    """How many submissions have their grades in the gradebook (read while others may write)."""
    try:
        return sum(not g.missing for g in grades(layout).values())
    except Exception:                      # a read racing a write: ask again later
        return 0


@pytest.mark.class_scale
def test_two_workers_give_the_serial_rows_and_a_second_run_grades_nobody(request, class_submissions, tmp_path, capsys):
    layout = Layout(copy_class(class_submissions, tmp_path))
    assert autograde_with_workers(layout, TWO, {"workers": 2}) == 0
    out, err = capsys.readouterr()
    serial = serial_rows(request)
    assert len(serial) == SUBMISSIONS and gradebook_rows(layout.db_url) == serial
    assert f"grading {SUBMISSIONS} submissions on 2 workers" in out
    assert "kernel trouble hostile0" in out and "repaired broken0" in out and "NOT GRADED" not in out
    assert f"{SUBMISSIONS}/{SUBMISSIONS}" in err and "failed=0" in err       # the progress bar's last state
    assert "database is locked" not in err and "Traceback" not in err

    assert autograde_with_workers(layout, TWO, {"workers": 2}) == 0
    assert f"grading 0 submissions on 2 workers ({SUBMISSIONS} already graded: skipped)" in capsys.readouterr().out
    assert gradebook_rows(layout.db_url) == serial


def grading_worker(parent):
    """A Dask worker process under parent that is running a grading kernel (bwrap's parent), or None."""
    import psutil
    for process in psutil.Process(parent.pid).children(recursive=True):
        try:
            up = process.parent()
            if process.name() == "bwrap" and up.name() != "bwrap":
                return up
        except psutil.NoSuchProcess:
            pass
    return None


class Cluster:
    """A Dask cluster as a department runs one by hand: `dask scheduler` and `dask worker`."""

    def __init__(self, tmp_path, env):
        from conftest import free_port
        self.address, self.env, self.log = f"tcp://127.0.0.1:{free_port()}", env, tmp_path / "cluster.log"
        self.scheduler = self.start("scheduler", "--port", self.address.rsplit(":", 1)[1])
        self.workers = self.start("worker", self.address, "--nworkers", "2", "--nthreads", "1")

    def start(self, *argv):
        with open(self.log, "a") as log:
            return subprocess.Popen([str(Path(sys.executable).parent / "dask"), *argv, "--no-dashboard"], env=self.env,
                                    stdout=log, stderr=log, start_new_session=True)

    def restart_scheduler(self):
        """Dask's workers stop with their scheduler: whatever supervises them (systemd, Slurm,
        Kubernetes) starts them again."""
        stop(self.scheduler)
        self.scheduler = self.start("scheduler", "--port", self.address.rsplit(":", 1)[1])
        self.workers.wait(timeout=120)
        self.workers = self.start("worker", self.address, "--nworkers", "2", "--nthreads", "1")

    def close(self):
        for process in (self.workers, self.scheduler):
            if process.poll() is None:
                stop(process)


def stop(process):
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def coordinator(layout, opts, log):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    with open(log, "a") as out:
        return subprocess.Popen([sys.executable, "-c", COORDINATOR, json.dumps(opts), *TWO], cwd=layout.root, env=env,
                                stdout=out, stderr=out, start_new_session=True)


def wait_until(condition, watch, minutes=10):
    """Look once a second: a look at the gradebook costs about 0.1 s of CPU, a submission takes
    seconds to grade, so looking more often only slows the grading down."""
    deadline = time.monotonic() + 60 * minutes
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        assert watch.poll() is None, "the coordinator stopped"
        time.sleep(1.0)


@pytest.mark.class_scale
def test_a_worker_killed_the_scheduler_restarted_the_coordinator_killed_then_a_rerun(request, class_submissions,
                                                                                    tmp_path, capsys):
    """Each fault stops some grading; the next run grades exactly who is left: the serial rows."""
    layout, log = Layout(copy_class(class_submissions, tmp_path)), tmp_path / "coordinator.log"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    cluster = Cluster(tmp_path, env)
    opts = {"scheduler": cluster.address, "workers": 2}
    try:
        first = coordinator(layout, opts, log)
        wait_until(lambda: grading_worker(cluster.workers) is not None, first)
        grading_worker(cluster.workers).kill()              # in the middle of a notebook: Dask reruns its task
        at_kill = graded_now(layout)
        wait_until(lambda: graded_now(layout) >= at_kill + 3, first)
        cluster.restart_scheduler()
        assert first.wait(timeout=300) == 2                 # the coordinator lost its scheduler: says so, stops
        assert "lost the Dask scheduler" in log.read_text() and "Traceback" not in log.read_text()
        after_restart = graded_now(layout)
        assert after_restart < SUBMISSIONS, "the scheduler was restarted too late to test anything"

        second = coordinator(layout, opts, log)             # the workers are back with the new scheduler
        wait_until(lambda: graded_now(layout) >= after_restart + 2, second)
        stop(second)
    finally:
        cluster.close()
    left = SUBMISSIONS - graded_now(layout)
    assert left > 0, "the coordinator was killed too late to test anything"

    assert autograde_with_workers(layout, TWO, {"workers": 2}) == 0
    assert gradebook_rows(layout.db_url) == serial_rows(request)
    runs = [int(n) for n in re.findall(r"grading (\d+) submissions? on", log.read_text() + capsys.readouterr().out)]
    assert runs == [SUBMISSIONS, SUBMISSIONS - after_restart, left]        # each run: exactly who was left


@pytest.mark.class_scale
def test_a_submission_whose_worker_dies_every_time_costs_only_its_own_grade(request, class_submissions, tmp_path,
                                                                            capsys, monkeypatch):
    """Dask reruns a task whose worker died, and after its allowed failures gives up on it
    (KilledWorker): that student is reported not graded, everyone else is; a rerun grades only them."""
    from instructor.pipeline import workers
    layout, one, kept = Layout(copy_class(class_submissions, tmp_path)), [ASSIGNMENTS[0]], ("good0", "good1", "buggy0")
    for student in set(CLASS) - set(kept):         # three students are enough, and cheaper
        shutil.rmtree(layout.submitted / student)

    def dies_on_good0(course, assignment, student, snapshot=None):   # pickled by value: runs on the workers
        if student == "good0":
            os._exit(1)
        from instructor.pipeline import workers
        return workers.grade_one(course, assignment, student, snapshot)

    monkeypatch.setattr(workers, "grade_one", dies_on_good0)
    assert autograde_with_workers(layout, one, {"workers": 2}) == 1
    out, err = capsys.readouterr()
    assert f"nbgrader could not grade good0's {one[0]}:\nthe task failed on its worker: KilledWorker" in err
    assert re.search(r"good0 +NOT GRADED", out) and out.count("NOT GRADED") == 1
    rows = {key: row for key, row in serial_rows(request).items() if key[1] == one[0] and key[0] in kept}
    assert gradebook_rows(layout.db_url) == {key: row for key, row in rows.items() if key[0] != "good0"}

    monkeypatch.undo()
    assert autograde_with_workers(layout, one, {"workers": 2}) == 0
    assert "grading 1 submission on 2 workers (2 already graded: skipped)" in capsys.readouterr().out
    assert gradebook_rows(layout.db_url) == rows


def test_worker_options_are_checked_in_one_line(tmp_path, capsys, monkeypatch):
    course = course_copy(tmp_path, "solutions")           # a course to refuse to grade in
    args = parse(["autograde", "--workers", "3", "01_forward_pass"])
    assert (workers_options(args), args.assignments) == ({"workers": 3}, ["01_forward_pass"])
    assert workers_options(parse(["autograde", "--workers=2", "--scheduler", "tcp://10.0.0.5:8786"])) == {
        "workers": 2, "scheduler": "tcp://10.0.0.5:8786"}
    assert workers_options(parse(["watch", "--scheduler=tcp://10.0.0.5:8786"])) == {"scheduler": "tcp://10.0.0.5:8786"}
    monkeypatch.chdir(course)
    for argv, complaint in ((["--workers"], "argument --workers: expected one argument"),
                            (["--workers", "0"], "argument --workers: expects a whole number of workers, at least 1"),
                            (["--workers", "two"], "argument --workers: expects a whole number of workers, at least 1"),
                            (["--workers", "2", "--fast"], "unrecognized arguments: --fast")):
        assert main(["autograde", *argv]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and complaint in err and "usage: ./course autograde" in err
