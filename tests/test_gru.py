"""rnnlib.gru: an independent forward, numerical gradients, PyTorch's nn.GRU where it is installed."""
import math

import numpy as np
import pytest

from rnnlib import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from rnnlib.gradcheck import check_gradients, tolerance
from rnnlib.gru import step_backward, step_forward


def random_gru(N, T, D, H, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((D, 3 * H)) / np.sqrt(D),
            rng.standard_normal((H, 3 * H)) / np.sqrt(H), 0.5 * rng.standard_normal(3 * H))


def loop_forward(x, h0, Wx, Wh, b):
    """Independent reference: scalar loops with math.exp / math.tanh, the three gates written out."""
    N, T, D = x.shape
    H = h0.shape[1]
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    out = np.zeros((N, T, H))
    for n in range(N):
        h = list(h0[n])
        for t in range(T):
            xa = [b[k] + sum(x[n, t, d] * Wx[d, k] for d in range(D)) for k in range(3 * H)]
            ha = [sum(h[j] * Wh[j, k] for j in range(H)) for k in range(3 * H)]
            r = [sig(xa[j] + ha[j]) for j in range(H)]
            z = [sig(xa[H + j] + ha[H + j]) for j in range(H)]
            cand = [math.tanh(xa[2 * H + j] + r[j] * ha[2 * H + j]) for j in range(H)]
            h = [(1 - z[j]) * cand[j] + z[j] * h[j] for j in range(H)]
            out[n, t] = h
    return out


@pytest.mark.parametrize("N,T,D,H", [(2, 4, 3, 2), (1, 1, 2, 3), (3, 2, 1, 1)])
def test_forward_matches_plain_loop(N, T, D, H):
    args = random_gru(N, T, D, H, seed=T)
    np.testing.assert_allclose(gru_forward(*args)[0], loop_forward(*args), rtol=1e-12, atol=1e-13)


def test_update_gate_at_one_copies_the_state():
    """z = 1 is the highway: next_h = prev_h exactly, whatever the input."""
    x, h0, Wx, Wh, b = random_gru(3, 1, 4, 2)
    b[2:4] = 1e3                                   # a_z huge: z = 1
    next_h, cache = gru_step_forward(x[:, 0], h0, Wx, Wh, b)
    np.testing.assert_allclose(next_h, h0, rtol=1e-12)
    _, dprev_h, *_ = gru_step_backward(np.ones_like(h0), cache)
    np.testing.assert_allclose(dprev_h, 1.0, rtol=1e-12)


@pytest.mark.parametrize("N,D,H", [(1, 3, 2), (4, 5, 6), (2, 1, 4)])
def test_step_backward_matches_numerical_gradients(N, D, H):
    x, h, Wx, Wh, b = random_gru(N, 1, D, H, seed=D)
    report = check_gradients(gru_step_forward, gru_step_backward, (x[:, 0], h, Wx, Wh, b),
                             ("dx", "dprev_h", "dWx", "dWh", "db"))
    assert report.ok, f"\n{report}"


@pytest.mark.parametrize("N,T,D,H", [(1, 1, 4, 3), (2, 10, 3, 5), (3, 4, 2, 2), (1, 25, 3, 4)])
def test_backward_matches_numerical_gradients(N, T, D, H):
    report = check_gradients(gru_forward, gru_backward, random_gru(N, T, D, H, seed=T),
                             ("dx", "dh0", "dWx", "dWh", "db"), tol=tolerance(T))
    assert report.ok, f"\n{report}"


@pytest.mark.parametrize("N,T,D,H", [(3, 7, 4, 5), (1, 1, 2, 3), (2, 30, 3, 2)])
def test_vectorised_sequence_is_the_step_loop(N, T, D, H):
    """gru_forward/gru_backward batch the input term and the weight gradients over all steps; one
    step_forward/step_backward per step gives the same numbers."""
    x, h0, Wx, Wh, b = random_gru(N, T, D, H, seed=T)
    h, cache = gru_forward(x, h0, Wx, Wh, b)
    prev_h, loop_cache = h0, []
    for t in range(T):
        prev_h, step = step_forward(x[:, t], prev_h, Wx, Wh, b)
        np.testing.assert_allclose(h[:, t], prev_h, rtol=1e-12, atol=1e-14)
        loop_cache.append(step)
    dh = np.random.default_rng(4).standard_normal(h.shape)
    dx, dprev_h = np.empty_like(x), np.zeros_like(h0)
    sums = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
    for t in reversed(range(T)):
        dx[:, t], dprev_h, *grads = step_backward(dh[:, t] + dprev_h, loop_cache[t])
        for total, g in zip(sums, grads):
            total += g
    for mine, loop in zip(gru_backward(dh, cache), (dx, dprev_h, *sums)):
        np.testing.assert_allclose(mine, loop, rtol=1e-12, atol=1e-13)


def test_unchecked_step_functions_are_the_checked_ones_without_the_checks():
    x, h0, Wx, Wh, b = random_gru(2, 1, 3, 4)
    checked, checked_cache = gru_step_forward(x[:, 0], h0, Wx, Wh, b)
    mine, cache = step_forward(x[:, 0], h0, Wx, Wh, b)
    for a, b_ in zip([mine, *cache], [checked, *checked_cache]):
        np.testing.assert_array_equal(a, b_)
    dh = np.random.default_rng(1).standard_normal((2, 4))
    for a, b_ in zip(step_backward(dh, cache), gru_step_backward(dh, checked_cache)):
        np.testing.assert_array_equal(a, b_)


def test_backward_takes_any_cache_in_the_contracts_order():
    x, h0, Wx, Wh, b = random_gru(2, 3, 3, 4)
    h, cache = gru_forward(x, h0, Wx, Wh, b)
    dh = np.random.default_rng(1).standard_normal(h.shape)
    plain = [tuple(step) for step in cache]
    for mine, reference in zip(gru_backward(dh, plain), gru_backward(dh, cache)):
        np.testing.assert_array_equal(mine, reference)


FIELDS = r"\(x, prev_h, Wx, Wh, r, z, n, hn\)"


def test_bad_inputs_name_the_argument():
    x, h0, Wx, Wh, b = random_gru(2, 3, 3, 4)
    with pytest.raises(ValueError, match=r"Wh: expected shape \(H, 3H\) = \(4, 12\), got \(4, 8\)"):
        gru_forward(x, h0, Wx, Wh[:, :8], b)
    with pytest.raises(ValueError, match=r"b: expected shape \(3H,\) = \(12,\), got \(11,\)"):
        gru_forward(x, h0, Wx, Wh, b[:11])
    # An LSTM's Wx (D, 4H) handed to the GRU: the message says 3H.
    with pytest.raises(ValueError, match=r"Wx: expected shape \(D, 3H\) = \(3, 12\), got \(3, 16\)"):
        gru_forward(x, h0, np.zeros((3, 16)), Wh, b)
    with pytest.raises(ValueError, match=r"prev_h: expected shape \(N, H\) = \(2, 4\), got \(3, 4\)"):
        gru_step_forward(x[:, 0], h0[[0, 1, 1]], Wx, Wh, b)
    with pytest.raises(ValueError, match="x: contains NaN"):
        gru_forward(np.full_like(x, np.nan), h0, Wx, Wh, b)
    _, cache = gru_forward(x, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"cache\[1\]: expected a step cache " + FIELDS + r".*tuple of length 7"):
        gru_backward(np.zeros((2, 3, 4)), [cache[0], tuple(cache[1])[:7], cache[2]])
    with pytest.raises(ValueError, match=r"dh: expected shape \(2, 3, 4\), got \(2, 2, 4\)"):
        gru_backward(np.zeros((2, 2, 4)), cache)


def test_float32_stays_float32():
    x, h0, Wx, Wh, b = (a.astype(np.float32) for a in random_gru(2, 5, 3, 4))
    h, cache = gru_forward(x, h0, Wx, Wh, b)
    assert h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in gru_backward(np.ones_like(h), cache))


def test_matches_torch_gru():
    """PyTorch's nn.GRU (gate order r, z, n; reset after the recurrent product) with its recurrent
    biases at zero is this GRU: the same outputs and the same weight gradients."""
    torch = pytest.importorskip("torch")
    N, T, D, H = 3, 6, 4, 5
    x, h0, Wx, Wh, b = random_gru(N, T, D, H, seed=7)
    ref = torch.nn.GRU(D, H, batch_first=True).double()
    with torch.no_grad():
        ref.weight_ih_l0.copy_(torch.from_numpy(Wx.T.copy()))
        ref.weight_hh_l0.copy_(torch.from_numpy(Wh.T.copy()))
        ref.bias_ih_l0.copy_(torch.from_numpy(b))
        ref.bias_hh_l0.zero_()
    tx = torch.from_numpy(x).requires_grad_()
    out, _ = ref(tx, torch.from_numpy(h0)[None])
    h, cache = gru_forward(x, h0, Wx, Wh, b)
    np.testing.assert_allclose(out.detach().numpy(), h, rtol=1e-10, atol=1e-12)
    dh = np.random.default_rng(8).standard_normal(h.shape)
    out.backward(torch.from_numpy(dh))
    dx, _, dWx, dWh, db = gru_backward(dh, cache)
    np.testing.assert_allclose(tx.grad.numpy(), dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ref.weight_ih_l0.grad.numpy().T, dWx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ref.weight_hh_l0.grad.numpy().T, dWh, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ref.bias_ih_l0.grad.numpy(), db, rtol=1e-10, atol=1e-12)
