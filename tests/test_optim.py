"""rnnlib.optim: optimisers minimise a quadratic, Adagrad is min-char-rnn's, clipping is global."""
import numpy as np
import pytest

from rnnlib.optim import SGD, Adagrad, Adam, adagrad_step, adagrad_update, clip_grad_norm

RNG = np.random.default_rng(0)
A = RNG.standard_normal((6, 4)) + 2 * np.eye(6, 4)
B = RNG.standard_normal(6)
P_STAR = np.linalg.lstsq(A, B, rcond=None)[0]


def quadratic_grads(params):
    r = A @ params["p"] - B          # f(p) = 0.5 * ||A p - b||^2
    return {"p": A.T @ r}


@pytest.mark.parametrize("make,steps", [(lambda p: SGD(p, lr=0.02), 2000), (lambda p: Adagrad(p, lr=0.5), 2000),
                                        (lambda p: Adam(p, lr=0.05), 2000)])
def test_optimisers_reach_the_minimum_of_a_quadratic(make, steps):
    params = {"p": np.zeros(4)}
    arr = params["p"]
    opt = make(params)
    for _ in range(steps):
        opt.step(quadratic_grads(params))
    assert params["p"] is arr                       # updated in place
    np.testing.assert_allclose(params["p"], P_STAR, atol=1e-3)


def test_adagrad_is_min_char_rnns_update():
    params = {"W": RNG.standard_normal((3, 2))}
    mine = {"W": params["W"].copy()}
    mem = np.zeros((3, 2))
    opt = Adagrad(params, lr=0.1)
    for _ in range(3):
        g = RNG.standard_normal((3, 2))
        opt.step({"W": g})
        mem += g * g                                 # min-char-rnn, line for line
        mine["W"] += -0.1 * g / np.sqrt(mem + 1e-8)
    np.testing.assert_allclose(params["W"], mine["W"], rtol=1e-7)


def test_adagrad_update_function_matches_class():
    p1, p2 = {"a": np.ones(3)}, {"a": np.ones(3)}
    cache = {"a": np.zeros(3)}
    g = {"a": np.array([1.0, -2.0, 0.5])}
    adagrad_update(p1, g, cache, lr=0.1)
    Adagrad(p2, lr=0.1).step(g)
    np.testing.assert_allclose(p1["a"], p2["a"])
    np.testing.assert_allclose(cache["a"], g["a"] ** 2)


def test_adam_first_step_is_lr_per_coordinate():
    params = {"p": np.zeros(3)}
    Adam(params, lr=0.01).step({"p": np.array([1e-3, -5.0, 300.0])})
    np.testing.assert_allclose(np.abs(params["p"]), 0.01, rtol=1e-4)


def test_clip_grad_norm_is_global_and_in_place():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    a = grads["a"]
    assert clip_grad_norm(grads, 1.0) == pytest.approx(5.0)
    assert grads["a"] is a
    np.testing.assert_allclose(grads["a"], [0.6, 0.0])
    np.testing.assert_allclose(grads["b"], [[0.8]])
    assert clip_grad_norm(grads, 10.0) == pytest.approx(1.0)
    np.testing.assert_allclose(grads["a"], [0.6, 0.0])   # below the threshold: untouched


def test_clip_grad_norm_of_float32_gradients_past_float32s_largest_square():
    # Each entry's square, 1e40, is past float32's largest number (3.4e38): the norm must still be
    # right, and the clipped gradients finite and float32.
    grads = {"a": np.full(4, 1e20, dtype=np.float32), "b": np.full((2, 2), 1e20, dtype=np.float32)}
    assert clip_grad_norm(grads, 1.0) == pytest.approx(np.sqrt(8) * 1e20, rel=1e-6)
    for g in grads.values():
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, 1 / np.sqrt(8), rtol=1e-6)
    with pytest.raises(ValueError, match=r"grads\['b'\]: contains NaN or inf"):
        clip_grad_norm({"a": np.ones(2, dtype=np.float32), "b": np.array([np.inf], dtype=np.float32)}, 1.0)


def test_optimiser_errors_name_the_problem():
    params = {"p": np.zeros(3)}
    with pytest.raises(ValueError, match=r"grads: expected the keys of params \['p'\]; missing \['p'\]"):
        SGD(params).step({"q": np.zeros(3)})
    with pytest.raises(ValueError, match=r"grads\['p'\]: expected shape \(3,\)"):
        Adam(params).step({"p": np.zeros(2)})
    with pytest.raises(ValueError, match="lr: expected a positive number"):
        Adagrad(params, lr=0)
    with pytest.raises(ValueError, match="max_norm: expected a positive number"):
        clip_grad_norm({"p": np.zeros(3)}, -1)
    with pytest.raises(ValueError, match=r"grads\['p'\]: contains NaN or inf \(first at index \(1,\)\)"):
        clip_grad_norm({"p": np.array([0.0, np.nan])}, 1.0)
    with pytest.raises(ValueError, match=r"cache: expected the keys of params \['p'\]; missing \['p'\]"):
        adagrad_update(params, {"p": np.zeros(3)}, {}, lr=0.1)


def test_adagrad_step_is_the_unchecked_core_of_both():
    g = {"a": np.array([1.0, -2.0, 0.5]), "b": np.array([[3.0]])}
    p1, p2 = {"a": np.ones(3), "b": np.ones((1, 1))}, {"a": np.ones(3), "b": np.ones((1, 1))}
    c1, c2 = {k: np.zeros_like(v) for k, v in p1.items()}, {k: np.zeros_like(v) for k, v in p2.items()}
    for _ in range(3):
        adagrad_step(p1, g, c1, 0.1, 1e-8)
        adagrad_update(p2, g, c2, lr=0.1)
    for k, p in p1.items():
        np.testing.assert_array_equal(p, p2[k])
        np.testing.assert_array_equal(c1[k], c2[k])
