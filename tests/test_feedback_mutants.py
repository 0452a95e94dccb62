"""The feedback floor: on a seeded sample of generated wrong answers, the test cells still catch them
visibly, name what is wrong and point at the cause. benchmarks/feedback_mutants.py runs every mutant."""
import importlib.util

import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location("feedback_mutants", ROOT / "benchmarks" / "feedback_mutants.py")
harness = importlib.util.module_from_spec(spec)
spec.loader.exec_module(harness)

# The exercises whose hints the floor holds (an exercise added later is measured by the benchmark
# from the day it exists, and joins the floor once it has hints of its own).
HINTED = {"rnn_step_forward", "rnn_forward", "temporal_affine_forward", "softmax", "log_softmax",
          "temporal_softmax_loss", "numerical_gradient", "rnn_step_backward", "rnn_backward",
          "temporal_affine_backward", "jacobian_norms", "clip_grad_norm", "int_to_bits", "bits_to_int",
          "train_step", "tbptt_batches", "adagrad_update", "sample", "lstm_step_forward", "lstm_forward",
          "lstm_step_backward", "lstm_backward"}


def test_every_declared_exercise_is_read_from_its_notebook():
    found = {(e.lesson, e.name) for e in harness.exercises()}
    declared = {(lesson.assignment, name) for lesson in harness.grading.LESSONS for name in lesson.exercises}
    assert found == declared
    backward = next(e for e in harness.exercises(["03"]) if e.name == "rnn_backward")
    assert backward.visible == ["check_rnn_backward(rnn_backward)"] and len(backward.hidden) == 3


def test_the_mutator_makes_the_issue_s_kinds_of_edit():
    lesson = {e.name: e for e in harness.exercises(["03"])}
    backward, step = lesson["rnn_backward"], lesson["rnn_step_backward"]
    kinds = {m.kind for m in harness.mutants(backward) + harness.mutants(step)}
    assert {"drop_right", "transpose_right", "axis", "assign_for_aug", "range_start", "unreverse",
            "float32", "reduction", "swap", "inplace_input", "drop_pow"} <= kinds, kinds
    labels = [m.label for m in harness.mutants(step)]
    assert any("prev_h  ->  next_h" in label for label in labels), labels
    assert all(m.source != step.source for m in harness.mutants(step))


def test_a_float32_mutant_is_told_it_is_precision():
    backward = next(e for e in harness.exercises(["03"]) if e.name == "rnn_backward")
    float32 = [m for m in harness.mutants(backward) if m.kind == "float32"]
    messages = [harness.run_calls(backward, m.source, backward.visible + backward.hidden) for m in float32]
    caught = [m for m in messages if m]      # an accumulator that only ever holds float64 values passes
    assert caught and all("round-off of float32" in m for m in caught), messages


@pytest.mark.parametrize("lessons", [["01", "02", "04", "05", "06"], ["03", "07"]])
def test_feedback_floor_on_a_sample_of_mutants(lessons):
    rows = harness.measure(lessons, sample=10, seed=0, only=HINTED)
    total = {k: sum(row[k] for row in rows.values()) for k in ("killed", "visible", "named", "specific", "wrong",
                                                               "crashed")}
    print(harness.table(rows))
    assert not [name for row in rows.values() for name in row["skipped"]]   # each reference passes its cell
    assert total["killed"] > 60
    assert total["visible"] >= 0.95 * total["killed"]          # Validate shows what the autograder will
    assert total["named"] == total["killed"]                   # every message names the wrong result
    assert total["specific"] >= 0.6 * (total["killed"] - total["crashed"])
    assert total["wrong"] <= 1
