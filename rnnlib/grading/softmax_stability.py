"""Softmax stability: softmax, log-softmax and the loss over time, finite for any logits."""
import numpy as np

from .. import losses
from . import core
from .core import GradingFailure, Lesson

LESSON = Lesson(
    "02_softmax_stability",
    exercises={"softmax": "losses:softmax", "log_softmax": "losses:log_softmax",
               "temporal_softmax_loss": "losses:temporal_softmax_loss"},
    cores=("losses:logsumexp", "losses:softmax_cross_entropy", "gradflow:softmax_overflow"),
)


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
            got = LESSON.call(name, fn, zin, axis=axis)
        expected = reference(z, axis=axis)
        if isinstance(got, np.ndarray) and got.shape == z.shape and not np.isfinite(got).all():
            raise GradingFailure(_non_finite(name, got, z, axis))
        core.as_array(name, f"{name}(z, axis={axis})", got, expected.shape)
        if not np.array_equal(zin, z):
            raise GradingFailure(f"{name}: modified its input z. Likely cause: it writes into its input in place "
                                 f"(z -= ..., out=z): compute on a new array instead, the caller still needs z.")
        line = core.mismatch(f"{name}(z, axis={axis}) for z of shape {z.shape}", got, expected)
        if line:
            variants = [("normalised along the wrong axis: use the `axis` argument (and keepdims=True).",
                         reference(z, axis=other)) for other in range(z.ndim) if other % z.ndim != axis % z.ndim]
            hints = core.hints(got, variants + extra_variants(z, axis), expected, name)
            core.fail(name, [(line, hints or [_combination_hint(name, got, z, axis) or _per_slice(name, got, expected, axis)
                                              or _normalisation(name, got, axis)])])


# How the two quantities of a slice can be combined, with how to say it: softmax divides the shifted
# exps e by their sum s, log_softmax subtracts the log-sum-exp from the shifted logits (op None: the
# logits z themselves divided by s).
_COMBINATIONS = {
    "softmax": ("e = exp(z - max) and s, their sum along the axis", "the exps are not divided by their sum", {
        "e": ("", lambda e, s: e), "e + s": ("adds the sum to them", np.add), "e - s": ("subtracts the sum from them", np.subtract),
        "e * s": ("multiplies them by it", np.multiply), "e ** s": ("raises them to its power", np.power),
        "e // s": ("floor-divides them by it, which rounds each value down to 0", np.floor_divide),
        "z / s": ("divides the logits z by it instead of the exps", None)}),
    "log_softmax": ("s = z - max and lse = log(sum(exp(s))) along the axis", "the log-sum-exp is not subtracted "
                    "from the shifted logits", {
        "s + lse": ("adds it to them", np.add), "s * lse": ("multiplies them by it", np.multiply),
        "s / lse": ("divides them by it", np.divide), "s // lse": ("floor-divides them by it", np.floor_divide),
        "s % lse": ("takes the remainder of their division by it", np.mod),
        "s ** lse": ("raises them to its power", np.power)}),
}


def _combination_hint(name, got, z, axis):
    """A hint when got combines the slice's two quantities (see _COMBINATIONS) by another operation than
    the right one, on every entry; None when no operation, or more than one, gives got."""
    shifted = z - z.max(axis=axis, keepdims=True)
    with np.errstate(all="ignore"):
        if name == "softmax":
            first = np.exp(shifted)
            second = first.sum(axis=axis, keepdims=True)
        else:
            first, second = shifted, np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        quantities, head, readings = _COMBINATIONS[name]
        found = [(formula, gloss) for formula, (gloss, op) in readings.items()
                 if core.close(got, op(first, second) if op else z / second, 1e-9)]
    if len(found) != 1:
        return None
    formula, gloss = found[0]
    return f"every value is {formula}, with {quantities}: {head}" + (f"; {formula} {gloss}" if gloss else "")


def _non_finite(name, got, z, axis):
    """The message for a result with inf or nan: which of the classic overflows produced it."""
    bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
    head = f"{name}(z, axis={axis}): {got[bad]} at index {bad} for logits up to |z| = {np.abs(z).max():.3g}."
    with np.errstate(all="ignore"):
        naive = np.exp(z) / np.exp(z).sum(axis=axis, keepdims=True)
        e = np.exp(z - z.max())
        global_max = e / e.sum(axis=axis, keepdims=True)
        stable = losses.softmax(z, axis=axis)
        naive, global_max, stable = (~np.isfinite(np.log(v) if name == "log_softmax" else v)
                                     for v in (naive, global_max, stable))

    def same(pattern):
        return np.array_equal(~np.isfinite(got), pattern)
    if same(naive):
        cause = ("exp overflows above ~709.8, and inf / inf = nan: exp is taken of the raw logits. Shift each "
                 "slice by its own largest value along the axis before exp; the result is the same in exact math.")
    elif same(global_max):
        cause = ("the shift uses the largest logit of the whole array: slices far below it underflow to exp = 0 "
                 "everywhere, and 0 / 0 = nan. Shift each slice by its own max along the axis (keepdims=True).")
    elif name == "log_softmax" and same(stable):
        cause = ("a probability underflowed to 0 and its log is -inf: this takes the log of softmax. Compute the "
                 "log-probabilities directly from the shifted logits (the log-sum-exp form), never log(softmax).")
    else:
        cause = ("exp overflows above ~709.8 (inf / inf = nan) and underflows to 0 below ~-745 (log 0 = -inf): "
                 "look at each exp and log for these logits.")
    return f"{head}\n  Likely cause: {cause}"


def _per_slice(name, got, want, axis):
    """A hint when every slice along axis is off by one number of its own (a factor, or for log_softmax a shift)."""
    with np.errstate(all="ignore"):
        off = got / want if name == "softmax" else got - want
    if not np.allclose(off, np.take(off, [0], axis=axis), rtol=1e-6, atol=1e-9):
        return None
    whole = got.sum() if name == "softmax" else np.exp(got).sum()
    if np.isclose(whole, 1.0, rtol=1e-9):
        return (f"the values sum to 1 over the whole array: the sum runs over every axis instead of along axis {axis} "
                f"(sum(axis=axis, keepdims=True)).")
    if name == "softmax":
        return (f"each slice is the right one times a factor of its own: the numerator and the sum it is divided by do "
                f"not use the same shift, or the sum is missing a term; shift both by the slice's max (keepdims=True).")
    n = got.shape[axis]
    if np.allclose(off, np.log(n)):
        return (f"every value is log({n}) too large, the log of the number of classes: the exps are averaged where "
                f"the log-sum-exp sums them (a mean for a sum)")
    return ("each slice is shifted by a number of its own: a term subtracted from z is missing or wrong (the max "
            "shift, or the log-sum-exp), or it is subtracted on one side only")


def _normalisation(name, got, axis):
    """Where to look when no known mistake matches: the normalisation, or what comes before it."""
    with np.errstate(all="ignore"):
        total = got.sum(axis=axis) if name == "softmax" else np.exp(got).sum(axis=axis)
    what = "the values" if name == "softmax" else "their exps"
    if not np.allclose(total, 1, rtol=1e-9):
        with np.errstate(all="ignore"):
            values = got if name == "softmax" else np.exp(got)
        others = [k for k in range(got.ndim) if k != axis % got.ndim and np.allclose(values.sum(axis=k), 1, rtol=1e-9)]
        if others:     # normalised, but along another axis: the sum that normalises runs along it
            return (f"{what} sum to 1 along axis {others[0]} instead of axis {axis}: the sum that normalises runs "
                    f"along the wrong axis; use the `axis` argument (keepdims=True).")
        return (f"{what} do not sum to 1 along axis {axis}: look first at the line that normalises"
                f"{'' if name == 'softmax' else ' (the term subtracted from z)'}.")
    # normalised, yet not proportional to exp(z): z was changed by more than a shift of each slice
    return (f"{what} sum to 1 along axis {axis}, but the proportions are wrong, so z was changed by more than "
            f"subtracting one number per slice (its max) before the exps: look first at the line that computes the "
            f"exps from z.")


def check_softmax(fn, shape=(4, 6), scale=1.0, seed=0):
    """Check softmax(z, axis=-1): matches exp(z)/sum(exp(z)), stays finite for extreme logits."""
    __tracebackhide__ = True

    def variants(z, axis):
        with np.errstate(all="ignore"):
            e = np.exp(z - z.max())
            return [("subtract the max of each slice along the axis (keepdims=True), not the global max of z.",
                     e / e.sum(axis=axis, keepdims=True))]
    _check_distribution_fn("softmax", fn, losses.softmax, shape, scale, seed, variants)
    core.passed("softmax")


def check_log_softmax(fn, shape=(4, 6), scale=1.0, seed=0):
    """Check log_softmax(z, axis=-1): matches log(softmax(z)), stays finite for extreme logits."""
    __tracebackhide__ = True

    def variants(z, axis):
        return [("the log-sum-exp term is missing: log_softmax(z) = z - logsumexp(z), not z - max(z).",
                 z - z.max(axis=axis, keepdims=True))]
    _check_distribution_fn("log_softmax", fn, losses.log_softmax, shape, scale, seed, variants)
    core.passed("log_softmax")


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
        result = LESSON.call(name, fn, xin, y, mask) if use_mask else LESSON.call(name, fn, xin, y)
    ref_loss, ref_dx = losses.temporal_softmax_loss(x, y, mask)
    loss, dx = core.unpack(name, result, ("loss", "dx"), (ref_loss, ref_dx))
    if not np.array_equal(xin, x):
        raise GradingFailure(f"{name}: modified its input x. Likely cause: it writes into its input in place "
                             f"(x -= ..., out=x): compute on a new array instead, the caller still needs x.")
    if not np.isscalar(loss) and np.shape(loss) != ():
        raise GradingFailure(f"{name}: loss should be a single number, got an array of shape {np.shape(loss)}. "
                             f"Likely cause: the wrong type: a sum that keeps an axis (keepdims, or a (N, T, 1) array); "
                             f"return a float, e.g. float(total) / N.")
    if isinstance(dx, np.ndarray) and dx.shape == x.shape and not np.isfinite(dx).all():
        raise GradingFailure(f"{name}: dx contains {dx[~np.isfinite(dx)][0]} for scores up to |x| = "
                             f"{np.abs(x).max():.3g}. Likely cause: an overflow, exp of large scores (inf / inf = "
                             f"nan): compute the probabilities from max-shifted scores, as softmax does.")
    if not np.isfinite(loss):
        raise GradingFailure(f"{name}: loss is {loss} for scores up to |x| = {np.abs(x).max():.3g}. "
                             f"Compute it from log_softmax (max-shifted), never as log(softmax).")
    problems, sizes = [], [core.batch_size(N), core.time_steps(T), ("N*T", N * T, "every score counted")]
    m = np.ones((N, T)) if mask is None else mask
    per_step = -np.take_along_axis(losses.log_softmax(x), y[..., None], -1)[..., 0] * m
    loss_variants = [
        ("the loss is averaged over N and T; it must be summed over time and averaged over the batch only.",
         per_step.sum() / (N * T)),
        ("the loss is summed over the batch; divide the sum by N.", per_step.sum()),
        ("the mask is ignored: masked-out steps (mask False) must not count.",
         -np.take_along_axis(losses.log_softmax(x), y[..., None], -1).sum() / N),
    ]
    line = core.mismatch("loss", np.array([float(loss)]), np.array([ref_loss]))
    if line:
        found = core.hints(np.array([float(loss)]), [(h, np.array([v])) for h, v in loss_variants],
                           np.array([ref_loss]), "loss", sizes=sizes)
        reading = None if found else _loss_reading(fn, x, y, mask, float(loss), ref_loss, sizes, seed)
        problems.append((line, found or ([reading] if reading else [])))
    core.as_array(name, "dx", dx, x.shape)
    line = core.mismatch("dx", dx, ref_dx)
    if line:
        p = losses.softmax(x)
        onehot = np.eye(V)[y]
        dx_variants = [
            ("dx is not divided by N: the loss is averaged over the batch, so is its gradient.", ref_dx * N),
            ("the one-hot target is not subtracted: dx = softmax(x) - onehot(y), then / N.", p * m[..., None] / N),
            ("dx is averaged over N and T; only the batch average applies (divide by N).", ref_dx / T),
            ("the mask is not applied to dx: masked steps get zero gradient.", (p - onehot) / N),
        ]
        # dx = (p - onehot) * mask / N: the two terms whose sign or presence the answer may have wrong
        terms = [("the one-hot target's term -onehot(y) * mask / N", -onehot * m[..., None] / N),
                 ("the probabilities' term softmax(x) * mask / N", p * m[..., None] / N)]
        found = core.hints(dx, dx_variants, ref_dx, "dx", sizes=sizes, time_axis=1, terms=terms)
        targeted = None if found else _target_entries_hint(dx, ref_dx, onehot * m[..., None] > 0, N)
        problems.append((line, found or ([targeted] if targeted else [])))
    if len(problems) == 1 and not problems[0][1]:
        line = problems[0][0]
        problems[0] = (line, ["dx is right, so the probabilities are: look first at the line that forms the loss out "
                              "of the targets' log-probabilities." if line.startswith("loss")
                              else "the loss is right, so the log-probabilities are: look first at the lines that form "
                              "dx out of the probabilities."])
    if problems:
        core.fail(name, problems)
    core.passed(name)


def _loss_reading(fn, x, y, mask, loss, ref_loss, sizes, seed):
    """How the loss relates to the right one over a few more score arrays of the same shape (same
    targets and mask): a constant factor or an extra constant (core.affine_reading), or another
    operation than / between the summed loss and N, or a rounding of each step's term; else None."""
    rng = np.random.default_rng(seed + 1)
    got, scores = [loss], [x]
    for _ in range(3):
        other = x + rng.standard_normal(x.shape)
        try:
            with np.errstate(all="ignore"):
                result = LESSON.call("temporal_softmax_loss", fn, other.copy(), y, mask) if mask is not None else \
                    LESSON.call("temporal_softmax_loss", fn, other.copy(), y)
            got.append(float(result[0]))
        except (GradingFailure, TypeError, ValueError, IndexError):
            return None
        scores.append(other)
    want = [losses.temporal_softmax_loss(other, y, mask)[0] for other in scores]
    m = np.ones(y.shape) if mask is None else mask
    # each step's term of the summed loss, -log p(target) * mask: (N, T) per score array
    terms = [-np.take_along_axis(losses.log_softmax(other), y[..., None], -1)[..., 0] * m for other in scores]
    return (core.affine_reading("the loss", got, want, sizes) or _total_reading(got, terms, y.shape[0])
            or _term_reading(got, terms, y.shape[0]))


def _total_reading(got, terms, N):
    """A hint when the loss is the summed loss S combined with N by another operation than S / N."""
    totals = np.array([t.sum() for t in terms])
    readings = [("is the summed loss floor-divided by N (// N): it is rounded down to a whole number, its fractional "
                 "digits lost; divide with /", totals // N),
                ("is the remainder of the summed loss divided by N (% N), not their quotient", totals % N),
                ("is the summed loss raised to the power N (** N) instead of divided by N", totals ** N),
                ("is minus the summed loss raised to the power N (** binds before a minus sign) instead of divided "
                 "by N", -(totals ** N))]
    found = [text for text, value in readings if core.close(np.array(got), value, 1e-9)]
    # the two powers agree for an odd N: one reading, the first, then says it
    return f"the loss {found[0]}" if found else None


def _term_reading(got, terms, N):
    """A hint when the loss sums each step's term rounded down, or only its fractional part."""
    with np.errstate(all="ignore"):
        readings = [("each step's log-probability is rounded down to a whole number before the sum, its fractional "
                     "digits lost (as // by a mask of ones does, where a product with the mask belongs)",
                     [-np.floor(-t).sum() / N for t in terms]),
                    ("only the fractional part of each step's log-probability is summed, its whole-number part "
                     "dropped (as % by a mask of ones does, where a product with the mask belongs)",
                     [-np.mod(-t, 1).sum() / N for t in terms])]
    found = [text for text, value in readings if core.close(np.array(got), np.array(value), 1e-9)]
    return found[0] if len(found) == 1 else None


def _target_entries_hint(dx, ref_dx, targets, N):
    """A hint when dx (N, T, V) is wrong only at the counted steps' target classes (targets, bool (N, T, V))."""
    wrong = ~np.isclose(dx, ref_dx, rtol=1e-7, atol=1e-12)
    if not wrong.any() or (wrong & ~targets).any():
        return None
    if np.allclose(dx[targets], 1 / N, rtol=1e-9):
        return ("dx is wrong only at the target classes y, where it is 1 / N: the targets' entries are set to 1 (=) "
                "instead of decreased by 1 (-= 1), so the one-hot target's -1 is missing")
    return ("dx is wrong only at the target classes y, the other entries are right: look at the line that takes the "
            "one-hot target off the probabilities")
