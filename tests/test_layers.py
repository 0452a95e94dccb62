"""rnnlib.layers: embedding and temporal affine layers."""
import numpy as np
import pytest

from rnnlib.gradcheck import check_gradients, numerical_gradient_array, rel_error
from rnnlib.layers import embedding_backward, embedding_forward, temporal_affine_backward, temporal_affine_forward


def test_embedding_forward_reproduces_cs231n_reference():
    V, D = 5, 3
    x = np.array([[0, 3, 1, 2], [2, 1, 0, 3]])
    W = np.linspace(0, 1, num=V * D).reshape(V, D)
    expected = np.array([
        [[0., 0.07142857, 0.14285714], [0.64285714, 0.71428571, 0.78571429],
         [0.21428571, 0.28571429, 0.35714286], [0.42857143, 0.5, 0.57142857]],
        [[0.42857143, 0.5, 0.57142857], [0.21428571, 0.28571429, 0.35714286],
         [0., 0.07142857, 0.14285714], [0.64285714, 0.71428571, 0.78571429]]])
    out, _ = embedding_forward(x, W)
    assert rel_error(expected, out) < 1e-7


def test_embedding_backward_sums_repeated_tokens():
    rng = np.random.default_rng(0)
    x = np.array([[1, 1, 1], [0, 2, 1]])          # token 1 appears four times
    W = rng.standard_normal((4, 3))
    report = check_gradients(embedding_forward, embedding_backward, (x, W), ("dW",))
    assert report.ok, f"\n{report}"
    dout = np.ones((2, 3, 3))
    np.testing.assert_array_equal(embedding_backward(dout, embedding_forward(x, W)[1])[1], [4.0, 4.0, 4.0])


def test_temporal_affine_forward_matches_per_step_matmul():
    rng = np.random.default_rng(1)
    h, V, c = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    out, _ = temporal_affine_forward(h, V, c)
    for n in range(2):
        for t in range(3):
            np.testing.assert_allclose(out[n, t], [sum(h[n, t, k] * V[k, m] for k in range(4)) + c[m] for m in range(5)])


@pytest.mark.parametrize("N,T,H,M", [(2, 3, 4, 5), (1, 1, 3, 2), (10, 4, 1, 7)])
def test_temporal_affine_backward_matches_numerical_gradients(N, T, H, M):
    rng = np.random.default_rng(N + T)
    args = (rng.standard_normal((N, T, H)), rng.standard_normal((H, M)), rng.standard_normal(M))
    report = check_gradients(temporal_affine_forward, temporal_affine_backward, args, ("dh", "dV", "dc"))
    assert report.ok, f"\n{report}"


def test_numerical_gradient_array_agrees_with_affine_backward():
    rng = np.random.default_rng(2)
    h, V, c = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((2, 3, 5))
    dV_num = numerical_gradient_array(lambda V_: temporal_affine_forward(h, V_, c)[0], V, dout)
    assert rel_error(dV_num, temporal_affine_backward(dout, temporal_affine_forward(h, V, c)[1])[1]) < 1e-8


def test_layer_errors_name_the_argument():
    W = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"x: token ids must lie in \[0, 5\)"):
        embedding_forward(np.array([[0, 5]]), W)
    with pytest.raises(ValueError, match="x: expected an integer array"):
        embedding_forward(np.array([[0.0, 1.0]]), W)
    with pytest.raises(ValueError, match=r"c: expected shape \(M,\) = \(5,\), got \(4,\)"):
        temporal_affine_forward(np.zeros((2, 3, 4)), np.zeros((4, 5)), np.zeros(4))
