"""The LSTM: step and sequence forward/backward, and a stateful TimeLSTM layer.

Gate order i, f, o, g (CS231n's convention). In the notation of the seeds, with the four gates'
pre-activations a_t = x_t Wx + h_{t-1} Wh + b stacked in that order, each of width H:

    i_t = σ(a_i)    f_t = σ(a_f)    o_t = σ(a_o)    g_t = tanh(a_g)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t      the cell state: updated by addition, a gradient highway
    h_t = o_t ⊙ tanh(c_t)
"""
from typing import NamedTuple

import numpy as np

from ._checks import check_array, check_cache_list, check_gate_params, check_step_cache


class LSTMStepCache(NamedTuple):
    """What lstm_step_forward keeps for the backward pass."""
    x: np.ndarray        # (N, D)
    prev_h: np.ndarray   # (N, H)
    prev_c: np.ndarray   # (N, H)
    Wx: np.ndarray       # (D, 4H)
    Wh: np.ndarray       # (H, 4H)
    i: np.ndarray        # (N, H) input gate
    f: np.ndarray        # (N, H) forget gate
    o: np.ndarray        # (N, H) output gate
    g: np.ndarray        # (N, H) candidate values
    tanh_c: np.ndarray   # (N, H) tanh(next_c)


def sigmoid(a):
    """Logistic function without overflow: exp is only ever taken of a non-positive number."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def halve_sigmoid_columns(gates, Wh, width):
    """For σ(a) = (1 + tanh(a / 2)) / 2 in the recurrences: one tanh per step then serves every gate.

    Halves the first width columns (the σ gates') of the input terms gates (T, N, G) in place, and
    returns a copy of Wh (H, G) with the same columns halved, so that a step's pre-activations
    are a / 2 there and a in the columns after.
    """
    gates[:, :, :width] *= 0.5
    Wh = Wh.copy()
    Wh[:, :width] *= 0.5
    return Wh


def _check_params(Wx, Wh, b, dims):
    check_gate_params(Wx, Wh, b, dims, gates=4)


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step.

    x (N, D), prev_h (N, H), prev_c (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,)
    -> next_h (N, H), next_c (N, H), cache (LSTMStepCache).
    """
    dims = {}
    check_array("x", x, ("N", "D"), dims)
    check_array("prev_h", prev_h, ("N", "H"), dims)
    check_array("prev_c", prev_c, ("N", "H"), dims)
    _check_params(Wx, Wh, b, dims)
    return step_forward(x, prev_h, prev_c, Wx, Wh, b)


def step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """lstm_step_forward, unchecked: the caller has validated the inputs (e.g. a model that checked
    its parameters once, rather than once per step).

    x (N, D), prev_h (N, H), prev_c (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,)
    -> next_h (N, H), next_c (N, H), cache (LSTMStepCache).
    """
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, LSTMStepCache(x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of one LSTM step.

    dnext_h, dnext_c (N, H): gradients of the loss with respect to next_h and next_c.
    Returns dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    cache = check_step_cache(cache, LSTMStepCache, "lstm_step_forward")
    check_array("dnext_h", dnext_h, cache.prev_h.shape)
    check_array("dnext_c", dnext_c, cache.prev_h.shape)
    return step_backward(dnext_h, dnext_c, cache)


def step_backward(dnext_h, dnext_c, cache):
    """lstm_step_backward, unchecked: the caller has validated the inputs (cache is an LSTMStepCache).

    dnext_h (N, H), dnext_c (N, H), cache (LSTMStepCache)
    -> dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    c = cache   # a short name, so that the lines below read like the maths
    # next_c reaches the loss directly (dnext_c, from step t+1) and through next_h = o * tanh(next_c).
    dc = dnext_c + dnext_h * c.o * (1 - c.tanh_c ** 2)
    di, df, do, dg = dc * c.g, dc * c.prev_c, dnext_h * c.tanh_c, dc * c.i
    da = np.concatenate([di * c.i * (1 - c.i), df * c.f * (1 - c.f), do * c.o * (1 - c.o), dg * (1 - c.g ** 2)], axis=1)
    return (da @ c.Wx.T, da @ c.Wh.T, dc * c.f,   # dprev_c: the cell path is only scaled by f
            c.x.T @ da, c.prev_h.T @ da, da.sum(axis=0))


def lstm_forward(x, h0, Wx, Wh, b, c0=None):
    """Run an LSTM over a sequence; the cell state starts at c0 (zeros by default).

    x (N, T, D), h0 (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,) -> h (N, T, H), cache.
    cache is the list of the T LSTMStepCaches in time order; the last cell state is
    cache[-1] recomputable, and also returned by TimeLSTM as its carried state.
    """
    dims = {}
    check_array("x", x, ("N", "T", "D"), dims)
    check_array("h0", h0, ("N", "H"), dims)
    _check_params(Wx, Wh, b, dims)
    prev_c = np.zeros_like(h0) if c0 is None else check_array("c0", c0, h0.shape)
    N, T, D = x.shape
    H = h0.shape[1]
    dtype = np.result_type(x, h0, Wx, Wh, b)
    # The input term does not depend on the state: one matrix product for all T steps is the same
    # numbers as T small ones, and much faster. Only the recurrence must go step by step
    # (forward_steps), time-major: each step a contiguous block; the cache's gates are views.
    xs = np.ascontiguousarray(x.transpose(1, 0, 2))                   # (T, N, D)
    gates = np.empty((T, N, 4 * H), dtype=dtype)
    np.matmul(xs.reshape(T * N, D), Wx, out=gates.reshape(T * N, 4 * H))
    gates += b
    hs, cs = np.empty((T + 1, N, H), dtype=dtype), np.empty((T + 1, N, H), dtype=dtype)
    hs[0], cs[0] = h0, prev_c
    tanh_cs = forward_steps(gates, hs, cs, Wh)
    hv, cv = list(hs), list(cs)    # one view per state: step t's next_h is step t + 1's prev_h, one array
    i, f, o, g = (gates[:, :, k * H:(k + 1) * H] for k in range(4))
    cache = [LSTMStepCache(xs[t], hv[t], cv[t], Wx, Wh, i[t], f[t], o[t], g[t], tanh_cs[t]) for t in range(T)]
    h = np.ascontiguousarray(hs[1:].transpose(1, 0, 2))   # a copy: changing h leaves the cache alone
    return h, cache


def forward_steps(gates, hs, cs, Wh):
    """The recurrence of lstm_forward, unchecked and in place, time-major.

    gates (T, N, 4H): the input terms x_t @ Wx + b of every step; each becomes that step's gates,
    σ(a) in the i, f, o columns and tanh(a) in the g columns. hs, cs (T + 1, N, H): hs[0], cs[0]
    hold h0, c0; step t writes h_t, c_t into hs[t + 1], cs[t + 1]. Wh (H, 4H).
    Returns tanh_cs (T, N, H): tanh(c_t), which the backward pass needs.
    """
    T, N, G = gates.shape
    H = G // 4
    # σ(a) = (1 + tanh(a / 2)) / 2, so one tanh per step serves all four gates, and it never
    # overflows. Three array operations per step instead of five (negate, exp, add, invert, tanh):
    # 25% faster per step at H = 16, 6% at H = 256, and the same numbers to round-off.
    Wh = halve_sigmoid_columns(gates, Wh, 3 * H)
    tanh_cs = np.empty((T, N, H), dtype=gates.dtype)
    recurrent, ig = np.empty((N, G), dtype=gates.dtype), np.empty((N, H), dtype=gates.dtype)
    for t in range(T):
        a = gates[t]
        a += np.matmul(hs[t], Wh, out=recurrent)
        np.tanh(a, out=a)                     # tanh(a / 2) in the i, f, o columns, g = tanh(a)
        ifo = a[:, :3 * H]
        ifo *= 0.5
        ifo += 0.5
        g = a[:, 3 * H:]
        next_c = np.multiply(a[:, H:2 * H], cs[t], out=cs[t + 1])        # c_t = f ⊙ c_{t-1} + i ⊙ g
        next_c += np.multiply(a[:, :H], g, out=ig)
        np.multiply(a[:, 2 * H:3 * H], np.tanh(next_c, out=tanh_cs[t]), out=hs[t + 1])   # h_t = o ⊙ tanh(c_t)
    return tanh_cs


def lstm_backward(dh, cache):
    """BPTT through an LSTM: dh (N, T, H) upstream gradients of every hidden state.

    Returns dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    Both dh and dc flow back from step t+1; shared weights' gradients are summed over time.
    """
    check_cache_list(cache, "lstm_forward")
    cache = [check_step_cache(step, LSTMStepCache, "lstm_step_forward", t) for t, step in enumerate(cache)]
    first = cache[0]
    N, H = first.prev_h.shape
    check_array("dh", dh, (N, len(cache), H))
    T, Wx, Wh = len(cache), first.Wx, first.Wh
    dtype = np.result_type(dh, first.i)
    # Time-major, as lstm_forward keeps them (each step a contiguous block).
    gates = np.stack([np.concatenate([c.i, c.f, c.o, c.g], axis=1) for c in cache]).astype(dtype, copy=False)
    prev_cs, tanh_cs = (np.stack([getattr(c, k) for c in cache]).astype(dtype, copy=False) for k in ("prev_c", "tanh_c"))
    da, dh0 = backward_steps(dh.transpose(1, 0, 2).astype(dtype), gates, prev_cs, tanh_cs, Wh)
    # The weights are shared by every step, so their gradients are sums over t of each step's
    # contribution (as step_backward computes them). Grouped into one product per weight:
    flat = da.reshape(T * N, 4 * H)
    dWx = np.concatenate([c.x for c in cache]).T @ flat
    dWh = np.concatenate([c.prev_h for c in cache]).T @ flat
    return (flat @ Wx.T).reshape(T, N, -1).transpose(1, 0, 2), dh0, dWx, dWh, flat.sum(axis=0)


def backward_steps(dh, gates, prev_cs, tanh_cs, Wh):
    """The recurrence of lstm_backward, unchecked, time-major.

    dh (T, N, H): the gradients that reach each h_t from outside the recurrence (e.g. the output
    layer); gates (T, N, 4H): σ(i, f, o) and tanh(g) of every step, as forward_steps leaves them;
    prev_cs (T, N, H): c_{t-1} of every step; tanh_cs (T, N, H): tanh(c_t); Wh (H, 4H).
    Returns da (T, N, 4H), the gradients of the gates' pre-activations, and dh0 (N, H).
    """
    T, N, G = gates.shape
    H = G // 4
    i, f, o, g = (gates[:, :, k * H:(k + 1) * H] for k in range(4))
    # What does not depend on the recurrence is computed for all T steps at once, before the
    # loop: with dc the gradient of c_t and dh_t that of h_t, the gate pre-activations' gradients
    # are dc ⊙ (g i(1-i), c_{t-1} f(1-f), ·, i (1-g²)) and dh_t ⊙ tanh(c_t) o(1-o) (step_backward's
    # products, regrouped), and dc gets dh_t ⊙ o (1 - tanh²(c_t)) from h_t.
    local = np.subtract(1.0, gates)                       # 1 - σ for i, f, o; below, 1 - g² for g
    local[:, :, :3 * H] *= gates[:, :, :3 * H]
    np.multiply(g, g, out=local[:, :, 3 * H:])
    np.subtract(1.0, local[:, :, 3 * H:], out=local[:, :, 3 * H:])
    for k, factor in enumerate((g, prev_cs, tanh_cs, i)):
        local[:, :, k * H:(k + 1) * H] *= factor
    dh_to_dc = np.multiply(tanh_cs, tanh_cs)
    np.subtract(1.0, dh_to_dc, out=dh_to_dc)
    dh_to_dc *= o
    da = np.empty((T, N, G), dtype=gates.dtype)           # time-major: contiguous steps
    Wh_T = np.ascontiguousarray(Wh.T, dtype=gates.dtype)
    dprev_h, dprev_c = np.zeros((N, H), dtype=gates.dtype), np.zeros((N, H), dtype=gates.dtype)
    da4, local4 = da.reshape(T, N, 4, H), local.reshape(T, N, 4, H)       # the gates as an axis
    for t in reversed(range(T)):
        # h_t feeds both the output at t and the next step: its gradient is the sum of both;
        # c_t reaches the loss through c_{t+1} (dprev_c) and through h_t.
        dnext_h = dh[t]
        dnext_h += dprev_h
        dc = np.multiply(dnext_h, dh_to_dc[t], out=dprev_h)            # dprev_h is free until the end
        dc += dprev_c
        np.multiply(dc[:, None, :], local4[t], out=da4[t])             # gates i, f, g: dc ⊙ local
        np.multiply(dnext_h, local4[t, :, 2], out=da4[t, :, 2])        # gate o: dh_t ⊙ local
        np.multiply(dc, f[t], out=dprev_c)                 # the cell path is only scaled by f
        np.matmul(da[t], Wh_T, out=dprev_h)
    return da, dprev_h


class TimeLSTM:
    """A stateful LSTM layer over T steps, like rnn.TimeRNN but carrying (h, c).

    params: dict with Wx (D, 4H), Wh (H, 4H), b (4H,); grads: same keys and shapes.
    """

    def __init__(self, Wx, Wh, b, stateful=False):
        _check_params(Wx, Wh, b, {})
        self.params = {"Wx": Wx, "Wh": Wh, "b": b}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.stateful = stateful
        self.h = self.c = None
        self._cache = None

    def set_state(self, h, c=None):
        """Set the state a stateful layer's next forward starts from: h (N, H), c (N, H) (zeros if None)."""
        H = self.params["Wh"].shape[0]
        self.h = check_array("h", h, ("N", H))
        self.c = np.zeros_like(h) if c is None else check_array("c", c, h.shape)

    def reset_state(self):
        self.h = self.c = None

    def forward(self, x):
        """x (N, T, D) -> hs (N, T, H)."""
        check_array("x", x, ("N", "T", self.params["Wx"].shape[0]))
        N, H = x.shape[0], self.params["Wh"].shape[0]
        if not self.stateful or self.h is None or self.h.shape[0] != N:
            self.h = self.c = np.zeros((N, H), dtype=self.params["Wh"].dtype)
        hs, self._cache = lstm_forward(x, self.h, **self.params, c0=self.c)
        last = self._cache[-1]
        self.h = hs[:, -1]
        self.c = last.f * last.prev_c + last.i * last.g
        return hs

    def backward(self, dhs):
        """dhs (N, T, H) -> dx (N, T, D); fills self.grads. The gradient stops at (h0, c0)."""
        dx, self.dh0, *grads = lstm_backward(dhs, self._cache)
        for key, g in zip(("Wx", "Wh", "b"), grads):
            self.grads[key][...] = g
        return dx
