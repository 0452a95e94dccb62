"""rnnlib.gradflow: Jacobian norms against brute force, the vanish/explode regimes, BPTT trace."""
import numpy as np
import pytest

from rnnlib import gradflow
from rnnlib.gradflow import (_random_inputs, bptt_trace, gradient_flow, jacobian_norms, lstm_gradient_flow,
                             pascanu_bound, recurrent_matrix, softmax_overflow)
from rnnlib.lstm import lstm_backward, lstm_forward, sigmoid
from rnnlib.rnn import rnn_backward, rnn_forward


def trajectory(T=8, H=5, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    x, Wx = rng.standard_normal((1, T, 3)), rng.standard_normal((3, H))
    Wh = scale * rng.standard_normal((H, H)) / np.sqrt(H)
    h, _ = rnn_forward(x, np.zeros((1, H)), Wx, Wh, np.zeros(H))
    return x, Wx, Wh, h[0]


def test_jacobian_norms_match_finite_differences_of_the_forward():
    x, Wx, Wh, h = trajectory()
    T, H = h.shape
    norms = jacobian_norms(h, Wh)
    for k in range(T - 1):
        # numerical Jacobian of h_T with respect to h_k: rerun steps k+1..T-1 from a perturbed h_k
        J = np.empty((H, H))
        for j in range(H):
            ends = []
            for sign in (1, -1):
                state = h[k].copy()
                state[j] += sign * 1e-6
                for t in range(k + 1, T):
                    state = np.tanh(x[0, t] @ Wx + state @ Wh)
                ends.append(state)
            J[:, j] = (ends[0] - ends[1]) / 2e-6
        assert norms[k] == pytest.approx(np.linalg.norm(J, 2), rel=1e-6)
    assert norms[-1] == 1.0


def test_linear_rnn_vanishes_below_one_and_explodes_above():
    small = gradient_flow(radius=0.8, T=30, activation="linear")["norms"]
    large = gradient_flow(radius=1.2, T=30, activation="linear")["norms"]
    assert small[0] / small[-1] < 1e-2 and large[0] / large[-1] > 1e2


def test_below_one_over_gamma_the_gradient_must_vanish():
    for act, gamma in (("tanh", 1.0), ("sigmoid", 0.25)):
        flow = gradient_flow(radius=0.5, T=40, activation=act)
        assert flow["gamma"] == gamma
        if flow["sigma_max"] < 1 / gamma:
            assert flow["norms"][0] < flow["norms"][-1] * flow["sigma_max"] ** 10


def test_clipping_caps_the_global_norm():
    flow = gradient_flow(radius=1.3, T=40, activation="linear", clip=1.0)
    assert flow["total_norm"] > 1.0 and flow["clipped_norm"] == pytest.approx(1.0)


def test_clipping_scales_the_parameter_gradients_to_max_norm():
    flow = gradient_flow(radius=1.3, T=40, activation="linear", clip=1.0)
    norm = np.sqrt(sum((g ** 2).sum() for g in flow["grads"].values()))
    assert norm == pytest.approx(1.0) and flow["clip_scale"] == pytest.approx(1.0 / flow["total_norm"])
    unclipped = gradient_flow(radius=1.3, T=40, activation="linear")
    np.testing.assert_allclose(flow["norms"], unclipped["norms"] * flow["clip_scale"])


def test_pascanu_bound_uses_sigma_for_nonlinear_and_rho_for_linear():
    W = recurrent_matrix(16, 0.9, kind="spectral")            # ρ = 0.9 but σ_max > 1
    linear, tanh = pascanu_bound(W, "linear"), pascanu_bound(W, "tanh")
    assert linear.rho == pytest.approx(0.9) and linear.must_vanish and not linear.can_explode
    assert tanh.sigma_max > 1 and not tanh.must_vanish and tanh.can_explode
    sigmoid = pascanu_bound(recurrent_matrix(16, 3.9), "sigmoid")   # σ_max = 3.9 < 1/γ = 4
    assert sigmoid.threshold == 4 and sigmoid.must_vanish
    with pytest.raises(ValueError, match="activation"):
        pascanu_bound(W, "softplus")


def test_recurrent_matrix_scaling():
    W = recurrent_matrix(20, 1.5, kind="spectral")
    assert np.abs(np.linalg.eigvals(W)).max() == pytest.approx(1.5)
    assert np.linalg.svd(recurrent_matrix(20, 0.7), compute_uv=False)[0] == pytest.approx(0.7)


def test_bptt_trace_running_sums_end_at_rnn_backward():
    steps, (dh, cache) = bptt_trace(T=6, seed=2)
    _, _, dWx, dWh, _ = rnn_backward(dh, cache)
    assert [s["t"] for s in steps] == [5, 4, 3, 2, 1, 0]
    np.testing.assert_allclose(steps[-1]["dWh"], dWh)
    np.testing.assert_allclose(steps[-1]["dWx"], dWx)


def test_softmax_overflow_threshold():
    assert not softmax_overflow(700.0)[2] and softmax_overflow(720.0)[2]
    assert np.isfinite(softmax_overflow(1e4)[1]).all()


def test_jacobian_norms_validates():
    with pytest.raises(ValueError, match=r"Wh: expected shape \(H, H\) = \(5, 5\)"):
        jacobian_norms(np.zeros((4, 5)), np.zeros((4, 4)))


def test_lstm_cell_state_is_a_gradient_highway():
    # Same inputs and size: the RNN's gradient vanishes; the LSTM's cell path keeps it when the
    # forget gates are open and loses it when they are shut.
    rnn = gradient_flow(radius=0.9, T=60, activation="tanh")["norms"]
    open_gates = lstm_gradient_flow(radius=0.9, T=60, forget_bias=3.0)
    shut = lstm_gradient_flow(radius=0.9, T=60, forget_bias=-3.0)
    decay = {name: n[0] / n[-1] for name, n in (("rnn", rnn), ("open", open_gates["norms_c"]), ("shut", shut["norms_c"]))}
    assert decay["open"] > 1e-2 and decay["rnn"] < 1e-6 and decay["shut"] < 1e-20
    assert open_gates["forget"].mean() > 0.9 and shut["forget"].mean() < 0.1
    assert open_gates["per_unit"].shape == (60, 32)


def test_lstm_gradient_flow_matches_lstm_backward():
    T, H, seed = 8, 5, 3
    flow = lstm_gradient_flow(T=T, H=H, seed=seed)
    # The same network, built by hand; ∂L/∂h_t is lstm_backward's dh0 for the rest of the sequence
    # started from (h_t, c_t), since h_t reaches the loss only through the steps after it.
    xs, Wx_block = _random_inputs(T, H, seed, 0.5)
    Wx = np.concatenate([Wx_block] * 4, axis=1)
    Wh = np.concatenate([recurrent_matrix(H, 0.9, [seed, 2, g], "spectral") for g in range(4)], axis=1)
    b = np.zeros(4 * H)
    b[H:2 * H] = 1.0
    h, cache = lstm_forward(xs[None], np.zeros((1, H)), Wx, Wh, b)
    assert flow["norms_h"][-1] == pytest.approx(np.linalg.norm(h[:, -1]))
    for t in range(T - 1):
        c_t = cache[t].f * cache[t].prev_c + cache[t].i * cache[t].g
        rest, rest_cache = lstm_forward(xs[None, t + 1:], h[:, t], Wx, Wh, b, c0=c_t)
        dh = np.zeros_like(rest)
        dh[:, -1] = rest[:, -1]
        dh_t = lstm_backward(dh, rest_cache)[1]
        assert flow["norms_h"][t] == pytest.approx(np.linalg.norm(dh_t), rel=1e-10)


def test_one_sigmoid_in_rnnlib():
    """The sigmoid activation is lstm's stable sigmoid, not a second copy."""
    assert gradflow.ACTIVATIONS["sigmoid"].f is sigmoid
    assert not hasattr(gradflow, "_sigmoid")
    a = np.array([-800.0, -3.0, 0.0, 3.0, 800.0])
    np.testing.assert_allclose(gradflow.ACTIVATIONS["sigmoid"].df(a), sigmoid(a) * (1 - sigmoid(a)))
