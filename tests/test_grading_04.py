"""Lesson 04's checks: correct work passes, known mistakes are named, delegation is rejected."""
import numpy as np
import pytest

from rnnlib import gradflow, grading, optim
from rnnlib.grading import vanishing_gradients

from conftest import as_student, fails


def jacobian_norms(h, Wh):
    T, H = h.shape
    norms, J = np.ones(T), np.eye(H)
    for k in range(T - 2, -1, -1):
        J = J @ (np.diag(1 - h[k + 1] ** 2) @ Wh.T)
        norms[k] = np.linalg.svd(J, compute_uv=False)[0]
    return norms


def clip_grad_norm(grads, max_norm):
    total = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
    if total > max_norm:
        for g in grads.values():
            g *= max_norm / total
    return total



def test_correct_solutions_pass(capsys):
    for kw in ({}, {"T": 1, "H": 1}, {"T": 30, "H": 3, "seed": 2, "scale": 2.0}):
        grading.check_jacobian_norms(jacobian_norms, **kw)
    for kw in ({}, {"seed": 3, "max_norm": 5.0}):
        grading.check_clip_grad_norm(clip_grad_norm, **kw)
    assert capsys.readouterr().out.count("all checks passed") == 5


@pytest.mark.parametrize("kw,hint", [({"norm": "fro"}, "Frobenius"), ({"deriv": "h_prev"}, "that step's output"),
                                     ({"order": "left"}, "wrong order")])
def test_jacobian_mistakes(kw, hint):
    student = as_student(vanishing_gradients._jacobian_variant)
    assert hint in fails(grading.check_jacobian_norms, lambda h, Wh: student(h, Wh, **kw))


def test_clip_mistakes():
    def per_array(grads, max_norm):
        total = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
        for g in grads.values():
            n = np.linalg.norm(g)
            if n > max_norm:
                g *= max_norm / n
        return total
    assert "its own norm" in fails(grading.check_clip_grad_norm, per_array)

    def after(grads, max_norm):
        clip_grad_norm(grads, max_norm)
        return np.sqrt(sum(np.sum(g * g) for g in grads.values()))
    assert "norm after clipping" in fails(grading.check_clip_grad_norm, after)

    def not_in_place(grads, max_norm):
        total = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
        for k in grads:
            grads[k] = grads[k] * min(1, max_norm / total)
        return total
    assert "in place" in fails(grading.check_clip_grad_norm, not_in_place)


def test_delegation_is_rejected():
    assert "reference implementation" in fails(grading.check_jacobian_norms, gradflow.jacobian_norms)
    assert "reference implementation" in fails(grading.check_clip_grad_norm, optim.clip_grad_norm)


def test_elementwise_clipping_is_named_as_min_char_rnns_not_as_a_mistake():
    def by_entry(grads, max_norm):          # min-char-rnn's clipping, with the limit taken from max_norm
        total = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
        for g in grads.values():
            np.clip(g, -max_norm, max_norm, out=g)
        return total
    message = fails(grading.check_clip_grad_norm, by_entry, max_norm=0.1)
    assert "min-char-rnn" in message and "one factor" in message and "mistake" not in message.lower()
