"""Backpropagation through time: numerical gradients, the step and sequence backward, the output layer's."""
import numpy as np

from .. import gradcheck, layers, rnn
from . import core
from .core import GradingFailure, Lesson, add_step_grads
from .forward_pass import seq_inputs, step_inputs

LESSON = Lesson(
    "03_bptt",
    exercises={"numerical_gradient": "gradcheck:numerical_gradient", "rnn_step_backward": "rnn:rnn_step_backward",
               "rnn_backward": "rnn:rnn_backward", "temporal_affine_backward": "layers:temporal_affine_backward",
               "TimeRNN": "rnn:TimeRNN"},
    cores=("gradcheck:numerical_gradient_array", "rnn:step_backward", "rnn:backward_steps"),
)


class _RecordingObjective(gradcheck.SumOf):
    """SumOf that also keeps a copy of x at every evaluation: where the student's loop evaluated f."""

    def __init__(self, x, g, A=1.0):
        super().__init__(x, g, A)
        self.points = []

    def __call__(self):
        self.points.append(self.x.copy())
        return super().__call__()


def _points(fn, x0, g, A):
    """Every x the student's numerical_gradient evaluated f at, on a copy of x0: [array like x0].
    Empty where the objective cannot follow the call (the autograder runs fn in the student's
    kernel, which has no rnnlib.grading): there the readings of the points are left out."""
    x = x0.copy()
    objective = _RecordingObjective(x, g, A)
    try:
        LESSON.call("numerical_gradient", fn, objective, x, callbacks=(objective.__call__,))
    except GradingFailure:
        return []
    return objective.points


# How a moved entry x[i] can relate to its old value and h, read from the points f was evaluated at:
# (what it is, how to say it, the value). Only a reading that holds at every moved entry is named.
_MOVES = [("x[i] + h", None, lambda old, h: old + h), ("x[i] - h", None, lambda old, h: old - h),
          ("h", "x[i] is set to h, its old value dropped", lambda old, h: h),
          ("-h", "x[i] is set to -h, its old value dropped", lambda old, h: -h),
          ("x[i] * h", "x[i] is scaled by h", lambda old, h: old * h),
          ("x[i] / h", "x[i] is divided by h", lambda old, h: old / h),
          ("x[i] // h", "x[i] is divided by h and rounded down", lambda old, h: old // h),
          ("x[i] % h", "x[i] becomes the remainder of x[i] divided by h", lambda old, h: old % h),
          ("x[i] ** h", "x[i] is raised to the power h", lambda old, h: old ** h)]


def _moves(points, x0):
    """The first and second value each entry was moved to, as (flat index, old, [values]) triples,
    when every evaluation moved exactly one entry; else None. points: the arrays f saw, each x0's shape."""
    moved = {}
    for p in points:
        with np.errstate(invalid="ignore"):
            changed = np.flatnonzero(~((p == x0) | (np.isnan(p) & np.isnan(x0))))
        if changed.size != 1:
            return None
        moved.setdefault(int(changed[0]), []).append(p.flat[changed[0]])
    return [(i, x0.flat[i], values) for i, values in sorted(moved.items())]


def _several_moved(points, x0):
    """A hint when an evaluation of f sees more than one entry of x moved, else None."""
    for p in points:
        moved = np.argwhere(p != x0)
        if len(moved) > 1:
            break
    else:
        return None
    row = x0.ndim > 1 and len(moved) == x0[0].size and (moved[:, 0] == moved[0, 0]).all()
    where = (f"the whole row x[{moved[0, 0]}] of the {x0.shape} x" if row else
             ", ".join(f"x[{', '.join(str(int(i)) for i in m)}]" for m in moved[:3]) + (", ..." if len(moved) > 3 else ""))
    return (f"f is evaluated with {len(moved)} entries of x moved at once ({where}): each partial derivative moves "
            f"one entry at a time, so loop over every index of x (np.ndindex(x.shape) walks them for any shape)"
            + (", not over its rows" if row else ""))


def _move_hint(points, x0, h):
    """What the loop evaluates f at, when it is not x[i] + h and x[i] - h: a hint, else None."""
    moves = _moves(points, x0)
    if not moves or len(moves) != x0.size or any(len(values) != 2 for _, _, values in moves):
        return None
    said = []
    for side, right in ((0, "x[i] + h"), (1, "x[i] - h")):
        with np.errstate(all="ignore"):
            readings = [(text, gloss) for text, gloss, move in _MOVES
                        if all(np.array_equal(move(old, h), values[side], equal_nan=True) for _, old, values in moves)]
        if readings and readings[0][0] == right:
            continue
        if readings and readings[0][1] is None:     # both evaluations at one of the two right points
            said.append(f"both evaluations of f see x[i] = {readings[0][0]}: f at {right} is never evaluated, so "
                        f"the centred difference is that of one point with itself")
            continue
        if not readings:     # no clean reading: say nothing
            return None
        text, gloss = readings[0]
        nan = " (nan where x[i] < 0)" if any(np.isnan(values[side]) for _, _, values in moves) else ""
        said.append(f"{'the first' if side == 0 else 'the second'} evaluation of f sees x[i] = {text}{nan} instead "
                    f"of {right}: {gloss}, where it should move by h")
    return "; ".join(said) + "." if said else None


# How the gradient can combine the difference f(x + h) - f(x - h) with 2h, when f was evaluated at the
# right points: (what it is, how to say it, the value).
_QUOTIENTS = [("(f(x+h) - f(x-h)) // (2h)", "the difference is divided by 2h and rounded down, so the fractional "
               "part is lost: use / (true division)", lambda d, h: d // (2 * h)),
              ("(f(x+h) - f(x-h)) % (2h)", "it is the remainder of the difference divided by 2h, not their "
               "quotient: use /", lambda d, h: d % (2 * h)),
              ("(f(x+h) - f(x-h)) ** (2h)", "the difference is raised to the power 2h instead of divided by 2h",
               lambda d, h: d ** (2 * h))]


def _quotient_hint(got, objective, x0, h):
    """A hint when got is the centred difference combined with 2h by another operator than /, else None."""
    differences = np.empty(x0.size)
    for i in range(x0.size):
        values = []
        for step in (h, -h):
            old = objective.x.flat[i]
            objective.x.flat[i] = old + step
            values.append(objective())
            objective.x.flat[i] = old
        differences[i] = values[0] - values[1]
    with np.errstate(all="ignore"):
        for text, gloss, combine in _QUOTIENTS:
            if np.array_equal(np.ravel(got), combine(differences, h), equal_nan=True):
                return f"the gradient is {text}: {gloss}."
    return None


def check_numerical_gradient(fn, seed=0):
    """Check numerical_gradient(f, x, h=1e-5): centred differences, x restored, any shape."""
    __tracebackhide__ = True
    name = "numerical_gradient"
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((3, 4))
    for x0, g, A_, what in [(rng.standard_normal(5), "cube", 1.0, "f(x) = sum(x**3), x of shape (5,)"),
                            (rng.standard_normal((3, 4)), "tanh", A, "f(x) = sum(tanh(A * x)), x of shape (3, 4)")]:
        x = x0.copy()
        exact = gradcheck.SumOf(x0.copy(), g, A_).gradient()
        got = LESSON.call(name, fn, gradcheck.SumOf(x, g, A_), x)
        if not np.array_equal(x, x0):
            at = ", ".join(str(int(i)) for i in np.unravel_index(np.argmax(x != x0), x.shape))
            raise GradingFailure(f"{name}: x was not restored after the loop (e.g. x[{at}] changed from "
                                 f"{x0[x != x0][0]:.6g} to {x[x != x0][0]:.6g}). Likely cause: it changes its input x in "
                                 f"place and leaves it changed: put x[i] back to its old value after evaluating "
                                 f"f(x + h) and f(x - h).")
        h = 1e-5
        if isinstance(got, np.ndarray) and got.shape == x.shape and not np.isfinite(got).all():
            moved = _move_hint(_points(fn, x0, g, A_), x0, h)
            if moved:
                core.fail(name, [(f"the gradient of {what} contains nan or inf", [moved])])
        core.as_array(name, f"the gradient of {what}", got, x.shape)
        line = core.mismatch(f"gradient of {what}", got, exact, tol=1e-7)
        if line:
            probe = gradcheck.SumOf(x0.copy(), g, A_)
            points = _points(fn, x0, g, A_)
            moved = _several_moved(points, x0) or _move_hint(points, x0, h)
            if moved:
                core.fail(name, [(line, [moved])])
            forward_diff, backward_diff = np.empty(x0.size), np.empty(x0.size)
            f0 = gradcheck.SumOf(x0, g, A_)()
            for i in range(x0.size):
                for step, into in ((h, forward_diff), (-h, backward_diff)):
                    probe.x.flat[i] += step
                    into[i] = (probe() - f0) / step
                    probe.x.flat[i] -= step
            one_sided = ("the derivative is estimated with a one-sided difference, {} (only one side of x moves), which "
                         "has O(h) error; use the centred (f(x+h) - f(x-h)) / (2h), whose error is O(h**2).")
            variants = [(one_sided.format("(f(x+h) - f(x)) / h"), forward_diff.reshape(x0.shape)),
                        (one_sided.format("(f(x) - f(x-h)) / h"), backward_diff.reshape(x0.shape)),
                        (one_sided.format("divided by 2h"), forward_diff.reshape(x0.shape) / 2),
                        (one_sided.format("divided by 2h"), backward_diff.reshape(x0.shape) / 2),
                        ("twice the right value: divide the centred difference by 2h, not h.", 2 * exact)]
            found = core.hints(got, variants, exact, "the gradient")
            found = found or [q for q in [_quotient_hint(got, gradcheck.SumOf(x0.copy(), g, A_), x0, h)] if q]
            affine = None if found else core.affine_reading("the gradient", got.ravel(), exact.ravel(), over="entry")
            core.fail(name, [(line, found or ([affine] if affine else []))])
    core.passed(name)


# Known BPTT mistakes, written as deliberately wrong variants of the reference step backward.
def _step_backward_variant(dnext_h, c, deriv="next_h", transpose=True, db="sum", dWh_from="prev_h"):
    local = {"next_h": 1 - c.next_h ** 2, "prev_h": 1 - c.prev_h ** 2, "none": 1.0,
             "tanh_twice": 1 - np.tanh(c.next_h) ** 2}[deriv]
    da = dnext_h * local
    Wh = c.Wh.T if transpose else c.Wh
    h = c.prev_h if dWh_from == "prev_h" else c.next_h
    return (da @ c.Wx.T, da @ Wh, c.x.T @ da, h.T @ da, da.sum(0) if db == "sum" else da.mean(0))


_STEP_MISTAKES = [
    ({"deriv": "prev_h"}, "the tanh derivative must use this step's output: 1 - next_h**2, not 1 - prev_h**2."),
    ({"deriv": "none"}, "the gradient must pass through tanh: multiply by 1 - next_h**2 first (da = dnext_h * (1 - next_h**2))."),
    ({"deriv": "tanh_twice"}, "next_h is already tanh(a): its derivative is 1 - next_h**2, not 1 - tanh(next_h)**2."),
    ({"transpose": False}, "a transpose is missing: dprev_h = da @ Wh.T (row vectors), not da @ Wh."),
    ({"db": "mean"}, "the bias gradient is averaged over the batch; sum it: db = da.sum(axis=0)."),
    ({"dWh_from": "next_h"}, "dWh pairs the step's input state with da: Wh multiplied prev_h in the forward, "
     "so dWh is built from prev_h, not from next_h."),
]


def _step_relations(douts, cache):
    return {k: {"sizes": [core.batch_size(cache.x.shape[0])]} for k in ("dx", "dprev_h", "dWx", "dWh", "db")}


_STEP_UPSTREAM = ("every gradient is wrong, and all five are computed from da, the gradient at the tanh's input "
                  "(dnext_h through the tanh derivative): check da first.")


def _rnn_step(dh_t, dprev_h, c):
    _, dprev_h, *weights = rnn.rnn_step_backward(dh_t + (0 if dprev_h is None else dprev_h), c)
    return dprev_h, weights


_RNN_RELATIONS = core.sequence_relations(_rnn_step)


def _rnn_backward_variant(dh, cache, order="backward", carry=True, accumulate="sum", **step_kwargs):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0].x.shape[1]))
    grads = [np.zeros_like(cache[0].Wx), np.zeros_like(cache[0].Wh), np.zeros_like(cache[0].b)]
    dprev = np.zeros((N, H))
    steps = range(T - 1, -1, -1) if order == "backward" else range(T)
    for t in steps:
        dx[:, t], dprev_t, *step = _step_backward_variant(dh[:, t] + (dprev if carry else 0), cache[t], **step_kwargs)
        dprev = dprev_t
        add_step_grads(grads, step, accumulate, last=t == T - 1)
    return (dx, dprev, *grads)


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


def check_rnn_step_backward(fn, N=4, D=5, H=6, seed=0):
    """Check rnn_step_backward(dnext_h, cache) -> (dx, dprev_h, dWx, dWh, db) against numerical gradients."""
    __tracebackhide__ = True
    core.check_backward(LESSON, "rnn_step_backward", fn, rnn.rnn_step_forward, step_inputs(N, D, H, seed),
                        ("dx", "dprev_h", "dWx", "dWh", "db"), rnn.rnn_step_backward, _step_backward_variant,
                        _STEP_MISTAKES, upstream=_STEP_UPSTREAM, relations=_step_relations)


_SEQUENCE_GRADS = ("dx", "dh0", "dWx", "dWh", "db")


def _probe_rnn_backward(fn, inputs, seed):
    """The student's rnn_backward on one more upstream gradient: (dh (N, T, H), cache, its 5 results)."""
    __tracebackhide__ = True
    x, _, _, Wh, _ = inputs
    cache = rnn.rnn_forward(*inputs)[-1]
    dh = np.random.default_rng(seed + 1).standard_normal((x.shape[0], x.shape[1], Wh.shape[0]))
    with np.errstate(all="ignore"):
        grads = core.unpack("rnn_backward", LESSON.call("rnn_backward", fn, dh, cache), _SEQUENCE_GRADS)
    return dh, cache, grads


def _non_finite_steps(grads, dh):
    """Fail when rnn_backward returned nan or inf for finite inputs, saying from which step backward on.

    With dx (N, T, D) finite at the later steps and not from step k down, the loop broke at step k; at
    t = T-1 the gradient carried back from step t+1 is still zeros, the classic place to divide by 0."""
    __tracebackhide__ = True
    bad = [n for n, g in zip(_SEQUENCE_GRADS, grads)
           if isinstance(g, np.ndarray) and g.dtype.kind == "f" and not np.isfinite(g).all()]
    dx, T = grads[0], dh.shape[1]
    if not bad or not isinstance(dx, np.ndarray) or dx.ndim != 3 or dx.shape[:2] != dh.shape[:2]:
        return
    broken = [t for t in range(T) if not np.isfinite(dx[:, t]).all()]
    if not broken:
        return
    first = max(broken)
    where = ("at t = T-1, the first step backward, where the gradient carried back from step t+1 is still zeros: "
             "look at what the loop does with it there" if first == T - 1 else
             f"at t = {first}, going backward (the steps after it are finite): look at what the loop does at step "
             f"{first}")
    core.fail("rnn_backward", [(f"{', '.join(bad)} hold{'s' if len(bad) == 1 else ''} nan or inf (for finite inputs); "
                                f"dx is not finite from t = {first} down to 0",
                                [f"{core.NAN_CAUSE}. It starts {where}"])])


def _upstream_counts(grads, dh, cache):
    """How many times each step's dh[:, t] enters, when the student's gradients are exactly the right
    backward of dh with each step scaled by a number of its own (BPTT is linear in dh): (T,) or None."""
    if not all(isinstance(g, np.ndarray) and g.shape == r.shape and np.isfinite(g).all()
               for g, r in zip(grads, rnn.rnn_backward(dh, cache))):
        return None
    got = np.concatenate([g.ravel() for g in grads])
    columns = []
    for t in range(dh.shape[1]):
        only_t = np.zeros_like(dh)
        only_t[:, t] = dh[:, t]
        columns.append(np.concatenate([r.ravel() for r in rnn.rnn_backward(only_t, cache)]))
    columns = np.stack(columns, axis=1)
    counts, _, rank, _ = np.linalg.lstsq(columns, got, rcond=None)
    if rank < columns.shape[1] or columns.shape[0] < 2 * columns.shape[1]:    # too few entries to tell the steps apart
        return None
    if not core.close(columns @ counts, got, 1e-9) or np.allclose(counts, 1, atol=1e-6):
        return None
    return counts


def _counts_hint(counts):
    """The hint for per-step counts of dh (see _upstream_counts), in words."""
    T = counts.size
    odd = [t for t in range(T) if not np.isclose(counts[t], 1, atol=1e-6)]
    if len(odd) > 3:
        return None

    def entering(t):
        c = counts[t]
        at = "T-1" if t == T - 1 else str(t)
        if np.isclose(c, 0, atol=1e-6):
            return f"dh[:, {at}] counts for nothing (it is missing, or step {at} is never run)"
        if np.isclose(c, 2, atol=1e-6):
            return f"dh[:, {at}] enters step {at} twice (an extra copy)"
        return f"dh[:, {at}] enters step {at} {c:.4g} times"
    text = ("every gradient is the right backward of an upstream dh whose steps count once each, except: "
            + "; ".join(entering(t) for t in odd))
    if odd == [T - 1] and np.isclose(counts[-1], 2, atol=1e-6):
        text += (". Nothing flows back into the last step from after it: the carried gradient starts at zeros, "
                 "not at dh[:, -1]")
    return text


def check_rnn_backward(fn, N=2, T=10, D=3, H=5, seed=0):
    """Check rnn_backward(dh, cache) -> (dx, dh0, dWx, dWh, db) against numerical gradients (BPTT)."""
    __tracebackhide__ = True
    inputs = seq_inputs(N, T, D, H, seed)
    dh, cache, grads = _probe_rnn_backward(fn, inputs, seed)
    _non_finite_steps(grads, dh)
    counts = _upstream_counts(grads, dh, cache)
    counted = None if counts is None else _counts_hint(counts)
    try:
        core.check_backward(LESSON, "rnn_backward", fn, rnn.rnn_forward, inputs,
                            _SEQUENCE_GRADS, rnn.rnn_backward, _rnn_backward_variant,
                            _SEQUENCE_MISTAKES, tol=gradcheck.tolerance(T), relations=_RNN_RELATIONS)
    except GradingFailure as failure:
        if not counted:
            raise
        # the counts explain every gradient at once: they come first, before what each gradient's own reading says
        lines = str(failure).split("\n")
        at = next((k for k, line in enumerate(lines) if line.startswith("  Likely cause:")), len(lines))
        raise GradingFailure("\n".join(lines[:at] + [f"  Likely cause: {counted}."] + lines[at:])) from None


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
    core.check_backward(LESSON, "temporal_affine_backward", fn, layers.temporal_affine_forward, inputs,
                        ("dh", "dV", "dc"), layers.temporal_affine_backward, _affine_backward_variant,
                        _AFFINE_MISTAKES, relations=_affine_relations)


def _affine_relations(douts, cache):
    (dout,), (h, V, c) = douts, cache
    N, T, _ = h.shape
    sizes = [core.batch_size(N), core.time_steps(T)]
    steps = [(h[:, t].T @ dout[:, t], dout[:, t].sum(0)) for t in range(T)]
    return {"dh": {"sizes": sizes, "time_axis": 1}, "dV": {"sizes": sizes, "steps": [s[0] for s in steps]},
            "dc": {"sizes": sizes, "steps": [s[1] for s in steps]}}


def _layer_attribute(name, layer, attr):
    try:
        return getattr(layer, attr)
    except AttributeError:
        raise GradingFailure(f"{name}: the layer has no attribute {attr!r}. Set self.{attr} in __init__ "
                             f"(or, for self.h and self.dh0, in forward and backward).") from None


def _same(name, what, got, expected, hint=None, shapes=()):
    """Fail with the worst entry if got differs from expected (hint: the likely cause).

    shapes: (label, shape) of the other arrays at hand: a got of one of these shapes holds the wrong array."""
    __tracebackhide__ = True
    other = isinstance(got, np.ndarray) and got.shape != np.shape(expected) and next(
        (label for label, shape in shapes if tuple(shape) == got.shape), None)
    if other:
        raise GradingFailure(f"{name}: {what} has shape {got.shape}, expected {np.shape(expected)}. It is the shape of "
                             f"{other}: the wrong array is stored there.")
    core.as_array(name, what, got, np.shape(expected))
    line = core.mismatch(what, got, expected)
    if line:
        core.fail(name, [(line, [hint] if hint else [])])


def check_TimeRNN(cls, N=2, T=5, D=3, H=4, blocks=3, seed=0):
    """Check a stateful TimeRNN class (DLFS2's layer): params and grads dicts, forward over blocks
    with the state carried (stateful=True) or not, backward into grads and dh0, set_state and reset_state.

    Compared with rnnlib's rnn_forward and rnn_backward on the same inputs, in float64."""
    __tracebackhide__ = True
    name = "TimeRNN"
    rng = np.random.default_rng(seed)
    Wx, Wh, b = rng.standard_normal((D, H)) / 2, rng.standard_normal((H, H)) / 2, rng.standard_normal(H) / 4
    x = rng.standard_normal((N, blocks * T, D))
    full, cache = rnn.rnn_forward(x, np.zeros((N, H)), Wx, Wh, b)

    layer = LESSON.call(name, cls, Wx.copy(), Wh.copy(), b.copy(), stateful=True)
    params, grads = _layer_attribute(name, layer, "params"), _layer_attribute(name, layer, "grads")
    for what, d in (("params", params), ("grads", grads)):
        if not isinstance(d, dict) or sorted(d) != ["Wh", "Wx", "b"]:
            raise GradingFailure(f"{name}: self.{what} should be a dict with the keys 'Wx', 'Wh', 'b', got "
                                 f"{sorted(d) if isinstance(d, dict) else type(d).__name__}."
                                 + ("" if isinstance(d, dict) else " Likely cause: the wrong type (DLFS2 keeps lists): "
                                    "this course's layers keep a dict keyed by the parameters' names."))
    weights = [(key, value.shape) for key, value in (("Wx", Wx), ("Wh", Wh), ("b", b))]
    for key, value in (("Wx", Wx), ("Wh", Wh), ("b", b)):
        _same(name, f"params[{key!r}]", params[key], value, shapes=weights)
        _same(name, f"grads[{key!r}] before any backward", grads[key], np.zeros_like(value),
              "grads start as zeros of each parameter's shape (np.zeros_like).")

    for s in range(blocks):          # truncated BPTT's forward: block after block, the state carried
        block = slice(s * T, (s + 1) * T)
        hs = LESSON.call(f"{name}.forward", layer.forward, x[:, block])
        carried = ("with stateful=True, the state carried into each forward is the last state of the previous one "
                   "(self.h).")
        _same(name, f"forward of block {s + 1} of {blocks} (stateful=True)", hs, full[:, block],
              carried if s else "the first forward starts from zeros (self.h is None until then).")
        _same(name, f"self.h after block {s + 1}", _layer_attribute(name, layer, "h"), full[:, block.stop - 1],
              "the state carried to the next forward is the last time step's: keep hs[:, -1] in self.h.")

    dhs = rng.standard_normal((N, T, H))     # backward of the last block: the gradient stops at its h0
    dx_ref, dh0_ref, *grads_ref = rnn.rnn_backward(dhs, cache[(blocks - 1) * T:])
    held = core.identities(grads)            # the arrays, as a model that gathered them once holds them
    kept = dict(grads)                       # alive, so that no new array can take an old one's identity
    dx = LESSON.call(f"{name}.backward", layer.backward, dhs)
    yours = "backward runs your rnn_backward on this forward's cache: if rnn_backward's test fails, fix that first."
    _same(name, "dx returned by backward", dx, dx_ref, yours)
    grads = _layer_attribute(name, layer, "grads")
    for key, expected in zip(("Wx", "Wh", "b"), grads_ref):
        _same(name, f"grads[{key!r}] after backward", grads[key], expected,
              "backward must store the weight gradients of this forward's T steps in self.grads; " + yours)
    rebound = [key for key, identity in core.identities(grads).items() if held.get(key) != identity]
    if rebound:
        core.fail(name, [(f"backward put new arrays into self.grads[{rebound[0]!r}]"
                          + (f" and {len(rebound) - 1} more" if len(rebound) > 1 else ""),
                          [f"rebinding instead of writing in place: write into the arrays there "
                           f"(self.grads[{rebound[0]!r}][...] = ...), since whoever gathered the gradient arrays "
                           f"before (an optimiser, a model's list of grads) still holds the old ones."])])
    del kept
    LESSON.call(f"{name}.backward", layer.backward, dhs)
    grads = _layer_attribute(name, layer, "grads")
    for key, expected in zip(("Wx", "Wh", "b"), grads_ref):
        _same(name, f"grads[{key!r}] after a second backward of the same forward", grads[key], expected,
              "the gradients of an earlier call are kept and added to: state carried across calls. Each "
              "backward sets self.grads to this forward's gradients ([...] =, not +=).")
    _same(name, "self.dh0 after backward", _layer_attribute(name, layer, "dh0"), dh0_ref,
          "self.dh0 is the gradient of the state this forward started from: rnn_backward's dh0.",
          shapes=[("a step's input x[:, t] or its gradient dx[:, t], (N, D), instead of the gradient of the initial "
                   "state h0, (N, H)", (N, D)), ("dx, (N, T, D)", (N, T, D)), ("dh, (N, T, H)", (N, T, H))])

    LESSON.call(f"{name}.reset_state", layer.reset_state)
    hs = LESSON.call(f"{name}.forward", layer.forward, x[:, :T])
    _same(name, "forward after reset_state()", hs, full[:, :T], "reset_state() makes the next forward start from zeros.")
    h = rng.standard_normal((N, H))
    LESSON.call(f"{name}.set_state", layer.set_state, h.copy())
    expected, _ = rnn.rnn_forward(x[:, :T], h, Wx, Wh, b)
    _same(name, "forward after set_state(h)", LESSON.call(f"{name}.forward", layer.forward, x[:, :T]), expected,
          "set_state(h) makes the next forward start from h.")

    stateless = LESSON.call(name, cls, Wx.copy(), Wh.copy(), b.copy(), stateful=False)
    LESSON.call(f"{name}.forward", stateless.forward, x[:, :T])
    _same(name, "second forward with stateful=False", LESSON.call(f"{name}.forward", stateless.forward, x[:, T:2 * T]),
          rnn.rnn_forward(x[:, T:2 * T], np.zeros((N, H)), Wx, Wh, b)[0],
          "with stateful=False every forward starts from zeros, whatever came before.")
    LESSON.call(f"{name}.set_state", stateless.set_state, h.copy())
    _same(name, "forward after set_state(h) with stateful=False",
          LESSON.call(f"{name}.forward", stateless.forward, x[:, :T]), full[:, :T],
          "with stateful=False every forward starts from zeros, even after set_state(h): only a stateful layer "
          "starts from the state that was set.")
    core.passed(name, f" (forward over {blocks} blocks with the state carried, backward, set_state, reset_state)")
