"""The GRU (gated recurrent unit): step and sequence forward/backward, the LSTM's lighter twin.

Cho et al. (2014), with the reset gate applied as PyTorch (and cuDNN) apply it: *after* the
recurrent product, r ⊙ (h_{t-1} W_hn), not inside it as in the paper, W_hn (r ⊙ h_{t-1}). Both are
called "GRU"; this one lets the three recurrent products be one, h_{t-1} @ Wh. Gate order r, z, n
(PyTorch's). With the gates' input terms a_t = x_t Wx + b stacked in that order, each of width H:

    r_t = σ(a_r + h_{t-1} Wh_r)          reset gate: how much of the past the candidate reads
    z_t = σ(a_z + h_{t-1} Wh_z)          update gate: how much of h_{t-1} to keep
    n_t = tanh(a_n + r_t ⊙ (h_{t-1} Wh_n))   candidate state
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

One state, no cell: the highway is the term z ⊙ h_{t-1}, which the gradient crosses scaled by z
alone (as the LSTM's cell state is scaled by f). One bias b (3H,): PyTorch's two biases with its
recurrent bias of the candidate, b_hn, at zero.
"""
from typing import NamedTuple

import numpy as np

from ._checks import check_array, check_cache_list, check_gate_params, check_step_cache
from .lstm import sigmoid


class GRUStepCache(NamedTuple):
    """What gru_step_forward keeps for the backward pass."""
    x: np.ndarray        # (N, D)
    prev_h: np.ndarray   # (N, H)
    Wx: np.ndarray       # (D, 3H)
    Wh: np.ndarray       # (H, 3H)
    r: np.ndarray        # (N, H) reset gate
    z: np.ndarray        # (N, H) update gate
    n: np.ndarray        # (N, H) candidate state
    hn: np.ndarray       # (N, H) prev_h @ Wh[:, 2H:], the recurrent term the reset gate scales


def _check_params(Wx, Wh, b, dims):
    check_gate_params(Wx, Wh, b, dims, gates=3)


def gru_step_forward(x, prev_h, Wx, Wh, b):
    """One GRU step.

    x (N, D), prev_h (N, H), Wx (D, 3H), Wh (H, 3H), b (3H,) -> next_h (N, H), cache (GRUStepCache).
    """
    dims = {}
    check_array("x", x, ("N", "D"), dims)
    check_array("prev_h", prev_h, ("N", "H"), dims)
    _check_params(Wx, Wh, b, dims)
    return step_forward(x, prev_h, Wx, Wh, b)


def step_forward(x, prev_h, Wx, Wh, b):
    """gru_step_forward, unchecked: the caller has validated the inputs.

    x (N, D), prev_h (N, H), Wx (D, 3H), Wh (H, 3H), b (3H,) -> next_h (N, H), cache (GRUStepCache).
    """
    H = prev_h.shape[1]
    a, ah = x @ Wx + b, prev_h @ Wh
    r, z = sigmoid(a[:, :H] + ah[:, :H]), sigmoid(a[:, H:2 * H] + ah[:, H:2 * H])
    hn = ah[:, 2 * H:]
    n = np.tanh(a[:, 2 * H:] + r * hn)
    next_h = (1 - z) * n + z * prev_h
    return next_h, GRUStepCache(x, prev_h, Wx, Wh, r, z, n, hn)


def gru_step_backward(dnext_h, cache):
    """Backward pass of one GRU step.

    dnext_h (N, H): gradient of the loss with respect to next_h.
    Returns dx (N, D), dprev_h (N, H), dWx (D, 3H), dWh (H, 3H), db (3H,).
    """
    cache = check_step_cache(cache, GRUStepCache, "gru_step_forward")
    check_array("dnext_h", dnext_h, cache.prev_h.shape)
    return step_backward(dnext_h, cache)


def step_backward(dnext_h, cache):
    """gru_step_backward, unchecked: the caller has validated the inputs (cache is a GRUStepCache).

    dnext_h (N, H), cache (GRUStepCache) -> dx (N, D), dprev_h (N, H), dWx (D, 3H), dWh (H, 3H), db (3H,).
    """
    c = cache   # a short name, so that the lines below read like the maths
    da_n = dnext_h * (1 - c.z) * (1 - c.n ** 2)
    da_r = da_n * c.hn * c.r * (1 - c.r)
    da_z = dnext_h * (c.prev_h - c.n) * c.z * (1 - c.z)
    da = np.concatenate([da_r, da_z, da_n], axis=1)            # of the input terms x @ Wx + b
    dah = np.concatenate([da_r, da_z, da_n * c.r], axis=1)     # of prev_h @ Wh: the reset gate scales hn
    # prev_h reaches next_h twice: through the gates' products and straight along z ⊙ prev_h.
    return da @ c.Wx.T, dnext_h * c.z + dah @ c.Wh.T, c.x.T @ da, c.prev_h.T @ dah, da.sum(axis=0)


def gru_forward(x, h0, Wx, Wh, b):
    """Run a GRU over a sequence.

    x (N, T, D), h0 (N, H), Wx (D, 3H), Wh (H, 3H), b (3H,) -> h (N, T, H), cache (the list of the
    T GRUStepCaches in time order).
    """
    dims = {}
    check_array("x", x, ("N", "T", "D"), dims)
    check_array("h0", h0, ("N", "H"), dims)
    _check_params(Wx, Wh, b, dims)
    (N, T, _), H = x.shape, h0.shape[1]
    h = np.empty((N, T, H), dtype=np.result_type(x, h0, Wx, Wh, b))
    # The input term does not depend on the state: one product for all T steps (as lstm_forward).
    xWx_b = np.ascontiguousarray((x @ Wx + b).transpose(1, 0, 2))     # (T, N, 3H)
    cache, prev_h = [], h0
    for t in range(T):
        # The rest of each step is step_forward's, written out so that the whole answer is here.
        a, ah = xWx_b[t], prev_h @ Wh
        r, z = sigmoid(a[:, :H] + ah[:, :H]), sigmoid(a[:, H:2 * H] + ah[:, H:2 * H])
        hn = ah[:, 2 * H:]
        n = np.tanh(a[:, 2 * H:] + r * hn)
        h[:, t] = next_h = (1 - z) * n + z * prev_h
        cache.append(GRUStepCache(x[:, t], prev_h, Wx, Wh, r, z, n, hn))
        prev_h = next_h
    return h, cache


def gru_backward(dh, cache):
    """BPTT through a GRU: dh (N, T, H) upstream gradients of every hidden state.

    Returns dx (N, T, D), dh0 (N, H), dWx (D, 3H), dWh (H, 3H), db (3H,).
    Shared weights' gradients are summed over time.
    """
    check_cache_list(cache, "gru_forward")
    cache = [check_step_cache(step, GRUStepCache, "gru_step_forward", t) for t, step in enumerate(cache)]
    first = cache[0]
    N, H = first.prev_h.shape
    T = len(cache)
    check_array("dh", dh, (N, T, H))
    dtype = np.result_type(dh, first.r)
    da, dah = np.empty((T, N, 3 * H), dtype=dtype), np.empty((T, N, 3 * H), dtype=dtype)
    dprev_h = np.zeros((N, H), dtype=dtype)
    for t in reversed(range(T)):
        # h_t feeds both the output at t and step t+1: its gradient is the sum of both.
        # The gate gradients are step_backward's, written out here as in gru_forward.
        c, dnext_h = cache[t], dh[:, t] + dprev_h
        da_n = dnext_h * (1 - c.z) * (1 - c.n ** 2)
        da_r = da_n * c.hn * c.r * (1 - c.r)
        da_z = dnext_h * (c.prev_h - c.n) * c.z * (1 - c.z)
        da[t] = np.concatenate([da_r, da_z, da_n], axis=1)
        dah[t] = np.concatenate([da_r, da_z, da_n * c.r], axis=1)
        dprev_h = dnext_h * c.z + dah[t] @ first.Wh.T
    # Each weight's gradient is the sum over t of the steps' contributions, as one product.
    flat, flat_h = da.reshape(T * N, 3 * H), dah.reshape(T * N, 3 * H)
    dWx = np.concatenate([c.x for c in cache]).T @ flat
    dWh = np.concatenate([c.prev_h for c in cache]).T @ flat_h
    return (flat @ first.Wx.T).reshape(T, N, -1).transpose(1, 0, 2), dprev_h, dWx, dWh, flat.sum(axis=0)
