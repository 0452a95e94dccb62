"""Checks behind every test cell: one place, so students and the autograder get the same message.

Each ``check_<exercise>(fn, ...)`` runs the student's function on seeded inputs, compares it with
rnnlib's reference (outputs) or with rnnlib's trusted numerical gradients (backwards, float64),
prints one line when everything holds and otherwise raises ``GradingFailure`` with a message a
student can act on: which output or gradient, the relative error and tolerance, the worst index
with the expected and obtained values, and, for well-known mistakes, a hint naming the cause.

Known mistakes are recognised, not guessed: each is a deliberately wrong variant of the reference
(e.g. a backward that keeps only the last step's dWh), and a hint is given when the student's
result equals that variant's. Every check also rejects a function that runs rnnlib's reference
implementation: an exercise that only delegates to it earns nothing.
"""
import sys
import traceback
from pathlib import Path

import numpy as np

from . import gradcheck, layers, losses, lstm, rnn

TOL = 1e-7


class GradingFailure(AssertionError):
    """A test cell's verdict: the message says what is wrong and how to find it."""

    def _render_traceback_(self):
        # IPython shows these lines instead of a traceback: the message is the whole story, and
        # the test cell's source (hidden tests included) stays out of the student's feedback.
        lines = [f"{type(self).__name__}: {line}" if i == 0 else line
                 for i, line in enumerate(str(self).splitlines())]
        if self.__cause__ is not None:   # the student's own code crashed: show where, in their code
            frames = [f for f in traceback.extract_tb(self.__cause__.__traceback__)
                      if f.filename != __file__]
            lines += ["", "Where it happened (most recent call last):"] + [
                f"  {f.name}, line {f.lineno}: {f.line}" for f in frames]
        return lines


# --- running the student's code -------------------------------------------------------------

_PACKAGE = Path(__file__).resolve().parent
# Files whose code an exercise function may run: input checks, plotting, widgets. Not this file:
# its private reference variants are solutions too.
_NOT_REFERENCE = {"_checks.py", "plots.py", "widgets.py", "__init__.py"}


def _call(name, fn, *args, allowed=(), callbacks=(), **kwargs):
    """Run the student's fn; turn 'not written yet', crashes and delegation into clear failures.

    allowed: rnnlib module file names fn may run (e.g. "models.py"); while fn runs, any call into
    another rnnlib module counts as delegating to the reference implementation.
    callbacks: functions of ours that fn is given and may call (e.g. the f of numerical_gradient).
    """
    __tracebackhide__ = True
    if not callable(fn):
        raise GradingFailure(f"{name}: expected a function, got {type(fn).__name__}. Run the cell that defines it.")
    forbidden = {str(p) for p in _PACKAGE.glob("*.py") if p.name not in _NOT_REFERENCE | set(allowed)}
    ours = {f.__code__ for f in callbacks}
    seen = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename in forbidden and frame.f_code not in ours:
            seen.append(frame.f_code.co_name)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        raise GradingFailure(f"{name} is not written yet (it raised NotImplementedError): replace the "
                             f"`raise NotImplementedError()` line with your code and run its cell again.") from None
    except GradingFailure:
        raise
    except Exception as e:
        shapes = ", ".join(f"{np.shape(a)}" for a in args if isinstance(a, np.ndarray))
        raise GradingFailure(f"{name} raised {type(e).__name__}: {e}\n  (called with arrays of shapes {shapes})") from e
    finally:
        sys.setprofile(previous)
    if seen:
        public = sorted({f for f in seen if not f.startswith(("_", "<"))})
        used = ", ".join(public or sorted(set(seen)))
        raise GradingFailure(f"{name} runs rnnlib's reference implementation ({used}). This exercise is "
                             f"for writing it yourself with numpy: it earns no points while it calls rnnlib.")
    return result


def _unpack(name, result, fields):
    """Check that fn returned a tuple with the documented fields."""
    if not isinstance(result, tuple) or len(result) != len(fields):
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        raise GradingFailure(f"{name}: expected it to return a tuple ({', '.join(fields)}), got {got}.")
    return result


def _as_array(name, what, value, shape):
    if not isinstance(value, np.ndarray):
        raise GradingFailure(f"{name}: {what} should be a numpy array of shape {shape}, got {type(value).__name__}.")
    if value.shape != tuple(shape):
        raise GradingFailure(f"{name}: {what} has shape {value.shape}, expected {tuple(shape)}."
                             + _shape_hint(value.shape, shape))
    if not np.isfinite(value).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        raise GradingFailure(f"{name}: {what} contains {value[idx]} at index {idx}; expected finite values.")
    return value


def _shape_hint(got, want):
    if tuple(got) == tuple(want)[::-1] or sorted(got) == sorted(want):
        return " The sizes are right but in the wrong order: a transpose is probably missing or extra."
    return ""


def _mismatch(what, got, expected, tol=TOL):
    """None if got matches expected, else a line naming the relative error and the worst entry."""
    check = gradcheck.compare(what, got, expected, tol)
    if check.ok:
        return None
    return (f"{what}: relative error {check.rel_error:.1e} > tolerance {tol:.0e}; worst at index "
            f"{check.worst_index}: expected {check.numerical:.6g}, got {check.analytic:.6g}")


def _hints(got, variants, correct):
    """Hints of the known mistakes whose result equals the student's (and differs from correct)."""
    return [hint for hint, value in variants
            if value is not None and np.shape(value) == np.shape(got) and gradcheck.compare("", got, value, 1e-6).ok
            and not gradcheck.compare("", value, correct, 1e-6).ok]


def _fail(name, problems):
    """problems: list of (line, [hints]). Each distinct hint is given once, after the problems."""
    wrong = [line for line, _ in problems if not line.startswith("correct:")]
    lines = [f"{name}: {len(wrong)} problem{'s' if len(wrong) > 1 else ''} found."]
    lines += ["  " + line for line, _ in problems]
    hints = list(dict.fromkeys(h for _, hs in problems for h in hs))
    lines += [f"  Likely cause: {h}" for h in hints]
    raise GradingFailure("\n".join(lines))


def _passed(name, detail=""):
    print(f"{name}: all checks passed{detail}")


# --- 01: forward pass -----------------------------------------------------------------------

def _cs231n_step_inputs():
    N, D, H = 3, 10, 4
    return (np.linspace(-0.4, 0.7, num=N * D).reshape(N, D), np.linspace(-0.2, 0.5, num=N * H).reshape(N, H),
            np.linspace(-0.1, 0.9, num=D * H).reshape(D, H), np.linspace(-0.3, 0.7, num=H * H).reshape(H, H),
            np.linspace(-0.2, 0.4, num=H))


def _step_inputs(N, D, H, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((D, H)) / np.sqrt(D),
            rng.standard_normal((H, H)) / np.sqrt(H), 0.5 * rng.standard_normal(H))


def _step_forward_variants(x, prev_h, Wx, Wh, b):
    a = x @ Wx + prev_h @ Wh + b
    return [
        ("no activation: next_h must be tanh(x @ Wx + prev_h @ Wh + b).", a),
        ("sigmoid used where the RNN uses tanh.", 1 / (1 + np.exp(-np.clip(a, -500, 500)))),
        ("Wh is transposed: the recurrent term is prev_h @ Wh (row vectors), not prev_h @ Wh.T.",
         np.tanh(x @ Wx + prev_h @ Wh.T + b)),
        ("the bias b is missing.", np.tanh(x @ Wx + prev_h @ Wh)),
        ("the recurrent term prev_h @ Wh is missing: the state must feed back into the next step.",
         np.tanh(x @ Wx + b)),
    ]


def _check_step_forward_output(fn, args, label):
    name = "rnn_step_forward"
    next_h, cache = _unpack(name, _call(name, fn, *args), ("next_h", "cache"))
    expected = rnn.rnn_step_forward(*args)[0]
    _as_array(name, "next_h", next_h, expected.shape)
    line = _mismatch(f"next_h ({label})", next_h, expected)
    if line:
        x, prev_h, Wx, Wh, b = args
        zero = np.zeros_like
        terms = [("input term x @ Wx (prev_h = 0, b = 0)", (x, zero(prev_h), Wx, Wh, zero(b))),
                 ("recurrent term prev_h @ Wh (x = 0, b = 0)", (zero(x), prev_h, Wx, Wh, zero(b))),
                 ("bias b (x = 0, prev_h = 0)", (zero(x), zero(prev_h), Wx, Wh, b))]
        wrong = [t for t, targs in terms
                 if _mismatch("", _call(name, fn, *targs)[0], rnn.rnn_step_forward(*targs)[0])]
        hints = _hints(next_h, _step_forward_variants(*args), expected)
        if wrong and len(wrong) < len(terms):
            hints.append("with the other inputs set to zero, only these terms are wrong: " + "; ".join(wrong) + ".")
        _fail(name, [(line, hints)])
    return cache


def _check_step_cache(name, cache, args, next_h, where=""):
    fields = ("x", "prev_h", "Wx", "Wh", "b", "next_h")
    if not isinstance(cache, tuple) or len(cache) != 6:
        raise GradingFailure(f"{name}: the cache{where} must be the tuple (x, prev_h, Wx, Wh, b, next_h) that "
                             f"lesson 03's backward reads, got {type(cache).__name__}"
                             + (f" of length {len(cache)}" if isinstance(cache, (tuple, list)) else "") + ".")
    for field, got, want in zip(fields, cache, (*args, next_h)):
        if not isinstance(got, np.ndarray) or got.shape != want.shape or not np.allclose(got, want, rtol=1e-10, atol=1e-12):
            raise GradingFailure(f"{name}: cache{where} field {fields.index(field)} should be {field} "
                                 f"(the order is x, prev_h, Wx, Wh, b, next_h), but it holds something else.")


def check_rnn_step_forward(fn, N=3, D=10, H=4, seed=0):
    """Check rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)."""
    __tracebackhide__ = True
    name = "rnn_step_forward"
    cases = [("random inputs", _step_inputs(N, D, H, seed))]
    if (N, D, H) == (3, 10, 4):
        cases.insert(0, ("CS231n's published test values", _cs231n_step_inputs()))
    for label, args in cases:
        cache = _check_step_forward_output(fn, args, label)
        _check_step_cache(name, cache, args, rnn.rnn_step_forward(*args)[0])
    _passed(name)


def _seq_inputs(N, T, D, H, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((D, H)) / np.sqrt(D),
            rng.standard_normal((H, H)) / np.sqrt(H), 0.5 * rng.standard_normal(H))


def _cs231n_forward_inputs():
    N, T, D, H = 2, 3, 4, 5
    return (np.linspace(-0.1, 0.3, num=N * T * D).reshape(N, T, D), np.linspace(-0.3, 0.1, num=N * H).reshape(N, H),
            np.linspace(-0.2, 0.4, num=D * H).reshape(D, H), np.linspace(-0.4, 0.1, num=H * H).reshape(H, H),
            np.linspace(-0.7, 0.1, num=H))


def _forward_variants(x, h0, Wx, Wh, b):
    h = rnn.rnn_forward(x, h0, Wx, Wh, b)[0]
    shifted = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    first_only = rnn.rnn_forward(np.repeat(x[:, :1], x.shape[1], axis=1), h0, Wx, Wh, b)[0]
    return [
        ("h[:, t] holds the state *before* step t; it must hold next_h, the state after the step.", shifted),
        ("h0 is ignored: the first step must start from the given h0, not from zeros.",
         rnn.rnn_forward(x, np.zeros_like(h0), Wx, Wh, b)[0]),
        ("every step reads x[:, 0]: step t must read x[:, t].", first_only),
        ("the state is not carried: each step must start from the previous step's next_h.",
         np.tanh(x @ Wx + h0[:, None] @ Wh + b)),
    ]


def check_rnn_forward(fn, N=2, T=3, D=4, H=5, seed=0):
    """Check rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)."""
    __tracebackhide__ = True
    name = "rnn_forward"
    cases = [("random inputs", _seq_inputs(N, T, D, H, seed))]
    if (N, T, D, H) == (2, 3, 4, 5):
        cases.insert(0, ("CS231n's published test values", _cs231n_forward_inputs()))
    for label, args in cases:
        h, cache = _unpack(name, _call(name, fn, *args), ("h", "cache"))
        expected, ref_cache = rnn.rnn_forward(*args)
        _as_array(name, "h", h, expected.shape)
        line = _mismatch(f"h ({label})", h, expected)
        if line:
            _fail(name, [(line, _hints(h, _forward_variants(*args), expected))])
        if not isinstance(cache, list) or len(cache) != args[0].shape[1]:
            raise GradingFailure(f"{name}: the cache must be a list of the T = {args[0].shape[1]} step caches, "
                                 f"in time order; got {type(cache).__name__}"
                                 + (f" of length {len(cache)}" if isinstance(cache, (list, tuple)) else "") + ".")
        for t, (step, ref) in enumerate(zip(cache, ref_cache)):
            _check_step_cache(name, step, tuple(ref[:5]), ref.next_h, where=f"[{t}]")
    _passed(name)


def check_temporal_affine_forward(fn, N=2, T=3, H=4, M=5, seed=0):
    """Check temporal_affine_forward(h, V, c) -> (out, cache)."""
    __tracebackhide__ = True
    name = "temporal_affine_forward"
    rng = np.random.default_rng(seed)
    h, V, c = rng.standard_normal((N, T, H)), rng.standard_normal((H, M)), rng.standard_normal(M)
    out, cache = _unpack(name, _call(name, fn, h, V, c), ("out", "cache"))
    expected = h @ V + c
    _as_array(name, "out", out, expected.shape)
    line = _mismatch("out", out, expected)
    if line:
        _fail(name, [(line, _hints(out, [("the bias c is missing: out = h @ V + c.", h @ V)], expected))])
    if not (isinstance(cache, tuple) and len(cache) == 3 and all(a is b or np.array_equal(a, b) for a, b in zip(cache, (h, V, c)))):
        raise GradingFailure(f"{name}: the cache must be the tuple (h, V, c) that the backward reads.")
    _passed(name)


# --- 02: softmax stability ------------------------------------------------------------------

def _logits(shape, scale, seed):
    z = scale * np.random.default_rng(seed).standard_normal(shape)
    if len(shape) > 1 and shape[0] > 1:
        z[0] += 50 * scale   # rows on very different scales: a global max would underflow the others
    return z


def _check_distribution_fn(name, fn, reference, shape, scale, seed, extra_variants):
    z = _logits(shape, scale, seed)
    for axis in (-1, 0) if len(shape) > 1 else (-1,):
        zin = z.copy()
        with np.errstate(all="ignore"):   # a naive softmax overflows here by design; that is what we test
            got = _call(name, fn, zin, axis=axis)
        expected = reference(z, axis=axis)
        if isinstance(got, np.ndarray) and not np.isfinite(got).all():
            raise GradingFailure(
                f"{name}: returned non-finite values (e.g. {got[~np.isfinite(got)].flat[0]}) for logits up to "
                f"|z| = {np.abs(z).max():.3g}. exp overflows above ~709.8 (inf / inf = nan) and underflows to 0 "
                f"below ~-745 (log 0 = -inf). Subtract each slice's own max along the axis (keepdims=True), "
                f"not the global max of z, before exp.")
        _as_array(name, f"{name}(z, axis={axis})", got, expected.shape)
        if not np.array_equal(zin, z):
            raise GradingFailure(f"{name}: modified its input z in place; compute on a new array instead.")
        line = _mismatch(f"{name}(z, axis={axis}) for z of shape {z.shape}", got, expected)
        if line:
            variants = [("normalised along the wrong axis: use the `axis` argument (and keepdims=True).",
                         reference(z, axis=other)) for other in range(z.ndim) if other % z.ndim != axis % z.ndim]
            _fail(name, [(line, _hints(got, variants + extra_variants(z, axis), expected))])


def check_softmax(fn, shape=(4, 6), scale=1.0, seed=0):
    """Check softmax(z, axis=-1): matches exp(z)/sum(exp(z)), stays finite for extreme logits."""
    __tracebackhide__ = True

    def variants(z, axis):
        with np.errstate(all="ignore"):
            e = np.exp(z - z.max())
            return [("subtract the max of each slice along the axis (keepdims=True), not the global max of z.",
                     e / e.sum(axis=axis, keepdims=True))]
    _check_distribution_fn("softmax", fn, losses.softmax, shape, scale, seed, variants)
    _passed("softmax")


def check_log_softmax(fn, shape=(4, 6), scale=1.0, seed=0):
    """Check log_softmax(z, axis=-1): matches log(softmax(z)), stays finite for extreme logits."""
    __tracebackhide__ = True

    def variants(z, axis):
        return [("the log-sum-exp term is missing: log_softmax(z) = z - logsumexp(z), not z - max(z).",
                 z - z.max(axis=axis, keepdims=True))]
    _check_distribution_fn("log_softmax", fn, losses.log_softmax, shape, scale, seed, variants)
    _passed("log_softmax")


def check_temporal_softmax_loss(fn, N=3, T=4, V=5, scale=1.0, use_mask=False, seed=0):
    """Check temporal_softmax_loss(x, y, mask=None) -> (loss, dx)."""
    __tracebackhide__ = True
    name = "temporal_softmax_loss"
    rng = np.random.default_rng(seed)
    x = scale * rng.standard_normal((N, T, V))
    y = rng.integers(V, size=(N, T))
    mask = rng.random((N, T)) < 0.6 if use_mask else None
    if mask is not None:
        mask[0, 0] = True
    xin = x.copy()
    with np.errstate(all="ignore"):
        result = _call(name, fn, xin, y, mask) if use_mask else _call(name, fn, xin, y)
    loss, dx = _unpack(name, result, ("loss", "dx"))
    ref_loss, ref_dx = losses.temporal_softmax_loss(x, y, mask)
    if not np.array_equal(xin, x):
        raise GradingFailure(f"{name}: modified its input x in place; compute on a new array instead.")
    if not np.isscalar(loss) and np.shape(loss) != ():
        raise GradingFailure(f"{name}: loss should be a single number, got an array of shape {np.shape(loss)}.")
    if not np.isfinite(loss):
        raise GradingFailure(f"{name}: loss is {loss} for scores up to |x| = {np.abs(x).max():.3g}. "
                             f"Compute it from log_softmax (max-shifted), never as log(softmax).")
    problems = []
    m = np.ones((N, T)) if mask is None else mask
    per_step = -np.take_along_axis(losses.log_softmax(x), y[..., None], -1)[..., 0] * m
    loss_variants = [
        ("the loss is averaged over N and T; it must be summed over time and averaged over the batch only.",
         per_step.sum() / (N * T)),
        ("the loss is summed over the batch; divide the sum by N.", per_step.sum()),
        ("the mask is ignored: masked-out steps (mask False) must not count.",
         -np.take_along_axis(losses.log_softmax(x), y[..., None], -1).sum() / N),
    ]
    line = _mismatch("loss", np.array([float(loss)]), np.array([ref_loss]))
    if line:
        problems.append((line, _hints(np.array([float(loss)]), [(h, np.array([v])) for h, v in loss_variants],
                                      np.array([ref_loss]))))
    _as_array(name, "dx", dx, x.shape)
    line = _mismatch("dx", dx, ref_dx)
    if line:
        p = losses.softmax(x)
        onehot = np.eye(V)[y]
        dx_variants = [
            ("dx is not divided by N: the loss is averaged over the batch, so is its gradient.", ref_dx * N),
            ("the one-hot target is not subtracted: dx = softmax(x) - onehot(y), then / N.", p * m[..., None] / N),
            ("dx is averaged over N and T; only the batch average applies (divide by N).", ref_dx / T),
            ("the mask is not applied to dx: masked steps get zero gradient.", (p - onehot) / N),
        ]
        problems.append((line, _hints(dx, dx_variants, ref_dx)))
    if problems:
        _fail(name, problems)
    _passed(name)


# --- 03: backpropagation through time -------------------------------------------------------

def check_numerical_gradient(fn, seed=0):
    """Check numerical_gradient(f, x, h=1e-5): centred differences, x restored, any shape."""
    __tracebackhide__ = True
    name = "numerical_gradient"
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((3, 4))
    for x0, g, A_, what in [(rng.standard_normal(5), "cube", 1.0, "f(x) = sum(x**3), x of shape (5,)"),
                            (rng.standard_normal((3, 4)), "tanh", A, "f(x) = sum(tanh(A * x)), x of shape (3, 4)")]:
        x = x0.copy()
        objective = gradcheck.SumOf(x, g, A_)
        exact = gradcheck.SumOf(x0.copy(), g, A_).gradient()
        got = _call(name, fn, objective, x, callbacks=(objective.__call__,))
        if not np.array_equal(x, x0):
            raise GradingFailure(f"{name}: x was not restored after the loop (e.g. x{np.unravel_index(np.argmax(x != x0), x.shape)} "
                                 f"changed from {x0[x != x0][0]:.6g} to {x[x != x0][0]:.6g}). Put x[i] back to its "
                                 f"old value after evaluating f(x + h) and f(x - h).")
        _as_array(name, f"the gradient of {what}", got, x.shape)
        line = _mismatch(f"gradient of {what}", got, exact, tol=1e-7)
        if line:
            h, probe = 1e-5, gradcheck.SumOf(x0.copy(), g, A_)
            forward_diff = np.empty(x0.size)
            for i in range(x0.size):
                probe.x.flat[i] += h
                forward_diff[i] = (probe() - gradcheck.SumOf(x0, g, A_)()) / h
                probe.x.flat[i] -= h
            variants = [("a one-sided difference (f(x+h) - f(x)) / h has O(h) error; use the centred "
                         "(f(x+h) - f(x-h)) / (2h), whose error is O(h**2).", forward_diff.reshape(x0.shape)),
                        ("divide the centred difference by 2h, not h.", 2 * exact)]
            _fail(name, [(line, _hints(got, variants, exact))])
    _passed(name)


# Known BPTT mistakes, written as deliberately wrong variants of the reference step backward.
def _step_backward_variant(dnext_h, c, deriv="next_h", transpose=True, db="sum"):
    local = {"next_h": 1 - c.next_h ** 2, "prev_h": 1 - c.prev_h ** 2, "none": 1.0,
             "tanh_twice": 1 - np.tanh(c.next_h) ** 2}[deriv]
    da = dnext_h * local
    Wh = c.Wh.T if transpose else c.Wh
    return (da @ c.Wx.T, da @ Wh, c.x.T @ da, c.prev_h.T @ da, da.sum(0) if db == "sum" else da.mean(0))


_STEP_MISTAKES = [
    ({"deriv": "prev_h"}, "the tanh derivative must use this step's output: 1 - next_h**2, not 1 - prev_h**2."),
    ({"deriv": "none"}, "the gradient must pass through tanh: multiply by 1 - next_h**2 first (da = dnext_h * (1 - next_h**2))."),
    ({"deriv": "tanh_twice"}, "next_h is already tanh(a): its derivative is 1 - next_h**2, not 1 - tanh(next_h)**2."),
    ({"transpose": False}, "a transpose is missing: dprev_h = da @ Wh.T (row vectors), not da @ Wh."),
    ({"db": "mean"}, "the bias gradient is averaged over the batch; sum it: db = da.sum(axis=0)."),
]


def _rnn_backward_variant(dh, cache, order="backward", carry=True, accumulate="sum", **step_kwargs):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0].x.shape[1]))
    grads = [np.zeros_like(cache[0].Wx), np.zeros_like(cache[0].Wh), np.zeros_like(cache[0].b)]
    dprev = np.zeros((N, H))
    steps = range(T - 1, -1, -1) if order == "backward" else range(T)
    for t in steps:
        dx[:, t], dprev_t, *step = _step_backward_variant(dh[:, t] + (dprev if carry else 0), cache[t], **step_kwargs)
        dprev = dprev_t
        _accumulate(grads, step, accumulate, last=t == T - 1)
    return (dx, dprev, *grads)


def _accumulate(totals, parts, how, last):
    """Add one step's weight gradients to the totals: right ("sum") or as the known mistakes do."""
    for total, part in zip(totals, parts):
        if how == "sum" or (how == "last_step" and last):
            total += part
        elif how == "overwrite":
            total[...] = part


_SEQUENCE_MISTAKES = [
    ({"accumulate": "overwrite"}, "a shared weight's gradient is overwritten at every step, so only one step's "
     "contribution is left. Wx, Wh and b are used by every step: add each step's gradient (dWh += ...)."),
    ({"accumulate": "last_step"}, "the weight gradients come from the last time step only. Wx, Wh and b are "
     "shared by all T steps: their gradients are sums over t of every step's contribution."),
    ({"carry": False}, "dh_t must also receive the gradient flowing back from step t+1: pass "
     "dh[:, t] + dprev_h into the step backward, not dh[:, t] alone."),
    ({"order": "forward"}, "time runs the wrong way: backpropagate from t = T-1 down to 0, since step t "
     "needs the gradient from step t+1."),
] + _STEP_MISTAKES


def _gradient_failures(name, report, correct, variants):
    """Turn a failing GradReport into problems; variants: list of (hint, grads tuple) for known mistakes."""
    problems = []
    for k, check in enumerate(report.checks.values()):
        if check.ok:
            continue
        if not check.shape_ok:
            got = np.shape(report.grads[k]) if k < len(report.grads) else "nothing"
            problems.append((f"{check.name} has shape {got}, expected {np.shape(correct[k])}."
                             + _shape_hint(got, np.shape(correct[k])), []))
            continue
        line = (f"{check.name}: relative error {check.rel_error:.1e} > tolerance {check.tol:.0e}; worst at index "
                f"{check.worst_index}: numerical gradient {check.numerical:.6g}, yours {check.analytic:.6g}")
        problems.append((line, _hints(report.grads[k], [(h, g[k]) for h, g in variants], correct[k])))
    for m in report.mutated:
        problems.append((f"it modified its input {m}. A backward must not write into dout or the cache: later "
                         f"steps read them (write da = dnext_h * (...), not dnext_h *= ...).", []))
    ok = [c.name for c in report.checks.values() if c.ok]
    if ok and len(ok) < len(report.checks):
        problems.append(("correct: " + ", ".join(ok), []))
    _fail(name, problems)


def _check_backward(name, fn, forward, inputs, names, reference, variant, mistakes, tol=TOL):
    """Grade fn against numerical gradients of forward; explain failures with the known mistakes."""
    __tracebackhide__ = True
    report = gradcheck.check_gradients(forward, lambda *a: _unpack(name, _call(name, fn, *a), names),
                                       inputs, names, tol=tol)
    if not report.ok:
        cache = forward(*inputs)[-1]
        correct = reference(*report.douts, cache)
        variants = [(hint, variant(*report.douts, cache, **kwargs)) for kwargs, hint in mistakes]
        _gradient_failures(name, report, correct, variants)
    worst = max(c.rel_error for c in report.checks.values())
    _passed(name, f" ({len(names)} gradients match numerical ones, worst relative error {worst:.1e})")


def check_rnn_step_backward(fn, N=4, D=5, H=6, seed=0):
    """Check rnn_step_backward(dnext_h, cache) -> (dx, dprev_h, dWx, dWh, db) against numerical gradients."""
    __tracebackhide__ = True
    _check_backward("rnn_step_backward", fn, rnn.rnn_step_forward, _step_inputs(N, D, H, seed),
                    ("dx", "dprev_h", "dWx", "dWh", "db"), rnn.rnn_step_backward, _step_backward_variant,
                    _STEP_MISTAKES)


def check_rnn_backward(fn, N=2, T=10, D=3, H=5, seed=0):
    """Check rnn_backward(dh, cache) -> (dx, dh0, dWx, dWh, db) against numerical gradients (BPTT)."""
    __tracebackhide__ = True
    _check_backward("rnn_backward", fn, rnn.rnn_forward, _seq_inputs(N, T, D, H, seed),
                    ("dx", "dh0", "dWx", "dWh", "db"), rnn.rnn_backward, _rnn_backward_variant,
                    _SEQUENCE_MISTAKES, tol=gradcheck.tolerance(T))


def _affine_backward_variant(dout, cache, dc="sum"):
    h, V, c = cache
    N, T, H = h.shape
    dV = h.reshape(N * T, H).T @ dout.reshape(N * T, -1)
    dcs = {"sum": dout.sum((0, 1)), "mean": dout.mean((0, 1)), "last": dout[:, -1].sum(0)}[dc]
    return dout @ V.T, dV, dcs


_AFFINE_MISTAKES = [
    ({"dc": "mean"}, "the bias gradient is averaged; sum it over the batch and the time steps: dc = dout.sum(axis=(0, 1))."),
    ({"dc": "last"}, "c is shared by every time step: sum its gradient over time as well as over the batch."),
]


def check_temporal_affine_backward(fn, N=2, T=3, H=4, M=5, seed=0):
    """Check temporal_affine_backward(dout, cache) -> (dh, dV, dc) against numerical gradients."""
    __tracebackhide__ = True
    rng = np.random.default_rng(seed)
    inputs = (rng.standard_normal((N, T, H)), rng.standard_normal((H, M)), rng.standard_normal(M))
    _check_backward("temporal_affine_backward", fn, layers.temporal_affine_forward, inputs, ("dh", "dV", "dc"),
                    layers.temporal_affine_backward, _affine_backward_variant, _AFFINE_MISTAKES)


# --- 04: vanishing and exploding gradients --------------------------------------------------

def _tanh_trajectory(T, H, seed, scale):
    rng = np.random.default_rng(seed)
    Wh = scale * rng.standard_normal((H, H)) / np.sqrt(H)
    x = rng.standard_normal((1, T, 3))
    h, _ = rnn.rnn_forward(x, np.zeros((1, H)), rng.standard_normal((3, H)), Wh, np.zeros(H))
    return h[0], Wh


def _jacobian_variant(h, Wh, norm=2, transpose=True, deriv="h_t", order="right"):
    T, H = h.shape
    out, J = np.empty(T), np.eye(H)
    out[-1] = np.linalg.norm(J, norm)
    for k in range(T - 2, -1, -1):
        d = 1 - (h[k + 1] if deriv == "h_t" else h[k]) ** 2
        step = d[:, None] * (Wh.T if transpose else Wh)
        J = J @ step if order == "right" else step @ J
        out[k] = np.linalg.norm(J, norm)
    return out


_JACOBIAN_MISTAKES = [
    ({"norm": "fro"}, "that is the Frobenius norm; the exercise asks for the spectral norm, np.linalg.norm(J, 2)."),
    ({"deriv": "h_prev"}, "the Jacobian of step t uses that step's output: diag(1 - h_t**2) Wh^T, not 1 - h_{t-1}**2."),
    ({"transpose": False}, "in column form each factor is diag(1 - h_t**2) @ Wh.T (row-vector code h_{t-1} @ Wh)."),
    ({"order": "left"}, "the product is in the wrong order: dh_T/dh_k = J_T J_{T-1} ... J_{k+1}; extend it on the right."),
]


def check_jacobian_norms(fn, T=12, H=6, seed=0, scale=1.0):
    """Check jacobian_norms(h, Wh) -> norms (T,) with norms[k] = ||dh_T/dh_k||_2."""
    __tracebackhide__ = True
    name = "jacobian_norms"
    from .gradflow import jacobian_norms as reference
    h, Wh = _tanh_trajectory(T, H, seed, scale)
    got = _call(name, fn, h.copy(), Wh.copy())
    got = np.asarray(got, dtype=float) if isinstance(got, (list, tuple)) else got
    expected = reference(h, Wh)
    if isinstance(got, np.ndarray) and got.shape == (T - 1,):
        raise GradingFailure(f"{name}: returned {T - 1} norms, expected T = {T}: include k = T-1, where "
                             f"dh_T/dh_T is the identity (norm 1).")
    _as_array(name, "norms", got, expected.shape)
    line = _mismatch("norms", got, expected, tol=1e-7)
    if line:
        variants = [(hint, _jacobian_variant(h, Wh, **kw)) for kw, hint in _JACOBIAN_MISTAKES]
        variants.append(("off by one: norms[k] is for h's row k, and norms[T-1] = 1.",
                         np.concatenate([expected[1:], [1.0]])))
        _fail(name, [(line, _hints(got, variants, expected))])
    _passed(name)


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
        result = _call(name, fn, grads, max_norm)
        norm = factor * max_norm
        if not isinstance(result, (float, int, np.floating)) or not np.isfinite(result):
            raise GradingFailure(f"{name}: should return the total norm before clipping (a number), got {result!r}.")
        if any(grads[k] is not arrays[k] for k in grads):
            raise GradingFailure(f"{name}: replaced arrays in the dict; scale them in place (g *= scale) so that "
                                 f"whoever holds them sees the change.")
        problems = []
        if abs(result - norm) > 1e-9 * norm:
            hint = (["it returned the norm after clipping; return the norm before (to monitor explosions)."]
                    if abs(result - min(norm, max_norm)) < 1e-9 else [])
            problems.append((f"returned total norm {result:.6g}, expected {norm:.6g} (the global norm before clipping)", hint))
        scale = min(1.0, max_norm / norm)
        for k, g in grads.items():
            line = _mismatch(f"grads[{k!r}] after clipping (global norm {norm:.3g}, max_norm {max_norm:g})",
                             g, before[k] * scale, tol=1e-9)
            if line:
                per_array = before[k] * min(1.0, max_norm / np.linalg.norm(before[k]))
                variants = [("each array was clipped by its own norm; clip all of them by their global norm "
                             "(one factor max_norm / total for every array).", per_array),
                            ("entries were clipped by value (np.clip); clipping by norm keeps the direction.",
                             np.clip(before[k], -max_norm, max_norm))]
                problems.append((line, _hints(g, variants, before[k] * scale)))
                break
        if problems:
            _fail(name, problems)
    _passed(name)


# --- 05: binary addition --------------------------------------------------------------------

def check_int_to_bits(fn, seed=0):
    """Check int_to_bits(n, width): least-significant bit first, vectorised over int arrays."""
    __tracebackhide__ = True
    from .data import int_to_bits as reference
    name = "int_to_bits"
    rng = np.random.default_rng(seed)
    for n, width, what in [(6, 4, "6 with width 4"), (np.array(rng.integers(0, 256, size=5)), 8, "an array of 5 ints"),
                           (rng.integers(0, 2 ** 12, size=(2, 3)), 12, "a (2, 3) array")]:
        try:
            got = _call(name, fn, n, width)
        except GradingFailure as e:
            if np.ndim(n) == 0:
                raise
            raise GradingFailure(f"{e}\n  Likely cause: it must work on whole arrays of ints at once, e.g. "
                                 f"(n[..., None] >> np.arange(width)) & 1, not one Python int at a time.") from e.__cause__
        expected = reference(n, width)
        if np.shape(got) != expected.shape:
            raise GradingFailure(f"{name}: for {what} the result has shape {np.shape(got)}, expected {expected.shape} "
                                 f"(the input's shape plus a last axis of size width). Use numpy operations that "
                                 f"work on whole arrays, e.g. (n[..., None] >> np.arange(width)) & 1.")
        got = np.asarray(got)
        if not np.array_equal(got, expected):
            hints = (["the bits are most-significant first; this course feeds the least-significant bit first "
                      "(bit k is (n >> k) & 1), as the carry travels from low bits to high."]
                     if np.array_equal(got, expected[..., ::-1]) else [])
            _fail(name, [(f"for {what}: expected {expected.tolist()}, got {got.tolist()}", hints)])
    _passed(name)


def check_bits_to_int(fn, seed=0):
    """Check bits_to_int(bits): inverse of int_to_bits over the last axis."""
    __tracebackhide__ = True
    from .data import int_to_bits
    name = "bits_to_int"
    rng = np.random.default_rng(seed)
    for n, width in [(np.array(11), 4), (rng.integers(0, 256, size=7), 8), (rng.integers(0, 2 ** 16, size=(3, 2)), 16)]:
        bits = int_to_bits(n, width)
        got = _call(name, fn, bits.copy())
        if np.shape(got) != np.shape(n) or not np.array_equal(np.asarray(got), n):
            reversed_value = (bits[..., ::-1] * (1 << np.arange(width))).sum(-1)
            hints = (["the bits are read most-significant first; bit k (counting from 0 at the front) is worth 2**k."]
                     if np.shape(got) == np.shape(n) and np.array_equal(np.asarray(got), reversed_value) else [])
            _fail(name, [(f"for bits of shape {bits.shape}: expected {np.asarray(n).tolist()}, got "
                          f"{np.asarray(got).tolist() if isinstance(got, np.ndarray) else got}", hints)])
    _passed(name)


def _sig(a):
    return 0.5 * (1 + np.tanh(0.5 * a))


def _adder_train_step(params, x, y, lr, accumulate=True, deriv="output", sign=1.0):
    """The seed's sigmoid RNN (no biases), one gradient step on 0.5 * sum (yhat - y)**2 / N."""
    Wx, Wh, Wy = params["Wx"], params["Wh"], params["Wy"]
    N, T, _ = x.shape
    hs, ys = [np.zeros((N, Wh.shape[0]))], []
    for t in range(T):
        hs.append(_sig(x[:, t] @ Wx + hs[-1] @ Wh))
        ys.append(_sig(hs[-1] @ Wy))
    yhat = np.stack(ys, axis=1)
    loss = 0.5 * np.sum((yhat - y) ** 2) / N
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dnext = np.zeros((N, Wh.shape[0]))
    for t in reversed(range(T)):
        dz = (ys[t] - y[:, t]) / N * (ys[t] * (1 - ys[t]) if deriv == "output" else 1.0)
        dh = dz @ Wy.T + dnext
        da = dh * hs[t + 1] * (1 - hs[t + 1])
        step = {"Wy": hs[t + 1].T @ dz, "Wx": x[:, t].T @ da, "Wh": hs[t].T @ da}
        for k in grads:
            grads[k] = grads[k] + step[k] if accumulate else step[k]
        dnext = da @ Wh.T
    for k in params:
        params[k] -= sign * lr * grads[k]
    return float(loss)


_ADDER_MISTAKES = [
    ({"accumulate": False}, "the weight updates must be accumulated over all 8 steps (+=) and applied once, "
     "as in the seed; here only one step's contribution was kept."),
    ({"deriv": "none"}, "the output's sigmoid derivative yhat * (1 - yhat) is missing from the output delta."),
    ({"sign": -1.0}, "the weights moved up the gradient: subtract lr * gradient (or add lr * update with "
     "error = y - yhat)."),
]


def check_train_step(fn, seed=0, N=4, hidden=16):
    """Check train_step(params, x, y, lr) -> loss: one full-BPTT step of the seed's sigmoid adder."""
    __tracebackhide__ = True
    from .data import random_binary_addition_batch
    name = "train_step"
    rng = np.random.default_rng(seed)
    x, y = random_binary_addition_batch(N, width=8, rng=rng)
    params = {"Wx": rng.uniform(-1, 1, (2, hidden)), "Wh": rng.uniform(-1, 1, (hidden, hidden)),
              "Wy": rng.uniform(-1, 1, (hidden, 1))}
    mine = {k: v.copy() for k, v in params.items()}
    arrays = dict(mine)
    loss = _call(name, fn, mine, x.copy(), y.copy(), 0.1)
    expected = {k: v.copy() for k, v in params.items()}
    ref_loss = _adder_train_step(expected, x, y, 0.1)
    if any(mine[k] is not arrays[k] for k in mine):
        raise GradingFailure(f"{name}: replaced the arrays in params; update them in place (params[k] -= ...).")
    problems = []
    line = _mismatch("loss", np.array([float(loss)]), np.array([ref_loss]))
    if line:
        problems.append((line + " (the loss before the update: 0.5 * sum of squared errors / N)", []))
    for k in ("Wx", "Wh", "Wy"):
        line = _mismatch(f"params[{k!r}] after the step", mine[k], expected[k])
        if line:
            variants = []
            for kw, hint in _ADDER_MISTAKES:
                wrong = {kk: v.copy() for kk, v in params.items()}
                _adder_train_step(wrong, x, y, 0.1, **kw)
                variants.append((hint, wrong[k]))
            problems.append((line, _hints(mine[k], variants, expected[k])))
    if problems:
        _fail(name, problems)
    _passed(name)


# --- 06: character language model -----------------------------------------------------------

def check_tbptt_batches(fn, L=203, batch_size=4, seq_len=5):
    """Check tbptt_batches(data, batch_size, seq_len): row offsets i * (L // B), rows continue."""
    __tracebackhide__ = True
    from .data import tbptt_batches as reference
    name = "tbptt_batches"
    data = np.arange(L, dtype=np.int64) * 3 % 1000          # distinct values, so positions are recognisable
    def materialize(*args):   # a generator runs only when iterated: iterate inside _call's watch
        return list(fn(*args))
    got = _call(name, materialize, data.copy(), batch_size, seq_len, callbacks=(materialize,))
    expected = list(reference(data, batch_size, seq_len))
    if len(got) != len(expected):
        seg = L // batch_size
        raise GradingFailure(f"{name}: yielded {len(got)} batches for len(data) = {L}, batch_size = {batch_size}, "
                             f"seq_len = {seq_len}; expected {len(expected)}: each row reads its own segment of "
                             f"{seg} tokens, and targets need one token more, so (seg - 1) // seq_len batches.")
    for k, ((x, y), (ex, ey)) in enumerate(zip(got, expected)):
        for what, arr, ref in (("x", x, ex), ("y", y, ey)):
            arr = _as_array(name, f"{what} of batch {k}", np.asarray(arr), ref.shape)
            if not np.array_equal(arr, ref):
                row = int(np.argmax((arr != ref).any(axis=1)))
                hints = []
                if k == 0 and what == "x" and row > 0:
                    hints.append(f"row i must start at offset i * (len(data) // batch_size) = {row * (L // batch_size)} "
                                 f"for row {row} (seed 001: sample 2 of a length-1000 series starts at 500).")
                if k > 0 and np.array_equal(arr, expected[0][0 if what == 'x' else 1]):
                    hints.append("every batch starts again at the offsets: batch k must continue each row where "
                                 "batch k-1 stopped, or the carried hidden state makes no sense.")
                if what == "y" and np.array_equal(arr, ex):
                    hints.append("y must be x shifted by one: the next token of each position.")
                _fail(name, [(f"batch {k}, {what} row {row}: expected {ref[row].tolist()}, got {arr[row].tolist()} "
                              f"(data[i] = 3 i mod 1000 here, so each value tells its position)", hints)])
    _passed(name)


def check_adagrad_update(fn, seed=0):
    """Check adagrad_update(params, grads, cache, lr, eps=1e-8): in place, min-char-rnn's rule."""
    __tracebackhide__ = True
    name = "adagrad_update"
    rng = np.random.default_rng(seed)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    cache = {k: rng.random(v.shape) for k, v in params.items()}
    mine_p, mine_c = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in cache.items()}
    arrays = {**{("p", k): v for k, v in mine_p.items()}, **{("c", k): v for k, v in mine_c.items()}}
    for step in range(2):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        _call(name, fn, mine_p, grads, mine_c, 0.1)
        for k, g in grads.items():
            cache[k] += g * g
            params[k] -= 0.1 * g / (np.sqrt(cache[k]) + 1e-8)
    if any(mine_p[k] is not arrays["p", k] or mine_c[k] is not arrays["c", k] for k in params):
        raise GradingFailure(f"{name}: replaced arrays in params or cache; update them in place (+=, -=).")
    problems = []
    for k in params:
        line = _mismatch(f"cache[{k!r}] after two updates", mine_c[k], cache[k])
        if line:
            problems.append((line, ["the cache accumulates squared gradients: cache[k] += g * g (it is never reset)."]))
        line = _mismatch(f"params[{k!r}] after two updates", mine_p[k], params[k], tol=1e-6)
        if line:
            problems.append((line, ["the step is lr * g / (sqrt(cache) + eps), using the cache *after* adding g * g."]))
    if problems:
        _fail(name, problems)
    _passed(name)


def _state_free_model(V=6, seed=0):
    """A tiny CharRNN whose scores ignore the state, so sampling frequencies are known exactly."""
    from .models import CharRNN
    model = CharRNN(V, 8, seed=seed)
    model.params["V"][:] = 0.0
    model.params["c"][:] = np.linspace(1.5, -1.0, V)
    return model


def check_sample(fn, seed=0):
    """Check sample(model, seed_ids, n, temperature=1.0, rng=None): greedy limit, frequencies, state."""
    __tracebackhide__ = True
    name = "sample"
    from .models import CharRNN
    model = CharRNN(7, 10, seed=seed)
    rng = np.random.default_rng(seed)
    for p in model.params.values():
        p[...] = rng.standard_normal(p.shape)
    seed_ids = [1, 4, 2]
    greedy = _call(name, fn, model, seed_ids, 12, temperature=1e-3, rng=np.random.default_rng(1))
    if not isinstance(greedy, list) or len(greedy) != 12:
        raise GradingFailure(f"{name}: should return a list of n = 12 ids, got {type(greedy).__name__}"
                             + (f" of length {len(greedy)}" if hasattr(greedy, "__len__") else "") + ".")
    expected = model.sample(seed_ids, 12, temperature=1e-3, rng=np.random.default_rng(1))
    if [int(i) for i in greedy] != expected:
        _fail(name, [(f"at temperature 0.001 (almost argmax) expected {expected}, got {[int(i) for i in greedy]}",
                      ["feed every seed id through the network first, carrying the hidden state, and sample the "
                       "first new id from the scores after the last seed id; then feed each sampled id back in."])])
    flat = _state_free_model()
    for temperature in (1.0, 2.5):
        draws = _call(name, fn, flat, [0], 4000, temperature=temperature, rng=np.random.default_rng(seed))
        freq = np.bincount(np.asarray(draws, dtype=int), minlength=6) / 4000
        want = losses.softmax(flat.params["c"] / temperature)
        if np.abs(freq - want).max() > 0.035:
            hints = (["scores must be divided by the temperature before the softmax: p = softmax(scores / T)."]
                     if np.abs(freq - losses.softmax(flat.params["c"])).max() < 0.035 else [])
            _fail(name, [(f"at temperature {temperature}, 4000 draws gave frequencies {np.round(freq, 3).tolist()}, "
                          f"expected about {np.round(want, 3).tolist()}", hints)])
    _passed(name)


# --- 07: LSTM ---------------------------------------------------------------------------------

_LSTM_CACHE_FIELDS = lstm.LSTMStepCache._fields     # (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)


def _lstm_step_inputs(N, D, H, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H)),
            rng.standard_normal((D, 4 * H)) / np.sqrt(D), rng.standard_normal((H, 4 * H)) / np.sqrt(H),
            0.5 * rng.standard_normal(4 * H))


def _lstm_step_variants(x, prev_h, prev_c, Wx, Wh, b):
    """Known forward mistakes: (hint, next_h, next_c)."""
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    s = [lstm.sigmoid(a[:, k * H:(k + 1) * H]) for k in range(4)]
    t = [np.tanh(a[:, k * H:(k + 1) * H]) for k in range(4)]
    i, f, o, g = s[0], s[1], s[2], t[3]

    def out(c, o=o):
        return o * np.tanh(c), c
    return [
        ("the gate order is i, f, o, g: a[:, 2H:3H] is the output gate o and a[:, 3H:] the candidate g.",
         *out(f * prev_c + i * t[2], s[3])),
        ("the gate order is i, f, o, g: a[:, :H] is the input gate i and a[:, H:2H] the forget gate f.",
         *out(i * prev_c + f * g)),
        ("the candidate g uses tanh, not the sigmoid: g = tanh(a[:, 3H:]), so it can be negative.",
         *out(f * prev_c + i * s[3])),
        ("next_h = o * tanh(next_c): the tanh of the cell state is missing.", o * (f * prev_c + i * g),
         f * prev_c + i * g),
        ("the forget gate keeps the old cell state: next_c = f * prev_c + i * g, the f * prev_c term is missing.",
         *out(i * g)),
    ]


def _check_lstm_cache(name, cache, reference, where=""):
    if not isinstance(cache, tuple) or len(cache) != len(_LSTM_CACHE_FIELDS):
        raise GradingFailure(f"{name}: the cache{where} must be LSTMStepCache(x, prev_h, prev_c, Wx, Wh, i, f, o, "
                             f"g, tanh_c), which the backward reads, got {type(cache).__name__}"
                             + (f" of length {len(cache)}" if isinstance(cache, (tuple, list)) else "") + ".")
    for k, (got, want) in enumerate(zip(cache, reference)):
        if not isinstance(got, np.ndarray) or got.shape != want.shape or not np.allclose(got, want, rtol=1e-10,
                                                                                        atol=1e-12):
            raise GradingFailure(f"{name}: cache{where} field {k} should be {_LSTM_CACHE_FIELDS[k]} (the order is "
                                 f"{', '.join(_LSTM_CACHE_FIELDS)}), but it holds something else.")


def check_lstm_step_forward(fn, N=3, D=4, H=5, seed=0):
    """Check lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b) -> (next_h, next_c, cache)."""
    __tracebackhide__ = True
    name = "lstm_step_forward"
    args = _lstm_step_inputs(N, D, H, seed)
    next_h, next_c, cache = _unpack(name, _call(name, fn, *args), ("next_h", "next_c", "cache"))
    want_h, want_c, want_cache = lstm.lstm_step_forward(*args)
    _as_array(name, "next_h", next_h, want_h.shape)
    _as_array(name, "next_c", next_c, want_c.shape)
    variants = _lstm_step_variants(*args)
    problems = [(line, _hints(got, [(hint, v[k]) for hint, *v in variants], want))
                for k, (what, got, want) in enumerate((("next_h", next_h, want_h), ("next_c", next_c, want_c)))
                for line in [_mismatch(what, got, want)] if line]
    if problems:
        _fail(name, problems)
    _check_lstm_cache(name, cache, want_cache)
    _passed(name)


def _lstm_seq_inputs(N, T, D, H, seed):
    x, h0, _, Wx, Wh, b = _lstm_step_inputs(N, D, H, seed)
    return (np.random.default_rng([seed, 1]).standard_normal((N, T, D)), h0, Wx, Wh, b)


def _lstm_forward_variants(x, h0, Wx, Wh, b):
    h = lstm.lstm_forward(x, h0, Wx, Wh, b)[0]
    c_reset, prev_h = np.empty_like(h), h0
    for t in range(x.shape[1]):
        prev_h = c_reset[:, t] = lstm.lstm_step_forward(x[:, t], prev_h, np.zeros_like(h0), Wx, Wh, b)[0]
    return [
        ("the cell state is not carried: each step must start from the previous step's next_c (c0 = 0 only "
         "at t = 0).", c_reset),
        ("h[:, t] holds the state *before* step t; it must hold next_h, the state after the step.",
         np.concatenate([h0[:, None], h[:, :-1]], axis=1)),
        ("h0 is ignored: the first step must start from the given h0, not from zeros.",
         lstm.lstm_forward(x, np.zeros_like(h0), Wx, Wh, b)[0]),
    ]


def check_lstm_forward(fn, N=2, T=4, D=3, H=5, seed=0):
    """Check lstm_forward(x, h0, Wx, Wh, b) -> (h, cache), with c0 = 0."""
    __tracebackhide__ = True
    name = "lstm_forward"
    args = _lstm_seq_inputs(N, T, D, H, seed)
    h, cache = _unpack(name, _call(name, fn, *args), ("h", "cache"))
    want, want_cache = lstm.lstm_forward(*args)
    _as_array(name, "h", h, want.shape)
    line = _mismatch("h", h, want)
    if line:
        _fail(name, [(line, _hints(h, _lstm_forward_variants(*args), want))])
    if not isinstance(cache, list) or len(cache) != T:
        raise GradingFailure(f"{name}: the cache must be the list of the T = {T} step caches in time order, got "
                             f"{type(cache).__name__}" + (f" of length {len(cache)}" if hasattr(cache, "__len__") else "") + ".")
    for t, (got, ref) in enumerate(zip(cache, want_cache)):
        _check_lstm_cache(name, got, ref, where=f"[{t}]")
    _passed(name)


def _lstm_step_backward_variant(dnext_h, dnext_c, c, tanh_path=True, forget="prev_c", carry_f=True,
                                gate_deriv=True, tanh_c="tanh_c", db="sum"):
    next_c = c.f * c.prev_c + c.i * c.g
    dtanh = 1 - (c.tanh_c if tanh_c == "tanh_c" else next_c) ** 2
    dc = dnext_c + (dnext_h * c.o * dtanh if tanh_path else 0)
    di, do, dg = dc * c.g, dnext_h * c.tanh_c, dc * c.i
    df = dc * (c.prev_c if forget == "prev_c" else c.g)
    if gate_deriv:
        di, df, do, dg = di * c.i * (1 - c.i), df * c.f * (1 - c.f), do * c.o * (1 - c.o), dg * (1 - c.g ** 2)
    da = np.concatenate([di, df, do, dg], axis=1)
    return (da @ c.Wx.T, da @ c.Wh.T, dc * c.f if carry_f else dc, c.x.T @ da, c.prev_h.T @ da,
            da.sum(0) if db == "sum" else da.mean(0))


_LSTM_STEP_MISTAKES = [
    ({"tanh_path": False}, "next_c also reaches the loss through next_h = o * tanh(next_c): the total "
     "dc = dnext_c + dnext_h * o * (1 - tanh_c**2), and every gradient after it uses this dc."),
    ({"forget": "g"}, "the forget gate multiplies prev_c (next_c = f * prev_c + i * g), so df = dc * prev_c."),
    ({"carry_f": False}, "dprev_c = dc * f: going back along the cell state the gradient is scaled by the forget gate."),
    ({"gate_deriv": False}, "each gate's pre-activation needs its nonlinearity's derivative: i * (1 - i) (and the "
     "same for f and o) and 1 - g**2 for g."),
    ({"tanh_c": "next_c"}, "the derivative of tanh(next_c) is 1 - tanh(next_c)**2 = 1 - tanh_c**2, not 1 - next_c**2."),
    ({"db": "mean"}, "the bias gradient is averaged over the batch; sum it: db = da.sum(axis=0)."),
]


def _lstm_backward_variant(dh, cache, carry_c=True, carry_h=True, order="backward", accumulate="sum", **step):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0].x.shape[1]))
    grads = [np.zeros_like(cache[0].Wx), np.zeros_like(cache[0].Wh), np.zeros(cache[0].Wx.shape[1])]
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in (range(T - 1, -1, -1) if order == "backward" else range(T)):
        dx[:, t], dh_t, dc_t, *g = _lstm_step_backward_variant(dh[:, t] + (dprev_h if carry_h else 0),
                                                              dprev_c if carry_c else np.zeros((N, H)), cache[t], **step)
        dprev_h, dprev_c = dh_t, dc_t
        _accumulate(grads, g, accumulate, last=t == T - 1)
    return (dx, dprev_h, *grads)


_LSTM_SEQUENCE_MISTAKES = [
    ({"carry_c": False}, "the cell state's gradient must be carried across steps: step t's dprev_c is the dnext_c "
     "of step t-1 (zeros only at the last step). This is the highway: do not drop it."),
    ({"carry_h": False}, "dh_t must also receive the gradient flowing back from step t+1: pass dh[:, t] + dprev_h."),
    ({"accumulate": "overwrite"}, "a shared weight's gradient is overwritten at every step; add each step's "
     "contribution (dWh += ...)."),
    ({"accumulate": "last_step"}, "the weight gradients come from the last time step only; sum them over all steps."),
    ({"order": "forward"}, "time runs the wrong way: backpropagate from t = T-1 down to 0."),
] + _LSTM_STEP_MISTAKES


def check_lstm_step_backward(fn, N=3, D=4, H=5, seed=0):
    """Check lstm_step_backward(dnext_h, dnext_c, cache) -> (dx, dprev_h, dprev_c, dWx, dWh, db)."""
    __tracebackhide__ = True
    _check_backward("lstm_step_backward", fn, lstm.lstm_step_forward, _lstm_step_inputs(N, D, H, seed),
                    ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), lstm.lstm_step_backward,
                    _lstm_step_backward_variant, _LSTM_STEP_MISTAKES)


def check_lstm_backward(fn, N=2, T=6, D=3, H=4, seed=0):
    """Check lstm_backward(dh, cache) -> (dx, dh0, dWx, dWh, db) against numerical gradients (BPTT)."""
    __tracebackhide__ = True
    _check_backward("lstm_backward", fn, lstm.lstm_forward, _lstm_seq_inputs(N, T, D, H, seed),
                    ("dx", "dh0", "dWx", "dWh", "db"), lstm.lstm_backward, _lstm_backward_variant,
                    _LSTM_SEQUENCE_MISTAKES, tol=gradcheck.tolerance(T))
