"""The vanilla RNN: step and sequence forward/backward, and a stateful TimeRNN layer.

Notation (seeds ↔ code): the seeds write h(t) = tanh(U x(t) + W h(t-1) + b) with column vectors;
the code uses row vectors (a batch of N rows), so U ↔ Wx (D, H), W ↔ Wh (H, H):

    next_h = tanh(x @ Wx + prev_h @ Wh + b)        x (N, D), prev_h (N, H) -> next_h (N, H)
"""
from typing import NamedTuple

import numpy as np

from ._checks import check_array, check_cache_list, check_step_cache


class StepCache(NamedTuple):
    """What rnn_step_forward keeps for the backward pass (the spec's cache contract)."""
    x: np.ndarray       # (N, D) input at this step
    prev_h: np.ndarray  # (N, H) hidden state before the step
    Wx: np.ndarray      # (D, H)
    Wh: np.ndarray      # (H, H)
    b: np.ndarray       # (H,)
    next_h: np.ndarray  # (N, H) hidden state after the step: tanh' = 1 - next_h**2


def _check_params(Wx, Wh, b, dims):
    check_array("Wx", Wx, ("D", "H"), dims)
    check_array("Wh", Wh, ("H", "H"), dims)
    check_array("b", b, ("H",), dims)


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One time step of a tanh RNN.

    x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,) -> next_h (N, H), cache (StepCache).
    """
    dims = {}
    check_array("x", x, ("N", "D"), dims)
    check_array("prev_h", prev_h, ("N", "H"), dims)
    _check_params(Wx, Wh, b, dims)
    return step_forward(x, prev_h, Wx, Wh, b)


def step_forward(x, prev_h, Wx, Wh, b):
    """rnn_step_forward, unchecked: the caller has validated the inputs (e.g. a model that checked
    its parameters once, rather than once per step).

    x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,) -> next_h (N, H), cache (StepCache).
    """
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, StepCache(x, prev_h, Wx, Wh, b, next_h)


def rnn_step_backward(dnext_h, cache):
    """Backward pass of one step.

    dnext_h (N, H): gradient of the loss with respect to next_h.
    Returns dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    cache = check_step_cache(cache, StepCache, "rnn_step_forward")
    check_array("dnext_h", dnext_h, cache.next_h.shape)
    return step_backward(dnext_h, cache)


def step_backward(dnext_h, cache):
    """rnn_step_backward, unchecked: the caller has validated the inputs (cache is a StepCache).

    dnext_h (N, H), cache (StepCache) -> dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    da = dnext_h * (1.0 - cache.next_h ** 2)   # through tanh, using the *output* of this step
    dx = da @ cache.Wx.T
    dprev_h = da @ cache.Wh.T
    dWx = cache.x.T @ da
    dWh = cache.prev_h.T @ da
    db = da.sum(axis=0)                        # summed over the batch, never averaged
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """Run the RNN over a whole sequence.

    x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,) -> h (N, T, H), cache.
    cache is the list of the T StepCaches, in time order.
    """
    dims = {}
    check_array("x", x, ("N", "T", "D"), dims)
    check_array("h0", h0, ("N", "H"), dims)
    _check_params(Wx, Wh, b, dims)
    N, T, D = x.shape
    # The input term does not depend on the state: one matrix product for all T steps is the same
    # numbers as T small ones, and much faster. Only the recurrence must go step by step
    # (forward_steps). The states are written time-major, into one buffer with h0 first: each
    # step is a contiguous (N, H) block.
    xs = np.ascontiguousarray(x.transpose(1, 0, 2))                   # (T, N, D)
    hs = np.empty((T + 1, N, Wh.shape[0]), dtype=np.result_type(x, h0, Wx, Wh, b))
    hs[0] = h0
    np.matmul(xs.reshape(T * N, D), Wx, out=hs[1:].reshape(T * N, -1))
    hs[1:] += b
    forward_steps(hs, Wh)
    states = list(hs)     # one view per state: step t's next_h is step t + 1's prev_h, one array
    cache = [StepCache(xs[t], states[t], Wx, Wh, b, states[t + 1]) for t in range(T)]
    h = np.ascontiguousarray(hs[1:].transpose(1, 0, 2))   # a copy: changing h leaves the cache alone
    return h, cache


def forward_steps(hs, Wh):
    """The recurrence of rnn_forward, unchecked and in place, time-major.

    hs (T + 1, N, H): hs[0] is h0 and hs[t + 1] the input term x_t @ Wx + b of step t, which
    becomes h_t = tanh(x_t @ Wx + b + h_{t-1} @ Wh). Wh (H, H). Returns hs.
    """
    recurrent = np.empty_like(hs[0])
    for t in range(1, len(hs)):
        hs[t] += np.matmul(hs[t - 1], Wh, out=recurrent)
        np.tanh(hs[t], out=hs[t])
    return hs


def rnn_backward(dh, cache):
    """Backward pass over a whole sequence (BPTT).

    dh (N, T, H): upstream gradients of every hidden state (e.g. from the output layer).
    Returns dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    check_cache_list(cache, "rnn_forward")
    cache = [check_step_cache(step, StepCache, "rnn_step_forward", t) for t, step in enumerate(cache)]
    first = cache[0]
    N, H = first.prev_h.shape
    check_array("dh", dh, (N, len(cache), H))
    T, Wx, Wh = len(cache), first.Wx, first.Wh
    # Time-major, as rnn_forward keeps them: the states with h0 first, and the upstream gradients
    # (a copy, which backward_steps turns into the pre-activations' gradients in place).
    hs = np.stack([first.prev_h] + [c.next_h for c in cache])                # (T + 1, N, H)
    da = dh.transpose(1, 0, 2).astype(np.result_type(dh, hs), order="C")     # (T, N, H)
    _, dh0 = backward_steps(da, hs, Wh)
    # The weights are shared by every step, so their gradients are sums over t of each step's
    # contribution (as step_backward computes them). Grouped into one product per weight:
    flat = da.reshape(T * N, H)
    dWx = np.concatenate([c.x for c in cache]).T @ flat
    dWh = hs[:-1].reshape(T * N, H).T @ flat
    return (flat @ Wx.T).reshape(T, N, -1).transpose(1, 0, 2), dh0, dWx, dWh, flat.sum(axis=0)


def backward_steps(dh, hs, Wh):
    """The recurrence of rnn_backward, unchecked and in place, time-major.

    dh (T, N, H): the gradients that reach each h_t from outside the recurrence (e.g. the output
    layer); it becomes da, the gradients of the pre-activations. hs (T + 1, N, H): h0, h_1..h_T
    as forward_steps leaves them. Wh (H, H). Returns (da (T, N, H), dh0 (N, H)).
    """
    # tanh' = 1 - h_t ** 2 does not depend on the recurrence: for all T steps at once.
    dtanh = np.multiply(hs[1:], hs[1:], dtype=dh.dtype)
    np.subtract(1.0, dtanh, out=dtanh)
    Wh_T = np.ascontiguousarray(Wh.T, dtype=dh.dtype)
    dprev_h = np.zeros_like(dh[0])
    for t in reversed(range(len(dh))):
        # h_t feeds both the output at t and the next step: its gradient is the sum of both.
        dh[t] += dprev_h
        dh[t] *= dtanh[t]
        np.matmul(dh[t], Wh_T, out=dprev_h)
    return dh, dprev_h


class TimeRNN:
    """A stateful RNN layer over T steps (the Deep-Learning-from-Scratch-2 style).

    With ``stateful=True`` the last hidden state of one call becomes h0 of the next, which is
    what truncated BPTT needs: the state flows forward across batches, the gradient does not.

    params: dict with Wx (D, H), Wh (H, H), b (H,); grads: same keys and shapes.
    """

    def __init__(self, Wx, Wh, b, stateful=False):
        dims = {}
        _check_params(Wx, Wh, b, dims)
        self.params = {"Wx": Wx, "Wh": Wh, "b": b}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.stateful = stateful
        self.h = None        # (N, H) carried state, or None for zeros
        self._cache = None

    def set_state(self, h):
        """Set the hidden state a stateful layer's next forward starts from: h (N, H).

        With stateful=False every forward starts from zeros, whatever was set (as in DLFS2)."""
        self.h = check_array("h", h, ("N", self.params["Wh"].shape[0]))

    def reset_state(self):
        """Start the next forward from zeros (e.g. at the start of an epoch)."""
        self.h = None

    def forward(self, x):
        """x (N, T, D) -> hs (N, T, H)."""
        check_array("x", x, ("N", "T", self.params["Wx"].shape[0]))
        N = x.shape[0]
        H = self.params["Wh"].shape[0]
        if not self.stateful or self.h is None or self.h.shape[0] != N:
            self.h = np.zeros((N, H), dtype=self.params["Wh"].dtype)
        hs, self._cache = rnn_forward(x, self.h, **self.params)
        self.h = hs[:, -1]
        return hs

    def backward(self, dhs):
        """dhs (N, T, H) -> dx (N, T, D); fills self.grads. The gradient stops at h0 (truncation)."""
        dx, self.dh0, *grads = rnn_backward(dhs, self._cache)
        for key, g in zip(("Wx", "Wh", "b"), grads):
            self.grads[key][...] = g   # in place: whoever holds these arrays (not only this dict) sees the update
        return dx
