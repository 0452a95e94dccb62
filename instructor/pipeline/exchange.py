"""Collect from nbgrader's exchange only what each student really handed in.

nbgrader's collector takes any folder of <exchange>/<course_id>/inbound/ named
<student>+<assignment>+<time>+<random>, and only warns when its Unix owner is someone else. Every
student may write to inbound/ and owns what they put there, so a student can submit in a
classmate's name (nbgrader submit --student=NAME) or make a folder by hand with any name,
timestamp.txt and mtime. GuardedCollect refuses such a submission before nbgrader picks each
student's latest one, so the latest acceptable one is collected instead:

* its owner is not the student it names, or the student is not on the roster (the gradebook's
  students; with an empty roster everything is refused);
* the time it claims (in its name and its timestamp.txt, which must agree) is not when it was
  made: a student can write any time and `touch -d` any mtime, but not a ctime, which the kernel
  sets at every change. Each entry's ctime must lie within ctime_tolerance of the claimed time, so
  a claim in the future, a folder made later than it claims and one edited afterwards all fail;
* it holds a symbolic link, a hard link, anything but regular files and folders, or anything not
  owned by that student; or it is larger than CourseDirectory.max_dir_size (nbgrader's own limit);
* it was made after the assignment closed (./course close, or its due date plus the late
  allowance: instructor/model/answers.py), when its answers had gone to the students.

Each refusal is one warning line ("refused ...") and one line in Layout.refused_log. Checking never
follows a link (lstat only) and reads no file but timestamp.txt; copying opens each file without
following links and only while it is still the student's own regular file. Selected in
nbgrader_config.py by c.ExchangeFactory.collect = "instructor.pipeline.exchange.GuardedCollect".
"""
import functools
import os
import pwd
import shutil
import stat
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.utils import ignore_patterns, parse_utc
from traitlets import Bool, Float

from ..model.gradebook import NO_ROSTER, roster
from ..model.layout import Layout

REFUSED = "refused "          # how each refusal's line starts in collect's output


def owner(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def printable(text):
    """text with its control characters escaped: a student names the folders, and a newline in a
    name must not make a refusal two lines (or forge one)."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def parse_name(name, assignment):
    """(student, claimed time as naive UTC) of an inbound folder's name, as nbgrader reads it."""
    parts = name.rsplit("+", 3)
    if len(parts) < 3 or parts[1] != assignment:
        raise ValueError(f"its name is not <student>+{assignment}+<time>")
    try:
        return parts[0], parse_utc(parts[2])
    except (ValueError, OverflowError):
        raise ValueError(f"its name has no readable time ({parts[2][:40]!r})") from None


def entries(folder):
    """(path relative to folder, lstat) of folder and of everything in it, never following a link
    (not even to tell a file from a folder). Lazy: a caller that stops at the folder itself (a
    link, say) never lists it, and one that stops at an entry never enters it."""
    yield ".", os.lstat(folder)
    pending = [folder]
    while pending:
        with os.scandir(pending.pop()) as listing:
            for entry in listing:
                st = entry.stat(follow_symlinks=False)
                yield os.path.relpath(entry.path, folder), st
                if stat.S_ISDIR(st.st_mode):
                    pending.append(entry.path)


def contents_problem(folder, student, limit, ctimes):
    """Why folder is not a plain folder of student's own regular files within limit bytes, or None.
    Fills ctimes with (path, ctime) of everything looked at."""
    total = 0
    for path, st in entries(folder):
        what = "the folder" if path == "." else path
        ctimes.append((what, st.st_ctime))
        if stat.S_ISLNK(st.st_mode):
            return f"{what} is a symbolic link"
        if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            return f"{what} is not a regular file or folder"
        if owner(st.st_uid) != student:
            return f"{what} is owned by {owner(st.st_uid)}, not {student}"
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            return f"{what} is a hard link"
        total += st.st_size if stat.S_ISREG(st.st_mode) else 0
        if total > limit:
            return f"it is larger than {limit / 1e6:g} MB (CourseDirectory.max_dir_size)"
    return None


def stamp_problem(folder, claimed):
    """Does timestamp.txt (already checked to be the student's own regular file) say the name's time?"""
    try:
        fd = os.open(os.path.join(folder, "timestamp.txt"), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return "it has no timestamp.txt"
    with os.fdopen(fd, "rb") as f:
        text = f.read(200).decode(errors="replace").strip()
    try:
        same = parse_utc(text) == claimed
    except (ValueError, OverflowError):
        same = False
    return None if same else f"its timestamp.txt ({text[:40]!r}) is not the time in its name"


def span(seconds):
    if seconds < 120:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    return str(timedelta(seconds=round(seconds)))


def time_problem(ctimes, claimed, tolerance, now):
    """Was everything made (ctime: no one can set it) within tolerance seconds of the claimed time?"""
    at = claimed.replace(tzinfo=timezone.utc).timestamp()
    said = f"it claims {claimed:%Y-%m-%d %H:%M:%S} UTC"
    if at > now + tolerance:
        return f"{said}, in the future"
    first, last = min(ctimes, key=lambda c: c[1]), max(ctimes, key=lambda c: c[1])
    if first[1] < at - tolerance:
        return f"{said}, but {first[0]} was there {span(at - first[1])} before"
    if last[1] > at + tolerance:
        return f"{said}, but {last[0]} was made or changed {span(last[1] - at)} after"
    return None


def submission_problem(folder, assignment, students, tolerance=30.0, limit=100_000_000, now=None):
    """Why the inbound folder must not be collected, in a few words, or None if it may be."""
    try:
        student, claimed = parse_name(os.path.basename(folder), assignment)
    except ValueError as e:
        return str(e)
    if not students:
        return NO_ROSTER
    if student not in students:
        return f"{student} is not on the roster (the gradebook's students)"
    ctimes = []
    try:
        problem = contents_problem(folder, student, limit, ctimes) or stamp_problem(folder, claimed)
    except OSError as e:
        return f"it could not be checked ({e.strerror}: {e.filename})"
    return problem or time_problem(ctimes, claimed, tolerance, time.time() if now is None else now)


def copy_own_file(src, dst, uid):
    """shutil.copytree's copy_function: copy src only if it is still uid's own regular file with a
    single link. Opened without following a link, so a link swapped in after the check is refused."""
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    with os.fdopen(fd, "rb") as source:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != uid or st.st_nlink != 1:
            raise OSError(f"{src} is no longer the student's own regular file")
        with open(dst, "wb") as target:
            shutil.copyfileobj(source, target)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    return dst


def links_in(folder):
    """The first symbolic link in folder (a copy), or None."""
    for parent, dirs, files in os.walk(folder):
        for name in dirs + files:
            if os.path.islink(os.path.join(parent, name)):
                return os.path.relpath(os.path.join(parent, name), folder)
    return None


class GuardedCollect(ExchangeCollect):
    """nbgrader's collector that refuses forged, edited, linked or oversized submissions."""

    ctime_tolerance = Float(30.0, help=(
        "Seconds by which the ctimes of a submission's folder and files may differ from the time it "
        "claims: nbgrader stamps the time before it copies the files. Raise it only for an exchange on a "
        "file server whose clock drifts from the students' machines.")).tag(config=True)

    replace = Bool(False, help=(
        "Collect each student's latest acceptable submission even if it is older than the one "
        "already collected (./course regrade).")).tag(config=True)

    def init_src(self):
        from ..model.answers import closes
        self.students = roster(self.coursedir.db_url)
        layout = Layout(self.coursedir.root)
        self.log_file = layout.refused_log
        self.closed = closes(layout).get(self.coursedir.assignment_id)
        self.refused, self.copied = [], 0
        super().init_src()
        self.src_records = [record for record in self.src_records if "refused" not in record]

    def _path_to_record(self, path):
        problem = self.problem(path)
        if problem is None:
            return super()._path_to_record(path)
        self.refuse(path, problem)
        # A student of its own, whom no one can be: nbgrader's choice of each student's latest
        # submission never sees it, and init_src drops it afterwards.
        return {"username": ("refused", path), "filename": os.path.basename(path), "timestamp": datetime.min,
                "refused": problem}

    def problem(self, path):
        return submission_problem(path, self.coursedir.assignment_id, self.students, self.ctime_tolerance,
                                  1000 * self.coursedir.max_dir_size) or self.after_close(path)

    def after_close(self, path):
        """Work made after the assignment closed (its answers were out by then: instructor/model/answers.py)."""
        claimed = parse_name(os.path.basename(path), self.coursedir.assignment_id)[1].replace(tzinfo=timezone.utc)
        if self.closed is not None and claimed > self.closed:
            return (f"it was made at {claimed:%Y-%m-%d %H:%M:%S} UTC, after {self.coursedir.assignment_id} closed "
                    f"({self.closed:%Y-%m-%d %H:%M:%S} UTC), when its answers went to the students")
        return None

    def refuse(self, path, problem):
        self.refused.append(os.path.basename(path))
        name, problem = printable(os.path.basename(path)), printable(problem)
        self.log.warning(f"{REFUSED}{name.split('+')[0]}'s {self.coursedir.assignment_id} ({name}): {problem}")
        entry = f"{self.coursedir.assignment_id} {name}: {problem}"
        logged = self.log_file.read_text() if self.log_file.exists() else ""
        if entry not in logged:                  # ./course watch looks again every 30 s: log it once
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_file, "a") as log:
                log.write(f"{datetime.now():%Y-%m-%d %H:%M:%S} {entry}\n")

    def copy_files(self):
        if self.replace:
            for record in self.src_records:
                shutil.rmtree(self.coursedir.format_path(self.coursedir.submitted_directory, record["username"],
                                                         self.coursedir.assignment_id), ignore_errors=True)
        super().copy_files()
        self.log.info(self.summary())

    def do_copy(self, src, dest, log=None):
        """nbgrader's copy (its ignore and include patterns, its file size limit) that follows no link
        and reads only the student's own files; a submission that changed meanwhile is refused."""
        uid = os.lstat(src).st_uid
        ignore = ignore_patterns(exclude=self.coursedir.ignore, include=self.coursedir.include,
                                 max_file_size=self.coursedir.max_file_size, log=self.log)
        try:
            shutil.copytree(src, dest, symlinks=True, ignore=ignore,
                            copy_function=functools.partial(copy_own_file, uid=uid))
            link = links_in(dest)
            problem = self.problem(src) or (link and f"{link} became a symbolic link while it was collected")
        except (OSError, shutil.Error) as e:
            problem = f"it changed while it was collected ({str(e)[:200]})"
        if problem:
            shutil.rmtree(dest, ignore_errors=True)
            self.refuse(src, problem)
        else:
            self.copied += 1

    def summary(self):
        """The last line of collect: how many were collected, unchanged and refused."""
        unchanged = len(self.src_records) - self.copied - sum(r["filename"] in self.refused for r in self.src_records)
        log = os.path.relpath(self.log_file, self.coursedir.root)
        return (f"{self.coursedir.assignment_id}: collected {self.copied}, unchanged {unchanged}, "
                f"refused {len(self.refused)}" + (f": see {log}" if self.refused else ""))
