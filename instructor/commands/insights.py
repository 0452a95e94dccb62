"""Class insights: what a class got wrong, by cause, and which submissions look alike.

    ./course insights [ASSIGNMENT...] [--anonymous] [--threshold 0.6]
    python -m instructor insights [ASSIGNMENT...] [--anonymous] [--threshold 0.6]   (in the course root)

For each autograded assignment (default: all of them) writes, into the instructor's private
<grading>/insights/ folder (mode 0700, files 0600; never the exchange):

- <assignment>.html, one self-contained page (its plots are PNGs embedded in it: no network needed);
- <assignment>.json, the same figures for other tools.

Everything comes from the gradebook (nbgrader's Gradebook API: scores, timestamps, the due date,
late penalties; sqlite or PostgreSQL alike), the autograded notebooks (the checks' messages: each
failed test prints "Likely cause: ..." lines when the checks recognise the mistake, see
rnnlib/grading/core.py fail) and the submitted notebooks' answer cells (for similar submissions).
It reads what grading left, so a class graded serially or on Dask workers gives the same page.

"Passed only after resubmitting" needs the earlier attempts' results, which the gradebook replaces
with the latest: each run records the results of the attempt it sees in <grading>/insights/
attempts.json. ./course watch runs this after every round, so every graded attempt is recorded.

--anonymous writes <assignment>-anonymous.html/.json with students as "student 01", ... and no
links to their feedback, for sharing with colleagues.
"""
import base64
import hashlib
import io
import json
import os
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path

import nbformat


DEFAULT_THRESHOLD = 0.6
CAUSE = "Likely cause: "          # how the checks start a cause hint (rnnlib/grading/core.py fail)
# Fingerprints (copydetect's): hashes of the K-character runs of the normalised code. Every run is
# kept (a window of 1): answers here are a few short functions, and winnowing's pick of one run per
# window follows Python's string hashes, which change from process to process, so a pair's score
# would too. K is smaller than copydetect's default (25): a line of normalised code is about that long.
K, WINDOW = 12, 1
# A fingerprint found in more than this share of submissions is how everyone writes it (the
# canonical one-liner), not something two students share: it is left out, as the boilerplate is.
COMMON_SHARE = 0.1
MIN_FINGERPRINTS = 5     # fewer of a student's own than this: too little code to compare


@dataclass
class Submission:
    student: str
    score: float
    max_score: float
    penalty: float
    timestamp: datetime | None
    seconds_late: float
    cells: dict                                       # {grade_id: points}
    failures: dict = field(default_factory=dict)      # {test grade_id: (causes, signature or None)}
    code: str = ""                                    # the answer cells, as handed in
    answered: set = field(default_factory=set)        # answer cells changed from the released notebook
    feedback: str | None = None                       # the feedback page, relative to the insights page


# --- reading what grading left --------------------------------------------------------------

def read_gradebook(layout, assignment):
    """(due date, {grade_id: max points} of the test cells, {student: Submission}) from nbgrader's
    Gradebook API, whichever database the course's config names."""
    from nbgrader.api import Gradebook
    from ..model.gradebook import grades
    graded = grades(layout, assignment)
    with Gradebook(layout.db_url) as gb:
        a = gb.find_assignment(assignment)
        tests = {cell.name: cell.max_score for nb in a.notebooks for cell in nb.grade_cells
                 if cell.cell_type == "code"}
        timing = {sub.student.id: (sub.timestamp, sub.total_seconds_late) for sub in a.submissions}
        due = a.duedate
    subs = {}
    for (student, _), g in sorted(graded.items()):
        timestamp, late = timing.get(student, (None, 0.0))
        subs[student] = Submission(student, g.score, g.max_score, g.penalty, timestamp, late or 0.0, g.cells)
    return due, tests, subs


def error_outputs(notebook_path):
    """{grade_id: error output or None} of the graded test cells of an autograded notebook."""
    nb = nbformat.read(notebook_path, as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            out[meta["grade_id"]] = next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)
    return out


def diagnose(error):
    """(causes, signature) of a failed test's error output. causes: the checks' "Likely cause"
    sentences; signature: for a failure without any, what was wrong and how, with the numbers taken
    out, so that the same mistake in two submissions reads the same."""
    if error is None:
        return [], "no error shown (the cell's kernel died or was interrupted, or its output was cut)"
    lines = error.get("evalue", "").splitlines() or [""]
    causes = [line.strip().removeprefix(CAUSE) for line in lines if line.strip().startswith(CAUSE)]
    if causes:
        return causes, None
    if error.get("ename") != "GradingFailure":
        return [], _without_numbers(f"{error.get('ename')}: {lines[0]}")
    problems = [line.strip() for line in lines[1:]] or [lines[0]]
    return [], "; ".join(dict.fromkeys(_without_numbers(_what_went_wrong(p)) for p in problems))


def _what_went_wrong(problem):
    """"out: relative error 3.3e-01 > tolerance 1e-07; worst at ..." -> "out: wrong values"."""
    what, sep, _ = problem.partition(": relative error")
    return f"{what}: wrong values" if sep else problem


def _without_numbers(text):
    """Every number "#" (not the digits inside a name: CS231n stays)."""
    return re.sub(r"(?<![\w.])-?\d+(\.\d+)?(e[-+]?\d+)?(?![\w.])", "#", text)


def answer_cells(notebook_path):
    """{grade_id: source} of a notebook's code answer cells (what a student wrote, or the stub the
    released notebook put there)."""
    nb = nbformat.read(notebook_path, as_version=4)
    return {c.metadata.nbgrader["grade_id"]: c.source for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def read_class(layout, assignment):
    """Everything the page shows, read from the gradebook and the notebooks."""
    due, tests, subs = read_gradebook(layout, assignment)
    released = answer_cells(layout.release_notebook(assignment))
    for student, sub in subs.items():
        graded = layout.autograded_notebook(student, assignment)
        outputs = error_outputs(graded) if graded.exists() else {}
        for test, points in tests.items():
            if sub.cells.get(test, 0.0) < points:
                sub.failures[test] = diagnose(outputs.get(test))
        handed_in = layout.submitted_notebook(student, assignment)
        try:
            answers = answer_cells(handed_in)
        except Exception:           # not a notebook (intake says so when grading): nothing to compare
            answers = {}
        sub.code = "\n\n".join(answers.values())
        sub.answered = {cell for cell, source in answers.items() if source.strip() != released.get(cell, "").strip()}
        page = layout.feedback_html(student, assignment)
        sub.feedback = os.path.relpath(page, layout.insights) if page.exists() else None
    return due, tests, subs


# --- the figures ----------------------------------------------------------------------------

def exercise_table(tests, subs, history):
    """Per test cell: submitted (its answer cell changed from the released stub), passed, mean
    points, passed only after resubmitting, discrimination (the correlation of its points with
    those of the assignment's other autograded tests)."""
    rows = []
    totals = {s: sum(sub.cells.get(t, 0.0) for t in tests) for s, sub in subs.items()}
    for test, points in tests.items():
        passed = [s for s, sub in subs.items() if test not in sub.failures]
        scores = [subs[s].cells.get(test, 0.0) for s in subs]
        rest = [totals[s] - subs[s].cells.get(test, 0.0) for s in subs]
        exercise = test.removeprefix("test_")
        rows.append({"test": test, "exercise": exercise, "points": points,
                     "submitted": sum(exercise in sub.answered for sub in subs.values()), "passed": len(passed),
                     "mean_points": round(sum(scores) / len(scores), 3) if scores else None,
                     "passed_after_resubmitting": sorted(s for s in passed if _failed_before(history, s, test)),
                     "discrimination": _correlation(scores, rest)})
    return rows


def _correlation(xs, ys):
    """Pearson's r, or None when either side does not vary (nothing to correlate)."""
    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return round(statistics.correlation(xs, ys), 3)


def _failed_before(history, student, test):
    attempts = history.get(student, {})
    latest = max(attempts, default=None)
    return any(test not in passed for stamp, passed in attempts.items() if stamp != latest)


def grouped(subs, key):
    """[{exercise, <key>, count, students}] of the failures, most common first. key(causes,
    signature) -> the groups one failure belongs to."""
    groups = {}
    for student, sub in subs.items():
        for test, (causes, signature) in sub.failures.items():
            for what in key(causes, signature):
                groups.setdefault((test.removeprefix("test_"), what), set()).add(student)
    return [{"exercise": exercise, "what": what, "count": len(students), "students": sorted(students)}
            for (exercise, what), students in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]


def timing(due, subs):
    rows = []
    for student, sub in sorted(subs.items(), key=lambda kv: (kv[1].timestamp is None, kv[1].timestamp or 0)):
        hours = (sub.timestamp - due).total_seconds() / 3600 if due and sub.timestamp else None
        rows.append({"student": student, "timestamp": sub.timestamp.isoformat() if sub.timestamp else None,
                     "hours_after_due": round(hours, 3) if hours is not None else None,
                     "late": sub.seconds_late > 0, "seconds_late": sub.seconds_late, "penalty": sub.penalty})
    return rows


# --- similar submissions --------------------------------------------------------------------

def fingerprints(code, boilerplate=()):
    """copydetect's fingerprint of Python code: names, strings and whitespace normalised
    (its filter), the boilerplate's hashes left out."""
    from copydetect import CodeFingerprint
    return CodeFingerprint("answer.py", K, WINDOW, boilerplate=list(boilerplate), language="python",
                           fp=io.StringIO(code))


def similar_pairs(subs, released_code, threshold):
    """Pairs of submissions whose own code (fingerprints neither in the released notebook nor common
    to the class) is mostly shared: {threshold, compared, pairs: [...], scores: every pair's score}.

    A pair's score is the share of the smaller side's own fingerprints found in the other's; the
    shared passages (copydetect's compare_files) are kept for showing them side by side."""
    from copydetect import compare_files
    boilerplate = fingerprints(released_code).hashes
    first = {s: fingerprints(sub.code, boilerplate) for s, sub in subs.items() if sub.code.strip()}
    seen_in = Counter(h for fp in first.values() for h in fp.hashes)
    common = {h for h, n in seen_in.items() if n > max(2, COMMON_SHARE * len(first))}
    own = {s: fp.hashes - common for s, fp in first.items()}
    comparable = sorted(s for s, hashes in own.items() if len(hashes) >= MIN_FINGERPRINTS)
    pairs, scores = [], []
    for a, b in combinations(comparable, 2):
        shared = len(own[a] & own[b])
        score = shared / min(len(own[a]), len(own[b]))
        scores.append(round(score, 3))
        if score >= threshold:
            fa = fingerprints(subs[a].code, boilerplate | common)
            fb = fingerprints(subs[b].code, boilerplate | common)
            _, _, (slices_a, slices_b) = compare_files(fa, fb)
            pairs.append({"students": [a, b], "score": round(score, 3), "shared_fingerprints": shared,
                          "code": [_marked(subs[a].code, slices_a), _marked(subs[b].code, slices_b)]})
    pairs.sort(key=lambda p: -p["score"])
    return {"threshold": threshold, "compared": len(comparable), "pairs": pairs, "scores": scores}


def _marked(code, slices):
    """[(text, shared?)] runs of code, the shared passages marked."""
    runs, at = [], 0
    for start, end in sorted(zip(*slices)) if len(slices) else []:
        start, end = max(int(start), at), int(end)
        if start > at:
            runs.append((code[at:start], False))
        if end > start:
            runs.append((code[start:end], True))
        at = max(at, end)
    runs.append((code[at:], False))
    return [r for r in runs if r[0]]


# --- attempts: what each graded attempt passed ----------------------------------------------

def record_attempts(path, assignment, tests, subs):
    """Add the current attempts' passed tests to path; returns {student: {timestamp: [passed]}}."""
    record = json.loads(path.read_text()) if path.exists() else {}
    mine = record.setdefault(assignment, {})
    for student, sub in subs.items():
        stamp = sub.timestamp.isoformat() if sub.timestamp else "unknown"
        mine.setdefault(student, {})[stamp] = sorted(t for t in tests if t not in sub.failures)
    _write_private(path, json.dumps(record, indent=1, sort_keys=True))
    return mine


# --- the page -------------------------------------------------------------------------------

def figures(layout, assignment, threshold=DEFAULT_THRESHOLD):
    """Every figure of an assignment's page, as a JSON-able dict (students by their ids)."""
    due, tests, subs = read_class(layout, assignment)
    history = record_attempts(layout.insights / "attempts.json", assignment, tests, subs)
    released = "\n\n".join(answer_cells(layout.release_notebook(assignment)).values())
    return {
        "assignment": assignment,
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "due": due.isoformat() if due else None,
        "submissions": len(subs),
        "scores": {s: {"score": sub.score, "max_score": sub.max_score, "penalty": sub.penalty}
                   for s, sub in subs.items()},
        "exercises": exercise_table(tests, subs, history),
        "causes": grouped(subs, lambda causes, _: causes),
        "unexplained": grouped(subs, lambda _, signature: [signature] if signature else []),
        "timing": timing(due, subs),
        "similar": similar_pairs(subs, released, threshold),
        "feedback": {s: sub.feedback for s, sub in subs.items()},
    }


def anonymised(data):
    """The same figures with every student id replaced by "student NN" (numbered in an order that
    says nothing about the id) and no links to feedback (its path names the student)."""
    ids = sorted(data["scores"], key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    names = {s: f"student {i + 1:0{len(str(len(ids)))}d}" for i, s in enumerate(ids)}
    text = json.dumps(data)
    for student in sorted(names, key=len, reverse=True):     # "ann" inside "anna" must not be hit first
        text = text.replace(json.dumps(student), json.dumps(names[student]))
    out = json.loads(text)
    out["feedback"] = {}
    out["anonymous"] = True
    return out


def plots(data):
    """{name: PNG as a data: URL} for the page."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out = {}

    def keep(name, fig):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        out[name] = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()

    scores = [v["score"] for v in data["scores"].values()]
    top = max((v["max_score"] for v in data["scores"].values()), default=1)
    fig, ax = plt.subplots(figsize=(5, 2.6))
    ax.hist(scores, bins=min(20, max(5, int(top) + 1)), range=(0, top), color="#4c72b0")
    ax.set(xlabel="score (points, after late penalties)", ylabel="students", title="Score distribution")
    keep("scores", fig)

    ex = data["exercises"]
    fig, ax = plt.subplots(figsize=(5, 0.5 + 0.45 * len(ex)))
    names = [e["exercise"] for e in ex][::-1]
    ax.barh(names, [e["passed"] / data["submissions"] if data["submissions"] else 0 for e in ex][::-1],
            color="#55a868")
    ax.set(xlim=(0, 1), xlabel="share of the submissions that passed", title="Passed, per exercise")
    keep("passed", fig)

    fig, ax = plt.subplots(figsize=(5, 0.5 + 0.45 * len(ex)))
    ax.barh(names, [e["discrimination"] or 0 for e in ex][::-1], color="#8172b2")
    ax.axvline(0, color="black", lw=0.8)
    ax.set(xlim=(-1, 1), xlabel="correlation with the rest of the assignment", title="Discrimination")
    keep("discrimination", fig)

    hours = [t["hours_after_due"] for t in data["timing"] if t["hours_after_due"] is not None]
    fig, ax = plt.subplots(figsize=(5, 2.6))
    if hours:
        ax.hist(hours, bins=20, color="#c44e52")
        ax.axvline(0, color="black", ls="--", label="due")
        ax.legend()
    ax.set(xlabel="hours after the due date" if hours else "no due date set", ylabel="submissions",
           title="Submission times")
    keep("timing", fig)

    similar = data["similar"]
    fig, ax = plt.subplots(figsize=(5, 2.6))
    ax.hist(similar["scores"], bins=20, range=(0, 1), color="#937860", log=True)
    ax.axvline(similar["threshold"], color="black", ls="--", label="threshold")
    ax.legend()
    ax.set(xlabel="share of own code in common", ylabel="pairs", title="Similarity of every pair")
    keep("similarity", fig)
    return out


def render(data):
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True)
    return env.get_template("insights.html.j2").render(data=data, plots=plots(data))


def _write_private(path, text):
    """Write text to path, readable by its owner only (the page names students and their grades)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    new = path.with_name(path.name + ".new")
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(new, 0o600)
    new.replace(path)


def write(layout, assignment, anonymous=False, threshold=DEFAULT_THRESHOLD):
    """Write the page and the JSON of one assignment; returns (html path, figures)."""
    data = figures(layout, assignment, threshold)
    stem = f"{assignment}-anonymous" if anonymous else assignment
    if anonymous:
        data = anonymised(data)
    _write_private(layout.insights / f"{stem}.json", json.dumps(data, indent=1))
    page = layout.insights / f"{stem}.html"
    _write_private(page, render(data))
    return page, data


def after_grading(layout, assignments, log=print):
    """./course watch, after each round: the pages of the assignments it graded. Never stops grading."""
    for assignment in assignments:
        try:
            write(layout, assignment)
        except Exception as e:        # a page is a convenience; grading and feedback go on
            log(f"./course watch: insights for {assignment} not written: {type(e).__name__}: {e}")
