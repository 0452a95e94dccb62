"""./course watch: submissions handed in through nbgrader's exchange while the watcher runs are
graded on its workers and their feedback released to the exchange; the watcher killed midway and
started again grades every submission exactly once (a resubmission is a new submission), and the
feedback shows no hidden test."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from conftest import BUGS, HOSTILE, ROOT, course_copy
from instructor.commands.watch import Watcher, nbgrader_api
from instructor.model.gradebook import grades
from instructor.model.layout import CONFIG_FILE, Layout, notebook_path
from instructor.pipeline import sandbox, submissions
from instructor.pipeline.grade import make_course
from instructor.pipeline.submissions import make_submission

pytestmark = [pytest.mark.skipif(sandbox.problem() is not None, reason="no grading sandbox here"),
              pytest.mark.class_scale, pytest.mark.e2e]
A = "01_forward_pass"
# The students here are names, not Unix accounts: root hands in for them, which the course's
# collector refuses (tests/test_exchange_guard.py), so this course collects with nbgrader's own.
PLAIN_COLLECT = 'c.ExchangeFactory.collect = "nbgrader.exchange.default.collect.ExchangeCollect"\n'
LINE = re.compile(r"^\S+ \S+ (\w+) " + A + r": ([\d.]+) / \d+, feedback returned$", re.M)


def hand_in(layout, student, nb, home):
    submissions.hand_in(layout, student, A, nb, home)
    time.sleep(1.1)                # nbgrader's timestamps: two submissions of a student never share one


def start_watcher(course, log):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    with open(log, "a") as out:
        return subprocess.Popen([sys.executable, "-m", "instructor", "watch", "--every", "1", "--workers", "2"],
                                cwd=course, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(log, watcher, done, minutes=10):
    """Until done(the (student, score) lines logged so far), the watcher running all along."""
    deadline = time.monotonic() + 60 * minutes
    while not done(LINE.findall(log.read_text())):
        assert watcher.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)


def stop(watcher):
    os.killpg(watcher.pid, signal.SIGKILL)
    watcher.wait()


def test_watch_grades_and_returns_each_submission_once_across_a_restart(tmp_path):
    (tmp_path / "course").mkdir()
    course = make_course(tmp_path / "course", [A])
    exchange = tmp_path / "exchange"
    with open(course / CONFIG_FILE, "a") as config:
        config.write(f"\nc.Exchange.root = {str(exchange)!r}\n{PLAIN_COLLECT}")
    layout = Layout(course)
    assert nbgrader_api(layout).release_assignment(A)["success"]          # ./course hand-out
    release = nbformat.read(layout.release_notebook(A), as_version=4)
    solution = nbformat.read(notebook_path(layout.source, A), as_version=4)
    home, log = tmp_path / "home", tmp_path / "watch.log"
    hand_in(layout, "ann", make_submission(release, solution), home)
    hand_in(layout, "ben", make_submission(release, solution, "correct", BUGS[A]), home)

    watcher = start_watcher(course, log)
    try:
        wait_for(log, watcher, lambda graded: ("ann", "8.0") in graded)
    finally:
        stop(watcher)                      # maybe in the middle of grading or returning ben
    hand_in(layout, "cat", make_submission(release, solution, "correct", dict.fromkeys(BUGS[A], HOSTILE)), home)
    hand_in(layout, "ann", make_submission(release, solution, "correct", BUGS[A]), home)      # a second try
    watcher = start_watcher(course, log)
    try:
        wait_for(log, watcher, lambda graded: len(graded) >= 4)
        time.sleep(3)                      # a few more looks at the exchange: nothing new to grade
    finally:
        stop(watcher)

    graded = LINE.findall(log.read_text())
    assert sorted(graded) == [("ann", "5.0"), ("ann", "8.0"), ("ben", "5.0"), ("cat", "5.0")], log.read_text()
    assert graded.index(("ann", "8.0")) < graded.index(("ann", "5.0"))
    table = grades(layout, A)
    assert {s: g.score for (s, _), g in table.items()} == {"ann": 5.0, "ben": 5.0, "cat": 5.0}

    returned = sorted((exchange / "rnns-from-scratch" / "feedback").glob("*.html"))
    assert len(returned) == 4                         # one per submission, ann's two included
    page = json.loads((layout.insights / f"{A}.json").read_text())      # ./course insights after each round
    assert {s: v["score"] for s, v in page["scores"].items()} == {"ann": 5.0, "ben": 5.0, "cat": 5.0}
    hidden = hidden_tests(solution)
    assert hidden and not any(line in f.read_text() for f in returned for line in hidden)


def hidden_tests(nb):
    """The lines of every hidden test block of a solution notebook."""
    blocks = [part.split("### END HIDDEN TESTS")[0] for cell in nb.cells
              for part in cell.source.split("### BEGIN HIDDEN TESTS")[1:]]
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_watch_says_each_refused_submission_once(tmp_path):
    """A submission the course's collector refuses is said once, not at every look at the exchange."""
    import shutil
    from datetime import datetime, timezone
    from nbgrader.api import Gradebook
    course = course_copy(tmp_path)
    shutil.copytree(ROOT / "solutions" / A, course / "solutions" / A)
    with open(course / CONFIG_FILE, "a") as config:
        config.write(f"\nc.Exchange.root = {str(tmp_path / 'exchange')!r}\n")
    layout = Layout(course)
    layout.make_gradebook_folder()          # as ./course does before a command
    with Gradebook(layout.db_url) as gb:
        gb.update_or_create_student("someone-else")
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    folder = tmp_path / "exchange" / "rnns-from-scratch" / "inbound" / f"someone-else+{A}+{when}+x"
    folder.mkdir(parents=True)
    (folder / "timestamp.txt").write_text(when)
    said = []
    watcher = Watcher(layout, None, log=said.append)
    watcher.cycle()
    watcher.cycle()
    assert len(said) == 1 and said[0].startswith(f"./course watch: refused someone-else's {A} ({folder.name}): "), said
    assert "the folder is owned by" in said[0] and not layout.students(A)
