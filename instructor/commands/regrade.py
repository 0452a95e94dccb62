"""Grade one student's submission again: ./course regrade ASSIGNMENT STUDENT.

    ./course regrade ASSIGNMENT STUDENT

For when what was collected is not what the student handed in (a forgery collected before the
exchange refused them, since removed): nbgrader's collect --update never takes a submission older
than the one collected, and autograde skips a student already graded. Here, after the grading
canary passed: the student's latest acceptable submission is collected from the exchange
(instructor/pipeline/exchange.py), whatever its time; what was graded of the old one is dropped (its
autograded folder, kept original, feedback, and its gradebook submission, hand-given points
included); it is graded as ./course autograde grades (repairs, sandbox; nbgrader autograde
--student); and its feedback is generated and released to the exchange.
"""
import logging
import shutil
import sys

from ..model.gradebook import grades
from ..model.layout import course_config
from ..pipeline import canary
from ..pipeline.exchange import GuardedCollect
from ..pipeline.grade import autograde, register
from . import feedback
from .watch import Key, Returned, nbgrader_api


def collect(layout, assignment, student):
    """Collect student's latest acceptable submission of assignment in place of the one collected,
    printing nbgrader's lines; returns how many were collected (0 or 1)."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeError
    config = course_config(layout.root)
    config.CourseDirectory.root = str(layout.root)
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id, coursedir.student_id = assignment, student
    log = logging.getLogger("regrade")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    collector = GuardedCollect(coursedir=coursedir, authenticator=Authenticator(config=config), config=config,
                               log=log, replace=True)
    try:
        collector.start()
    except ExchangeError:
        return 0
    return collector.copied


def drop(layout, assignment, student):
    """Forget what was graded of student's previous submission of assignment."""
    from nbgrader.api import Gradebook, MissingEntry
    for step in (layout.autograded, layout.originals, layout.feedback):
        shutil.rmtree(step / student / assignment, ignore_errors=True)
    with Gradebook(layout.db_url) as gb:
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass


def give_back(layout, assignment, student):
    """Generate and release student's feedback (as ./course feedback and return do); returns why not, or None."""
    failure = feedback.give_back(nbgrader_api(layout), layout, assignment, student)
    if failure is None:
        Returned(layout).add(Key(layout, student, assignment))    # ./course watch need not return it again
    return failure


def regrade(layout, assignment, student):
    problem = register(layout, assignment)
    if problem:
        return refuse(f"{assignment} is not in the gradebook and could not be added: {problem}")
    try:
        canary.check(layout, assignment)
    except canary.CanaryFailed as e:
        return refuse(f"refusing to grade: {e}")
    if not collect(layout, assignment, student):
        return refuse(f"nothing of {student}'s {assignment} in the exchange can be collected "
                      f"(refusals: {layout.refused_log.relative_to(layout.root)}); nothing was changed")
    drop(layout, assignment, student)
    result, repairs = autograde(layout.root, assignment, f"--student={student}")
    if result.returncode:
        sys.stderr.write(result.stderr)
    for problem in repairs.get(student, []):
        print(f"repaired {student}: {problem}")
    g = grades(layout, assignment).get((student, assignment))
    if g is None or g.missing:
        print(f"regraded {student} {assignment}: NOT GRADED (nbgrader's log above)")
        return 1
    failure = give_back(layout, assignment, student)
    by_hand = f" ({g.by_hand:g} points to grade by hand: ./course formgrader)" if g.by_hand else ""
    print(f"regraded {student} {assignment}: {g.score:.1f} / {g.max_score:g}{by_hand}, "
          + (f"feedback NOT returned: {failure}" if failure else "feedback returned"))
    return int(bool(failure))


def refuse(message):
    print(f"./course regrade: {message}", file=sys.stderr)
    return 2
