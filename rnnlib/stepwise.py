"""The LSTM's and GRU's fused recurrences, done step by step by the notebook's own step functions.

While lesson 07 is open, the student edition's rnnlib holds the lesson's recurrences
(lstm.forward_steps, gru.backward_steps, ...) as stubs (rnnlib/recorded.py), since they answer its
exercises. The models that lessons 06 and 07 train with cell="lstm" or "gru" (CharRNN,
SequenceTagger) call those recurrences; a stub with no recorded result then runs the matching
function here on the student's lstm_step_forward, lstm_step_backward, gru_step_forward and
gru_step_backward, so the lesson's demos train on the student's code. Nothing here computes a gate.

A recurrence gets the input terms x_t @ Wx + b of every step already summed into gates, so each
step is called with them as its x, an identity Wx and a zero b: then the step's dx is the gradient
of the input terms, which is what the recurrence's backward returns.

    ADAPTERS   {stubbed recurrence: (the function here, the step exercises it calls)}
"""
import numpy as np

from .gru import GRUStepCache
from .lstm import LSTMStepCache


def _identity_and_zero(gates):
    """Wx (G, G) = I and b (G,) = 0, for steps whose x is the input terms (N, G)."""
    G = gates.shape[-1]
    return np.eye(G, dtype=gates.dtype), np.zeros(G, dtype=gates.dtype)


def lstm_forward_steps(step_forward, gates, hs, cs, Wh):
    """lstm.forward_steps by step_forward(x, prev_h, prev_c, Wx, Wh, b) -> next_h, next_c, LSTMStepCache.

    gates (T, N, 4H): the input terms, overwritten by the gates i, f, o, g of every step;
    hs, cs (T + 1, N, H): h0, c0 first, filled with every h_t, c_t. Returns tanh_cs (T, N, H)."""
    T, N, G = gates.shape
    eye, zero = _identity_and_zero(gates)
    tanh_cs = np.empty((T, N, G // 4), dtype=gates.dtype)
    for t in range(T):
        hs[t + 1], cs[t + 1], cache = step_forward(gates[t].copy(), hs[t], cs[t], eye, Wh, zero)
        gates[t] = np.concatenate([cache.i, cache.f, cache.o, cache.g], axis=1)
        tanh_cs[t] = cache.tanh_c
    return tanh_cs


def lstm_backward_steps(step_backward, dh, gates, prev_cs, tanh_cs, Wh):
    """lstm.backward_steps by step_backward(dnext_h, dnext_c, cache) -> dx, dprev_h, dprev_c, dWx, dWh, db.

    dh (T, N, H): the gradients reaching each h_t from outside the recurrence; gates (T, N, 4H),
    prev_cs, tanh_cs (T, N, H) as lstm_forward_steps left them. Returns da (T, N, 4H), dh0 (N, H)."""
    T, N, G = gates.shape
    eye, _ = _identity_and_zero(gates)
    x, prev_h = np.zeros((N, G), dtype=gates.dtype), np.zeros((N, G // 4), dtype=gates.dtype)  # only for dWx, dWh
    da = np.empty_like(gates)
    dnext_h, dnext_c = np.zeros_like(prev_h), np.zeros_like(prev_h)
    for t in reversed(range(T)):
        i, f, o, g = np.split(gates[t], 4, axis=1)
        cache = LSTMStepCache(x, prev_h, prev_cs[t], eye, Wh, i, f, o, g, tanh_cs[t])
        da[t], dnext_h, dnext_c, *_ = step_backward(dh[t] + dnext_h, dnext_c, cache)
    return da, dnext_h


def gru_forward_steps(step_forward, gates, hs, Wh):
    """gru.forward_steps by step_forward(x, prev_h, Wx, Wh, b) -> next_h, GRUStepCache.

    gates (T, N, 3H): the input terms, overwritten by r, z, n of every step; hs (T + 1, N, H): h0
    first, filled with every h_t. Returns hns (T, N, H), each step's h_{t-1} @ Wh_n."""
    T, N, G = gates.shape
    eye, zero = _identity_and_zero(gates)
    hns = np.empty((T, N, G // 3), dtype=gates.dtype)
    for t in range(T):
        hs[t + 1], cache = step_forward(gates[t].copy(), hs[t], eye, Wh, zero)
        gates[t] = np.concatenate([cache.r, cache.z, cache.n], axis=1)
        hns[t] = cache.hn
    return hns


def gru_backward_steps(step_backward, dh, gates, prev_hs, hns, Wh):
    """gru.backward_steps by step_backward(dnext_h, cache) -> dx, dprev_h, dWx, dWh, db.

    dh (T, N, H), gates (T, N, 3H) as gru_forward_steps left them, prev_hs, hns (T, N, H).
    Returns da (T, N, 3H) of the input terms, dah (T, N, 3H) of the recurrent terms, dh0 (N, H)."""
    T, N, G = gates.shape
    H = G // 3
    eye, _ = _identity_and_zero(gates)
    x = np.zeros((N, G), dtype=gates.dtype)                 # only for dWx
    da = np.empty_like(gates)
    dnext_h = np.zeros((N, H), dtype=gates.dtype)
    for t in reversed(range(T)):
        r, z, n = np.split(gates[t], 3, axis=1)
        cache = GRUStepCache(x, prev_hs[t], eye, Wh, r, z, n, hns[t])
        da[t], dnext_h, *_ = step_backward(dh[t] + dnext_h, cache)
    # The recurrent terms' gradients are the input terms', except the candidate's, which the reset
    # gate scales on its way to h_{t-1} @ Wh_n (lesson 07's GRU formulas).
    dah = da.copy()
    dah[:, :, 2 * H:] *= gates[:, :, :H]
    return da, dah, dnext_h


ADAPTERS = {
    "lstm:forward_steps": (lstm_forward_steps, "lstm_step_forward"),
    "lstm:backward_steps": (lstm_backward_steps, "lstm_step_backward"),
    "gru:forward_steps": (gru_forward_steps, "gru_step_forward"),
    "gru:backward_steps": (gru_backward_steps, "gru_step_backward"),
}
