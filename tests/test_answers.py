"""Answers follow the term: an open lesson's code never reaches students, its visible tests still work.

While lesson 03 is handed out and not closed, the student edition holds lesson 03's and every later
lesson's references as stubs: their source is the stub, a call with any input a check does not use
raises the stub's message, and yet the lesson, answered right, runs top to bottom against it (so
Validate passes) and wrong answers get the very messages the full rnnlib gives. After ./course
close (or the due date plus the late allowance), the edition has lesson 03's code. Which lessons
are open is derived from the exchange and the gradebook, never from a setting.
"""
import importlib.util
import inspect
import json
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT
from instructor.commands import hub
from instructor.commands.publish import edition
from instructor.model import answers
from instructor.model.layout import Layout, notebook_path
from instructor.pipeline.grade import make_course
from instructor.pipeline.submissions import make_submission
from rnnlib.grading import LESSONS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("answers")]   # kernels run the lessons: about 2 minutes

LATER_THAN_02 = [lesson for lesson in LESSONS if lesson.assignment >= "03"]
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """Lessons 01-03 released in a course of their own (read only: copy it to change it)."""
    return make_course(tmp_path_factory.mktemp("released"), ["01_forward_pass", "02_softmax_stability", "03_bptt"])


@pytest.fixture
def term(released, tmp_path):
    """A copy of the released course with an exchange of its own, nothing handed out yet, and no
    late allowance (answers out at the due date)."""
    course = shutil.copytree(released, tmp_path / "course", symlinks=True)
    config = course / "nbgrader_config.py"
    text = re.sub(r'(?m)^c\.Exchange\.root = .*$', f'c.Exchange.root = "{tmp_path / "exchange"}"', config.read_text())
    config.write_text(re.sub(r'(?m)^c\.Answers\.late_allowance_hours = .*$', 'c.Answers.late_allowance_hours = 0', text))
    return Layout(course)


def hand_out(layout, assignment):
    course_id, root = answers.exchange(layout.root)
    (root / course_id / "outbound" / assignment).mkdir(parents=True, exist_ok=True)


def set_due(layout, assignment, due):
    from nbgrader.api import Gradebook
    with Gradebook(layout.db_url) as gb:
        gb.update_or_create_assignment(assignment, duedate=due.replace(tzinfo=None))


def test_the_plan_follows_hand_out_due_dates_and_close(term, tmp_path):
    assert answers.plan(term, NOW) == ([], [])                   # nothing handed out: no lesson at all
    hand_out(term, "03_bptt")
    all3 = ["01_forward_pass", "02_softmax_stability", "03_bptt"]
    assert answers.plan(term, NOW) == (all3, ["03_bptt"])        # no due date: open until closed
    hand_out(term, "02_softmax_stability")
    set_due(term, "02_softmax_stability", NOW + timedelta(hours=1))
    assert answers.plan(term, NOW) == (all3, ["02_softmax_stability", "03_bptt"])
    assert answers.plan(term, NOW + timedelta(hours=2)) == (all3, ["03_bptt"])   # its due date passed
    config = term.root / "nbgrader_config.py"
    config.write_text(config.read_text().replace("late_allowance_hours = 0", "late_allowance_hours = 48"))
    # late work is taken for two more days: still open
    assert answers.plan(term, NOW + timedelta(hours=2)) == (all3, ["02_softmax_stability", "03_bptt"])
    assert answers.plan(term, NOW + timedelta(hours=50)) == (all3, ["03_bptt"])
    answers.close(term, "03_bptt", NOW)
    assert answers.plan(term, NOW) == (all3, ["02_softmax_stability"])
    assert "03_bptt: closed" in answers.describe(term, NOW)


@pytest.fixture(scope="module")
def open_edition(released, tmp_path_factory):
    folder = tmp_path_factory.mktemp("edition") / "open"
    edition(Layout(released), folder, ["01_forward_pass", "02_softmax_stability", "03_bptt"], ["03_bptt"])
    return folder


def in_edition(folder, code):
    """Run code in a fresh Python whose rnnlib is the edition's; returns stdout (fails on an error)."""
    done = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(folder)!r})\n{code}"],
                          cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def references_source(folder, lessons):
    """{reference: (its source, what calling it with no recorded input raises)} in the edition."""
    refs = [ref for lesson in lessons for ref in lesson.unpublished if not ref.startswith("grading.")]
    code = f"""
import inspect, json, rnnlib
from rnnlib.grading.core import resolve
assert rnnlib.__file__.startswith({str(folder)!r}), rnnlib.__file__
out = {{}}
for ref in {refs!r}:
    fn = resolve(ref)
    try:
        fn(*[None] * (len(inspect.signature(fn).parameters)))
        raised = None
    except Exception as e:
        raised = str(e)
    out[ref] = (inspect.getsource(fn), raised)
print(json.dumps(out))
"""
    return json.loads(in_edition(folder, code))


def test_no_code_of_lesson_03_or_later_only_the_stubs(open_edition):
    found = references_source(open_edition, LATER_THAN_02)
    assert len(found) > 30
    for ref, (source, raised) in found.items():
        body = [line for line in source.splitlines() if line.strip() and not line.strip().startswith(('"', "'"))]
        stub = body[-1].strip()
        assert stub.startswith(("raise RuntimeError(", "return __import__('rnnlib.recorded')")), (ref, source)
        assert re.search(r"comes with lesson|is open: its code comes with the course once the lesson closes", raised), \
            (ref, raised)
    bptt = found["rnn:rnn_backward"]
    assert "lesson 03_bptt, which is open" in bptt[1] and "backward_steps(da, hs, Wh)" not in bptt[0]


def test_no_later_lesson_material_either(open_edition):
    found = references_source(open_edition, [lesson for lesson in LESSONS if lesson.assignment >= "07"])
    assert {"lstm:TimeLSTM.forward", "lstm:TimeLSTM.backward", "bidirectional:bidirectional_forward",
            "seq2seq:Seq2Seq.forward"} <= set(found)
    assert "comes with lesson 07_lstm" in found["lstm:TimeLSTM.forward"][1]
    assert "comes with lesson 08_seq2seq_attention" in found["seq2seq:Seq2Seq.forward"][1]


def test_the_open_lesson_answered_right_runs_top_to_bottom(released, open_edition, monkeypatch, tmp_path):
    release = nbformat.read(open_edition / "notebooks" / "03_bptt" / "bptt.ipynb", as_version=4)
    nb = make_submission(release, nbformat.read(notebook_path(Layout(released).source, "03_bptt"), as_version=4))
    nb.cells.append(nbformat.v4.new_code_cell(f"import rnnlib\nassert rnnlib.__file__.startswith({str(open_edition)!r})"))
    monkeypatch.setenv("PYTHONPATH", str(open_edition))
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()


def test_wrong_answers_get_the_full_rnnlib_s_messages(open_edition):
    """Generated wrong answers (benchmarks/feedback_mutants.py), a seeded sample per exercise: the
    message in the edition equals the one the full rnnlib gives, hints included."""
    script = f"""
import importlib.util, json, random, sys
edition = sys.argv[1] if len(sys.argv) > 1 else None
if edition:
    sys.path.insert(0, edition)
import rnnlib      # before the harness, which puts the course first on the path
assert (edition or {str(ROOT)!r}) in rnnlib.__file__, rnnlib.__file__
spec = importlib.util.spec_from_file_location("fm", {str(ROOT / "benchmarks" / "feedback_mutants.py")!r})
fm = importlib.util.module_from_spec(spec); spec.loader.exec_module(fm)
out = {{}}
for e in fm.exercises(["03"]):
    found = fm.mutants(e)
    sample = random.Random(0).sample(found, min(6, len(found)))
    for m in sample:
        out[e.name + ": " + m.label] = fm.run_calls(e, m.source, e.visible)
print(json.dumps(out))
"""
    def messages(*edition):
        done = subprocess.run([sys.executable, "-c", script, *edition], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)
    full, ours = messages(), messages(str(open_edition))
    failing = [k for k, message in full.items() if message]
    assert len(failing) >= 20
    assert {k: ours[k] for k in full} == full


def test_after_close_the_edition_has_the_lesson_s_code(released, tmp_path):
    folder = tmp_path / "closed"
    edition(Layout(released), folder, ["01_forward_pass", "02_softmax_stability", "03_bptt"], [])
    found = references_source(folder, [LESSONS[2]])
    assert inspect.getsource(sys.modules["rnnlib.rnn"].rnn_backward) == found["rnn:rnn_backward"][0]
    assert "comes with lesson 04_vanishing_gradients" in references_source(folder, [LESSONS[3]])[
        "gradflow:jacobian_norms"][1]


def test_the_hub_s_edition_is_swapped_in_one_step(term, tmp_path, monkeypatch):
    settings = {"state": str(tmp_path / "state")}
    hand_out(term, "03_bptt")
    assert hub.refresh_edition(term.root, settings) is None           # no student environment here
    hub.student_env(settings["state"]).mkdir(parents=True)
    link = hub.edition_link(settings["state"])
    assert "03_bptt: open, results only" in hub.refresh_edition(term.root, settings)
    first = link.resolve()
    assert link.is_symlink() and (first / "rnnlib" / "recorded.pickle").exists()
    assert hub.refresh_edition(term.root, settings) is None           # nothing changed: nothing done
    set_due(term, "03_bptt", NOW)
    monkeypatch.setattr(answers, "_now", lambda: NOW + timedelta(minutes=1))   # the due date passed
    assert "03_bptt: closed" in hub.refresh_edition(term.root, settings)
    assert link.resolve() != first and not first.exists()
    assert not (link.resolve() / "rnnlib" / "recorded.pickle").exists()   # nothing open: only code
