"""rnnlib.attention: an independent loop forward, numerical gradients, the mask, early errors."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rnnlib.attention import attention_backward, attention_forward, masked_softmax
from rnnlib.gradcheck import check_gradients


def random_attention(N, T, S, H, seed=0, ragged=True):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, S + 1, size=N) if ragged else np.full(N, S)
    return (rng.standard_normal((N, T, H)), rng.standard_normal((N, S, H)), np.arange(S) < lengths[:, None])


def loop_attention(q, k, mask):
    """Independent reference: scalar loops, math.exp, the padded steps skipped."""
    N, T, H = q.shape
    S = k.shape[1]
    context, weights = np.zeros((N, T, H)), np.zeros((N, T, S))
    for n in range(N):
        real = [s for s in range(S) if mask[n, s]]
        for t in range(T):
            scores = {s: sum(q[n, t, j] * k[n, s, j] for j in range(H)) / math.sqrt(H) for s in real}
            top = max(scores.values())
            total = sum(math.exp(v - top) for v in scores.values())
            for s in real:
                weights[n, t, s] = math.exp(scores[s] - top) / total
                context[n, t] += weights[n, t, s] * k[n, s]
    return context, weights


@pytest.mark.parametrize("N,T,S,H", [(2, 3, 4, 5), (1, 1, 1, 1), (3, 2, 6, 2)])
def test_forward_matches_plain_loop(N, T, S, H):
    q, k, mask = random_attention(N, T, S, H, seed=S)
    context, cache = attention_forward(q, k, mask)
    want_context, want_weights = loop_attention(q, k, mask)
    np.testing.assert_allclose(context, want_context, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(cache.weights, want_weights, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("N,T,S,H,ragged", [(2, 3, 4, 5, True), (1, 1, 1, 1, False), (3, 4, 6, 2, True),
                                             (2, 5, 3, 8, False)])
def test_backward_matches_numerical_gradients(N, T, S, H, ragged):
    report = check_gradients(attention_forward, attention_backward, random_attention(N, T, S, H, seed=H, ragged=ragged),
                             ("dquery", "dkeys"))
    assert report.ok, f"\n{report}"
    assert not report.mutated


def test_padded_steps_get_no_weight_and_no_gradient():
    q, k, mask = random_attention(3, 4, 5, 3, seed=7)
    mask[0, 2:] = False
    context, cache = attention_forward(q, k, mask)
    assert (cache.weights[~np.broadcast_to(mask[:, None, :], cache.weights.shape)] == 0).all()
    k2 = k.copy()
    k2[0, 2:] = 1e3                                     # whatever sits in the padding
    np.testing.assert_array_equal(attention_forward(q, k2, mask)[0][0], context[0])
    _, dkeys = attention_backward(np.ones_like(context), cache)
    assert (dkeys[0, 2:] == 0).all()


def test_no_mask_is_all_steps():
    q, k, _ = random_attention(2, 3, 4, 5)
    np.testing.assert_array_equal(attention_forward(q, k)[0], attention_forward(q, k, np.ones((2, 4), bool))[0])


def test_the_scale_keeps_scores_of_unit_spread():
    """With unit entries the unscaled dot product spreads like sqrt(H); divided by sqrt(H) it stays near 1."""
    rng = np.random.default_rng(0)
    for H in (4, 64, 256):
        q, k = rng.standard_normal((50, 1, H)), rng.standard_normal((50, 20, H))
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(H)
        assert 0.8 < scores.std() < 1.2


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, (2, 3, 5), elements=st.floats(-1e6, 1e6)),
       hnp.arrays(bool, (2, 5)).filter(lambda m: m.any(axis=1).all()))
def test_masked_softmax_is_finite_and_sums_to_one_over_real_steps(scores, mask):
    w = masked_softmax(scores, mask)
    assert np.isfinite(w).all() and (w >= 0).all()
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-12)
    assert (w[:, :, ~mask.any(axis=0)] == 0).all()
    assert (np.where(mask[:, None, :], 0, w) == 0).all()


@pytest.mark.parametrize("call,message", [
    (lambda q, k, m: attention_forward(q, k[:, :, :2], m), "keys: expected shape (N, S, H) = (2, 4, 5), got (2, 4, 2)"),
    (lambda q, k, m: attention_forward(q[0], k, m), "query: expected shape (N, T, H), got (3, 5)"),
    (lambda q, k, m: attention_forward(q, k, m[:, :3]), "mask: expected a bool array of shape (N, S) = (2, 4)"),
    (lambda q, k, m: attention_forward(q, k, m.astype(int)), "mask: expected a bool array"),
    (lambda q, k, m: attention_forward(q, k, np.zeros_like(m)), "mask: every row needs at least one True"),
    (lambda q, k, m: attention_backward(np.ones((2, 3, 4)), attention_forward(q, k, m)[1]),
     "dcontext: expected shape (2, 3, 5), got (2, 3, 4)"),
    (lambda q, k, m: attention_backward(np.ones((2, 3, 5)), (q, k)), "cache: expected a step cache (query, keys, weights) as attention_forward returns it, got tuple of length 2"),
])
def test_wrong_arguments_are_named(call, message):
    q, k, mask = random_attention(2, 3, 4, 5)
    with pytest.raises(ValueError, match="^" + __import__("re").escape(message)):
        call(q, k, mask)
