"""Bidirectional RNNs: one RNN reads the sequence forward, a second reads it backward.

At step t the forward RNN has seen x_1..x_t and the backward RNN x_t..x_T, so their concatenated
states [h→_t, h←_t] (N, 2H) describe position t in the context of the whole sequence. The two
directions share nothing: the backward pass is simply the two RNNs' backward passes, the second
one run on time-reversed gradients.

    h→ = RNN_f(x_1, ..., x_T)            h← = reverse(RNN_b(x_T, ..., x_1))
    h  = concatenate([h→, h←], axis=-1)   (N, T, 2H)

cell="rnn" uses rnnlib.rnn (Wx (D, H), Wh (H, H), b (H,)), cell="lstm" uses rnnlib.lstm
(Wx (D, 4H), Wh (H, 4H), b (4H,)), cell="gru" rnnlib.gru (Wx (D, 3H), Wh (H, 3H), b (3H,)); each
direction starts from its own h0 (and c0 = 0).
"""
import numpy as np

from ._checks import check_array
from .gru import gru_backward, gru_forward
from .lstm import lstm_backward, lstm_forward
from .rnn import rnn_backward, rnn_forward

CELLS = {"rnn": (rnn_forward, rnn_backward), "lstm": (lstm_forward, lstm_backward), "gru": (gru_forward, gru_backward)}


def _cell(cell):
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {list(CELLS)}, got {cell!r}")
    return CELLS[cell]


def bidirectional_forward(x, h0_f, h0_b, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b, cell="rnn"):
    """x (N, T, D); h0_f, h0_b (N, H); one (Wx, Wh, b) per direction.

    Returns h (N, T, 2H): h[..., :H] from the forward RNN, h[..., H:] from the backward one (both
    indexed by the time step they describe), and cache = (cell, forward cache, backward cache).
    """
    forward, _ = _cell(cell)
    h_f, cache_f = forward(x, h0_f, Wx_f, Wh_f, b_f)
    h_b, cache_b = forward(x[:, ::-1], h0_b, Wx_b, Wh_b, b_b)
    return np.concatenate([h_f, h_b[:, ::-1]], axis=-1), (cell, cache_f, cache_b)


def bidirectional_backward(dh, cache):
    """dh (N, T, 2H): upstream gradients of every concatenated state.

    Returns dx (N, T, D), dh0_f, dh0_b (N, H), then dWx_f, dWh_f, db_f, dWx_b, dWh_b, db_b.
    x feeds both directions, so dx is the sum of what each direction sends back.
    """
    cell, cache_f, cache_b = cache
    _, backward = _cell(cell)
    N, H = cache_f[0].prev_h.shape
    check_array("dh", dh, (N, len(cache_f), 2 * H))
    dx_f, dh0_f, *grads_f = backward(dh[..., :H], cache_f)
    dx_b, dh0_b, *grads_b = backward(np.ascontiguousarray(dh[:, ::-1, H:]), cache_b)
    return (dx_f + dx_b[:, ::-1], dh0_f, dh0_b, *grads_f, *grads_b)
