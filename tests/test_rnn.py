"""rnnlib.rnn: published reference values, an independent loop forward, numerical gradients."""
import numpy as np
import pytest

from rnnlib.gradcheck import check_gradients, rel_error, tolerance
from rnnlib.rnn import (TimeRNN, rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward, step_backward,
                        step_forward)


def random_rnn(N, T, D, H, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)),
            rng.standard_normal((D, H)) / np.sqrt(D), rng.standard_normal((H, H)) / np.sqrt(H),
            0.1 * rng.standard_normal(H))


def loop_forward(x, h0, Wx, Wh, b):
    """Independent reference: one sample, one unit at a time, with math.tanh."""
    import math
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    for n in range(N):
        prev = list(h0[n])
        for t in range(T):
            nxt = []
            for j in range(H):
                a = b[j] + sum(x[n, t, d] * Wx[d, j] for d in range(D)) + sum(prev[k] * Wh[k, j] for k in range(H))
                nxt.append(math.tanh(a))
            h[n, t] = prev = nxt
    return h


def test_step_forward_reproduces_cs231n_reference():
    N, D, H = 3, 10, 4
    x = np.linspace(-0.4, 0.7, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.2, 0.5, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.1, 0.9, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.3, 0.7, num=H * H).reshape(H, H)
    b = np.linspace(-0.2, 0.4, num=H)
    expected = np.array([[-0.58172089, -0.50182032, -0.41232771, -0.31410098],
                         [0.66854692, 0.79562378, 0.87755553, 0.92795967],
                         [0.97934501, 0.99144213, 0.99646691, 0.99854353]])
    next_h, _ = rnn_step_forward(x, prev_h, Wx, Wh, b)
    assert rel_error(expected, next_h) < 1e-7


def test_forward_reproduces_cs231n_reference():
    N, T, D, H = 2, 3, 4, 5
    x = np.linspace(-0.1, 0.3, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.3, 0.1, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.4, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.4, 0.1, num=H * H).reshape(H, H)
    b = np.linspace(-0.7, 0.1, num=H)
    expected = np.array([
        [[-0.42070749, -0.27279261, -0.11074945, 0.05740409, 0.22236251],
         [-0.39525808, -0.22554661, -0.0409454, 0.14649412, 0.32397316],
         [-0.42305111, -0.24223728, -0.04287027, 0.15997045, 0.35014525]],
        [[-0.55857474, -0.39065825, -0.19198182, 0.02378408, 0.23735671],
         [-0.27150199, -0.07088804, 0.13562939, 0.33099728, 0.50158768],
         [-0.51014825, -0.30524429, -0.06755202, 0.17806392, 0.40333043]]])
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    assert rel_error(expected, h) < 1e-7


@pytest.mark.parametrize("N,T,D,H", [(2, 5, 3, 4), (1, 1, 3, 2), (3, 2, 1, 5), (1, 7, 6, 3)])
def test_forward_matches_plain_loop(N, T, D, H):
    args = random_rnn(N, T, D, H, seed=N * 100 + T)
    h, cache = rnn_forward(*args)
    np.testing.assert_allclose(h, loop_forward(*args), rtol=1e-12, atol=1e-12)
    assert len(cache) == T and cache[0]._fields == ("x", "prev_h", "Wx", "Wh", "b", "next_h")
    np.testing.assert_array_equal(cache[-1].next_h, h[:, -1])
    np.testing.assert_array_equal(cache[1 % T].prev_h, h[:, 0] if T > 1 else args[1])


@pytest.mark.parametrize("N,D,H", [(4, 5, 6), (1, 3, 3), (2, 1, 7)])
def test_step_backward_matches_numerical_gradients(N, D, H):
    x, h0, Wx, Wh, b = random_rnn(N, 1, D, H, seed=D)
    report = check_gradients(rnn_step_forward, rnn_step_backward, (x[:, 0], h0, Wx, Wh, b),
                             ("dx", "dprev_h", "dWx", "dWh", "db"))
    assert report.ok, f"\n{report}"


@pytest.mark.parametrize("N,T,D,H", [(2, 10, 3, 5), (1, 1, 4, 3), (3, 4, 2, 2), (1, 25, 3, 4)])
def test_backward_matches_numerical_gradients(N, T, D, H):
    report = check_gradients(rnn_forward, rnn_backward, random_rnn(N, T, D, H, seed=T),
                             ("dx", "dh0", "dWx", "dWh", "db"), tol=tolerance(T))
    assert report.ok, f"\n{report}"


def test_backward_of_float32_forward_is_checked_in_float64():
    x, h0, Wx, Wh, b = (a.astype(np.float32) for a in random_rnn(2, 3, 3, 4))
    report = check_gradients(rnn_forward, rnn_backward, (x, h0, Wx, Wh, b), ("dx", "dh0", "dWx", "dWh", "db"))
    assert report.ok, f"\n{report}"


def test_time_rnn_carries_state_only_when_stateful():
    x, _, Wx, Wh, b = random_rnn(2, 6, 3, 4)
    whole, _ = rnn_forward(x, np.zeros((2, 4)), Wx, Wh, b)
    layer = TimeRNN(Wx, Wh, b, stateful=True)
    halves = np.concatenate([layer.forward(x[:, :3]), layer.forward(x[:, 3:])], axis=1)
    np.testing.assert_allclose(halves, whole, rtol=1e-13)
    layer.reset_state()
    np.testing.assert_allclose(layer.forward(x[:, :3]), whole[:, :3], rtol=1e-13)
    stateless = TimeRNN(Wx, Wh, b, stateful=False)
    stateless.forward(x[:, :3])
    np.testing.assert_allclose(stateless.forward(x[:, 3:]), rnn_forward(x[:, 3:], np.zeros((2, 4)), Wx, Wh, b)[0])


def test_time_rnn_set_state_and_backward_match_functions():
    x, h0, Wx, Wh, b = random_rnn(2, 4, 3, 4)
    layer = TimeRNN(Wx, Wh, b, stateful=True)
    layer.set_state(h0)
    hs = layer.forward(x)
    dhs = np.random.default_rng(1).standard_normal(hs.shape)
    dx = layer.backward(dhs)
    ref = rnn_backward(dhs, rnn_forward(x, h0, Wx, Wh, b)[1])
    np.testing.assert_allclose(dx, ref[0])
    for key, g in zip(("Wx", "Wh", "b"), ref[2:]):
        np.testing.assert_allclose(layer.grads[key], g)


@pytest.mark.parametrize("args,message", [
    (lambda a: (a[0][:, :, :2], *a[1:]), r"Wx: expected shape \(D, H\) = \(2, 4\), got \(3, 4\)"),
    (lambda a: (a[0], a[1][:1], *a[2:]), r"h0: expected shape \(N, H\) = \(2, 4\), got \(1, 4\)"),
    (lambda a: (a[0], a[1], a[2], a[3][:, :3], a[4]), r"Wh: expected shape \(H, H\) = \(4, 4\), got \(4, 3\)"),
    (lambda a: (a[0].astype(int), *a[1:]), r"x: expected a floating-point array"),
    (lambda a: (a[0][0], *a[1:]), r"x: expected shape \(N, T, D\)"),
    (lambda a: (*a[:4], np.full(4, np.nan)), r"b: contains NaN"),
])
def test_bad_inputs_raise_with_argument_name(args, message):
    with pytest.raises(ValueError, match=message):
        rnn_forward(*args(random_rnn(2, 3, 3, 4)))


def test_backward_rejects_wrong_upstream_shape():
    _, cache = rnn_forward(*random_rnn(2, 3, 3, 4))
    with pytest.raises(ValueError, match=r"dh: expected shape \(2, 3, 4\), got \(2, 4, 4\)"):
        rnn_backward(np.zeros((2, 4, 4)), cache)
    with pytest.raises(ValueError, match=r"dnext_h: expected shape \(2, 4\)"):
        rnn_step_backward(np.zeros((4, 2)), cache[0])


def test_backward_takes_any_cache_in_the_contracts_order():
    """The spec fixes the step cache as (x, prev_h, Wx, Wh, b, next_h): a plain tuple, as a forward
    written in a notebook may return, is as good as rnnlib's named one."""
    args = random_rnn(2, 3, 3, 4)
    h, cache = rnn_forward(*args)
    dh = np.random.default_rng(1).standard_normal(h.shape)
    plain = [tuple(step) for step in cache]
    for mine, reference in zip(rnn_backward(dh, plain), rnn_backward(dh, cache)):
        np.testing.assert_array_equal(mine, reference)
    np.testing.assert_array_equal(rnn_step_backward(dh[:, 0], plain[0])[0], rnn_step_backward(dh[:, 0], cache[0])[0])


def test_backward_rejects_what_is_not_a_cache():
    with pytest.raises(ValueError, match=r"cache\[1\]: expected a step cache \(x, prev_h, Wx, Wh, b, next_h\).*tuple of length 5"):
        rnn_backward(np.zeros((2, 2, 4)), [tuple(range(6)), tuple(range(5))])
    with pytest.raises(ValueError, match="cache: expected the list of T >= 1 step caches from rnn_forward, got dict"):
        rnn_backward(np.zeros((2, 2, 4)), {})
    with pytest.raises(ValueError, match=r"x: expected shape \(N, D\), got \(2, 3, 3\)"):
        rnn_step_forward(*random_rnn(2, 3, 3, 4))


def test_unchecked_step_functions_are_the_checked_ones_without_the_checks():
    x, h0, Wx, Wh, b = random_rnn(2, 1, 3, 4)
    checked_h, checked_cache = rnn_step_forward(x[:, 0], h0, Wx, Wh, b)
    h, cache = step_forward(x[:, 0], h0, Wx, Wh, b)
    np.testing.assert_array_equal(h, checked_h)
    assert cache._fields == checked_cache._fields
    dnext_h = np.random.default_rng(1).standard_normal(h.shape)
    for mine, checked in zip(step_backward(dnext_h, cache), rnn_step_backward(dnext_h, checked_cache)):
        np.testing.assert_array_equal(mine, checked)


def test_vectorised_sequence_is_the_step_loop():
    """rnn_forward/rnn_backward batch the input term and the weight gradients over all steps; the
    loop that a notebook writes, one step_forward/step_backward per step, gives the same numbers."""
    x, h0, Wx, Wh, b = random_rnn(3, 7, 4, 5, seed=3)
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    prev, loop_cache = h0, []
    for t in range(x.shape[1]):
        prev, step = step_forward(x[:, t], prev, Wx, Wh, b)
        np.testing.assert_allclose(h[:, t], prev, rtol=1e-12, atol=1e-14)
        loop_cache.append(step)
    dh = np.random.default_rng(4).standard_normal(h.shape)
    dx, dprev_h = np.empty_like(x), np.zeros_like(h0)
    sums = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
    for t in reversed(range(x.shape[1])):
        dx[:, t], dprev_h, *grads = step_backward(dh[:, t] + dprev_h, loop_cache[t])
        for total, g in zip(sums, grads):
            total += g
    for mine, loop in zip(rnn_backward(dh, cache), (dx, dprev_h, *sums)):
        np.testing.assert_allclose(mine, loop, rtol=1e-12, atol=1e-13)
