"""Lesson 07's checks: correct LSTM code passes, known mistakes are named, delegation is rejected."""
import numpy as np
import pytest

from rnnlib import grading, lstm
from rnnlib.grading import core, lstm as lstm_checks
from rnnlib.lstm import LSTMStepCache

from conftest import as_student, fails


def sigmoid(a):
    return 0.5 * (1 + np.tanh(0.5 * a))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, order="ifog", candidate=np.tanh, keep=True):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
    o, g = (sigmoid(a[:, 2 * H:3 * H]), candidate(a[:, 3 * H:])) if order == "ifog" else \
        (sigmoid(a[:, 3 * H:]), candidate(a[:, 2 * H:3 * H]))
    next_c = (f * prev_c if keep else 0) + i * g
    tanh_c = np.tanh(next_c)
    return o * tanh_c, next_c, LSTMStepCache(x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)


def lstm_forward(x, h0, Wx, Wh, b, carry_c=True):
    N, T, _ = x.shape
    h, cache, prev_h, prev_c = np.zeros((N, T, h0.shape[1])), [], h0, np.zeros_like(h0)
    for t in range(T):
        prev_h, next_c, step = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        prev_c = next_c if carry_c else np.zeros_like(h0)
        h[:, t] = prev_h
        cache.append(step)
    return h, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    da = np.hstack([dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dnext_h * tanh_c * o * (1 - o),
                    dc * i * (1 - g ** 2)])
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0].x.shape[1]))
    dWx, dWh, db = np.zeros_like(cache[0].Wx), np.zeros_like(cache[0].Wh), np.zeros(4 * H)
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db


def test_correct_solutions_pass(capsys):
    for kw in ({}, {"N": 1, "D": 1, "H": 1, "seed": 3}, {"N": 4, "D": 7, "H": 2, "seed": 1}):
        grading.check_lstm_step_forward(lstm_step_forward, **kw)
        grading.check_lstm_step_backward(lstm_step_backward, **kw)
    for kw in ({}, {"N": 1, "T": 1, "D": 2, "H": 3, "seed": 2}, {"N": 3, "T": 12, "D": 2, "H": 3, "seed": 1}):
        grading.check_lstm_forward(lstm_forward, **kw)
        grading.check_lstm_backward(lstm_backward, **kw)
    out = capsys.readouterr().out
    assert out.count("all checks passed") == 12, out


@pytest.mark.parametrize("kw,hint", [({"order": "igof"}, "a[:, 2H:3H] is the output gate"),
                                     ({"candidate": sigmoid}, "the candidate g uses tanh"),
                                     ({"keep": False}, "f * prev_c term is missing")])
def test_step_forward_mistakes(kw, hint):
    message = fails(grading.check_lstm_step_forward, lambda *a: lstm_step_forward(*a, **kw))
    assert hint in message and "worst at index" in message


def test_forward_mistakes_and_cache():
    assert "cell state is not carried" in fails(grading.check_lstm_forward,
                                                lambda *a: lstm_forward(*a, carry_c=False))

    def tuple_cache(*args):
        next_h, next_c, cache = lstm_step_forward(*args)
        return next_h, next_c, tuple(cache)[:9]
    assert "LSTMStepCache(x, prev_h, prev_c" in fails(grading.check_lstm_step_forward, tuple_cache)


@pytest.mark.parametrize("kw,hint", [({"tanh_path": False}, "through next_h = o * tanh(next_c)"),
                                     ({"forget": "g"}, "df = dc * prev_c"),
                                     ({"carry_f": False}, "scaled by the forget gate"),
                                     ({"gate_deriv": False}, "nonlinearity's derivative"),
                                     ({"tanh_c": "next_c"}, "not 1 - next_c**2"),
                                     ({"db": "mean"}, "averaged over the batch")])
def test_step_backward_mistakes(kw, hint):
    student = as_student(lstm_checks._lstm_step_backward_variant)
    message = fails(grading.check_lstm_step_backward, lambda dh, dc, cache: student(dh, dc, cache, **kw))
    assert hint in message and "numerical gradient" in message


@pytest.mark.parametrize("kw,hint", [({"carry_c": False}, "This is the highway"),
                                     ({"carry_h": False}, "dh[:, t] + dprev_h"),
                                     ({"accumulate": "last_step"}, "last time step only"),
                                     ({"order": "forward"}, "time runs the wrong way"),
                                     ({"tanh_path": False}, "through next_h = o * tanh(next_c)")])
def test_sequence_backward_mistakes(kw, hint):
    student = as_student(lstm_checks._lstm_backward_variant, lstm_checks._lstm_step_backward_variant, core.add_step_grads)
    assert hint in fails(grading.check_lstm_backward, lambda dh, cache: student(dh, cache, **kw))


@pytest.mark.parametrize("check,reference", [(grading.check_lstm_step_forward, lstm.lstm_step_forward),
                                             (grading.check_lstm_forward, lstm.lstm_forward),
                                             (grading.check_lstm_step_backward, lstm.lstm_step_backward),
                                             (grading.check_lstm_backward, lstm.lstm_backward)])
def test_delegating_to_rnnlib_earns_nothing(check, reference):
    assert "runs rnnlib's reference implementation" in fails(check, lambda *a: reference(*a))
