"""The forward pass: one step, a whole sequence, the output layer."""
import numpy as np

from .. import rnn
from . import core
from .core import GradingFailure, Lesson

LESSON = Lesson(
    "01_forward_pass",
    exercises={"rnn_step_forward": "rnn:rnn_step_forward", "rnn_forward": "rnn:rnn_forward",
               "temporal_affine_forward": "layers:temporal_affine_forward"},
    cores=("rnn:step_forward", "rnn:forward_steps"),
)


def _as_output(name, what, value, shape, bias=None):
    """core.as_array, whose message also says where a nan comes from, and when the output has the
    shape of the bias alone. bias: (its name, its array, the terms that carry the other axes)."""
    __tracebackhide__ = True
    if isinstance(value, np.ndarray) and value.dtype == np.float64 and value.shape == tuple(shape) and np.isnan(value).any():
        idx = tuple(int(i) for i in np.argwhere(np.isnan(value))[0])
        raise GradingFailure(f"{name}: {what} contains nan at index {idx}; expected finite values. Likely cause: "
                             f"{what} holds nan (not a number): {core.NAN_CAUSE}.")
    if bias and isinstance(value, np.ndarray) and value.shape != tuple(shape) and value.shape == np.shape(bias[1]):
        label, _, terms = bias
        raise GradingFailure(f"{name}: {what} has shape {value.shape}, expected {tuple(shape)}. {value.shape} is the "
                             f"shape of the bias {label} alone: the other axes are lost, as when {terms} (which carry "
                             f"them) {'are' if ' and ' in terms else 'is'} missing or summed away.")
    return core.as_array(name, what, value, shape)


def _cs231n_step_inputs():
    N, D, H = 3, 10, 4
    return (np.linspace(-0.4, 0.7, num=N * D).reshape(N, D), np.linspace(-0.2, 0.5, num=N * H).reshape(N, H),
            np.linspace(-0.1, 0.9, num=D * H).reshape(D, H), np.linspace(-0.3, 0.7, num=H * H).reshape(H, H),
            np.linspace(-0.2, 0.4, num=H))


def step_inputs(N, D, H, seed):
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


_STEP_TERMS = [("the input term x @ Wx (prev_h = 0, b = 0)", (1, 4)),
               ("the recurrent term prev_h @ Wh (x = 0, b = 0)", (0, 4)),
               ("the bias b (x = 0, prev_h = 0)", (0, 1))]


def _check_step_forward_output(fn, args, label):
    name = "rnn_step_forward"
    expected, ref_cache = rnn.rnn_step_forward(*args)
    next_h, cache = core.unpack(name, LESSON.call(name, fn, *args), ("next_h", "cache"), (expected, ref_cache))
    _as_output(name, "next_h", next_h, expected.shape, ("b", args[4], "x @ Wx and prev_h @ Wh"))
    line = core.mismatch(f"next_h ({label})", next_h, expected)
    if line:
        hints = core.hints(next_h, _step_forward_variants(*args), expected, "next_h")
        x, prev_h, Wx, Wh, b = args
        terms = [("the input term x @ Wx", x @ Wx), ("the recurrent term prev_h @ Wh", prev_h @ Wh), ("the bias b", b)]
        found = None if hints else core.activation_hint("next_h", next_h, "tanh", terms)
        hints += [found] if found else []
        if not hints:
            call, reference = lambda *a: LESSON.call(name, fn, *a)[:1], lambda *a: rnn.rnn_step_forward(*a)[:1]
            probe = core.probe_terms(call, reference, args, _STEP_TERMS)
            hints += ([probe] if probe else []) + core.probe_readings(call, reference, args, _STEP_TERMS)
        core.fail(name, [(line, hints)])
    return cache


def _check_step_cache(name, cache, args, next_h, where=""):
    """The step cache (x, prev_h, Wx, Wh, b, next_h) that lesson 03's backward reads."""
    x, prev_h, Wx, Wh, b = args
    core.check_cache(name, cache, rnn.StepCache(*args, next_h), where,
                     also={"the pre-activation x @ Wx + prev_h @ Wh + b": x @ Wx + prev_h @ Wh + b})


def check_rnn_step_forward(fn, N=3, D=10, H=4, seed=0):
    """Check rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)."""
    __tracebackhide__ = True
    name = "rnn_step_forward"
    cases = [("random inputs", step_inputs(N, D, H, seed))]
    if (N, D, H) == (3, 10, 4):
        cases.insert(0, ("CS231n's published test values", _cs231n_step_inputs()))
    for label, args in cases:
        cache = _check_step_forward_output(fn, args, label)
        _check_step_cache(name, cache, args, rnn.rnn_step_forward(*args)[0])
    core.passed(name)


def seq_inputs(N, T, D, H, seed):
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
        ("time runs the wrong way: the loop goes from the last step to the first; the state flows forward, from "
         "t = 0 to T-1.", rnn.rnn_forward(x[:, ::-1], h0, Wx, Wh, b)[0][:, ::-1]),
        ("h0 is ignored: the first step must start from the given h0, not from zeros.",
         rnn.rnn_forward(x, np.zeros_like(h0), Wx, Wh, b)[0]),
        ("every step reads x[:, 0]: step t must read x[:, t].", first_only),
        ("the state is not carried: each step must start from the previous step's next_h.",
         np.tanh(x @ Wx + h0[:, None] @ Wh + b)),
        ("h[:, t] holds h0 at every step: each step stores the initial state instead of its new state next_h.",
         np.repeat(h0[:, None], x.shape[1], axis=1)),
    ]


def check_rnn_forward(fn, N=2, T=3, D=4, H=5, seed=0):
    """Check rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)."""
    __tracebackhide__ = True
    name = "rnn_forward"
    cases = [("random inputs", seq_inputs(N, T, D, H, seed))]
    if (N, T, D, H) == (2, 3, 4, 5):
        cases.insert(0, ("CS231n's published test values", _cs231n_forward_inputs()))
    for label, args in cases:
        expected, ref_cache = rnn.rnn_forward(*args)
        h, cache = core.unpack(name, LESSON.call(name, fn, *args), ("h", "cache"), (expected, ref_cache))
        _as_output(name, "h", h, expected.shape)
        line = core.mismatch(f"h ({label})", h, expected)
        if line:
            core.fail(name, [(line, core.hints(h, _forward_variants(*args), expected, "h", time_axis=1, flow="forward"))])
        core.step_caches(name, cache, ref_cache)
        for t, (step, ref) in enumerate(zip(cache, ref_cache)):
            _check_step_cache(name, step, tuple(ref[:5]), ref.next_h, where=f"[{t}]")
    core.passed(name)


def _positions_moved(out, expected):
    """A hint when out (N, T, M) holds the right score vectors, each at another (n, t) position, else None."""
    N, T, M = expected.shape
    got, want = out.reshape(N * T, M), expected.reshape(N * T, M)
    source = [next((k for k in range(N * T) if np.allclose(row, want[k], rtol=1e-9, atol=1e-12)), None) for row in got]
    if None in source or sorted(source) != list(range(N * T)) or source == list(range(N * T)):
        return None
    at = next(k for k in range(N * T) if source[k] != k)
    (n, t), (n2, t2) = divmod(at, T), divmod(source[at], T)
    head = f"every score vector is right but sits at another position (out[{n}, {t}] holds the scores of h[{n2}, {t2}])"
    time_major = [(k % N) * T + k // N for k in range(N * T)]    # (T, N) rows read back as (N, T)
    if source == time_major:
        return (f"{head}: a reshape mixes the batch and time axes, as when h is flattened time-major (a transpose) and "
                f"the scores are reshaped back batch-major without undoing it")
    return f"{head}: look at how the positions are indexed, reshaped or transposed"


def check_temporal_affine_forward(fn, N=2, T=3, H=4, M=5, seed=0):
    """Check temporal_affine_forward(h, V, c) -> (out, cache)."""
    __tracebackhide__ = True
    name = "temporal_affine_forward"
    rng = np.random.default_rng(seed)
    h, V, c = rng.standard_normal((N, T, H)), rng.standard_normal((H, M)), rng.standard_normal(M)
    expected = h @ V + c
    out, cache = core.unpack(name, LESSON.call(name, fn, h, V, c), ("out", "cache"), (expected, (h, V, c)))
    _as_output(name, "out", out, expected.shape, ("c", c, "h @ V"))
    line = core.mismatch("out", out, expected)
    if line:
        hints = core.hints(out, [("the bias c is missing: out = h @ V + c.", h @ V)], expected, "out", time_axis=1)
        moved = None if hints else _positions_moved(out, expected)
        hints += [moved] if moved else []
        if not hints:
            call, reference = lambda *a: LESSON.call(name, fn, *a)[:1], lambda h, V, c: (h @ V + c,)
            terms = [("h @ V (c = 0)", (2,)), ("the bias c (h = 0)", (0,))]
            probe = core.probe_terms(call, reference, (h, V, c), terms)
            hints = ([probe] if probe else []) + core.probe_readings(call, reference, (h, V, c), terms)
        core.fail(name, [(line, hints)])
    if not (isinstance(cache, tuple) and len(cache) == 3 and all(a is b or np.array_equal(a, b) for a, b in zip(cache, (h, V, c)))):
        order = core.misplaced(cache, (h, V, c), ("h", "V", "c")) if isinstance(cache, tuple) and len(cache) == 3 else None
        raise GradingFailure(f"{name}: the cache must be the tuple (h, V, c) that the backward reads."
                             + (f" It is {order[0].split('; ')[0].removeprefix('it returned ')}: the cache is returned "
                                f"with its fields in the wrong order." if order else ""))
    core.passed(name)
