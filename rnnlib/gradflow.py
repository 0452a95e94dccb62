"""How gradients flow backward through an RNN: the pure numpy behind lesson 04 and the widgets.

Row-vector convention, as everywhere in rnnlib: h_t = f(a_t) with a_t = x_t Wx + h_{t-1} Wh + b.
Written with column vectors the Jacobian of one step is

    ∂h_t/∂h_{t-1} = diag(f'(a_t)) Whᵀ        (H, H); for tanh, f'(a_t) = 1 - h_t²

and in row form a gradient (a row vector g_t = ∂L/∂h_t) goes back one step as
g_{t-1} = (g_t ⊙ f'(a_t)) Whᵀ, the transpose of the same matrix, so both have the same singular
values. The gradient reaching h_k from h_T is a product of T - k such factors: it vanishes or
explodes depending on Wh's largest singular value σ_max against 1/γ, where γ bounds |f'|
(1 for tanh, 1/4 for sigmoid) — Pascanu, Mikolov and Bengio, 2013.
"""
from typing import Callable, NamedTuple

import numpy as np

from ._checks import check_array, check_positive
from .losses import softmax
from .lstm import lstm_forward, lstm_step_backward, sigmoid
from .optim import clip_grad_norm
from .rnn import rnn_forward, rnn_step_backward


class Activation(NamedTuple):
    """An activation, its derivative (a function of the pre-activation a) and γ = sup |f'|."""
    f: Callable
    df: Callable
    gamma: float


ACTIVATIONS = {
    "tanh": Activation(np.tanh, lambda a: 1 - np.tanh(a) ** 2, 1.0),
    "sigmoid": Activation(sigmoid, lambda a: sigmoid(a) * (1 - sigmoid(a)), 0.25),
    "relu": Activation(lambda a: np.maximum(a, 0.0), lambda a: (a > 0).astype(float), 1.0),
    "linear": Activation(lambda a: a, np.ones_like, 1.0),
}


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")


def jacobian_norms(h, Wh):
    """Spectral norms of ∂h_T/∂h_k for the hidden states of a tanh RNN (the lesson 04 exercise).

    h (T, H): the hidden states h_1..h_T of one sequence (rows in time order); Wh (H, H).
    Returns norms (T,), float64: norms[k] = ||∂h_T/∂h_k||_2, the spectral norm (the largest
    singular value, not the Frobenius norm), where h_T is the last row h[T-1] and h_k is row k.
    So norms[T-1] = ||I|| = 1.

    One step back multiplies by J_{k+1} = ∂h_{k+1}/∂h_k = diag(1 - h_{k+1}²) Whᵀ (column form;
    the row-vector code h_k @ Wh is why Wh appears transposed). Row-vector code that carries
    gradients backward uses the transpose, Wh diag(1 - h_{k+1}²): same singular values, same norms.
    """
    dims = {}
    check_array("h", h, ("T", "H"), dims)
    check_array("Wh", Wh, ("H", "H"), dims)
    h, Wh = h.astype(np.float64), Wh.astype(np.float64)
    T, H = h.shape
    norms = np.empty(T)
    norms[-1] = 1.0
    J = np.eye(H)                                          # ∂h_T/∂h_k, extended from k = T-1 down
    for k in range(T - 2, -1, -1):
        J = J @ ((1 - h[k + 1] ** 2)[:, None] * Wh.T)      # ∂h_T/∂h_{k+1} · ∂h_{k+1}/∂h_k
        norms[k] = np.linalg.norm(J, 2)
    return norms


def recurrent_matrix(H, radius, seed=0, kind="singular"):
    """A random (H, H) float64 matrix, scaled so that its largest singular value (kind="singular")
    or its spectral radius, the largest |eigenvalue| (kind="spectral"), equals radius.

    The spectral radius is never larger than the largest singular value; for random Gaussian
    matrices σ_max ≈ 2ρ. The same seed always gives the same direction.
    """
    check_positive("H", H)
    check_positive("radius", radius, integer=False)
    _check_choice("kind", kind, ("singular", "spectral"))
    W = np.random.default_rng(seed).standard_normal((H, H))
    scale = np.linalg.svd(W, compute_uv=False)[0] if kind == "singular" else np.abs(np.linalg.eigvals(W)).max()
    return W * (radius / scale)


class PascanuBound(NamedTuple):
    """What Pascanu et al.'s conditions say about one recurrent matrix and activation."""
    gamma: float         # sup |f'|: 1 for tanh, relu and linear, 1/4 for sigmoid
    threshold: float     # 1/γ
    sigma_max: float     # largest singular value of Wh
    rho: float           # spectral radius of Wh
    must_vanish: bool    # sufficient condition for vanishing holds
    can_explode: bool    # necessary condition for exploding holds


def pascanu_bound(Wh, activation="tanh"):
    """Pascanu et al. (2013), for Wh (H, H) and an activation of ACTIVATIONS.

    Every step back multiplies the gradient's norm by at most γ·σ_max, so σ_max < 1/γ is
    sufficient for vanishing and σ_max > 1/γ necessary for exploding. For a linear RNN the exact
    statement uses the spectral radius ρ: ρ < 1 suffices for vanishing, ρ > 1 is necessary for
    exploding. Between these the answer depends on the trajectory (saturation, inputs).
    """
    check_array("Wh", Wh, ("H", "H"))
    _check_choice("activation", activation, ACTIVATIONS)
    gamma = ACTIVATIONS[activation].gamma
    sigma = float(np.linalg.svd(Wh, compute_uv=False)[0])
    rho = float(np.abs(np.linalg.eigvals(Wh)).max())
    level = (rho if activation == "linear" else sigma) * gamma     # compared with 1, up to rounding
    return PascanuBound(gamma, 1 / gamma, sigma, rho, level < 1 - 1e-9, level > 1 + 1e-9)


def gradient_flow(radius=0.9, T=40, activation="tanh", H=32, seed=0, clip=None, input_scale=0.5):
    """Backpropagate L = ½||h_T||² through a random RNN and measure the gradient at every step.

    The RNN: h_t = f(h_{t-1} Wh + x_t Wx), h_0 = 0, where Wh = recurrent_matrix(H, radius, seed,
    "spectral") has spectral radius `radius`, and seeded random inputs x_t (H,) and Wx (H, H) are
    scaled so that x_t Wx has standard deviation input_scale.
    clip: None, or a max norm: the parameter gradients (Wh, Wx, b) are clipped by their global
    norm with rnnlib.optim.clip_grad_norm, which scales the whole backward pass by one factor, so
    the reported per-step gradients are scaled by that factor too.

    Returns a dict:
      norms (T,): ||∂L/∂h_t|| for t = 1..T;  per_unit (T, H): |∂L/∂h_t| per hidden unit;
      grads: dict Wh, Wx, b of parameter gradients (after clipping);  total_norm: their global norm before
      clipping;  clipped_norm: after;  clip_scale: the factor applied (1 without clipping);
      and the fields of pascanu_bound (gamma, threshold = 1/γ, sigma_max, rho, must_vanish,
      can_explode). Extreme settings overflow float64 to inf or nan (without warnings).
    """
    _check_choice("activation", activation, ACTIVATIONS)
    check_positive("T", T)
    if clip is not None:
        check_positive("clip", clip, integer=False)
    if not input_scale >= 0:
        raise ValueError(f"input_scale: expected a number >= 0, got {input_scale!r}")
    f, df, _ = ACTIVATIONS[activation]
    Wh = recurrent_matrix(H, radius, seed, "spectral")
    xs, Wx = _random_inputs(T, H, seed, input_scale)
    hs, pre = np.zeros((T + 1, H)), np.empty((T, H))      # hs[0] = h_0 = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T):
            pre[t] = hs[t] @ Wh + xs[t] @ Wx
            hs[t + 1] = f(pre[t])
        grad_h = np.empty((T, H))                           # row t: ∂L/∂h_{t+1}
        grad_h[-1] = hs[-1]                                 # ∂L/∂h_T for L = ½||h_T||²
        for t in range(T - 1, 0, -1):
            grad_h[t - 1] = (grad_h[t] * df(pre[t])) @ Wh.T  # row form: g_{t-1} = (g_t ⊙ f'(a_t)) Whᵀ
        da = grad_h * df(pre)
        grads = {"Wh": hs[:-1].T @ da, "Wx": xs.T @ da, "b": da.sum(axis=0)}
        total = clip_grad_norm(grads, clip) if clip is not None else float(
            np.sqrt(sum((g ** 2).sum() for g in grads.values())))
        scale = min(1.0, clip / total) if clip is not None and np.isfinite(total) else 1.0
        per_unit = np.abs(grad_h) * scale
        norms = np.linalg.norm(per_unit, axis=1)
    return {"norms": norms, "per_unit": per_unit, "grads": grads, "total_norm": total,
            "clipped_norm": total * scale, "clip_scale": scale, **pascanu_bound(Wh, activation)._asdict()}


def _random_inputs(T, H, seed, input_scale):
    """The seeded inputs x_t (T, H) and input weights shared by gradient_flow and lstm_gradient_flow."""
    rng = np.random.default_rng([seed, 1])
    Wx = rng.standard_normal((H, H)) * input_scale / np.sqrt(H)
    return rng.standard_normal((T, H)), Wx


def lstm_gradient_flow(radius=0.9, T=40, H=32, seed=0, forget_bias=1.0, input_scale=0.5):
    """Backpropagate L = ½||h_T||² through a random LSTM: the cell state as a gradient highway.

    Same inputs as gradient_flow(radius, T, "tanh", H, seed, input_scale=input_scale) (x_t (H,)
    through the same input weights), so the two can be compared step for step. Each of the four
    gate blocks of Wh (H, 4H) is a random matrix of spectral radius `radius`; the forget gates'
    bias is forget_bias (f ≈ σ(forget_bias) when the other terms are small), the other biases 0.

    Returns a dict: norms_h (T,) = ||∂L/∂h_t||, norms_c (T,) = ||∂L/∂c_t|| (the total gradient
    reaching the cell state c_t, through c_{t+1} and through h_t), per_unit (T, H) = |∂L/∂c_t|,
    and forget (T, H), the forget gates' values. Going back one step along the cell path only
    multiplies by f_t, elementwise: no matrix, no tanh' — hence the highway.
    """
    check_positive("T", T)
    check_positive("H", H)
    xs, Wx_block = _random_inputs(T, H, seed, input_scale)
    Wx = np.concatenate([Wx_block] * 4, axis=1)
    Wh = np.concatenate([recurrent_matrix(H, radius, [seed, 2, g], "spectral") for g in range(4)], axis=1)
    b = np.zeros(4 * H)
    b[H:2 * H] = forget_bias
    h, cache = lstm_forward(xs[None], np.zeros((1, H)), Wx, Wh, b)
    dh, dc = h[:, -1].copy(), np.zeros((1, H))              # ∂L/∂h_T for L = ½||h_T||²
    norms_h, norms_c, per_unit = np.empty(T), np.empty(T), np.empty((T, H))
    for t in reversed(range(T)):
        step = cache[t]
        total_c = dc + dh * step.o * (1 - step.tanh_c ** 2)   # what reaches c_t from c_{t+1} and from h_t
        norms_h[t], norms_c[t], per_unit[t] = np.linalg.norm(dh), np.linalg.norm(total_c), np.abs(total_c[0])
        _, dh, dc, *_ = lstm_step_backward(dh, dc, step)
    return {"norms_h": norms_h, "norms_c": norms_c, "per_unit": per_unit,
            "forget": np.stack([c.f[0] for c in cache])}


def bptt_trace(T=5, N=1, D=3, H=4, seed=0):
    """Step-by-step data for watching BPTT through a small tanh RNN with a loss at every step.

    The forward is rnn_forward on seeded random x (N, T, D), h0 = 0, Wx (D, H), Wh (H, H), b = 0;
    the upstream gradients dh (N, T, H) (what each step's output layer sends) are seeded too.
    Each backward step is rnn_step_backward on dh_t = dh[:, t] + (what h_{t+1} sent back).

    Returns (steps, (dh, cache)). steps: a list of T dicts in backward order, t = T-1 down to 0
    (t indexes the time axis, so step t produced h_{t+1} in the 1-based notation of the figures):
      t;  dh_norm = ||dh_t||, the total gradient into this step's hidden state;
      out_edge = ||dh[:, t]||, along the edge h_t -> o_t (from this step's output);
      rec_edge = ||dprev_h||, sent back along the recurrent edge h_{t-1} -> h_t;
      in_edge = ||dx_t||, along the input edge x_t -> h_t;
      dWh (H, H), dWx (D, H): the running sums of the weight gradients after this step.
    The last entry's sums equal rnn_backward(dh, cache)'s dWh and dWx.
    """
    for name, value in (("T", T), ("N", N), ("D", D), ("H", H)):
        check_positive(name, value)
    rng = np.random.default_rng(seed)
    x, h0 = rng.standard_normal((N, T, D)), np.zeros((N, H))
    Wx, Wh, b = rng.standard_normal((D, H)) / np.sqrt(D), rng.standard_normal((H, H)) / np.sqrt(H), np.zeros(H)
    _, cache = rnn_forward(x, h0, Wx, Wh, b)
    dh = rng.standard_normal((N, T, H))
    steps, dprev = [], np.zeros((N, H))
    dWh, dWx = np.zeros_like(Wh), np.zeros_like(Wx)
    for t in reversed(range(T)):
        total = dh[:, t] + dprev                       # from the output at t and from step t+1
        dx, dprev, dWx_t, dWh_t, _ = rnn_step_backward(total, cache[t])
        dWh, dWx = dWh + dWh_t, dWx + dWx_t            # shared weights: contributions add up
        steps.append({"t": t, "dh_norm": float(np.linalg.norm(total)), "out_edge": float(np.linalg.norm(dh[:, t])),
                      "rec_edge": float(np.linalg.norm(dprev)), "in_edge": float(np.linalg.norm(dx)),
                      "dWh": dWh, "dWx": dWx})
    return steps, (dh, cache)


class SoftmaxOverflow(NamedTuple):
    naive: np.ndarray      # exp(z) / sum(exp(z)): nan once exp overflows
    stable: np.ndarray     # rnnlib.losses.softmax: subtracts the max first
    naive_failed: bool     # the naive result contains nan or inf


BASE_LOGITS = np.array([1.0, 0.6, 0.2, -0.3, -1.0])
EXP_OVERFLOW = float(np.log(np.finfo(np.float64).max))   # 709.78: exp of anything larger is inf


def softmax_overflow(scale, logits=BASE_LOGITS):
    """Naive and stable softmax of z = logits * scale, without RuntimeWarnings.

    scale: a finite number; logits (V,). The default logits have maximum 1, so the largest score
    is scale and the naive softmax fails once scale exceeds EXP_OVERFLOW (about 709.78), where
    exp(z) = inf and inf / inf = nan. Returns SoftmaxOverflow(naive, stable, naive_failed).
    """
    check_array("logits", logits, ("V",))
    if not np.isfinite(scale):
        raise ValueError(f"scale: expected a finite number, got {scale!r}")
    z = logits.astype(np.float64) * scale
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        naive = e / e.sum()
    return SoftmaxOverflow(naive, softmax(z), bool(not np.isfinite(naive).all()))
