"""The exchange's collector refuses forged submissions: the rules one by one, on submission folders
made and chowned in tmp_path, and the collector choosing each student's latest acceptable one.
"""
import os
import pwd
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import course_copy
from instructor.exchange import GuardedCollect, submission_problem
from instructor.gradebook import NO_ROSTER
from instructor.layout import Layout, course_config
from instructor.workers import timestamp

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")]
A = "01_forward_pass"
COURSE_ID = "rnns-from-scratch"


def stamp(when):
    """A time as nbgrader's timestamps write it."""
    return when.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


# ---- the rules, on folders owned by nobody ("daemon" plays another student) ----

def made(where, claimed=None, name=None):
    """A submission folder as nbgrader submit makes one, now, owned by nobody, claiming claimed."""
    claimed = claimed or utcnow()
    folder = where / (name or f"nobody+{A}+{stamp(claimed)}+r4nd0m")
    folder.mkdir()
    (folder / "forward_pass.ipynb").write_text("{}")
    (folder / "timestamp.txt").write_text(stamp(claimed))
    give(folder, "nobody")
    return folder


def give(path, user):
    uid = pwd.getpwnam(user).pw_uid
    for p in [path, *path.iterdir()] if path.is_dir() and not path.is_symlink() else [path]:
        os.lchown(p, uid, uid)


def problem(folder, students=("nobody",), **kwargs):
    return submission_problem(str(folder), A, set(students), **{"tolerance": 2.0, "limit": 10**6, **kwargs})


def test_an_honest_submission_is_accepted(tmp_path):
    assert problem(made(tmp_path)) is None


def symlink(f):
    os.symlink("/etc/shadow", f / "answers.ipynb")
    give(f / "answers.ipynb", "nobody")


def hard_link(f):
    os.link(f / "forward_pass.ipynb", f / "copy.ipynb")


def fifo(f):
    os.mkfifo(f / "pipe")
    give(f / "pipe", "nobody")


def oversized(f):
    with open(f / "data.bin", "wb") as data:
        data.truncate(10**6)               # sparse: the notebook's two bytes make it too large
    give(f / "data.bin", "nobody")


@pytest.mark.parametrize("attack,reason", [
    (lambda f: give(f, "daemon"), "the folder is owned by daemon, not nobody"),
    (lambda f: give(f / "forward_pass.ipynb", "daemon"), "forward_pass.ipynb is owned by daemon, not nobody"),
    (symlink, "answers.ipynb is a symbolic link"),
    (hard_link, "is a hard link"),
    (fifo, "pipe is not a regular file or folder"),
    (oversized, "it is larger than 1 MB (CourseDirectory.max_dir_size)"),
    (lambda f: (f / "timestamp.txt").unlink(), "it has no timestamp.txt"),
    (lambda f: (f / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC"),
     "its timestamp.txt ('2026-01-01 00:00:00.000000 UTC') is not the time in its name"),
])
def test_what_a_submission_must_not_hold(tmp_path, attack, reason):
    folder = made(tmp_path)
    attack(folder)
    assert reason in problem(folder)


def test_a_link_in_place_of_the_folder_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    target = made(tmp_path / "elsewhere")
    link = tmp_path / f"nobody+{A}+{stamp(utcnow())}+l1nk"
    link.symlink_to(target)
    give(link, "nobody")
    assert problem(link) == "the folder is a symbolic link"


def test_who_may_hand_in(tmp_path):
    folder = made(tmp_path)
    assert problem(folder, students=()) == NO_ROSTER
    assert problem(folder, students=("alice",)) == "nobody is not on the roster (the gradebook's students)"
    garbled = made(tmp_path, name=f"nobody+{A}+yesterday+x")
    assert problem(garbled) == "its name has no readable time ('yesterday')"


def test_a_time_other_than_when_it_was_made_is_refused(tmp_path):
    backdated = made(tmp_path, utcnow() - timedelta(hours=1))
    for path in [backdated, *backdated.iterdir()]:      # touch -d: the mtimes say so too
        os.utime(path, (time.time() - 3600,) * 2, follow_symlinks=False)
    assert "but the folder was made or changed 1:00:00 after" in problem(backdated)
    assert problem(made(tmp_path, datetime(2099, 1, 1))) == "it claims 2099-01-01 00:00:00 UTC, in the future"
    ahead = made(tmp_path, utcnow() + timedelta(minutes=1))     # made before the time it claims
    assert "but the folder was there 60 s before" in problem(ahead, now=time.time() + 120)


def test_an_edit_after_handing_in_is_refused(tmp_path):
    folder = made(tmp_path)
    time.sleep(0.6)
    with open(folder / "forward_pass.ipynb", "a") as nb:
        nb.write(" ")
    assert "but forward_pass.ipynb was made or changed 0." in problem(folder, tolerance=0.3)


def test_the_latest_acceptable_submission_is_collected_and_the_others_refused(tmp_path):
    """nbgrader picks each student's latest submission only among the acceptable ones; a folder
    whose name nbgrader cannot read does not stop the collection; each refusal is logged once, in
    one line whatever the folder's name holds."""
    from nbgrader.api import Gradebook
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    (tmp_path / "course").mkdir()
    course = course_copy(tmp_path / "course")
    layout = Layout(course)
    inbound = tmp_path / "exchange" / COURSE_ID / "inbound"
    inbound.mkdir(parents=True)
    with Gradebook(layout.db_url) as gb:
        gb.update_or_create_student("nobody")
    honest = made(inbound, utcnow() - timedelta(seconds=1))
    made(inbound, datetime(2099, 1, 1))
    give(made(inbound, utcnow()), "daemon")
    made(inbound, name=f"nobody+{A}+garbage\n2026-12-01 00:00:00 {A} a line of its own+x")

    def collect():
        config = course_config(course)
        config.CourseDirectory.root, config.Exchange.root = str(course), str(tmp_path / "exchange")
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = A
        collector = GuardedCollect(coursedir=coursedir, authenticator=Authenticator(config=config), config=config)
        collector.update = True
        collector.start()
        return collector.summary()

    assert collect() == f"{A}: collected 1, unchanged 0, refused 3: see grading/refused.log"
    assert timestamp(layout.submission("nobody", A)) == timestamp(honest)
    assert collect() == f"{A}: collected 0, unchanged 1, refused 3: see grading/refused.log"
    logged = layout.refused_log.read_text().splitlines()
    assert len(logged) == 3 and any("garbage\\n2026-12-01" in line for line in logged)
