"""Gradient checking: the one trusted checker used by the notebooks, the autograder and the tests.

Hygiene that makes its verdicts trustworthy (and that many courses get wrong):

* float64 only. With h = 1e-5, float32 round-off alone (about 1e-7 relative) divided by h gives
  relative errors of 0.4-1.0 even for correct code, so float32 inputs are refused or promoted.
* The numerical gradient is computed *before* the analytic one, so a backward that scribbles on
  its inputs or its cache cannot change the reference it is compared with.
* The backward under test gets *copies* of the upstream gradient and of the cache; if it mutates
  them, the report says so (a later step or layer would read corrupted values).
* Upstream gradients are drawn from a seeded generator: the same call gives the same verdict.
* Tolerance grows with sequence length (see ``tolerance``).
* Entries that are numerically zero are not judged on their own scale. Round-off leaves an
  absolute error near 1e-11 in every centred difference; on an entry of 1e-8 (a saturated tanh
  unit, a vanished gradient) that is a relative error of 1e-3 although nothing is wrong. So
  ``compare`` floors the denominator at 1e-3 x the largest entry of the numerical gradient:
  small entries must then agree to 1e-10 of the gradient's scale, which any real bug violates.
"""
import copy
from typing import NamedTuple

import numpy as np

from ._checks import check_array

REL_TOL = 1e-7   # float64, centred differences with h = 1e-5, short sequences
SCALE_FLOOR = 1e-3   # see the module docstring: entries below this fraction of the largest are "zero"


def rel_error(a, b):
    """CS231n's relative error: max over entries of |a - b| / max(1e-8, |a| + |b|)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"b: expected the shape of a, {a.shape}, got {b.shape}")
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)), initial=0.0))


def tolerance(T=1, base=REL_TOL):
    """Relative-error tolerance for a gradient that flows through T time steps.

    Every step adds round-off to the forward, and gradients of early steps shrink as they flow
    back (04 shows why), so a small absolute error becomes a larger relative one. We therefore
    grow the tolerance linearly in T beyond 10 steps: base * max(1, T / 10). Measured on correct
    code (tests/test_gradcheck.py), the worst relative error stays well below this bound.
    """
    return base * max(1.0, T / 10.0)


def _require_float64(name, x):
    check_array(name, x, tuple(f"d{i}" for i in range(np.ndim(x))))
    if x.dtype != np.float64:
        raise ValueError(f"{name}: numerical gradients need float64 (got {x.dtype}); at h=1e-5 "
                         f"float32 round-off alone gives relative errors near 1. Use x.astype(np.float64).")


def numerical_gradient(f, x, h=1e-5):
    """Centred-difference gradient of a scalar function f() with respect to the array x.

    f takes no arguments and reads x, which is modified in place (one entry at a time) and
    restored. Returns grad with x's shape: grad[i] = (f(x + h e_i) - f(x - h e_i)) / 2h.
    """
    _require_float64("x", x)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = float(f())
        x[i] = old - h
        minus = float(f())
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def numerical_gradient_array(f, x, df, h=1e-5):
    """Gradient of sum(f(x) * df) with respect to x: the backward of an array-valued f.

    f(x) returns an array of df's shape; df is the upstream gradient. x is modified and restored.
    """
    _require_float64("x", x)
    return numerical_gradient(lambda: np.sum(f(x) * df), x, h)


class GradCheck(NamedTuple):
    """The verdict on one gradient."""
    name: str
    rel_error: float
    tol: float
    worst_index: tuple    # where analytic and numerical differ most (relative)
    analytic: float       # the analytic value there
    numerical: float      # the numerical value there
    shape_ok: bool        # False if the analytic gradient had the wrong shape

    @property
    def ok(self):
        return self.shape_ok and self.rel_error <= self.tol

    def __str__(self):
        mark = "ok  " if self.ok else "FAIL"
        return (f"{mark} {self.name:8s} rel_error={self.rel_error:.2e} (tol {self.tol:.0e})  "
                f"worst at {self.worst_index}: analytic={self.analytic:.6g} numerical={self.numerical:.6g}")


class GradReport(NamedTuple):
    """Per-gradient verdicts plus what the backward mutated (names of cache/upstream parts)."""
    checks: dict          # name -> GradCheck
    mutated: list         # e.g. ["dout[0]", "cache[2].prev_h"]
    grads: tuple = ()     # what the backward returned
    douts: tuple = ()     # the upstream gradients it was given (seeded)

    @property
    def ok(self):
        return not self.mutated and all(c.ok for c in self.checks.values())

    def __getitem__(self, name):
        return self.checks[name]

    def __str__(self):
        lines = [str(c) for c in self.checks.values()]
        lines += [f"FAIL backward modified its input {m}: it must not write into dout or the cache"
                  for m in self.mutated]
        return "\n".join(lines)


def compare(name, analytic, numerical, tol=REL_TOL):
    """Compare one analytic gradient with a numerical one and say where they differ most."""
    analytic = np.asarray(analytic)
    if analytic.shape != numerical.shape:
        return GradCheck(name, np.inf, tol, (), np.nan, np.nan, False)
    floor = max(1e-8, SCALE_FLOOR * float(np.max(np.abs(numerical), initial=0.0)))
    diff = np.abs(analytic - numerical) / np.maximum(floor, np.abs(analytic) + np.abs(numerical))
    worst = np.unravel_index(np.argmax(diff), diff.shape) if diff.size else ()
    worst = tuple(int(i) for i in worst)
    return GradCheck(name, float(diff.max(initial=0.0)), tol, worst,
                     float(analytic[worst]) if diff.size else np.nan,
                     float(numerical[worst]) if diff.size else np.nan, True)


def _differences(before, after, path):
    """Paths at which two nested structures of arrays differ (used to detect mutation)."""
    if isinstance(before, np.ndarray):
        same = isinstance(after, np.ndarray) and before.shape == after.shape and np.array_equal(before, after)
        return [] if same else [path]
    if isinstance(before, (list, tuple)):
        fields = getattr(before, "_fields", None)
        out = []
        for i, (b, a) in enumerate(zip(before, after)):
            out += _differences(b, a, f"{path}.{fields[i]}" if fields else f"{path}[{i}]")
        return out
    return []


def check_gradients(forward, backward, inputs, names, tol=REL_TOL, seed=0, h=1e-5):
    """Check a (forward, backward) pair against numerical gradients of the forward.

    forward(*inputs) -> (out_1, ..., out_k, cache); backward(dout_1, ..., dout_k, cache) returns
    the gradients of the float inputs, in order, named by ``names`` (e.g. for rnn_forward:
    inputs (x, h0, Wx, Wh, b), names ("dx", "dh0", "dWx", "dWh", "db")). Integer inputs (token
    ids) are passed through and get no gradient. Float inputs are promoted to float64 copies.

    Returns a GradReport (``report.ok``, ``report["dWh"].worst_index``, ``print(report)``).
    """
    inputs = [x.astype(np.float64) if np.issubdtype(x.dtype, np.floating) else x for x in inputs]
    float_idx = [i for i, x in enumerate(inputs) if np.issubdtype(x.dtype, np.floating)]
    if len(names) != len(float_idx):
        raise ValueError(f"names: expected one name per float input ({len(float_idx)}), got {len(names)}")
    *outs, _ = forward(*inputs)
    rng = np.random.default_rng(seed)
    douts = [rng.standard_normal(np.shape(o)) for o in outs]

    def objective():
        return sum(np.sum(o * d) for o, d in zip(forward(*inputs)[:-1], douts))

    numerical = [numerical_gradient(objective, inputs[i], h) for i in float_idx]

    *_, cache = forward(*inputs)
    given_douts, given_cache = copy.deepcopy(douts), copy.deepcopy(cache)
    grads = backward(*given_douts, given_cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    mutated = _differences(douts, given_douts, "dout") + _differences(cache, given_cache, "cache")
    checks = {}
    for k, (name, num) in enumerate(zip(names, numerical)):
        checks[name] = compare(name, grads[k] if k < len(grads) else np.array(np.nan), num, tol)
    return GradReport(checks, mutated, grads, tuple(douts))


class SumOf:
    """f() = sum(g(A * x)) with g "cube" or "tanh": a test objective of an array x that the caller
    changes in place, as numerical_gradient does. A plain class (not a closure), so the grader can
    rebuild it in another process with x still shared."""

    def __init__(self, x, g, A=1.0):
        self.x, self.g, self.A = x, g, A

    def __call__(self):
        z = self.A * self.x
        return float(np.sum(z ** 3 if self.g == "cube" else np.tanh(z)))

    def gradient(self):
        z = self.A * self.x
        return self.A * (3 * z ** 2 if self.g == "cube" else 1 - np.tanh(z) ** 2)
