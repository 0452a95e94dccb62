"""./course feedback and ./course return, one student at a time: a bad submission costs only itself.

    ./course feedback [ASSIGNMENT...]   feedback HTML in <feedback>/<student>/<assignment>/
    ./course return [ASSIGNMENT...]     that feedback -> nbgrader's exchange (Fetch Feedback)

(./course watch uses give_back).
Each student goes through nbgrader's own generate_feedback or release_feedback (NbGraderAPI, with
the student's id), so a submission whose graded notebook is missing, or that did not come through
the exchange (no submission_secret.txt: an LMS zip, a file put by hand), is skipped; everyone else
gets their feedback, and the skipped are named at the end, one line each with the reason.

Exit status: 0 if feedback was written (or returned) for anyone, 1 if for no one at all, 2 for a
bad argument (instructor/commands/cli.py and instructor/commands/arguments.py, as for any other command).
"""
import functools

from ..model.layout import course_config, exchange

DONE = {"feedback": "feedback written for", "return": "feedback returned to the exchange for"}


def nbgrader_api(layout):
    """nbgrader's own operations (collect, generate_feedback, release_feedback) on this course."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    config = course_config(layout.root)
    config.CourseDirectory.root = str(layout.root)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def one_student(step):
    """step, an unexpected error of which (a file it cannot read, ...) is that student's reason, not fatal."""
    @functools.wraps(step)
    def guarded(api, layout, assignment, student):
        try:
            return step(api, layout, assignment, student)
        except Exception as e:
            return f"{type(e).__name__}: {e}"
    return guarded


@one_student
def generate(api, layout, assignment, student):
    """Write student's feedback HTML for assignment. Returns why it could not be, or None."""
    if why := not_graded(layout, assignment, student):
        return why
    result = api.generate_feedback(assignment, student)
    if not result["success"] or not layout.feedback_html(student, assignment).is_file():
        return f"nbgrader generate_feedback failed: {last_line(result)}"
    return None


def not_graded(layout, assignment, student):
    """Why student's assignment has no graded notebook to write feedback from, or None."""
    graded = layout.autograded_notebook(student, assignment)
    if graded.is_file():
        return None
    return (f"no graded notebook ({graded.relative_to(layout.root)}): its grading failed or has not run "
            f"(./course autograde {assignment} says which)")


@one_student
def release(api, layout, assignment, student):
    """Put student's feedback where their Fetch Feedback finds it. Returns why it could not be, or None."""
    html = layout.feedback_html(student, assignment)
    if not html.is_file():
        return not_graded(layout, assignment, student) or f"no feedback to return: ./course feedback {assignment} first"
    if not (html.parent / "submission_secret.txt").is_file():
        # nbgrader files released feedback under a hash of the secret the exchange gave the submission.
        return ("no submission_secret.txt: this submission did not come through the exchange (an LMS zip "
                "or a file put by hand), so the student cannot fetch its feedback; grade their exchange "
                f"submission (./course regrade {assignment} {student}) or hand them {html.relative_to(layout.root)}")
    if not (html.parent / "timestamp.txt").is_file():
        return f"no timestamp.txt beside {html.relative_to(layout.root)}: nbgrader cannot release it"
    result = api.release_feedback(assignment, student)
    if not result["success"] or not released(layout, html).is_file():
        return f"nbgrader release_feedback failed: {last_line(result)}"
    return None


def released(layout, html):
    """Where nbgrader's exchange keeps the returned copy of a feedback page."""
    from nbgrader.utils import notebook_hash
    course_id, root = exchange(layout.root)
    secret = (html.parent / "submission_secret.txt").read_text()
    return root / course_id / "feedback" / f"{notebook_hash(secret=secret, notebook_id=html.stem)}.html"


def give_back(api, layout, assignment, student):
    """Generate and return one student's feedback (./course watch). Returns why not, or None."""
    return generate(api, layout, assignment, student) or release(api, layout, assignment, student)


def last_line(result):
    """The last line nbgrader wrote about a failed operation (its traceback's error, or its log)."""
    lines = (result.get("error") or result.get("log") or "").strip().splitlines()
    return lines[-1] if lines else "no message"


def students(layout, assignment):
    """Everyone with a submission, a graded copy or feedback for assignment."""
    found = {p.parent.name for step in (layout.submitted, layout.autograded, layout.feedback)
             for p in step.glob(f"*/{assignment}") if p.is_dir()}
    return sorted(found)


def run(layout, command, assignments, say=print):
    """./course feedback|return for assignments; returns (done, skipped): [(student, assignment)] and
    [(student, assignment, why)]."""
    step = {"feedback": generate, "return": release}[command]
    api, done, skipped = nbgrader_api(layout), [], []
    for assignment in assignments:
        everyone = students(layout, assignment)
        for student in everyone:
            why = step(api, layout, assignment, student)
            if why:
                skipped.append((student, assignment, why))
            else:
                done.append((student, assignment))
        count = sum(a == assignment for _, a in done)
        say(f"{assignment}: {DONE[command]} {count} of {len(everyone)} students")
    return done, skipped
