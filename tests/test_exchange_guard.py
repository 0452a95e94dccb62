"""The exchange's collector refuses forged submissions; ./course regrade grades one student again.

First the rules one by one, on submission folders made and chowned in tmp_path. Then a class in a
temporary course and exchange, each student a real Unix account (rxg-*) handing in through
nbgrader's exchange: alice honestly; bob in alice's name, with nbgrader submit --student and with a
folder he makes by hand dated 2099; carol honestly, then late work backdated (folder renamed,
timestamp.txt rewritten, mtimes touched); dana honestly, then a folder holding a link to alice's
notebook and one holding a 150 MB (sparse) file; erin, who is not on the roster. nbgrader's own
collector takes bob's 2099 folder for alice, and she is graded 0. ./course collect refuses each
forgery in one line and in grading/refused.log, collects the real ones and opens nothing in alice's
home; with the forgeries removed, ./course regrade gives alice the grade of what she handed in.
"""
import ctypes
import os
import pwd
import shutil
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from conftest import BUGS, ROOT, course_copy, without_venv
from instructor.model.gradebook import NO_ROSTER, grades
from instructor.model.layout import CONFIG_FILE, Layout, course_config, notebook_path
from instructor.pipeline.exchange import GuardedCollect, submission_problem
from instructor.pipeline.grade import nbgrader
from instructor.pipeline.submissions import make_submission
from instructor.pipeline.workers import timestamp

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("exchange-guard"),    # one set of rxg-* accounts
              pytest.mark.skipif(os.geteuid() != 0, reason="chown, Unix accounts and runuser need root")]
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


def test_work_made_after_the_assignment_closed_is_refused():
    """Once an assignment closes (instructor/model/answers.py), its answers are in the students' rnnlib:
    work made later could copy them."""
    from types import SimpleNamespace
    closed = datetime(2026, 12, 8, 23, 59, tzinfo=timezone.utc)
    collect = SimpleNamespace(closed=closed, coursedir=SimpleNamespace(assignment_id="01_forward_pass"))
    before, after = (f"alice+01_forward_pass+2026-12-08 23:{m:02d}:00.000000 UTC+ab12" for m in (58, 59))
    late = "alice+01_forward_pass+2026-12-09 00:00:01.000000 UTC+ab12"
    assert GuardedCollect.after_close(collect, before) is None
    assert GuardedCollect.after_close(collect, after) is None
    assert "after 01_forward_pass closed (2026-12-08 23:59:00 UTC)" in GuardedCollect.after_close(collect, late)
    assert GuardedCollect.after_close(SimpleNamespace(closed=None, coursedir=collect.coursedir), late) is None


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
    layout.make_gradebook_folder()          # as ./course does before a command
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


# ---- a class of real accounts on a real exchange ----

ACCOUNTS = ["rxg-alice", "rxg-bob", "rxg-carol", "rxg-dana", "rxg-erin"]
ROSTER = ACCOUNTS[:4]                    # rxg-erin is not on it
TOLERANCE = 3.0                          # the course's c.GuardedCollect.ctime_tolerance here
# The students' nbgrader: the course venv's packages on Debian's python3 of the same version, since
# the venv's own interpreter may live where students cannot reach it (root's home, under pyenv).
STUDENT_PYTHON = "/usr/bin/python3"
NBGRADER = (STUDENT_PYTHON, "-m", "nbgrader")


def student_python_problem():
    """Why students cannot run the course's nbgrader here, or None."""
    if not os.access(STUDENT_PYTHON, os.X_OK):
        return f"no {STUDENT_PYTHON} for the students"
    version = subprocess.run([STUDENT_PYTHON, "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True).stdout.strip()
    if version != str(sys.version_info[:2]):
        return f"{STUDENT_PYTHON} is Python {version}, the course venv's packages are for {sys.version_info[:2]}"
    return None


def home(name):
    return Path(pwd.getpwnam(name).pw_dir)


def as_student(name, *argv):
    """A command run as the student's own Unix account, in their home, as their terminal would."""
    env = {"HOME": str(home(name)), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    done = subprocess.run([shutil.which("runuser"), "-u", name, "--", *argv], cwd=home(name), env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{name}: {argv}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def shell_as(name, script, *args):
    return as_student(name, "sh", "-c", f"set -e; {script}", "sh", *args)


def course_line(course, *args, status=0):
    """./course ARGS, as the instructor types it."""
    done = subprocess.run([str(course / "course"), *args], cwd=course, capture_output=True, text=True,
                          env=without_venv(), timeout=900)
    assert done.returncode == status, f"./course {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def make_accounts(exchange):
    remove_accounts()                    # left over from a run that was killed
    for name in ACCOUNTS:
        subprocess.run(["useradd", "--create-home", name], check=True)
        home(name).chmod(0o700)          # as the hub makes them: private
        config = home(name) / "nbgrader_config.py"
        config.write_text(f"c = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\n"
                          f"c.Exchange.root = {str(exchange)!r}\n")
        give(config, name)


def remove_accounts():
    for name in ACCOUNTS:
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)


def write_answers(name, nb):
    """The student's notebook in their assignment folder, as they saved it; returns its bytes."""
    folder = home(name) / A
    folder.mkdir(exist_ok=True)
    nbformat.write(nb, folder / "forward_pass.ipynb")
    give(folder, name)
    return (folder / "forward_pass.ipynb").read_bytes()


def submit(name, *options):
    as_student(name, *NBGRADER, "submit", A, *options)


class Opened:
    """inotify: what was opened or read in some folders (not their subfolders) while watched."""
    MASK = 0x1 | 0x20                    # IN_ACCESS | IN_OPEN

    def __init__(self, *folders):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK)
        assert self.fd >= 0 and all(self.libc.inotify_add_watch(self.fd, str(f).encode(), self.MASK) >= 0
                                    for f in folders)

    def events(self):
        """(mask, name) of each event since the last call."""
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return []
        found, at = [], 0
        while at < len(data):
            _, mask, _, size = struct.unpack_from("iIII", data, at)
            found.append((mask, data[at + 16:at + 16 + size].rstrip(b"\0").decode()))
            at += 16 + size
        return found


def hand_in_the_class(layout, inbound):
    """Every student's submissions and forgeries; returns {what: notebook bytes handed in}."""
    release = nbformat.read(layout.release_notebook(A), as_version=4)
    solution = nbformat.read(notebook_path(layout.source, A), as_version=4)
    correct, buggy = make_submission(release, solution), make_submission(release, solution, "correct", BUGS[A])
    sent = {}
    as_student("rxg-alice", *NBGRADER, "fetch_assignment", A)
    sent["alice"] = write_answers("rxg-alice", correct)
    submit("rxg-alice")
    sent["carol"] = write_answers("rxg-carol", buggy)
    submit("rxg-carol")
    carol_on_time = timestamp(next(inbound.glob("rxg-carol+*")))
    sent["dana"] = write_answers("rxg-dana", release)
    submit("rxg-dana")
    write_answers("rxg-erin", correct)
    submit("rxg-erin")
    write_answers("rxg-bob", release)
    submit("rxg-bob", "--student=rxg-alice")                      # in alice's name
    shell_as("rxg-bob", 'd="$1/rxg-alice+01_forward_pass+2099-01-01 00:00:00.000000 UTC+f0rg3d"; mkdir "$d"; '
                        'cp 01_forward_pass/forward_pass.ipynb "$d/"; '
                        'printf %s "2099-01-01 00:00:00.000000 UTC" > "$d/timestamp.txt"', str(inbound))
    made_now = ('ts=$(date -u "+%Y-%m-%d %H:%M:%S.%6N UTC"); d="$1/rxg-dana+01_forward_pass+$ts+$2"; mkdir "$d"; '
                'printf %s "$ts" > "$d/timestamp.txt"; ')
    shell_as("rxg-dana", made_now + f'ln -s {home("rxg-alice")}/{A}/forward_pass.ipynb "$d/forward_pass.ipynb"',
             str(inbound), "l1nk")
    shell_as("rxg-dana", made_now + 'cp 01_forward_pass/forward_pass.ipynb "$d/"; truncate -s 150M "$d/data.bin"',
             str(inbound), "b1g")
    backdate_late_work(inbound, carol_on_time, correct)
    return sent


def backdate_late_work(inbound, on_time, nb):
    """carol hands in again later, then makes it claim a moment after her first submission: she
    submits without nbgrader's random name part (so she knows the name), renames the folder,
    rewrites its timestamp.txt and touches every mtime back."""
    claim = on_time + timedelta(seconds=1)
    time.sleep(max(0.0, (claim - utcnow()).total_seconds() + TOLERANCE + 3))   # late by more than the tolerance
    write_answers("rxg-carol", nb)
    before = set(inbound.glob("rxg-carol+*"))
    submit("rxg-carol", "--ExchangeSubmit.add_random_string=False")
    (late,) = set(inbound.glob("rxg-carol+*")) - before
    epoch = claim.replace(tzinfo=timezone.utc).timestamp()
    shell_as("rxg-carol", 'cd "$1"; mv "$2" "$3"; printf %s "$4" > "$3/timestamp.txt"; touch -d "@$5" "$3" "$3"/*',
             str(inbound), late.name, f"rxg-carol+{A}+{stamp(claim)}", stamp(claim), f"{epoch:.6f}")


@pytest.fixture(scope="module")
def term():
    """The whole story, each step's output kept for the tests below."""
    missing = [tool for tool in ("useradd", "userdel", "runuser", "truncate") if not shutil.which(tool)]
    if missing or student_python_problem():
        pytest.skip(f"needs {', '.join(missing)}" if missing else student_python_problem())
    top = Path(tempfile.mkdtemp(prefix="rxg-"))
    top.chmod(0o755)                     # students reach the exchange below it, not the course (mode 700)
    exchange = top / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)
    try:
        make_accounts(exchange)
        yield run_term(top, exchange)
    finally:
        remove_accounts()
        shutil.rmtree(top, ignore_errors=True)


def run_term(top, exchange):
    course = top / "course"
    course.mkdir(mode=0o700)
    course_copy(course)
    shutil.copytree(ROOT / "solutions" / A, course / "solutions" / A)
    with open(course / CONFIG_FILE, "a") as config:
        config.write(f"\nc.Exchange.root = {str(exchange)!r}\nc.GuardedCollect.ctime_tolerance = {TOLERANCE}\n")
    layout, inbound = Layout(course), exchange / COURSE_ID / "inbound"
    course_line(course, "release", A)
    course_line(course, "hand-out", A)
    (top / "roster.csv").write_text("id\n" + "\n".join(ROSTER) + "\n")     # the class list, without erin
    course_line(course, "roster", "import", str(top / "roster.csv"))
    steps = {"course": course, "layout": layout, "inbound": inbound, "sent": hand_in_the_class(layout, inbound)}

    # Before: nbgrader's own collector takes bob's 2099 folder for alice, only warning.
    steps["plain"] = nbgrader(course, "collect", A, "--update", "--student=rxg-alice",
                              "--ExchangeFactory.collect=nbgrader.exchange.default.collect.ExchangeCollect").stderr
    steps["forged timestamp"] = timestamp(layout.submission("rxg-alice", A))
    course_line(course, "autograde", A)
    steps["forged grade"] = grades(layout, A)["rxg-alice", A]

    alice_nb = home("rxg-alice") / A / "forward_pass.ipynb"
    opened = Opened(home("rxg-alice"), alice_nb.parent)
    alice_nb.read_bytes()
    steps["control"] = opened.events()               # the watch sees a read
    steps["collect"] = course_line(course, "collect", A).stderr       # nbgrader logs on stderr
    steps["collected"] = {s: layout.submitted_notebook(s, A).read_bytes()
                          for s in ACCOUNTS if layout.submitted_notebook(s, A).exists()}
    for forgery in [p for p in inbound.iterdir() if p.owner() == "rxg-bob"]:
        shutil.rmtree(forgery)
    steps["regrade"] = course_line(course, "regrade", A, "rxg-alice").stdout
    steps["opened"] = opened.events()
    steps["grade"] = grades(layout, A)["rxg-alice", A]
    steps["regraded"] = layout.submitted_notebook("rxg-alice", A).read_bytes()
    as_student("rxg-alice", *NBGRADER, "fetch_feedback", A)
    steps["feedback"] = [p.read_text() for p in (home("rxg-alice") / A / "feedback").glob("*/forward_pass.html")]
    return steps


def refusals(output):
    return [line for line in output.splitlines() if "WARNING] refused " in line]


def test_before_nbgrader_collected_the_forgery_and_alice_got_0(term):
    assert "claims to be submitted by rxg-alice but is owned by rxg-bob; cheating attempt?" in term["plain"]
    assert term["forged timestamp"].year == 2099
    assert term["forged grade"].score == 0


EXPECTED = {   # (who it names, a part of its folder's name, why) for each forgery
    ("rxg-alice", f"rxg-alice+{A}+20", "the folder is owned by rxg-bob, not rxg-alice"),
    ("rxg-alice", f"rxg-alice+{A}+2099-01-01 00:00:00.000000 UTC+f0rg3d", "the folder is owned by rxg-bob, not rxg-alice"),
    ("rxg-carol", f"rxg-carol+{A}+", "but the folder was made or changed"),
    ("rxg-dana", "+l1nk", "forward_pass.ipynb is a symbolic link"),
    ("rxg-dana", "+b1g", "it is larger than 100 MB (CourseDirectory.max_dir_size)"),
    ("rxg-erin", f"rxg-erin+{A}+", "rxg-erin is not on the roster"),
}


def test_each_forgery_is_refused_in_one_line_and_logged(term):
    lines, logged = refusals(term["collect"]), term["layout"].refused_log.read_text().splitlines()
    assert len(lines) == len(logged) == len(EXPECTED), term["collect"]
    for who, folder, why in EXPECTED:
        assert any(f"refused {who}'s {A} (" in line and folder in line and why in line for line in lines), (who, why)
        assert any(folder in line and why in line for line in logged), (who, why)
    assert term["collect"].strip().splitlines()[-1].endswith(
        f"{A}: collected 2, unchanged 1, refused 6: see grading/refused.log")
    assert "No newer submission to collect: rxg-alice" in term["collect"]    # what the forgery left behind


def test_the_real_submissions_are_collected(term):
    collected, sent = term["collected"], term["sent"]
    assert set(collected) == {"rxg-alice", "rxg-carol", "rxg-dana"}
    assert collected["rxg-carol"] == sent["carol"]           # on time, not the backdated late work
    assert collected["rxg-dana"] == sent["dana"]


def test_nothing_outside_the_exchange_was_read(term):
    assert term["control"]
    assert term["opened"] == []


def test_regrade_gives_alice_the_grade_of_what_she_handed_in(term):
    assert term["regraded"] == term["sent"]["alice"]
    g = term["grade"]
    assert g.failed == [] and g.score == g.max_score - g.by_hand > 0
    assert term["regrade"].strip().splitlines()[-1].startswith(
        f"regraded rxg-alice {A}: {g.score:.1f} / {g.max_score:g}")
    assert "feedback returned" in term["regrade"]
    (html,) = term["feedback"]
    assert f"Score: {g.score:.1f}" in html


@pytest.mark.parametrize("args,line", [
    (["99_nope", "rxg-alice"], "./course regrade: no assignment '99_nope'; the assignments are 01_forward_pass"),
    ([A], "./course regrade: the following arguments are required: STUDENT; usage: ./course regrade [-h] "
          "ASSIGNMENT STUDENT"),
    ([A, "rxg-erin"], "./course regrade: no student 'rxg-erin' on the roster (4 students in the gradebook"),
])
def test_regrade_refuses_a_bad_argument_in_one_line(term, args, line):
    done = course_line(term["course"], "regrade", *args, status=2)
    assert done.stdout == "" and done.stderr.strip().splitlines() == [done.stderr.strip()], done.stderr
    assert done.stderr.startswith(line)


def test_regrade_with_nothing_acceptable_changes_nothing(term):
    before = grades(term["layout"], A)
    done = course_line(term["course"], "regrade", A, "rxg-bob", status=2)     # his folders named alice
    assert done.stderr.strip().splitlines()[-1] == (
        f"./course regrade: nothing of rxg-bob's {A} in the exchange can be collected (refusals: "
        "grading/refused.log); nothing was changed")
    assert grades(term["layout"], A) == before


def test_the_lms_file_has_every_roster_student_and_0_for_one_who_never_handed_in(term, tmp_path):
    """bob's only folders were forgeries in alice's name: on the roster, nothing of his collected.
    The Canvas file still has his row, with 0 (--missing-as-zero); alice's has her real score."""
    import csv
    course = Path(shutil.copytree(term["course"], tmp_path / "course", symlinks=True))
    course_line(course, "export", "--lms", "canvas", "--missing-as-zero")
    rows = list(csv.reader(open(Layout(course).grades_csv.with_name("grades-canvas.csv"))))
    column = rows[0].index(A)
    scores = {row[3]: row[column] for row in rows[2:]}
    assert sorted(scores) == sorted(ROSTER)
    assert scores["rxg-bob"] == "0"
    assert float(scores["rxg-alice"]) == term["grade"].score > 0
