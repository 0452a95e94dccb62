"""How gradients flow backward through an RNN: the pure numpy behind lesson 04 and the widgets.

Row-vector convention, as everywhere in rnnlib: h_t = f(x_t Wx + h_{t-1} Wh + b). Then
∂h_t/∂h_{t-1} = diag(f'(a_t)) Whᵀ (in column form), so the gradient reaching h_k from h_T is a
product of T - k such Jacobians. Whether it vanishes or explodes depends on the largest singular
value of Wh against 1/γ, where γ bounds |f'| (1 for tanh, 1/4 for sigmoid) — Pascanu et al., 2013.
"""
import numpy as np

from ._checks import check_array, check_positive
from .losses import softmax
from .rnn import rnn_backward, rnn_forward


def _sigmoid(a):
    return 0.5 * (1 + np.tanh(0.5 * a))   # stable for any a


# name -> (f, f' as a function of the pre-activation a, γ = sup |f'|)
ACTIVATIONS = {
    "tanh": (np.tanh, lambda a: 1 - np.tanh(a) ** 2, 1.0),
    "sigmoid": (_sigmoid, lambda a: _sigmoid(a) * (1 - _sigmoid(a)), 0.25),
    "relu": (lambda a: np.maximum(a, 0), lambda a: (a > 0).astype(float), 1.0),
    "linear": (lambda a: a, np.ones_like, 1.0),
}


def jacobian_norms(h, Wh):
    """Spectral norms of ∂h_T/∂h_k for a tanh RNN (largest singular values, not Frobenius).

    h (T, H): the hidden states h_1..h_T of one sequence; Wh (H, H).
    Returns norms (T,): norms[k] = ||∂h_T/∂h_k||_2 with k indexing h's rows, so norms[T-1] = 1
    (the identity). Going back one step multiplies by J_t = diag(1 - h_t²) Whᵀ (column form).
    """
    dims = {}
    check_array("h", h, ("T", "H"), dims)
    check_array("Wh", Wh, ("H", "H"), dims)
    T, H = h.shape
    norms = np.empty(T)
    J = np.eye(H)                      # ∂h_T/∂h_k, built from k = T-1 downwards
    norms[-1] = 1.0
    for k in range(T - 2, -1, -1):
        J = J @ ((1 - h[k + 1] ** 2)[:, None] * Wh.T)   # ∂h_T/∂h_{k+1} · ∂h_{k+1}/∂h_k
        norms[k] = np.linalg.norm(J, 2)
    return norms


def recurrent_matrix(H, radius, seed=0, kind="singular"):
    """A random (H, H) matrix scaled so that its largest singular value (kind="singular") or its
    spectral radius (kind="spectral") equals radius."""
    check_positive("H", H)
    W = np.random.default_rng(seed).standard_normal((H, H))
    scale = np.linalg.svd(W, compute_uv=False)[0] if kind == "singular" else np.abs(np.linalg.eigvals(W)).max()
    return W * (radius / scale)


def gradient_flow(radius=0.9, T=40, activation="tanh", H=32, seed=0, clip=None, input_scale=0.5):
    """Backpropagate L = ½||h_T||² through a random RNN and measure the gradient at every step.

    radius: spectral radius of Wh (largest |eigenvalue|); clip: if a number, the whole gradient
    (all steps) is clipped to that global norm, as clip_grad_norm would.
    Returns a dict: norms (T,) = ||∂L/∂h_t||, per_unit (T, H) = |∂L/∂h_t|, total_norm (before
    clipping), clipped_norm (after), gamma, the Pascanu threshold 1/gamma, and sigma_max, Wh's
    largest singular value (below 1/gamma the gradient must vanish).
    """
    f, df, gamma = ACTIVATIONS[activation]
    rng = np.random.default_rng(seed)
    Wh = recurrent_matrix(H, radius, seed, kind="spectral")
    U = rng.standard_normal((H, H)) * input_scale / np.sqrt(H)
    xs = rng.standard_normal((T, H))
    h, pre = np.zeros(H), []
    for t in range(T):
        a = h @ Wh + xs[t] @ U
        pre.append(a)
        h = f(a)
    g = h.copy()                                   # ∂L/∂h_T for L = ½||h_T||²
    per_unit = np.empty((T, H))
    per_unit[-1] = g
    for t in range(T - 1, 0, -1):
        g = (g * df(pre[t])) @ Wh.T                # row form of Jᵀ g
        per_unit[t - 1] = g
    total = float(np.linalg.norm(per_unit))
    if clip is not None and total > clip:
        per_unit = per_unit * (clip / total)
    per_unit = np.abs(per_unit)
    return {"norms": np.linalg.norm(per_unit, axis=1), "per_unit": per_unit, "total_norm": total,
            "clipped_norm": float(np.linalg.norm(per_unit)), "gamma": gamma, "threshold": 1 / gamma,
            "sigma_max": float(np.linalg.svd(Wh, compute_uv=False)[0])}


def bptt_trace(T=5, N=1, D=3, H=4, seed=0):
    """Step-by-step data for watching BPTT: the loss is on every step's hidden state.

    Returns a list of T dicts, one per backward step (t = T-1 down to 0), each with
    t, dh_norm (||total gradient into h_t||), out_edge (||dh[:, t]||, from the output),
    rec_edge (||gradient passed on to h_{t-1}||), in_edge (||dx_t||), and the running sums
    dWh, dWx after that step. The last entry's sums equal rnn_backward's dWh, dWx.
    """
    rng = np.random.default_rng(seed)
    x, h0 = rng.standard_normal((N, T, D)), np.zeros((N, H))
    Wx, Wh, b = rng.standard_normal((D, H)) / np.sqrt(D), rng.standard_normal((H, H)) / np.sqrt(H), np.zeros(H)
    _, cache = rnn_forward(x, h0, Wx, Wh, b)
    dh = rng.standard_normal((N, T, H))
    steps, dprev = [], np.zeros((N, H))
    dWh, dWx = np.zeros_like(Wh), np.zeros_like(Wx)
    for t in reversed(range(T)):
        total = dh[:, t] + dprev
        dx, dprev, gx, gh, _ = rnn_backward(total[:, None], cache[t:t + 1])
        dWh, dWx = dWh + gh, dWx + gx
        steps.append({"t": t, "dh_norm": float(np.linalg.norm(total)), "out_edge": float(np.linalg.norm(dh[:, t])),
                      "rec_edge": float(np.linalg.norm(dprev)), "in_edge": float(np.linalg.norm(dx)),
                      "dWh": dWh.copy(), "dWx": dWx.copy()})
    return steps, (dh, cache)


BASE_LOGITS = np.array([1.0, 0.6, 0.2, -0.3, -1.0])


def softmax_overflow(scale, logits=BASE_LOGITS):
    """Naive and stable softmax of logits * scale: returns (naive, stable, naive_failed)."""
    z = logits * scale
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(z) / np.exp(z).sum()
    return naive, softmax(z), bool(~np.isfinite(naive).all())
