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
    dtype = np.result_type(x, h0, Wx, Wh, b)
    # The input term does not depend on the state: one matrix product for all T steps is the same
    # numbers as T small ones, and much faster. Only the recurrence must go step by step. The
    # states are written time-major, into one buffer: each step is a contiguous (N, H) block, and
    # the step's matrix product, bias and tanh go there in place, with no temporary per step.
    xs = np.ascontiguousarray(x.transpose(1, 0, 2))                   # (T, N, D)
    hs = (xs.reshape(T * N, D) @ Wx).reshape(T, N, -1).astype(dtype, copy=False)
    hs += b
    recurrent = np.empty_like(hs[0])
    cache, prev_h = [], h0
    for t in range(T):
        next_h = hs[t]
        next_h += np.matmul(prev_h, Wh, out=recurrent)
        np.tanh(next_h, out=next_h)
        cache.append(StepCache(xs[t], prev_h, Wx, Wh, b, next_h))
        prev_h = next_h
    h = np.ascontiguousarray(hs.transpose(1, 0, 2))   # a copy: changing h leaves the cache alone
    return h, cache


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
    dtype = np.result_type(dh, first.next_h)
    # Everything that does not depend on the recurrence is done for all T steps at once, before
    # the loop: tanh' = 1 - next_h ** 2 and the time-major layout; each step is then one add,
    # one multiply and one product with a contiguous Wh.T, in place.
    dtanh = np.stack([c.next_h for c in cache]).astype(dtype, copy=False)     # (T, N, H)
    np.multiply(dtanh, dtanh, out=dtanh)
    np.subtract(1.0, dtanh, out=dtanh)
    da = np.empty((T, N, H), dtype=dtype)                                     # time-major: contiguous steps
    dh_t = dh.transpose(1, 0, 2)
    Wh_T = np.ascontiguousarray(Wh.T, dtype=dtype)
    dprev_h = np.zeros((N, H), dtype=dtype)
    for t in reversed(range(T)):
        # h_t feeds both the output at t and the next step: its gradient is the sum of both.
        np.add(dh_t[t], dprev_h, out=da[t])
        da[t] *= dtanh[t]
        np.matmul(da[t], Wh_T, out=dprev_h)
    # The weights are shared by every step, so their gradients are sums over t of each step's
    # contribution (as step_backward computes them). Grouped into one product per weight:
    flat = da.reshape(T * N, H)
    dWx = np.concatenate([c.x for c in cache]).T @ flat
    dWh = np.concatenate([c.prev_h for c in cache]).T @ flat
    return (flat @ Wx.T).reshape(T, N, -1).transpose(1, 0, 2), dprev_h, dWx, dWh, flat.sum(axis=0)


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
        """Set the hidden state the next forward starts from: h (N, H)."""
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
            self.grads[key][...] = g   # in place, so optimisers holding self.grads see the update
        return dx
