"""rnnlib.lstm: published reference values, an independent forward, numerical gradients."""
import math

import numpy as np
import pytest

from rnnlib.gradcheck import check_gradients, rel_error, tolerance
from rnnlib.lstm import (TimeLSTM, lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward, sigmoid,
                         step_backward, step_forward)


def random_lstm(N, T, D, H, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((D, 4 * H)) / np.sqrt(D),
            rng.standard_normal((H, 4 * H)) / np.sqrt(H), 0.1 * rng.standard_normal(4 * H))


def test_step_forward_reproduces_cs231n_reference():
    N, D, H = 3, 4, 5
    x = np.linspace(-0.4, 1.2, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.3, 0.7, num=N * H).reshape(N, H)
    prev_c = np.linspace(-0.4, 0.9, num=N * H).reshape(N, H)
    Wx = np.linspace(-2.1, 1.3, num=4 * D * H).reshape(D, 4 * H)
    Wh = np.linspace(-0.7, 2.2, num=4 * H * H).reshape(H, 4 * H)
    b = np.linspace(0.3, 0.7, num=4 * H)
    next_h, next_c, _ = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    expected_h = [[0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904],
                  [0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181],
                  [0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299]]
    expected_c = [[0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407],
                  [0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345],
                  [0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676]]
    assert rel_error(np.array(expected_h), next_h) < 1e-7
    assert rel_error(np.array(expected_c), next_c) < 1e-7


def test_forward_reproduces_cs231n_reference():
    N, D, H, T = 2, 5, 4, 3
    x = np.linspace(-0.4, 0.6, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.4, 0.8, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.9, num=4 * D * H).reshape(D, 4 * H)
    Wh = np.linspace(-0.3, 0.6, num=4 * H * H).reshape(H, 4 * H)
    b = np.linspace(0.2, 0.7, num=4 * H)
    h, _ = lstm_forward(x, h0, Wx, Wh, b)
    expected = [[[0.01764008, 0.01823233, 0.01882671, 0.0194232], [0.11287491, 0.12146228, 0.13018446, 0.13902939],
                 [0.31358768, 0.33338627, 0.35304453, 0.37250975]],
                [[0.45767879, 0.4761092, 0.4936887, 0.51041945], [0.6704845, 0.69350089, 0.71486014, 0.7346449],
                 [0.81733511, 0.83677871, 0.85403753, 0.86935314]]]
    assert rel_error(np.array(expected), h) < 1e-7


def loop_forward(x, h0, Wx, Wh, b):
    """Independent reference: scalar loops with math.exp / math.tanh, gates written out."""
    N, T, D = x.shape
    H = h0.shape[1]
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    out = np.zeros((N, T, H))
    for n in range(N):
        h, c = list(h0[n]), [0.0] * H
        for t in range(T):
            a = [b[k] + sum(x[n, t, d] * Wx[d, k] for d in range(D)) + sum(h[j] * Wh[j, k] for j in range(H))
                 for k in range(4 * H)]
            c = [sig(a[H + j]) * c[j] + sig(a[j]) * math.tanh(a[3 * H + j]) for j in range(H)]
            h = [sig(a[2 * H + j]) * math.tanh(c[j]) for j in range(H)]
            out[n, t] = h
    return out


@pytest.mark.parametrize("N,T,D,H", [(2, 4, 3, 2), (1, 1, 2, 3), (3, 2, 1, 1)])
def test_forward_matches_plain_loop(N, T, D, H):
    args = random_lstm(N, T, D, H, seed=T)
    np.testing.assert_allclose(lstm_forward(*args)[0], loop_forward(*args), rtol=1e-12, atol=1e-13)


def test_sigmoid_is_stable_and_exact():
    a = np.array([-1e4, -30.0, 0.0, 2.0, 1e4])
    np.testing.assert_allclose(sigmoid(a), [0.0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-2.0)), 1.0])


@pytest.mark.parametrize("N,D,H", [(4, 5, 6), (1, 3, 2), (2, 1, 4)])
def test_step_backward_matches_numerical_gradients(N, D, H):
    x, h, Wx, Wh, b = random_lstm(N, 1, D, H, seed=D)
    c = np.random.default_rng(H).standard_normal((N, H))
    report = check_gradients(lstm_step_forward, lstm_step_backward, (x[:, 0], h, c, Wx, Wh, b),
                             ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"))
    assert report.ok, f"\n{report}"


@pytest.mark.parametrize("N,T,D,H", [(2, 10, 3, 5), (1, 1, 4, 3), (3, 4, 2, 2), (1, 25, 3, 4)])
def test_backward_matches_numerical_gradients(N, T, D, H):
    report = check_gradients(lstm_forward, lstm_backward, random_lstm(N, T, D, H, seed=T),
                             ("dx", "dh0", "dWx", "dWh", "db"), tol=tolerance(T))
    assert report.ok, f"\n{report}"


def test_time_lstm_carries_h_and_c_when_stateful():
    x, _, Wx, Wh, b = random_lstm(2, 6, 3, 4)
    whole, _ = lstm_forward(x, np.zeros((2, 4)), Wx, Wh, b)
    layer = TimeLSTM(Wx, Wh, b, stateful=True)
    halves = np.concatenate([layer.forward(x[:, :3]), layer.forward(x[:, 3:])], axis=1)
    np.testing.assert_allclose(halves, whole, rtol=1e-13)
    layer.reset_state()
    np.testing.assert_allclose(layer.forward(x[:, :2]), whole[:, :2], rtol=1e-13)


def test_time_lstm_backward_matches_function():
    x, h0, Wx, Wh, b = random_lstm(2, 4, 3, 4)
    layer = TimeLSTM(Wx, Wh, b, stateful=True)
    layer.set_state(h0)
    hs = layer.forward(x)
    dhs = np.random.default_rng(1).standard_normal(hs.shape)
    dx = layer.backward(dhs)
    ref = lstm_backward(dhs, lstm_forward(x, h0, Wx, Wh, b)[1])
    np.testing.assert_allclose(dx, ref[0])
    for key, g in zip(("Wx", "Wh", "b"), ref[2:]):
        np.testing.assert_allclose(layer.grads[key], g)


def test_bad_inputs_name_the_argument():
    x, h0, Wx, Wh, b = random_lstm(2, 3, 3, 4)
    with pytest.raises(ValueError, match=r"Wh: expected shape \(H, 4H\)"):
        lstm_forward(x, h0, Wx, Wh[:, :8], b)
    with pytest.raises(ValueError, match=r"b: expected shape \(4H,\) = \(16,\), got \(15,\)"):
        lstm_forward(x, h0, Wx, Wh, b[:15])
    with pytest.raises(ValueError, match="x: contains NaN"):
        lstm_forward(np.full_like(x, np.nan), h0, Wx, Wh, b)
    # Wx of an RNN (D, H) handed to the LSTM: H comes from h0, so the message can say 4H = 16.
    with pytest.raises(ValueError, match=r"Wx: expected shape \(D, 4H\) = \(3, 16\), got \(3, 4\)"):
        lstm_forward(x, h0, Wx[:, :4], Wh, b)


FIELDS = r"\(x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c\)"


def test_backward_takes_any_cache_in_the_contracts_order():
    """As for the RNN: a plain 10-tuple in LSTMStepCache's field order, as a forward written in a
    notebook may return, is as good as rnnlib's named one."""
    x, h0, Wx, Wh, b = random_lstm(2, 3, 3, 4)
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    dh = np.random.default_rng(1).standard_normal(h.shape)
    plain = [tuple(step) for step in cache]
    for mine, reference in zip(lstm_backward(dh, plain), lstm_backward(dh, cache)):
        np.testing.assert_array_equal(mine, reference)
    dc = np.random.default_rng(2).standard_normal(h0.shape)
    for mine, reference in zip(lstm_step_backward(dh[:, 0], dc, plain[0]), lstm_step_backward(dh[:, 0], dc, cache[0])):
        np.testing.assert_array_equal(mine, reference)


def test_backward_rejects_what_is_not_a_cache():
    x, h0, Wx, Wh, b = random_lstm(2, 3, 3, 4)
    _, cache = lstm_forward(x, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"cache\[1\]: expected a step cache " + FIELDS + r".*tuple of length 9"):
        lstm_backward(np.zeros((2, 3, 4)), [cache[0], tuple(cache[1])[:9], cache[2]])
    with pytest.raises(ValueError, match=r"cache: expected a step cache " + FIELDS + r".*got list of length 10"):
        lstm_step_backward(np.zeros((2, 4)), np.zeros((2, 4)), list(cache[0]))
    with pytest.raises(ValueError, match="cache: expected the list of T >= 1 step caches from lstm_forward, got dict"):
        lstm_backward(np.zeros((2, 3, 4)), {})


def test_unchecked_step_functions_are_the_checked_ones_without_the_checks():
    x, h0, Wx, Wh, b = random_lstm(2, 1, 3, 4)
    c0 = np.random.default_rng(3).standard_normal(h0.shape)
    *checked, checked_cache = lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
    *mine, cache = step_forward(x[:, 0], h0, c0, Wx, Wh, b)
    for a, b_ in zip(mine + list(cache), checked + list(checked_cache)):
        np.testing.assert_array_equal(a, b_)
    dh, dc = np.random.default_rng(1).standard_normal((2, 2, 4))
    for a, b_ in zip(step_backward(dh, dc, cache), lstm_step_backward(dh, dc, checked_cache)):
        np.testing.assert_array_equal(a, b_)


@pytest.mark.parametrize("N,T,D,H", [(3, 7, 4, 5), (1, 1, 2, 3), (2, 30, 3, 2)])
def test_vectorised_sequence_is_the_step_loop(N, T, D, H):
    """lstm_forward/lstm_backward batch the input term and the weight gradients over all steps; the
    loop that a notebook writes, one step_forward/step_backward per step, gives the same numbers."""
    x, h0, Wx, Wh, b = random_lstm(N, T, D, H, seed=T)
    c0 = np.random.default_rng(5).standard_normal(h0.shape)
    h, cache = lstm_forward(x, h0, Wx, Wh, b, c0=c0)
    prev_h, prev_c, loop_cache = h0, c0, []
    for t in range(T):
        prev_h, prev_c, step = step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        np.testing.assert_allclose(h[:, t], prev_h, rtol=1e-12, atol=1e-14)
        loop_cache.append(step)
    dh = np.random.default_rng(4).standard_normal(h.shape)
    dx, dprev_h, dprev_c = np.empty_like(x), np.zeros_like(h0), np.zeros_like(h0)
    sums = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dprev_c, *grads = step_backward(dh[:, t] + dprev_h, dprev_c, loop_cache[t])
        for total, g in zip(sums, grads):
            total += g
    for mine, loop in zip(lstm_backward(dh, cache), (dx, dprev_h, *sums)):
        np.testing.assert_allclose(mine, loop, rtol=1e-12, atol=1e-13)


def test_float32_stays_float32():
    x, h0, Wx, Wh, b = (a.astype(np.float32) for a in random_lstm(2, 5, 3, 4))
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    assert h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in lstm_backward(np.ones_like(h), cache))
