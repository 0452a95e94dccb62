"""Vanishing and exploding gradients: Jacobian norms through time, clipping by global norm."""
import numpy as np

from .. import rnn
from . import core
from .core import GradingFailure, Lesson

LESSON = Lesson(
    "04_vanishing_gradients",
    exercises={"jacobian_norms": "gradflow:jacobian_norms", "clip_grad_norm": "optim:clip_grad_norm"},
)


def _tanh_trajectory(T, H, seed, scale):
    rng = np.random.default_rng(seed)
    Wh = scale * rng.standard_normal((H, H)) / np.sqrt(H)
    x = rng.standard_normal((1, T, 3))
    h, _ = rnn.rnn_forward(x, np.zeros((1, H)), rng.standard_normal((3, H)), Wh, np.zeros(H))
    return h[0], Wh


def _jacobian_variant(h, Wh, norm=2, transpose=True, deriv="h_t", order="right", columns=False, running=True):
    T, H = h.shape
    out, J = np.empty(T), np.eye(H)
    out[-1] = np.linalg.norm(J, norm)
    for k in range(T - 2, -1, -1):
        d = {"h_t": 1 - h[k + 1] ** 2, "h_prev": 1 - h[k] ** 2, "unsquared": 1 - h[k + 1]}[deriv]
        W = Wh.T if transpose else Wh
        step = W * d if columns else d[:, None] * W
        J = (J @ step if order == "right" else step @ J) if running else step
        out[k] = np.linalg.norm(J, norm)
    return out


_JACOBIAN_MISTAKES = [
    ({"norm": "fro"}, "that is the Frobenius norm; the exercise asks for the spectral norm, np.linalg.norm(J, 2)."),
    ({"deriv": "h_prev"}, "the Jacobian of step t uses that step's output: diag(1 - h_t**2) Wh^T, not 1 - h_{t-1}**2."),
    ({"transpose": False}, "in column form each factor is diag(1 - h_t**2) @ Wh.T (row-vector code h_{t-1} @ Wh)."),
    ({"order": "left"}, "the product is in the wrong order (or its factors are transposed, which gives the same "
     "norms): dh_T/dh_k = J_T J_{T-1} ... J_{k+1}; extend it on the right."),
    ({"deriv": "unsquared"}, "tanh's derivative is 1 - h**2; the square is missing (1 - h)."),
    ({"columns": True}, "d * Wh.T scales the columns of Wh.T (broadcasting along the last axis), which is Wh.T @ diag(d), "
     "the factors in the wrong order (a transpose); diag(1 - h_t**2) @ Wh.T scales its rows: d[:, None] * Wh.T."),
    ({"running": False}, "each norm is of one step's Jacobian alone: dh_T/dh_k is the running product of every step's "
     "Jacobian from k+1 to T, accumulated as k goes back (J = J @ step), never reset."),
]


def check_jacobian_norms(fn, T=12, H=6, seed=0, scale=1.0):
    """Check jacobian_norms(h, Wh) -> norms (T,) with norms[k] = ||dh_T/dh_k||_2."""
    __tracebackhide__ = True
    name = "jacobian_norms"
    from ..gradflow import jacobian_norms as reference
    h, Wh = _tanh_trajectory(T, H, seed, scale)
    got = LESSON.call(name, fn, h.copy(), Wh.copy())
    got = np.asarray(got, dtype=float) if isinstance(got, (list, tuple)) else got
    expected = reference(h, Wh)
    if isinstance(got, np.ndarray) and got.shape == (T - 1,):
        raise GradingFailure(f"{name}: returned {T - 1} norms, expected T = {T}: include k = T-1, where "
                             f"dh_T/dh_T is the identity (norm 1).")
    core.as_array(name, "norms", got, expected.shape)
    line = core.mismatch("norms", got, expected, tol=1e-7)
    if line:
        variants = [(hint, _jacobian_variant(h, Wh, **kw)) for kw, hint in _JACOBIAN_MISTAKES]
        variants.append(("off by one: norms[k] is for h's row k, and norms[T-1] = 1.",
                         np.concatenate([expected[1:], [1.0]])))
        found = core.hints(got, variants, expected, "norms", time_axis=0)
        reading = None if any(isinstance(f, str) for f in found) else _jacobian_reading(fn, T, H, seed)
        core.fail(name, [(line, found + ([reading] if reading else []))])
    core.passed(name)


def _jacobian_reading(fn, T, H, seed, c=0.5):
    """Why the norms are wrong, from two probes with h = 0, where every tanh derivative is 1:
    with Wh = c * I each step's Jacobian is c * I, so norms[k] = c ** (the number of steps the
    product multiplies); with a general Wh only a transpose or the factors' order can still be
    wrong; right on both, the error comes with h's values, that is with the derivative."""
    from ..gradflow import jacobian_norms as reference
    name, zeros = "jacobian_norms", np.zeros((T, H))
    got = np.asarray(LESSON.call(name, fn, zeros.copy(), c * np.eye(H)), dtype=float)
    if got.shape != (T,) or not np.isfinite(got).all():
        return None
    if not core.close(got, reference(zeros, c * np.eye(H)), 1e-9):
        # ||c**n I||_F = sqrt(H) c**n (norms[T-1], the identity's, may be written as 1 beforehand)
        if core.close(got[:-1], np.sqrt(H) * reference(zeros, c * np.eye(H))[:-1], 1e-9):
            return (f"with h = 0 and Wh = {c:g} * I the norms are sqrt(H) = {np.sqrt(H):.4g} times the right ones, as "
                    f"the Frobenius norm of a multiple of the identity is: the Frobenius norm is taken instead of the "
                    f"spectral norm, np.linalg.norm(J, 2)")
        with np.errstate(all="ignore"):
            steps = np.log(got) / np.log(c)
        if not ((got > 0).all() and np.allclose(steps, np.round(steps), atol=1e-6)):
            return None
        return (f"with h = 0 and Wh = {c:g} * I, each step's Jacobian is {c:g} * I and norms[k] = {c:g} ** (the number "
                f"of steps multiplied): here norms[k] multiplies {np.round(steps).astype(int).tolist()} steps, where it "
                f"must multiply T-1-k = {list(range(T - 1, -1, -1))}: look at the loop's range and at what is carried "
                f"from one k to the next")
    Wh = np.random.default_rng(seed + 1).standard_normal((H, H)) / np.sqrt(H)
    got = np.asarray(LESSON.call(name, fn, zeros.copy(), Wh.copy()), dtype=float)
    if got.shape == (T,) and not core.close(got, reference(zeros, Wh), 1e-9):
        return ("with h = 0 (every tanh derivative 1) the norms are right for Wh = 0.5 * I but not for a general Wh: a "
                "transpose is missing or extra (Wh for Wh.T, or J.T), or the factors of the product are in the wrong order")
    return ("with h = 0 (every tanh derivative 1) the norms are right for any Wh, so the error comes with h's values, "
            "which enter only through the tanh derivative diag(1 - h_t**2): look at that factor (which step's h, the "
            "square, the 1 -)")


def check_clip_grad_norm(fn, seed=0, max_norm=1.0):
    """Check clip_grad_norm(grads, max_norm) -> total_norm: global norm, scaled in place."""
    __tracebackhide__ = True
    name = "clip_grad_norm"
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    for factor in (5.0, 0.5):   # above the threshold, then below it
        grads = {f"g{i}": rng.standard_normal(s) for i, s in enumerate(shapes)}
        total = float(np.sqrt(sum((g ** 2).sum() for g in grads.values())))
        for g in grads.values():
            g *= factor * max_norm / total
        before = {k: g.copy() for k, g in grads.items()}
        arrays = {k: g for k, g in grads.items()}
        result = LESSON.call(name, fn, grads, max_norm)
        norm = factor * max_norm
        if not isinstance(result, (float, int, np.floating)) or not np.isfinite(result):
            raise GradingFailure(f"{name}: should return the total norm before clipping (a number), got {result!r}.")
        if any(grads[k] is not arrays[k] for k in grads):
            raise GradingFailure(f"{name}: replaced arrays in the dict; scale them in place (g *= scale) so that "
                                 f"whoever holds them sees the change.")
        problems = []
        if abs(result - norm) > 1e-9 * norm:
            hint = (["it returned the norm after clipping instead of the norm before (which monitors explosions)."]
                    if abs(result - min(norm, max_norm)) < 1e-9 else
                    ["the square root is missing: that is the sum of squares, the squared norm."]
                    if abs(result - norm ** 2) < 1e-9 * norm ** 2 else [])
            problems.append((f"returned total norm {result:.6g}, expected {norm:.6g} (the global norm before clipping)", hint))
        scale = min(1.0, max_norm / norm)
        for k, g in grads.items():
            line = core.mismatch(f"grads[{k!r}] after clipping (global norm {norm:.3g}, max_norm {max_norm:g})",
                             g, before[k] * scale, tol=1e-9)
            if line:
                per_array = before[k] * min(1.0, max_norm / np.linalg.norm(before[k]))
                variants = [("each array was clipped by its own norm: the sum of squares runs over each array alone "
                             "(the wrong axes of the reduction) instead of over all of them; clip every array by their "
                             "global norm (one factor max_norm / total for every array).", per_array),
                            ("entries were clipped one by one (np.clip), as min-char-rnn does: a real kind of "
                             "clipping, but not this exercise's. clip_grad_norm scales every entry by one factor, "
                             "max_norm / total, which keeps the gradient's direction.",
                             np.clip(before[k], -max_norm, max_norm)),
                            ("the square root is missing from the norm: the arrays are scaled by max_norm / (the sum "
                             "of squares).", before[k] * min(1.0, max_norm / norm ** 2)),
                            ("the arrays were rescaled although their global norm is below max_norm: scale only when "
                             "the norm exceeds it (the factor is min(1, max_norm / total)).", before[k] * max_norm / norm),
                            # unchanged arrays have several causes that leave the same result: all are named
                            ("the arrays in the dict are unchanged although the global norm is above max_norm: either "
                             "the condition that decides whether to scale is wrong, or the scale factor is 1, or the "
                             "loop over the arrays never runs, or the scaled values are not written into the dict's "
                             "arrays in place (g *= factor changes the array; g = g * factor only rebinds the name g).",
                             before[k])]
                problems.append((line, core.hints(g, variants, before[k] * scale, f"grads[{k!r}]")))
                break
        if problems:
            core.fail(name, problems)
    core.passed(name)
