"""rnnlib.losses: stability (property tests), values and the loss gradient."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rnnlib.gradcheck import numerical_gradient, rel_error
from rnnlib.losses import log_softmax, logsumexp, softmax, temporal_softmax_loss

logits = arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6)),
                elements=st.floats(-1e4, 1e4, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(logits)
def test_softmax_rows_sum_to_one_and_stay_finite(z):
    p = softmax(z)
    assert np.isfinite(p).all() and (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)


@settings(max_examples=200, deadline=None)
@given(logits)
def test_log_softmax_is_finite_and_consistent(z):
    lp = log_softmax(z)
    assert np.isfinite(lp).all() and (lp <= 1e-12).all()
    np.testing.assert_allclose(np.exp(lp), softmax(z), atol=1e-12)
    assert np.isfinite(logsumexp(z)).all()


def test_naive_softmax_overflows_where_stable_one_does_not():
    z = np.array([[1000.0, 999.0, 0.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    assert np.isnan(naive).any()
    np.testing.assert_allclose(softmax(z), [[1 / (1 + np.exp(-1)), 1 / (1 + np.e), 0.0]], atol=1e-300)


def test_logsumexp_matches_direct_formula_on_small_values():
    z = np.random.default_rng(0).standard_normal((3, 5))
    np.testing.assert_allclose(logsumexp(z, axis=1)[:, 0], np.log(np.exp(z).sum(axis=1)))
    np.testing.assert_allclose(softmax(z, axis=0).sum(axis=0), 1.0)


def test_loss_sanity_values_from_cs231n():
    rng = np.random.default_rng(231)

    def check(N, T, V, p):
        x = 0.001 * rng.standard_normal((N, T, V))
        y = rng.integers(V, size=(N, T))
        mask = rng.random((N, T)) <= p
        return temporal_softmax_loss(x, y, mask)[0]

    assert abs(check(100, 1, 10, 1.0) - np.log(10)) < 0.01        # ~2.3
    assert abs(check(100, 10, 10, 1.0) - 10 * np.log(10)) < 0.05  # ~23
    assert abs(check(5000, 10, 10, 0.1) - np.log(10)) < 0.1       # ~2.3: one step in ten counts


@pytest.mark.parametrize("use_mask", [False, True])
def test_loss_gradient_is_softmax_minus_onehot(use_mask):
    rng = np.random.default_rng(3)
    N, T, V = 3, 4, 5
    x, y = rng.standard_normal((N, T, V)), rng.integers(V, size=(N, T))
    mask = rng.random((N, T)) < 0.6 if use_mask else None
    loss, dx = temporal_softmax_loss(x, y, mask)
    assert rel_error(numerical_gradient(lambda: temporal_softmax_loss(x, y, mask)[0], x), dx) < 1e-7
    m = np.ones((N, T)) if mask is None else mask
    expected = (softmax(x) - np.eye(V)[y]) * m[..., None] / N
    np.testing.assert_allclose(dx, expected, atol=1e-15)
    assert loss == pytest.approx(-(np.log(np.take_along_axis(softmax(x), y[..., None], -1))[..., 0] * m).sum() / N)


def test_loss_is_finite_for_extreme_scores():
    x = np.array([[[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]]])
    loss, dx = temporal_softmax_loss(x, np.array([[1, 1]]))
    assert loss == pytest.approx(2e4) and np.isfinite(dx).all()


def test_loss_errors_name_the_argument():
    x = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"y: expected shape \(N, T\) = \(2, 3\), got \(3, 2\)"):
        temporal_softmax_loss(x, np.zeros((3, 2), dtype=int))
    with pytest.raises(ValueError, match=r"y: targets must lie in \[0, 4\)"):
        temporal_softmax_loss(x, np.full((2, 3), 4))
    with pytest.raises(ValueError, match="mask: expected a bool array"):
        temporal_softmax_loss(x, np.zeros((2, 3), dtype=int), np.ones((2, 3)))
    with pytest.raises(ValueError, match="z: contains NaN"):
        softmax(np.array([np.nan, 1.0]))
