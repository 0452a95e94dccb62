"""The parts of ./course insights that need no graded class: reading a failed test's message, the
similarity of code, anonymising (the whole page on a graded class: tests/test_insights.py)."""
import json
import os
import random
import subprocess
import sys

import numpy as np  # noqa: F401  (the students' functions below use it)

import insights_class as ic
from conftest import ROOT, as_student
from instructor.commands import insights
from instructor.model.layout import Layout
from rnnlib.grading import GradingFailure, check_rnn_step_forward


def error_output(check, fn):
    """What the notebook's error output holds when check(fn) fails in a test cell."""
    try:
        check(fn)
    except GradingFailure as e:
        return {"output_type": "error", "ename": "GradingFailure", "evalue": str(e)}
    raise AssertionError("the check passed")


def test_a_cause_hint_is_read_from_the_checks_message():
    def rnn_step_forward(x, prev_h, Wx, Wh, b):
        next_h = np.tanh(x @ Wx + prev_h @ Wh)
        return next_h, (x, prev_h, Wx, Wh, b, next_h)
    causes, signature = insights.diagnose(error_output(check_rnn_step_forward, as_student(rnn_step_forward)))
    assert causes == ["the bias b is missing."] and signature is None


def test_a_failure_without_a_hint_gets_a_signature_without_its_numbers():
    def rnn_step_forward(x, prev_h, Wx, Wh, b):
        next_h = np.tanh(x @ Wx + prev_h @ Wh + b) + 0.1     # a mistake the checks do not name
        return next_h, (x, prev_h, Wx, Wh, b, next_h)
    causes, signature = insights.diagnose(error_output(check_rnn_step_forward, as_student(rnn_step_forward)))
    assert causes == [] and signature == "next_h (CS231n's published test values): wrong values"
    assert insights.diagnose({"ename": "NameError", "evalue": "name 'h2' is not defined"}) == \
        ([], "NameError: name 'h2' is not defined")
    assert insights.diagnose(None)[1].startswith("no error shown")


def similar_class():
    """The similarity figures of a seeded class: a copied pair, twelve honest, two blank."""
    layout = Layout(ROOT)
    released = insights.answer_cells(layout.release_notebook(ic.A))
    rng = random.Random(1)
    code = {"orig": ic.original(released), "copy": ic.copied(released),
            **{f"h{i}": ic.answers(released, "honest", rng) for i in range(12)},
            "blank1": released, "blank2": released}
    subs = {s: insights.Submission(s, 0, 0, 0, None, 0, {}, code="\n\n".join(c.values())) for s, c in code.items()}
    return insights.similar_pairs(subs, "\n\n".join(released.values()), 0.6)


def test_renamed_and_reordered_code_is_found_and_the_released_code_does_not_count():
    found = similar_class()
    assert [p["students"] for p in found["pairs"]] == [["copy", "orig"]]
    assert found["compared"] == 14           # the two blank ones have no code of their own


def test_similarity_scores_do_not_depend_on_python_s_string_hashes():
    """copydetect hashes with hash(), which differs from process to process: the scores must not."""
    code = "import json, test_insights_parts as t; print(json.dumps(t.similar_class()['scores']))"
    scores = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed,
               "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "tests", env=env,
                                capture_output=True, text=True, check=True)
        scores.append(json.loads(result.stdout.splitlines()[-1]))
    assert scores[0] == scores[1] == similar_class()["scores"]


def test_anonymised_figures_keep_the_numbers_and_drop_the_names():
    data = {"scores": {"ann": {"score": 3.0}, "anna": {"score": 4.0}}, "causes": [{"students": ["ann", "anna"]}],
            "feedback": {"ann": "../feedback/ann/x.html"}}
    out = insights.anonymised(data)
    assert sorted(out["scores"]) == ["student 1", "student 2"] and out["feedback"] == {}
    assert sorted(v["score"] for v in out["scores"].values()) == [3.0, 4.0]
    assert sorted(out["causes"][0]["students"]) == ["student 1", "student 2"]
