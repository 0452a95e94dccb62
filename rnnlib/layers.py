"""Layers applied at every time step: a word/character embedding and an affine output layer.

Both are pure functions in the CS231n style: ``forward -> (out, cache)``, ``backward(dout, cache)``.
"""
from typing import NamedTuple

import numpy as np

from ._checks import check_array


class EmbeddingCache(NamedTuple):
    x: np.ndarray  # (N, T) int token ids
    W: np.ndarray  # (V, D) embedding matrix


class AffineCache(NamedTuple):
    h: np.ndarray  # (N, T, H) inputs
    V: np.ndarray  # (H, M) weights
    c: np.ndarray  # (M,) bias


def embedding_forward(x, W):
    """Look up one row of W per token: x (N, T) ints in [0, V), W (V, D) -> out (N, T, D), cache.

    This equals multiplying one-hot vectors by W, without building them.
    """
    check_array("x", x, ("N", "T"), kind="int")
    check_array("W", W, ("V", "D"))
    if x.size and (x.min() < 0 or x.max() >= W.shape[0]):
        raise ValueError(f"x: token ids must lie in [0, {W.shape[0]}) (the rows of W), "
                         f"got values in [{x.min()}, {x.max()}]")
    return W[x], EmbeddingCache(x, W)


def embedding_backward(dout, cache):
    """dout (N, T, D) -> dW (V, D). A token seen k times receives the sum of its k gradients."""
    N, T = cache.x.shape
    check_array("dout", dout, (N, T, cache.W.shape[1]))
    # One-hot rows times dout: a token seen k times gets the sum of its k gradients (dW[x] += dout
    # would keep only one of them), and one matrix product is much faster than np.add.at.
    V = cache.W.shape[0]
    one_hot = cache.x.reshape(-1, 1) == np.arange(V)
    return (one_hot.T.astype(dout.dtype) @ dout.reshape(-1, dout.shape[-1])).astype(cache.W.dtype, copy=False)


def temporal_affine_forward(h, V, c):
    """The output layer at every step: h (N, T, H), V (H, M), c (M,) -> out (N, T, M), cache.

    out[:, t] = h[:, t] @ V + c  (the seeds' o(t) = V h(t) + c, in row-vector form).
    """
    dims = {}
    check_array("h", h, ("N", "T", "H"), dims)
    check_array("V", V, ("H", "M"), dims)
    check_array("c", c, ("M",), dims)
    N, T, H = h.shape
    out = (h.reshape(N * T, H) @ V).reshape(N, T, -1) + c   # one matrix product for every step
    return out, AffineCache(h, V, c)


def temporal_affine_backward(dout, cache):
    """dout (N, T, M) -> dh (N, T, H), dV (H, M), dc (M,).

    V and c are shared by every step and every sample, so their gradients are sums over both.
    """
    N, T, H = cache.h.shape
    check_array("dout", dout, (N, T, cache.V.shape[1]))
    flat = dout.reshape(N * T, -1)                       # one matrix product for every step
    dh = (flat @ cache.V.T).reshape(N, T, H)
    dV = cache.h.reshape(N * T, H).T @ flat
    dc = flat.sum(axis=0)
    return dh, dV, dc
