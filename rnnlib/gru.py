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
from .lstm import halve_sigmoid_columns, sigmoid


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
    (N, T, D), H = x.shape, h0.shape[1]
    dtype = np.result_type(x, h0, Wx, Wh, b)
    # The input term does not depend on the state: one product for all T steps (as lstm_forward),
    # then the recurrence step by step (forward_steps), time-major; the cache's arrays are views.
    xs = np.ascontiguousarray(x.transpose(1, 0, 2))                   # (T, N, D)
    gates = np.empty((T, N, 3 * H), dtype=dtype)
    np.matmul(xs.reshape(T * N, D), Wx, out=gates.reshape(T * N, 3 * H))
    gates += b
    hs = np.empty((T + 1, N, H), dtype=dtype)
    hs[0] = h0
    hns = forward_steps(gates, hs, Wh)
    r, z, n = (gates[:, :, k * H:(k + 1) * H] for k in range(3))
    cache = [GRUStepCache(xs[t], hs[t], Wx, Wh, r[t], z[t], n[t], hns[t]) for t in range(T)]
    return np.ascontiguousarray(hs[1:].transpose(1, 0, 2)), cache     # a copy: changing h leaves the cache alone


def forward_steps(gates, hs, Wh):
    """The recurrence of gru_forward, unchecked and in place, time-major.

    gates (T, N, 3H): the input terms x_t @ Wx + b of every step; each becomes that step's r, z, n.
    hs (T + 1, N, H): hs[0] holds h0; step t writes h_t into hs[t + 1]. Wh (H, 3H).
    Returns hns (T, N, H): h_{t-1} @ Wh_n of every step, the term the reset gate scales.
    """
    T, N, G = gates.shape
    H = G // 3
    Wh = halve_sigmoid_columns(gates, Wh, 2 * H)     # one tanh per step serves both gates, as in the LSTM
    recurrent, rhn = np.empty((T, N, G), dtype=gates.dtype), np.empty((N, H), dtype=gates.dtype)
    for t in range(T):
        a, ah = gates[t], np.matmul(hs[t], Wh, out=recurrent[t])
        rz = a[:, :2 * H]
        rz += ah[:, :2 * H]
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
        n += np.multiply(r, ah[:, 2 * H:], out=rhn)
        np.tanh(n, out=n)
        next_h = np.subtract(hs[t], n, out=hs[t + 1])     # h_t = (1 - z) ⊙ n + z ⊙ h_{t-1} = n + z ⊙ (h_{t-1} - n)
        next_h *= z
        next_h += n
    return recurrent[:, :, 2 * H:]


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
    # Time-major, as gru_forward keeps them (each step a contiguous block).
    gates = np.stack([np.concatenate([c.r, c.z, c.n], axis=1) for c in cache]).astype(dtype, copy=False)
    prev_hs, hns = (np.stack([getattr(c, k) for c in cache]).astype(dtype, copy=False) for k in ("prev_h", "hn"))
    da, dah, dh0 = backward_steps(dh.transpose(1, 0, 2).astype(dtype), gates, prev_hs, hns, first.Wh)
    # Each weight's gradient is the sum over t of the steps' contributions, as one product.
    flat, flat_h = da.reshape(T * N, 3 * H), dah.reshape(T * N, 3 * H)
    dWx = np.concatenate([c.x for c in cache]).T @ flat
    dWh = prev_hs.reshape(T * N, H).T @ flat_h
    return (flat @ first.Wx.T).reshape(T, N, -1).transpose(1, 0, 2), dh0, dWx, dWh, flat.sum(axis=0)


def backward_steps(dh, gates, prev_hs, hns, Wh):
    """The recurrence of gru_backward, unchecked, time-major.

    dh (T, N, H): the gradients that reach each h_t from outside the recurrence (overwritten);
    gates (T, N, 3H): r, z, n of every step, as forward_steps leaves them; prev_hs (T, N, H):
    h_{t-1} of every step; hns (T, N, H): h_{t-1} @ Wh_n; Wh (H, 3H).
    Returns da (T, N, 3H), the gradients of the input terms x_t @ Wx + b; dah (T, N, 3H), those
    of the recurrent terms h_{t-1} @ Wh (the reset gate scales the candidate's); dh0 (N, H).
    """
    T, N, G = gates.shape
    H = G // 3
    r, z, n = gates[:, :, :H], gates[:, :, H:2 * H], gates[:, :, 2 * H:]
    # What does not depend on the recurrence, for all T steps at once (step_backward's products,
    # regrouped): da_n = dh_t ⊙ (1 - z)(1 - n²), da_z = dh_t ⊙ (h_{t-1} - n) z (1 - z) and
    # da_r = da_n ⊙ hn r (1 - r).
    local = np.empty((T, N, G), dtype=gates.dtype)
    local_r, local_z, local_n = local[:, :, :H], local[:, :, H:2 * H], local[:, :, 2 * H:]
    np.subtract(1.0, r, out=local_r)
    local_r *= r
    local_r *= hns
    np.subtract(1.0, z, out=local_z)
    local_z *= z
    local_z *= prev_hs - n
    np.multiply(n, n, out=local_n)
    np.subtract(1.0, local_n, out=local_n)
    local_n *= 1.0 - z
    da, dah = np.empty((T, N, G), dtype=gates.dtype), np.empty((T, N, G), dtype=gates.dtype)
    da3, dah3, local3 = (a.reshape(T, N, 3, H) for a in (da, dah, local))      # the gates as an axis
    Wh_T = np.ascontiguousarray(Wh.T, dtype=gates.dtype)
    dprev_h, straight = np.zeros((N, H), dtype=gates.dtype), np.empty((N, H), dtype=gates.dtype)
    for t in reversed(range(T)):
        # h_t feeds both the output at t and step t+1: its gradient is the sum of both.
        dnext_h = dh[t]
        dnext_h += dprev_h
        np.multiply(dnext_h[:, None, :], local3[t, :, 1:], out=da3[t, :, 1:])     # da_z, da_n
        np.multiply(da3[t, :, 2], local3[t, :, 0], out=da3[t, :, 0])              # da_r
        dah[t, :, :2 * H] = da[t, :, :2 * H]
        np.multiply(da3[t, :, 2], r[t], out=dah3[t, :, 2])                        # the reset gate scales hn
        # prev_h reaches next_h twice: through the gates' products and straight along z ⊙ prev_h.
        np.matmul(dah[t], Wh_T, out=dprev_h)
        dprev_h += np.multiply(dnext_h, z[t], out=straight)
    return da, dah, dprev_h
