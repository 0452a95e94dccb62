"""Grade a class on Dask workers: ./course autograde --workers N [--scheduler ADDRESS].

One Dask task per (assignment, student). A task runs nbgrader's own Autograde converter inside
the worker process (nbgrader, the sandboxed kernel and the trusted test cells exactly as in the
serial pipeline; only the start-up of nbgrader is paid once per worker instead of once per
batch), so everything the serial run promises holds per task.

The gradebook takes concurrent graders:
    PostgreSQL  every task writes its grades straight into it (it takes concurrent sessions);
    sqlite      one writer at a time, and a file on a shared file system is no place for
                several: each task grades into a private copy of the gradebook (a snapshot the
                coordinator takes before it hands out work), sends back what nbgrader wrote
                for its student (the submission's timestamp, each cell's autograde score,
                comment and review flag, the late penalty), and the coordinator writes that
                into the course's gradebook, whatever finished meanwhile in one commit (a
                write cut short leaves those submissions without grades: they are graded again).

Faults: a worker that dies mid-task has its task rerun by Dask on another worker (nbgrader
grades the student afresh, with --force, so a half-written folder does no harm). A coordinator
killed or a scheduler lost mid-run leaves some students without grades; the next run grades
exactly those (instructor/pipeline/grade.py's `unfinished` and nbgrader's own skipping of graded
students), nobody twice.
"""
import contextlib
import logging
import os
import shutil
import sqlite3
import tempfile
import uuid
import warnings
from pathlib import Path

from ..model.layout import course_config

def timestamp(folder):
    """The time in folder's timestamp.txt (nbgrader's submission time), or None."""
    from nbgrader.utils import parse_utc
    stamp = Path(folder) / "timestamp.txt"
    return parse_utc(stamp.read_text().strip()) if stamp.exists() else None


def needs_grading(layout, assignment, student):
    """nbgrader's rule: no graded copy yet, or one older than the submission."""
    graded = layout.autograded / student / assignment
    if not graded.exists():
        return True
    new, old = timestamp(layout.submission(student, assignment)), timestamp(graded)
    return new is not None and old is not None and new > old


def merging(layout):
    """Does the coordinator write the grades (a sqlite gradebook), or every worker (a server)?"""
    return layout.db_url.startswith("sqlite:")


def snapshot(layout, run):
    """A consistent copy of the sqlite gradebook, on the course's (shared) file system, for the tasks."""
    layout.workers.mkdir(parents=True, exist_ok=True)
    copy = layout.workers / f"gradebook-snapshot-{run}.db"
    with contextlib.closing(sqlite3.connect(layout.db_url.removeprefix("sqlite:///"))) as source, \
            contextlib.closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    return copy


def grade_one(course, assignment, student, snapshot=None):
    """Runs on a worker: autograde one student's submission as nbgrader autograde --force does.

    Returns nbgrader's {success, log, error}; with a snapshot, also the rows it graded into it."""
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log
    _kernels_quiet()
    config = course_config(course)
    if "root" not in config.CourseDirectory:
        config.CourseDirectory.root = str(Path(course).resolve())
    with tempfile.TemporaryDirectory(prefix="rnn-task-") as tmp:
        if snapshot:
            private = Path(tmp) / "gradebook.db"
            shutil.copy(snapshot, private)
            config.CourseDirectory.db_url = f"sqlite:///{private}"
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id, coursedir.student_id = assignment, student
        app = Autograde(coursedir=coursedir, config=config)
        app.force = True
        with no_session_warnings():
            result = capture_log(app)
        if snapshot and result["success"]:
            result["rows"] = autograded_rows(coursedir.db_url, assignment, student)
    return result


@contextlib.contextmanager
def no_session_warnings():
    """nbgrader's add_submission makes SQLAlchemy warn about its session on every new submission:
    noise in a terminal that shows every worker's output, not news."""
    from sqlalchemy.exc import SAWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        yield


def _kernels_quiet():
    """Kernels inherit the worker's stdout, where ipykernel greets whoever started it: in the serial
    run nbgrader's output is captured, here it would reach the instructor's terminal, once per kernel."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def autograded_rows(db_url, assignment, student):
    """What nbgrader's autograde wrote for one submission, as plain data."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb:
        sub = gb.find_submission(assignment, student)
        return {"timestamp": sub.timestamp.isoformat() if sub.timestamp else None,
                "notebooks": {nb.name: {"penalty": nb.late_submission_penalty,
                                        "grades": {g.name: (g.auto_score, g.needs_manual_grade) for g in nb.grades},
                                        "comments": {c.name: c.auto_comment for c in nb.comments}}
                              for nb in sub.notebooks}}


def merge(db_url, graded):
    """Write the autograded rows of submissions, [(assignment, student, rows)], into the gradebook
    in one session (one commit); scores given by hand stay."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb, no_session_warnings():
        for assignment, student, rows in graded:
            gb.update_or_create_student(student)
            stamp = {"timestamp": rows["timestamp"]} if rows["timestamp"] else {}
            sub = gb.update_or_create_submission(assignment, student, **stamp)
            for nb in sub.notebooks:
                want = rows["notebooks"][nb.name]
                nb.late_submission_penalty = want["penalty"]
                for grade in nb.grades:
                    grade.auto_score, grade.needs_manual_grade = want["grades"][grade.name]
                for comment in nb.comments:
                    comment.auto_comment = want["comments"][comment.name]
        gb.db.commit()


@contextlib.contextmanager
def dask_client(workers=None, scheduler=None):
    """A Dask client: of the cluster at scheduler (waiting for `workers` of its workers), or of a
    LocalCluster of `workers` single-threaded worker processes on this machine."""
    from distributed import Client, LocalCluster
    if scheduler:
        # A lost scheduler is said in one line (SchedulerLost), not in the client's reconnect tracebacks.
        logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
        with Client(scheduler, timeout=30) as client:
            if workers:
                client.wait_for_workers(workers, timeout=300)
            yield client
        return
    with warnings.catch_warnings():
        # Its scheduler's HTTP endpoint takes another port when another cluster (a watcher) holds
        # the usual one: Dask says so in a warning that is no news to the instructor.
        warnings.filterwarnings("ignore", "Port .* is already in use", UserWarning)
        cluster = LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
    with cluster, Client(cluster) as client:
        yield client


class SchedulerLost(Exception):
    """The Dask scheduler went away mid-run; grades merged so far are kept."""


def grade(layout, todo, client, quiet=False, then=None):
    """Grade every (assignment, student) of todo on the client's workers.

    Returns {(assignment, student): nbgrader's log} of those nbgrader could not grade. Raises
    SchedulerLost if the scheduler went away (the next run grades whoever is left). With then,
    then(assignment, student, that log or None) runs for each as soon as its grades are in the
    gradebook (./course watch returns feedback then, not after the last submission)."""
    from distributed import as_completed
    from tqdm import tqdm
    run = uuid.uuid4().hex[:8]                  # not another coordinator's tasks or snapshot
    shared = str(snapshot(layout, run)) if merging(layout) else None
    futures = {client.submit(grade_one, str(layout.root), a, s, shared, key=f"autograde-{a}-{s}-{run}"): (a, s)
               for a, s in todo}
    failed, bar = {}, tqdm(total=len(futures), unit="submission", desc="grading", disable=quiet, dynamic_ncols=True)
    try:
        for batch in as_completed(futures).batches():       # what finished meanwhile: one gradebook write
            results = [(*futures[future], _result(future)) for future in batch]
            rows = [(a, s, result["rows"]) for a, s, result in results if result.get("rows")]
            if rows:
                merge(layout.db_url, rows)
            for a, s, result in results:
                if not result["success"]:
                    failed[a, s] = result.get("log", "") + result.get("error", "")
                if then:
                    then(a, s, failed.get((a, s)))
            bar.update(len(results))
            bar.set_postfix(failed=len(failed))
    except (OSError, TimeoutError) as e:
        raise SchedulerLost(f"lost the Dask scheduler after {bar.n} of {len(futures)} submissions ({e})") from None
    finally:
        bar.close()
        for future in futures:
            future.release()
        if shared:
            Path(shared).unlink(missing_ok=True)
    return failed


def _result(future):
    """nbgrader's result of a task, or a failure saying why the task itself failed (e.g. its worker
    died three times: distributed.KilledWorker)."""
    from distributed.client import FutureCancelledError
    try:
        return future.result()
    except FutureCancelledError as e:
        raise OSError(str(e).splitlines()[0]) from None       # "... cancelled for reason: scheduler-connection-lost."
    except Exception as e:
        return {"success": False, "error": f"the task failed on its worker: {type(e).__name__}: {e}\n"}
