"""Lesson 07's GRU checks: correct code passes, known mistakes are named, delegation is rejected."""
import numpy as np
import pytest

from rnnlib import grading, gru
from rnnlib.grading import lstm as lstm_checks
from rnnlib.gru import GRUStepCache

from conftest import as_student, fails


def sigmoid(a):
    return 0.5 * (1 + np.tanh(0.5 * a))


def gru_step_forward(x, prev_h, Wx, Wh, b, mistake=None):
    """A student's GRU step, written from the lesson's text; mistake names a known wrong version."""
    H = prev_h.shape[1]
    a, ah = x @ Wx + b, prev_h @ Wh
    r, z = sigmoid(a[:, :H] + ah[:, :H]), sigmoid(a[:, H:2 * H] + ah[:, H:2 * H])
    if mistake == "order":
        r, z = z, r
    hn = ah[:, 2 * H:]
    if mistake == "paper":
        n = np.tanh(a[:, 2 * H:] + (r * prev_h) @ Wh[:, 2 * H:])
    else:
        n = np.tanh(a[:, 2 * H:] + (hn if mistake == "no reset" else r * hn))
    next_h = z * n + (1 - z) * prev_h if mistake == "swapped" else (1 - z) * n + z * prev_h
    return next_h, GRUStepCache(x, prev_h, Wx, Wh, r, z, n, hn)


def gru_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, r, z, n, hn = cache
    da_n = dnext_h * (1 - z) * (1 - n ** 2)
    da_r = da_n * hn * r * (1 - r)
    da_z = dnext_h * (prev_h - n) * z * (1 - z)
    da, dah = np.hstack([da_r, da_z, da_n]), np.hstack([da_r, da_z, da_n * r])
    return da @ Wx.T, dnext_h * z + dah @ Wh.T, x.T @ da, prev_h.T @ dah, da.sum(axis=0)


def test_correct_solutions_pass(capsys):
    for kw in ({}, {"N": 1, "D": 1, "H": 1, "seed": 3}, {"N": 4, "D": 7, "H": 2, "seed": 1}):
        grading.check_gru_step_forward(gru_step_forward, **kw)
        grading.check_gru_step_backward(gru_step_backward, **kw)
    out = capsys.readouterr().out
    assert out.count("all checks passed") == 6, out


@pytest.mark.parametrize("mistake,hint", [("swapped", "z and 1 - z are swapped"),
                                          ("order", "the gate order is r, z, n"),
                                          ("paper", "as in the paper's GRU"),
                                          ("no reset", "the reset gate is missing")])
def test_step_forward_mistakes(mistake, hint):
    message = fails(grading.check_gru_step_forward, lambda *a: gru_step_forward(*a, mistake=mistake))
    assert hint in message and "worst at index" in message
    assert message.count("Likely cause") == 1, message


def test_the_cache_is_checked_field_by_field():
    def short_cache(*args):
        next_h, cache = gru_step_forward(*args)
        return next_h, tuple(cache)[:7]
    assert "GRUStepCache(x, prev_h, Wx, Wh, r, z, n, hn)" in fails(grading.check_gru_step_forward, short_cache)

    def swapped_fields(*args):
        next_h, c = gru_step_forward(*args)
        return next_h, c._replace(r=c.z, z=c.r)
    assert "it returned (x, prev_h, Wx, Wh, z, r, n, hn)" in fails(grading.check_gru_step_forward, swapped_fields)


@pytest.mark.parametrize("kw,hint", [({"direct": False}, "the GRU's highway"),
                                     ({"dz": "n - prev_h"}, "is prev_h - n"),
                                     ({"reset_scales": False}, "is da_n * r, not da_n"),
                                     ({"gate_deriv": False}, "nonlinearity's derivative"),
                                     ({"db": "mean"}, "averaged over the batch")])
def test_step_backward_mistakes(kw, hint):
    student = as_student(lstm_checks._gru_step_backward_variant)
    message = fails(grading.check_gru_step_backward, lambda dh, cache: student(dh, cache, **kw))
    assert hint in message and "numerical gradient" in message


@pytest.mark.parametrize("check,reference", [(grading.check_gru_step_forward, gru.gru_step_forward),
                                             (grading.check_gru_step_backward, gru.gru_step_backward)])
def test_delegating_to_rnnlib_earns_nothing(check, reference):
    assert "runs rnnlib's reference implementation" in fails(check, lambda *a: reference(*a))


def test_a_sequence_of_one_step_is_delegation_too():
    def via_sequence(x, prev_h, Wx, Wh, b):
        h, cache = gru.gru_forward(x[:, None], prev_h, Wx, Wh, b)
        return h[:, 0], cache[0]
    assert "runs rnnlib's reference implementation (gru_forward)" in fails(grading.check_gru_step_forward,
                                                                          via_sequence)
