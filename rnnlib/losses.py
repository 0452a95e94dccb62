"""Numerically stable softmax, log-softmax, log-sum-exp and the per-time-step cross-entropy.

exp overflows float64 above ~709.78, so exp(z) / sum(exp(z)) turns into inf / inf = nan for large
logits. Softmax does not change when a constant is subtracted from every logit, so we subtract
the maximum first: the largest exponent becomes exp(0) = 1 and nothing can overflow.
"""
import numpy as np

from ._checks import check_array


def _check_logits(z, axis):
    if not isinstance(z, np.ndarray) or z.ndim == 0:
        raise ValueError(f"z: expected a numpy array with at least one axis, got {type(z).__name__}"
                         + (f" of shape {z.shape}" if isinstance(z, np.ndarray) else ""))
    check_array("z", z, tuple(f"d{i}" for i in range(z.ndim)))
    if not -z.ndim <= axis < z.ndim:
        raise ValueError(f"axis: expected an axis of z (shape {z.shape}), got {axis}")


def logsumexp(z, axis=-1):
    """log(sum(exp(z), axis)) without overflow; the reduced axis is kept (size 1) for broadcasting."""
    _check_logits(z, axis)
    m = z.max(axis=axis, keepdims=True)
    return m + np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def log_softmax(z, axis=-1):
    """log of softmax(z) along axis, finite for any finite z (same shape as z)."""
    return z - logsumexp(z, axis)


def softmax(z, axis=-1):
    """exp(z) / sum(exp(z)) along axis, computed after subtracting the max (same shape as z)."""
    _check_logits(z, axis)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def temporal_softmax_loss(x, y, mask=None):
    """Cross-entropy of a softmax at every time step.

    x (N, T, V) scores, y (N, T) int targets in [0, V), mask (N, T) bool (False = ignore the step).
    Returns loss (float: summed over time, averaged over the batch N) and dx (N, T, V).
    The gradient of each step's loss with respect to its scores is softmax(x) - onehot(y).
    """
    check_array("x", x, ("N", "T", "V"))
    check_targets(y, mask, x.shape)
    N, T, V = x.shape
    weight = 1.0 / N if mask is None else mask.reshape(-1, 1) / N   # each step's share of the loss
    loss, dx = softmax_cross_entropy(x.reshape(N * T, V).copy(), y.reshape(-1), weight)
    return loss, dx.reshape(N, T, V)


def check_targets(y, mask, shape):
    """Raise early unless y is an int (N, T) array of targets in [0, V) and mask None or a bool
    (N, T) array, for scores of shape (N, T, V)."""
    V = shape[2]
    check_array("y", y, ("N", "T"), dict(zip("NTV", shape)), kind="int")
    if mask is not None and (not isinstance(mask, np.ndarray) or mask.dtype != bool or mask.shape != y.shape):
        got = f"dtype {mask.dtype}, shape {mask.shape}" if isinstance(mask, np.ndarray) else type(mask).__name__
        raise ValueError(f"mask: expected a bool array of shape (N, T) = {y.shape}, got {got}")
    if y.size and (y.min() < 0 or y.max() >= V):
        raise ValueError(f"y: targets must lie in [0, {V}) (the last axis of x), got values in [{y.min()}, {y.max()}]")


def softmax_cross_entropy(scores, targets, weight):
    """temporal_softmax_loss's arithmetic on rows, unchecked and in place.

    scores (M, V) floats, overwritten by their gradient; targets (M,) ints in [0, V); weight: each
    row's share of the loss, a float or an (M, 1) array. Returns (loss, dscores (M, V): the buffer
    of scores), loss = -sum over rows of weight * log softmax(scores)[target] (a float).
    """
    rows = np.arange(len(targets))
    scores -= scores.max(axis=1, keepdims=True)            # log_softmax's steps, each done once
    target_scores = scores[rows, targets]
    np.exp(scores, out=scores)
    sums = (scores @ np.ones(scores.shape[1], dtype=scores.dtype))[:, None]   # row sums; as a product, faster
    logp_target = (target_scores - np.log(sums[:, 0])).astype(np.float64)     # (M,)
    row_weight = weight if np.ndim(weight) == 0 else weight[:, 0]
    loss = -float((logp_target * row_weight).sum())
    scores *= weight / sums                  # weight * softmax, in one pass; then minus weight * onehot
    scores[rows, targets] -= row_weight
    return loss, scores
