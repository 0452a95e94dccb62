"""rnnlib/stepwise.py: the LSTM's and GRU's recurrences done by step functions give exactly what
the fused recurrences give (with rnnlib's own steps), forward and backward, so a lesson's demos
running on a student's steps while the lesson is open train the same models."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rnnlib import gru, lstm, stepwise

shapes = st.tuples(st.integers(1, 5), st.integers(1, 4), st.integers(1, 5), st.integers(0, 2**16))


def _inputs(T, N, H, seed, gates_per_unit):
    rng = np.random.default_rng(seed)
    gates = rng.standard_normal((T, N, gates_per_unit * H))
    hs = np.zeros((T + 1, N, H))
    hs[0] = rng.standard_normal((N, H))
    return rng, gates, hs, rng.standard_normal((H, gates_per_unit * H)) / np.sqrt(H)


@settings(max_examples=25, deadline=None)
@given(shapes)
def test_lstm_steps_equal_the_fused_recurrence(shape):
    T, N, H, seed = shape
    rng, gates, hs, Wh = _inputs(T, N, H, seed, 4)
    cs = np.zeros_like(hs)
    cs[0] = rng.standard_normal((N, H))
    fused = [a.copy() for a in (gates, hs, cs)]
    tanh_fused = lstm.forward_steps(*fused, Wh)
    mine = [a.copy() for a in (gates, hs, cs)]
    tanh_mine = stepwise.lstm_forward_steps(lstm.lstm_step_forward, *mine, Wh)
    for name, a, b in zip(("gates", "hs", "cs", "tanh_cs"), [*fused, tanh_fused], [*mine, tanh_mine]):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=name)
    dh = rng.standard_normal((T, N, H))
    da, dh0 = lstm.backward_steps(dh.copy(), fused[0], fused[2][:-1], tanh_fused, Wh)
    da_mine, dh0_mine = stepwise.lstm_backward_steps(lstm.lstm_step_backward, dh.copy(), mine[0], mine[2][:-1],
                                                     tanh_mine, Wh)
    np.testing.assert_allclose(da_mine, da, rtol=1e-10, atol=1e-12, err_msg="da")
    np.testing.assert_allclose(dh0_mine, dh0, rtol=1e-10, atol=1e-12, err_msg="dh0")


@settings(max_examples=25, deadline=None)
@given(shapes)
def test_gru_steps_equal_the_fused_recurrence(shape):
    T, N, H, seed = shape
    rng, gates, hs, Wh = _inputs(T, N, H, seed, 3)
    fused = [gates.copy(), hs.copy()]
    hns = gru.forward_steps(*fused, Wh)
    mine = [gates.copy(), hs.copy()]
    hns_mine = stepwise.gru_forward_steps(gru.gru_step_forward, *mine, Wh)
    for name, a, b in zip(("gates", "hs", "hns"), [*fused, hns], [*mine, hns_mine]):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=name)
    dh = rng.standard_normal((T, N, H))
    expected = gru.backward_steps(dh.copy(), fused[0], fused[1][:-1], hns, Wh)
    got = stepwise.gru_backward_steps(gru.gru_step_backward, dh.copy(), mine[0], mine[1][:-1], hns_mine, Wh)
    for name, a, b in zip(("da", "dah", "dh0"), expected, got):
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", sorted(stepwise.ADAPTERS))
def test_each_adapted_recurrence_is_a_stubbed_core_of_lesson_07(name):
    """The adapters replace exactly recurrences the lesson holds back, each with one of its step exercises."""
    from rnnlib.grading import lesson
    lstm_lesson = lesson("07_lstm")
    assert name in lstm_lesson.cores and stepwise.ADAPTERS[name][1] in lstm_lesson.exercises


def test_a_recurrence_before_the_student_wrote_its_step_names_the_step(monkeypatch):
    """In the open edition, a demo run before the step function exists says which function to define."""
    from rnnlib import recorded
    monkeypatch.setattr(recorded, "_load", lambda: {"results": {}, "exercises": {}})
    monkeypatch.delattr(__import__("__main__"), "lstm_step_forward", raising=False)
    with pytest.raises(recorded.NotRecorded, match="this runs on your lstm_step_forward: run the cell that defines"):
        recorded.recorded("lstm:forward_steps", "rnnlib.lstm.forward_steps is an answer of lesson 07_lstm",
                          {"gates": np.zeros((1, 1, 4)), "hs": np.zeros((2, 1, 1)), "cs": np.zeros((2, 1, 1)),
                           "Wh": np.zeros((1, 4))})
