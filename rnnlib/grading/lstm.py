"""The LSTM: step and sequence forward and backward, gate order i, f, o, g; the GRU's step (gate order r, z, n)."""
import numpy as np

from .. import gradcheck, gru, lstm
from . import core
from .core import GradingFailure, Lesson, add_step_grads

LESSON = Lesson(
    "07_lstm",
    exercises={"lstm_step_forward": "lstm:lstm_step_forward", "lstm_forward": "lstm:lstm_forward",
               "lstm_step_backward": "lstm:lstm_step_backward", "lstm_backward": "lstm:lstm_backward",
               "gru_step_forward": "gru:gru_step_forward", "gru_step_backward": "gru:gru_step_backward"},
    # gru_forward and gru_backward, and their recurrences, compute a step's answer too (a sequence of T = 1).
    cores=("lstm:step_forward", "lstm:step_backward", "lstm:forward_steps", "lstm:backward_steps", "gru:step_forward",
           "gru:step_backward", "gru:gru_forward", "gru:gru_backward", "gru:forward_steps", "gru:backward_steps"),
    material=("lstm:TimeLSTM", "bidirectional:bidirectional_forward", "bidirectional:bidirectional_backward",
              "models:SequenceTagger"),
)


def _as_array(name, what, value, shape):
    """core.as_array, whose message for a nan (of the right type and shape) also says where a nan comes from."""
    if isinstance(value, np.ndarray) and value.dtype == np.float64 and value.shape == tuple(shape) and np.isnan(value).any():
        idx = tuple(int(i) for i in np.argwhere(np.isnan(value))[0])
        raise GradingFailure(f"{name}: {what} contains nan at index {idx}; expected finite values. Likely cause: "
                             f"{what} holds nan (not a number): {core.NAN_CAUSE}.")
    return core.as_array(name, what, value, shape)


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
        ("the forget gate multiplies prev_h instead of prev_c: next_c = f * prev_c + i * g (the cell state is the "
         "memory the forget gate keeps).", *out(f * prev_h + i * g)),
    ]


_STEP_TERMS = [("the input term x @ Wx (prev_h = prev_c = 0, b = 0)", (1, 2, 5)),
               ("the recurrent term prev_h @ Wh (x = prev_c = 0, b = 0)", (0, 2, 5)),
               ("the bias b (x = prev_h = prev_c = 0)", (0, 1, 2)),
               ("the old cell state's path f * prev_c (x = prev_h = 0, b = 0)", (0, 1, 5))]


def check_lstm_step_forward(fn, N=3, D=4, H=5, seed=0):
    """Check lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b) -> (next_h, next_c, cache)."""
    __tracebackhide__ = True
    name = "lstm_step_forward"
    args = _lstm_step_inputs(N, D, H, seed)
    want_h, want_c, want_cache = lstm.lstm_step_forward(*args)
    next_h, next_c, cache = core.unpack(name, LESSON.call(name, fn, *args), ("next_h", "next_c", "cache"),
                                        (want_h, want_c, want_cache))
    _as_array(name, "next_h", next_h, want_h.shape)
    _as_array(name, "next_c", next_c, want_c.shape)
    variants = _lstm_step_variants(*args)
    problems = [(line, core.hints(got, [(hint, v[k]) for hint, *v in variants], want, what))
                for k, (what, got, want) in enumerate((("next_h", next_h, want_h), ("next_c", next_c, want_c)))
                for line in [core.mismatch(what, got, want)] if line]
    if problems and not any(h for _, h in problems):
        # read only when the student's cache shows which quantities before the first wrong one are right
        readings = _lstm_readings(args, cache, want_cache) if _fields(cache, want_cache)[0] is not None else {}
        found = _first_wrong(_lstm_steps(args, cache, next_h, next_c, want_cache, want_c, want_h), readings) or \
            core.probe_terms(lambda *a: LESSON.call(name, fn, *a)[:2], lambda *a: lstm.lstm_step_forward(*a)[:2],
                             args, _STEP_TERMS)
        problems[0] = (problems[0][0], [found] if found else [])
    if problems:
        core.fail(name, problems)
    core.check_cache(name, cache, want_cache, also={"next_c": want_c, "next_h": want_h})
    core.passed(name)


_GENERIC = "{} is the first wrong quantity (the ones computed before it are right): look at how it is computed"


def _first_wrong(steps, readings):
    """core.first_wrong, and when it can only say which quantity is the first wrong one, that quantity
    read from what it is: readings[label](got) -> the end of a hint or None."""
    found = core.first_wrong(steps)
    for label, got, want, *_ in steps:
        if found == _GENERIC.format(label) and label in readings:
            text = readings[label](got)
            return f"{label}: {text}" if text else found
    return found


def _inside(act, label, terms):
    """A reading of act(the sum of terms) (terms: [(label, factors, functions)]): the input the result
    implies (run back through the activation's inverse), read as that sum."""
    _, inverse, (low, high) = core.ACTIVATIONS[act]

    def read(got):
        if not np.all((got > low) & (got < high)):
            return None
        with np.errstate(all="ignore"):
            text = core.sum_reading(inverse(got), terms)
        return f"inside the {act}: {text}" if text else None
    return read


def _single(terms):
    return [(label, [(label, value)], []) for label, value in terms]


def _lstm_readings(args, cache, ref):
    """How each of lstm_step_forward's quantities is read when it is the first wrong one (those before
    it are right, so the cache's gates are the right ones)."""
    x, prev_h, prev_c, Wx, Wh, b = args
    H, c = prev_h.shape[1], ref
    pool = _with_derivative_forms([("i", c.i), ("f", c.f), ("o", c.o), ("g", c.g), ("prev_c", prev_c),
                                   ("prev_h", prev_h), ("tanh_c", c.tanh_c)], [("i", c.i), ("f", c.f), ("o", c.o), ("g", c.g)])
    readings = {gate: _inside("tanh" if gate == "g" else "sigmoid", gate,
                              _single(_gate_terms(x, prev_h, Wx, Wh, b, k, H, gate))) for k, gate in enumerate(_GATES)}
    readings["next_c"] = lambda got: core.sum_reading(got, [
        ("the forget path f * prev_c", [("f", c.f), ("prev_c", prev_c)], []),
        ("the input path i * g", [("i", c.i), ("g", c.g)], [])], pool)
    readings["next_h"] = lambda got: core.gate_product_reading(got, [("o", c.o), ("tanh_c", c.tanh_c)], pool)
    return readings


def _gate_terms(x, prev_h, Wx, Wh, b, k, H, gate):
    """The three terms of gate k's pre-activation (columns k*H to (k+1)*H)."""
    cols, where = slice(k * H, (k + 1) * H), f"[:, {k * H}:{(k + 1) * H}]"
    return [(f"the input term x @ Wx{where} of gate {gate}", x @ Wx[:, cols]),
            (f"the recurrent term prev_h @ Wh{where} of gate {gate}", prev_h @ Wh[:, cols]),
            (f"the bias b[{k * H}:{(k + 1) * H}] of gate {gate}", b[cols])]


def _fields(cache, reference):
    """The student's cache read field by field as the reference's, or Nones when it is not one."""
    if isinstance(cache, tuple) and len(cache) == len(reference):
        return cache
    return (None,) * len(reference)


def _lstm_steps(args, cache, next_h, next_c, ref, want_c, want_h):
    """lstm_step_forward's quantities in the order it computes them, for core.first_wrong."""
    x, prev_h, prev_c, Wx, Wh, b = args
    H, mine = prev_h.shape[1], _fields(cache, ref)
    gates = [(gate, mine[5 + k], ref[5 + k], "tanh" if gate == "g" else "sigmoid",
              _gate_terms(x, prev_h, Wx, Wh, b, k, H, gate)) for k, gate in enumerate(_GATES)]
    return gates + [
        ("next_c", next_c, want_c, None, [("the forget path f * prev_c", ref.f * prev_c), ("the input path i * g", ref.i * ref.g)]),
        ("tanh_c", mine[9], ref.tanh_c, "tanh", [("next_c", want_c)]),
        ("next_h", next_h, want_h, None, [])]


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
        ("h holds h0 at every time step: each step's next_h must be stored, h[:, t] = next_h, instead of the "
         "initial state.", np.repeat(h0[:, None], x.shape[1], axis=1)),
        ("h0 is ignored: the first step must start from the given h0, not from zeros.",
         lstm.lstm_forward(x, np.zeros_like(h0), Wx, Wh, b)[0]),
        ("the cell state starts from h0 instead of zeros: h0 is the initial hidden state only; c0 = 0.",
         _from_c0(x, h0, Wx, Wh, b, h0)),
        ("h holds the cell states next_c instead of the hidden states next_h (two quantities mixed up).",
         np.stack([np.arctanh(step.tanh_c) for step in lstm.lstm_forward(x, h0, Wx, Wh, b)[1]], axis=1)),
        ("time runs the wrong way: the loop goes from the last step to the first; the state flows forward, from "
         "t = 0 to T-1.", lstm.lstm_forward(x[:, ::-1], h0, Wx, Wh, b)[0][:, ::-1]),
    ]


def _from_c0(x, h0, Wx, Wh, b, c0):
    h, prev_h, prev_c = np.empty((*x.shape[:2], h0.shape[1])), h0, c0
    for t in range(x.shape[1]):
        prev_h, prev_c, _ = lstm.lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
    return h


def check_lstm_forward(fn, N=2, T=4, D=3, H=5, seed=0):
    """Check lstm_forward(x, h0, Wx, Wh, b) -> (h, cache), with c0 = 0."""
    __tracebackhide__ = True
    name = "lstm_forward"
    args = _lstm_seq_inputs(N, T, D, H, seed)
    want, want_cache = lstm.lstm_forward(*args)
    h, cache = core.unpack(name, LESSON.call(name, fn, *args), ("h", "cache"), (want, want_cache))
    _as_array(name, "h", h, want.shape)
    line = core.mismatch("h", h, want)
    if line:
        core.fail(name, [(line, core.hints(h, _lstm_forward_variants(*args), want, "h", time_axis=1, flow="forward"))])
    core.step_caches(name, cache, want_cache)
    for t, (got, ref) in enumerate(zip(cache, want_cache)):
        core.check_cache(name, got, ref, where=f"[{t}]")
    core.passed(name)


def _lstm_step_backward_variant(dnext_h, dnext_c, c, tanh_path=True, forget="prev_c", carry_f=True,
                                gate_deriv=True, tanh_c="tanh_c", db="sum", do_from="dnext_h"):
    next_c = c.f * c.prev_c + c.i * c.g
    dtanh = {"tanh_c": 1 - c.tanh_c ** 2, "next_c": 1 - next_c ** 2, "none": 1.0, "unsquared": 1 - c.tanh_c}[tanh_c]
    dc = dnext_c + (dnext_h * c.o * dtanh if tanh_path else 0)
    di, dg = dc * c.g, dc * c.i
    do = (dnext_h if do_from == "dnext_h" else dc) * c.tanh_c
    df = dc * {"prev_c": c.prev_c, "g": c.g, "prev_h": c.prev_h}[forget]
    if gate_deriv in (True, "sigmoid_for_g"):
        dg_local = c.g * (1 - c.g) if gate_deriv == "sigmoid_for_g" else 1 - c.g ** 2
        di, df, do, dg = di * c.i * (1 - c.i), df * c.f * (1 - c.f), do * c.o * (1 - c.o), dg * dg_local
    elif gate_deriv == "of_output":   # sigma' evaluated at the gate's output instead of its input
        s, t = (lambda v: lstm.sigmoid(v) * (1 - lstm.sigmoid(v))), (lambda v: 1 - np.tanh(v) ** 2)
        di, df, do, dg = di * s(c.i), df * s(c.f), do * s(c.o), dg * t(c.g)
    da = np.concatenate([di, df, do, dg], axis=1)
    return (da @ c.Wx.T, da @ c.Wh.T, dc * c.f if carry_f else dc, c.x.T @ da, c.prev_h.T @ da,
            da.sum(0) if db == "sum" else da.mean(0))


_LSTM_STEP_MISTAKES = [
    ({"tanh_path": False}, "next_c also reaches the loss through next_h = o * tanh(next_c): the total "
     "dc = dnext_c + dnext_h * o * (1 - tanh_c**2), and every gradient after it uses this dc."),
    ({"forget": "g"}, "the forget gate multiplies prev_c (next_c = f * prev_c + i * g), so df = dc * prev_c."),
    ({"carry_f": False}, "the forget gate's factor is missing from dprev_c: dprev_c = dc * f, since going back "
     "along the cell state the gradient is scaled by the forget gate."),
    ({"forget": "prev_h"}, "df pairs dc with prev_h instead of prev_c: the forget gate multiplies the old cell state "
     "(next_c = f * prev_c + i * g), so df = dc * prev_c."),
    ({"tanh_c": "unsquared"}, "the derivative of tanh(next_c) is 1 - tanh_c**2; the square is missing (1 - tanh_c)."),
    ({"gate_deriv": "sigmoid_for_g"}, "the candidate g is a tanh, so its derivative is 1 - g**2; g * (1 - g) is the "
     "sigmoid's derivative, used instead."),
    ({"gate_deriv": False}, "each gate's pre-activation needs its nonlinearity's derivative: i * (1 - i) (and the "
     "same for f and o) and 1 - g**2 for g."),
    ({"tanh_c": "next_c"}, "the derivative of tanh(next_c) is 1 - tanh(next_c)**2 = 1 - tanh_c**2, not 1 - next_c**2."),
    ({"db": "mean"}, "the bias gradient is averaged over the batch; sum it: db = da.sum(axis=0)."),
    ({"tanh_c": "none"}, "the path from next_h into the cell state goes through tanh: dc needs the tanh derivative "
     "at next_c (from tanh_c, which the cache holds), not only o."),
    ({"do_from": "dc"}, "do uses dc instead of dnext_h: the output gate o only acts on next_h (next_h = o * tanh_c), "
     "so its gradient comes from dnext_h alone."),
    ({"gate_deriv": "of_output"}, "the gates' derivatives are applied to the gates' outputs again: the cache holds "
     "i, f, o, g after their nonlinearity, so sigma'(a) is i * (1 - i) (and 1 - g**2), not sigma'(i)."),
]

_GATES = ("i", "f", "o", "g")
_STEP_UPSTREAM = ("every gradient is wrong, and all of them are computed from dc and the gate blocks of da: check "
                  "dc first (the cell state's total gradient), then each gate's block.")


# Where to look when exactly these gates' columns are wrong: what they, and no other gate, depend on.
_GATE_NOTES = {frozenset("ifg"): "dc, which these three gates' gradients go through and o's does not",
               frozenset("o"): "the output gate's part: it comes from dnext_h and tanh_c only"}


def _blocks(cache):
    return (cache[0].i.shape[1] if isinstance(cache, list) else cache.i.shape[1], _GATES, _GATE_NOTES)


def _gate_paths(da, c, gates):
    """Each gate's part of dx and of dprev_h: da's block of that gate times the same block of Wx, Wh."""
    H = da.shape[1] // len(gates)
    block = [slice(k * H, (k + 1) * H) for k in range(len(gates))]
    return {w: [(f"gate {g}'s path (da's {g} block @ {w}[:, {k * H}:{(k + 1) * H}].T)", da[:, block[k]] @ W[:, block[k]].T)
                for k, g in enumerate(gates)] for w, W in (("Wx", c.Wx), ("Wh", c.Wh))}


def _step_relations(douts, cache):
    dnext_h, dnext_c = douts
    c, sizes = cache, [core.batch_size(cache.x.shape[0])]
    through_h = dnext_h * c.o * (1 - c.tanh_c ** 2)
    dc = dnext_c + through_h
    da = np.concatenate([dc * c.g * c.i * (1 - c.i), dc * c.prev_c * c.f * (1 - c.f),
                         dnext_h * c.tanh_c * c.o * (1 - c.o), dc * c.i * (1 - c.g ** 2)], axis=1)
    paths = _gate_paths(da, c, _GATES)
    terms = {"dx": paths["Wx"], "dprev_h": paths["Wh"],
             "dprev_c": [("the cell state's own path, dnext_c * f", dnext_c * c.f),
                         ("the path through next_h, dnext_h * o * (1 - tanh_c**2) * f", through_h * c.f)]}
    return {k: {"sizes": sizes, "terms": terms.get(k, ()),
                **({"blocks": _blocks(cache)} if k.startswith(("dW", "db")) else {})}
            for k in ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")}


def _lstm_step(dh_t, carried, c):
    dprev_h, dprev_c = carried if carried is not None else (0, np.zeros_like(dh_t))
    _, dh, dc, *weights = lstm.lstm_step_backward(dh_t + dprev_h, dprev_c, c)
    return (dh, dc), weights


_SEQUENCE_RELATIONS = core.sequence_relations(_lstm_step, blocks=_blocks)


def _lstm_backward_variant(dh, cache, carry_c=True, carry_h=True, order="backward", accumulate="sum", swap=False,
                           **step):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0].x.shape[1]))
    grads = [np.zeros_like(cache[0].Wx), np.zeros_like(cache[0].Wh), np.zeros(cache[0].Wx.shape[1])]
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in (range(T - 1, -1, -1) if order == "backward" else range(T)):
        dx[:, t], dh_t, dc_t, *g = _lstm_step_backward_variant(dh[:, t] + (dprev_h if carry_h else 0),
                                                              dprev_c if carry_c else np.zeros((N, H)), cache[t], **step)
        dprev_h, dprev_c = (dc_t, dh_t) if swap else (dh_t, dc_t)
        add_step_grads(grads, g, accumulate, last=t == T - 1)
    return (dx, dh_t, *grads)


_LSTM_SEQUENCE_MISTAKES = [
    ({"carry_c": False}, "the cell state's gradient must be carried across steps: step t's dprev_c is the dnext_c "
     "of step t-1 (zeros only at the last step). This is the highway: do not drop it."),
    ({"carry_h": False}, "dh_t must also receive the gradient flowing back from step t+1: pass dh[:, t] + dprev_h."),
    ({"accumulate": "overwrite"}, "a shared weight's gradient is overwritten at every step; add each step's "
     "contribution (dWh += ...)."),
    ({"accumulate": "last_step"}, "the weight gradients come from the last time step only; sum them over all steps."),
    ({"order": "forward"}, "time runs the wrong way: backpropagate from t = T-1 down to 0."),
    ({"swap": True}, "the two carried gradients are swapped: the dprev_c of step t goes into step t-1 as its dnext_c "
     "and dprev_h as (part of) its dnext_h, not the other way round."),
] + _LSTM_STEP_MISTAKES


def _sigmoid_derivative(indices, gate, value):
    return (indices, f"the sigmoid's derivative {gate} * (1 - {gate})", gate, value)


def _tanh_derivative(index, of, value):
    return ((index,), f"tanh's derivative 1 - {of}**2", of, value)


def _block_intro(gate, k, H):
    return f"da's block of gate {gate} (columns {k * H}:{(k + 1) * H} of dWx, dWh and db)"


def _with_derivative_forms(pool, variables):
    """pool, plus 1 - v and 1 - v**2 of each activation's output v: the forms a derivative's factors take."""
    forms = [(f"(1 - {v})", 1 - value) for v, value in variables] + [(f"(1 - {v}**2)", 1 - value ** 2) for v, value in variables]
    return [(label, value) for label, value in pool + forms if np.shape(value) == np.shape(variables[0][1])]


def _lstm_step_reading(grads, douts, c):
    """The student's dc and gate blocks of da, recovered from what they returned (da from dWx = x.T @ da,
    dc from each of its four uses), each read against what it should be given the ones before it."""
    dx, dprev_h, dprev_c, dWx, dWh, db = grads
    dnext_h, dnext_c = douts
    da = core.recover_rows(c.x, dWx)
    da = core.recover_rows(c.prev_h, dWh) if da is None else da
    if da is None:
        return None
    right_dc = dnext_c + dnext_h * c.o * (1 - c.tanh_c ** 2)
    dc = _student_dc(da, dprev_c, c, right_dc)
    if dc is None:
        return None
    pool = [("i", c.i), ("f", c.f), ("o", c.o), ("g", c.g), ("tanh_c", c.tanh_c), ("prev_c", c.prev_c),
            ("prev_h", c.prev_h), ("dnext_h", dnext_h), ("dnext_c", dnext_c), ("dc", dc)]
    pool, sums = _with_derivative_forms(pool, pool[:5]), _lstm_sums(c, dnext_h, dnext_c)

    def product(got, factors, derivatives, terms=()):
        return lambda: core.gate_product_reading(got, factors, pool, derivatives, terms, sums=sums)
    H = c.i.shape[1]
    return core.read_quantities(
        [("dc, the cell state's total gradient (da's blocks of gates i, f and g and dprev_c are computed from it), "
          "is wrong", dc, right_dc, lambda: core.sum_reading(dc, _dc_terms(c, dnext_h, dnext_c), pool, sums))]
        + [(_block_intro(gate, k, H), got, core.product_of(factors), product(got, factors, derivatives))
           for k, (gate, got, factors, derivatives) in enumerate(_lstm_blocks(da, dc, dnext_h, c))]
        + [("dprev_c (= dc * f)", dprev_c, dc * c.f,
            product(dprev_c, [("dc", dc), ("f", c.f)], [], _dprev_c_terms(c, dnext_h, dnext_c, dc, right_dc)))]
        + [(what, got, want, lambda: None) for what, got, want in
           (("dx", dx, da @ c.Wx.T), ("dprev_h", dprev_h, da @ c.Wh.T), ("dWx", dWx, c.x.T @ da),
            ("dWh", dWh, c.prev_h.T @ da), ("db", db, da.sum(axis=0)))])


def _student_dc(da, dprev_c, c, right_dc):
    """dc (N, H) as the student's gradients use it: run back from the blocks of gates i, f, g of da and
    from dprev_c = dc * f, the value most of them agree on (see core.agreed)."""
    da_i, da_f, _, da_g = np.split(da, 4, axis=1)
    with np.errstate(all="ignore"):
        return core.agreed([da_i / (c.g * c.i * (1 - c.i)), da_f / (c.prev_c * c.f * (1 - c.f)),
                            da_g / (c.i * (1 - c.g ** 2)), dprev_c / c.f], right_dc)


def _lstm_blocks(da, dc, dnext_h, c):
    """Each gate block of da (N, 4H) with the factors whose product it should be, and its derivative's."""
    da_i, da_f, da_o, da_g = np.split(da, 4, axis=1)
    return [("i", da_i, [("dc", dc), ("g", c.g), ("i", c.i), ("(1 - i)", 1 - c.i)], [_sigmoid_derivative((2, 3), "i", c.i)]),
            ("f", da_f, [("dc", dc), ("prev_c", c.prev_c), ("f", c.f), ("(1 - f)", 1 - c.f)],
             [_sigmoid_derivative((2, 3), "f", c.f)]),
            ("o", da_o, [("dnext_h", dnext_h), ("tanh_c", c.tanh_c), ("o", c.o), ("(1 - o)", 1 - c.o)],
             [_sigmoid_derivative((2, 3), "o", c.o)]),
            ("g", da_g, [("dc", dc), ("i", c.i), ("(1 - g**2)", 1 - c.g ** 2)], [_tanh_derivative(2, "g", c.g)])]


def _dc_terms(c, dnext_h, dnext_c):
    return [("dnext_c", [("dnext_c", dnext_c)], []),
            ("the path through next_h", [("dnext_h", dnext_h), ("o", c.o), ("(1 - tanh_c**2)", 1 - c.tanh_c ** 2)],
             [_tanh_derivative(2, "tanh_c", c.tanh_c)])]


def _lstm_sums(c, dnext_h, dnext_c):
    """The factors that are sums, by label: dc, and the derivatives' 1 - v and 1 - v**2."""
    return {"dc": [("dnext_c", dnext_c), ("the path through next_h", dnext_h * c.o * (1 - c.tanh_c ** 2))],
            **{f"(1 - {v})": [("1", 1), (v, -value)] for v, value in (("i", c.i), ("f", c.f), ("o", c.o))},
            **{f"(1 - {v}**2)": [("1", 1), (f"{v}**2", -value ** 2)] for v, value in (("g", c.g), ("tanh_c", c.tanh_c))}}


def _dprev_c_terms(c, dnext_h, dnext_c, dc, right_dc):
    """dprev_c's two paths, named as dc's terms times f, when the student's dc is right."""
    if not core.close(dc, right_dc):
        return []
    return [("the cell state's own path, dnext_c * f", dnext_c * c.f),
            ("the path through next_h, dnext_h * o * (1 - tanh_c**2) * f", dnext_h * c.o * (1 - c.tanh_c ** 2) * c.f)]


def check_lstm_step_backward(fn, N=3, D=4, H=5, seed=0):
    """Check lstm_step_backward(dnext_h, dnext_c, cache) -> (dx, dprev_h, dprev_c, dWx, dWh, db)."""
    __tracebackhide__ = True
    core.check_backward_read(LESSON, "lstm_step_backward", fn, lstm.lstm_step_forward, _lstm_step_inputs(N, D, H, seed),
                             ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), lstm.lstm_step_backward,
                             _lstm_step_backward_variant, _LSTM_STEP_MISTAKES, _lstm_step_reading,
                             upstream=_STEP_UPSTREAM, relations=_step_relations)


def _backward_from(dh, cache, dh_last, dc_last):
    """BPTT (dx, dh0, dWx, dWh, db) started with dh_last and dc_last (N, H) as the gradients carried
    into the last step, which are zeros in the right backward."""
    dx, dprev_h, dprev_c = np.zeros((*dh.shape[:2], cache[0].x.shape[1])), dh_last, dc_last
    weights = [0, 0, 0]
    for t in reversed(range(dh.shape[1])):
        dx[:, t], dprev_h, dprev_c, *step = lstm.lstm_step_backward(dh[:, t] + dprev_h, dprev_c, cache[t])
        weights = [w + g for w, g in zip(weights, step)]
    return (dx, dprev_h, *weights)


def _flat(grads):
    return np.concatenate([np.ravel(g) for g in grads])


def _lstm_sequence_reading(grads, douts, cache):
    """An extra gradient carried into the last step: the student's gradients are the backward started
    with some nonzero dprev_h or dprev_c. The backward is linear in those two (N, H) arrays, so they are
    found by least squares, one unit of each at a time."""
    (dh,) = douts
    N, T, H = dh.shape
    zeros = np.zeros((N, H))
    right = _flat(_backward_from(dh, cache, zeros, zeros))
    units = [(k, np.eye(N * H)[j].reshape(N, H)) for k in range(2) for j in range(N * H)]
    columns = np.stack([_flat(_backward_from(dh, cache, *((u, zeros) if k == 0 else (zeros, u)))) - right
                        for k, u in units], axis=1)
    extra, *_ = np.linalg.lstsq(columns, _flat(grads) - right, rcond=None)
    if not core.close(columns @ extra, _flat(grads) - right):
        return None
    # dh[:, -1] and a carried dprev_h enter the last step only as their sum: read the sum
    into_h, into_c = dh[:, -1] + extra[:N * H].reshape(N, H), extra[N * H:].reshape(N, H)
    last, tiny = f"the last step, t = {T - 1},", 1e-8 * np.abs(dh).max()
    if np.abs(into_h).max() <= tiny and np.abs(into_c).max() <= tiny:
        return [f"{last} gets no gradient at all, as if it were skipped: look at the time loop's range"]
    hints = []
    if not core.close(into_h, dh[:, -1]):
        what = ("no gradient" if np.abs(into_h).max() <= tiny else
                "twice dh[:, -1]" if core.close(into_h, 2 * dh[:, -1]) else "dh[:, -1] plus something else")
        hints.append(f"{last} gets {what} for its hidden state instead of dh[:, -1] alone: nothing else comes back "
                     f"to it (the carried dprev_h starts at zeros)")
    if np.abs(into_c).max() > tiny:
        named = " (it is dh[:, -1])" if core.close(into_c, dh[:, -1]) else ""
        hints.append(f"an extra gradient enters {last} as its carried dprev_c{named}: the backward must start with "
                     f"dprev_c = zeros, since nothing comes back from after the last step")
    return hints or None


def check_lstm_backward(fn, N=2, T=6, D=3, H=4, seed=0):
    """Check lstm_backward(dh, cache) -> (dx, dh0, dWx, dWh, db) against numerical gradients (BPTT)."""
    __tracebackhide__ = True
    core.check_backward_read(LESSON, "lstm_backward", fn, lstm.lstm_forward, _lstm_seq_inputs(N, T, D, H, seed),
                             ("dx", "dh0", "dWx", "dWh", "db"), lstm.lstm_backward, _lstm_backward_variant,
                             _LSTM_SEQUENCE_MISTAKES, _lstm_sequence_reading, tol=gradcheck.tolerance(T),
                             relations=_SEQUENCE_RELATIONS)


# --- the GRU step (section 4 of the lesson) ---------------------------------------------------

def _gru_step_inputs(N, D, H, seed):
    rng = np.random.default_rng([seed, 3])
    return (rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((D, 3 * H)) / np.sqrt(D),
            rng.standard_normal((H, 3 * H)) / np.sqrt(H), 0.5 * rng.standard_normal(3 * H))


def _gru_step_variants(x, prev_h, Wx, Wh, b):
    """Known forward mistakes: (hint, next_h)."""
    H = prev_h.shape[1]
    a, ah = x @ Wx + b, prev_h @ Wh
    r, z = lstm.sigmoid(a[:, :H] + ah[:, :H]), lstm.sigmoid(a[:, H:2 * H] + ah[:, H:2 * H])
    n = np.tanh(a[:, 2 * H:] + r * ah[:, 2 * H:])

    def mix(n):
        return (1 - z) * n + z * prev_h
    return [
        ("next_h = (1 - z) * n + z * prev_h: z is the share of the old state that is kept, so z and 1 - z are "
         "swapped.", z * n + (1 - z) * prev_h),
        ("the gate order is r, z, n: a[:, :H] is the reset gate r and a[:, H:2H] the update gate z.",
         (1 - r) * np.tanh(a[:, 2 * H:] + z * ah[:, 2 * H:]) + r * prev_h),
        ("the reset is applied inside the product, (r * prev_h) @ Wh[:, 2H:], instead of after it, as in the paper's "
         "GRU; this course's GRU (and PyTorch's) computes r * (prev_h @ Wh[:, 2H:]).",
         mix(np.tanh(a[:, 2 * H:] + (r * prev_h) @ Wh[:, 2 * H:]))),
        ("the reset gate is missing: the candidate reads r * (prev_h @ Wh[:, 2H:]).",
         mix(np.tanh(a[:, 2 * H:] + ah[:, 2 * H:]))),
        ("the candidate n uses tanh, not the sigmoid: n = tanh(...), so it can be negative.",
         mix(lstm.sigmoid(a[:, 2 * H:] + r * ah[:, 2 * H:]))),
    ]


def check_gru_step_forward(fn, N=3, D=4, H=5, seed=0):
    """Check gru_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)."""
    __tracebackhide__ = True
    name = "gru_step_forward"
    args = _gru_step_inputs(N, D, H, seed)
    want_h, want_cache = gru.gru_step_forward(*args)
    next_h, cache = core.unpack(name, LESSON.call(name, fn, *args), ("next_h", "cache"), (want_h, want_cache))
    _as_array(name, "next_h", next_h, want_h.shape)
    line = core.mismatch("next_h", next_h, want_h)
    if line:
        hints = core.hints(next_h, _gru_step_variants(*args), want_h)
        readings = _gru_readings(args, want_cache) if _fields(cache, want_cache)[0] is not None else {}
        found = None if hints else _first_wrong(_gru_steps(args, cache, next_h, want_cache, want_h), readings)
        core.fail(name, [(line, hints or ([found] if found else []))])
    core.check_cache(name, cache, want_cache, also={"r * hn": want_cache.r * want_cache.hn, "next_h": want_h})
    core.passed(name)


def _gru_readings(args, c):
    """How each of gru_step_forward's quantities is read when it is the first wrong one."""
    x, prev_h, Wx, Wh, b = args
    H, n_cols = prev_h.shape[1], slice(2 * prev_h.shape[1], None)
    pool = _with_derivative_forms([("r", c.r), ("z", c.z), ("n", c.n), ("hn", c.hn), ("prev_h", prev_h)],
                                  [("r", c.r), ("z", c.z), ("n", c.n)])
    # in the order the lesson's GRU adds them: (x @ Wx + b) + prev_h @ Wh
    readings = {gate: _inside("sigmoid", gate, _single([_gate_terms(x, prev_h, Wx, Wh, b, k, H, gate)[j] for j in (0, 2, 1)]))
                for k, gate in enumerate("rz")}
    readings["n"] = _inside("tanh", "n", _single([("the input term x @ Wx[:, 2H:]", x @ Wx[:, n_cols]),
                                                  ("the bias b[2H:]", b[n_cols])])
                            + [("the reset recurrent term r * hn", [("r", c.r), ("hn", c.hn)], [])])
    sums = {"(1 - z)": [("1", 1), ("z", -c.z)]}
    readings["next_h"] = lambda got: core.sum_reading(got, [
        ("the candidate's share (1 - z) * n", [("(1 - z)", 1 - c.z), ("n", c.n)], [((0,), "the factor (1 - z)", "z", c.z)]),
        ("the old state's share z * prev_h", [("z", c.z), ("prev_h", prev_h)], [])], pool, sums)
    return readings


def _gru_steps(args, cache, next_h, ref, want_h):
    """gru_step_forward's quantities in the order it computes them, for core.first_wrong."""
    x, prev_h, Wx, Wh, b = args
    H, mine = prev_h.shape[1], _fields(cache, ref)
    n_cols = slice(2 * H, 3 * H)
    gates = [(gate, mine[4 + k], ref[4 + k], "sigmoid", _gate_terms(x, prev_h, Wx, Wh, b, k, H, gate))
             for k, gate in enumerate("rz")]
    return gates + [
        ("hn", mine[7], ref.hn, None, [("prev_h @ Wh[:, 2H:]", prev_h @ Wh[:, n_cols])]),
        ("n", mine[6], ref.n, "tanh", [("the input term x @ Wx[:, 2H:]", x @ Wx[:, n_cols]),
                                       ("the bias b[2H:]", b[n_cols]), ("the reset recurrent term r * hn", ref.r * ref.hn)]),
        ("next_h", next_h, want_h, None, [("the candidate's share (1 - z) * n", (1 - ref.z) * ref.n),
                                          ("the old state's share z * prev_h", ref.z * prev_h)])]


def _gru_step_backward_variant(dnext_h, c, direct=True, dz="prev_h - n", reset_scales=True, gate_deriv=True,
                               db="sum", share="1 - z", r_from="hn", dWh_from="dah"):
    dn = dnext_h * ((1 - c.z) if share == "1 - z" else c.z)
    dz_ = dnext_h * ((c.prev_h - c.n) if dz == "prev_h - n" else (c.n - c.prev_h))
    da_n = dn * ({True: 1 - c.n ** 2, "unsquared": 1 - c.n}[gate_deriv] if gate_deriv else 1)
    da_r = da_n * (c.hn if r_from == "hn" else c.prev_h) * (c.r * (1 - c.r) if gate_deriv else 1)
    da_z = dz_ * (c.z * (1 - c.z) if gate_deriv else 1)
    da = np.concatenate([da_r, da_z, da_n], axis=1)
    dah = np.concatenate([da_r, da_z, da_n * c.r if reset_scales else da_n], axis=1)
    return (da @ c.Wx.T, (dnext_h * c.z if direct else 0) + dah @ c.Wh.T, c.x.T @ da,
            c.prev_h.T @ (dah if dWh_from == "dah" else da), da.sum(0) if db == "sum" else da.mean(0))


_GRU_STEP_MISTAKES = [
    ({"direct": False}, "the direct term dnext_h * z is missing from dprev_h: prev_h also reaches next_h directly, "
     "through z * prev_h, so dprev_h = dnext_h * z + (what flows back through the gates and the candidate) @ Wh.T. "
     "That direct term is the GRU's highway."),
    ({"dz": "n - prev_h"}, "the sign of dz is flipped: next_h = (1 - z) * n + z * prev_h, so its derivative with "
     "respect to z is prev_h - n, not n - prev_h."),
    ({"reset_scales": False}, "the reset gate's factor r is missing: r multiplies prev_h @ Wh[:, 2H:], so the "
     "gradient of that product (for the last H columns of dWh, and for dprev_h) is da_n * r, not da_n."),
    ({"share": "z"}, "the candidate's gradient uses z instead of 1 - z: next_h = (1 - z) * n + z * prev_h, so "
     "dn = dnext_h * (1 - z)."),
    ({"r_from": "prev_h"}, "da_r uses prev_h instead of hn: this course's reset gate scales hn = prev_h @ Wh[:, 2H:] "
     "(the paper's GRU scales prev_h), so da_r = da_n * hn * r * (1 - r)."),
    ({"dWh_from": "da"}, "dWh is built from da instead of dah: the candidate's recurrent columns see da_n * r (the reset "
     "gate scales prev_h @ Wh[:, 2H:]), so dWh = prev_h.T @ dah."),
    ({"gate_deriv": "unsquared"}, "tanh's derivative is 1 - n**2; the square is missing (1 - n)."),
    ({"gate_deriv": False}, "each pre-activation needs its nonlinearity's derivative: r * (1 - r) and z * (1 - z) "
     "for the gates, 1 - n**2 for the candidate."),
    ({"db": "mean"}, "the bias gradient is averaged over the batch; sum it: db = da.sum(axis=0)."),
]


def _gru_step_relations(douts, cache):
    (dnext_h,), c = douts, cache
    H = c.prev_h.shape[1]
    da_n = dnext_h * (1 - c.z) * (1 - c.n ** 2)
    da_r = da_n * c.hn * c.r * (1 - c.r)
    da_z = dnext_h * (c.prev_h - c.n) * c.z * (1 - c.z)
    paths = _gate_paths(np.concatenate([da_r, da_z, da_n], axis=1), c, ("r", "z", "n"))
    through_wh = paths["Wh"][:2] + [("the candidate's path ((da_n * r) @ Wh[:, 2H:].T)", (da_n * c.r) @ c.Wh[:, 2 * H:].T)]
    blocks = (H, ("r", "z", "n"), {frozenset("r"): "the reset gate's part, da_r = da_n * hn * r * (1 - r) "
                                                   "(hn = prev_h @ Wh[:, 2H:])"})
    sizes = [core.batch_size(c.x.shape[0])]
    return {"dx": {"sizes": sizes, "terms": paths["Wx"]},
            "dprev_h": {"sizes": sizes, "terms": [("the direct path, dnext_h * z", dnext_h * c.z)] + through_wh},
            **{k: {"sizes": sizes, "blocks": blocks} for k in ("dWx", "dWh", "db")}}


def _gru_step_reading(grads, douts, c):
    """The student's da (from dWx = x.T @ da) and dah (from dWh = prev_h.T @ dah), block by block, each
    read against what it should be given the blocks before it (da_r is made from da_n)."""
    dx, dprev_h, dWx, dWh, db = grads
    (dnext_h,) = douts
    da = core.recover_rows(c.x, dWx)
    if da is None:
        return None
    H = c.prev_h.shape[1]
    da_r, da_z, da_n = np.split(da, 3, axis=1)
    dah = core.recover_rows(c.prev_h, dWh)
    pool = _with_derivative_forms([("r", c.r), ("z", c.z), ("n", c.n), ("hn", c.hn), ("prev_h", c.prev_h),
                                   ("dnext_h", dnext_h), ("da_n", da_n), ("(prev_h - n)", c.prev_h - c.n)], [("r", c.r), ("z", c.z), ("n", c.n)])
    blocks = [("n", 2, da_n, [("dnext_h", dnext_h), ("(1 - z)", 1 - c.z), ("(1 - n**2)", 1 - c.n ** 2)],
               [_tanh_derivative(2, "n", c.n), ((1,), "the candidate's share (1 - z)", "z", c.z)]),
              ("z", 1, da_z, [("dnext_h", dnext_h), ("(prev_h - n)", c.prev_h - c.n), ("z", c.z), ("(1 - z)", 1 - c.z)],
               [_sigmoid_derivative((2, 3), "z", c.z)]),
              # da_r = da_n * hn * r * (1 - r), read with da_n's own factors, and right when it is made from the student's da_n
              ("r", 0, da_r, [("dnext_h", dnext_h), ("(1 - z)", 1 - c.z), ("(1 - n**2)", 1 - c.n ** 2), ("hn", c.hn),
                              ("r", c.r), ("(1 - r)", 1 - c.r)],
               [_tanh_derivative(2, "n", c.n), _sigmoid_derivative((4, 5), "r", c.r)])]
    right_dah = np.concatenate([da_r, da_z, da_n * c.r], axis=1)

    # factors that are sums, whose terms can be missing or have the wrong sign
    sums = {"(1 - z)": [("1", 1), ("z", -c.z)], "(prev_h - n)": [("prev_h", c.prev_h), ("n", -c.n)],
            "(1 - r)": [("1", 1), ("r", -c.r)], "(1 - n**2)": [("1", 1), ("n**2", -c.n ** 2)]}

    def product(got, factors, derivatives=()):
        return lambda: core.gate_product_reading(got, factors, pool, derivatives, sums=sums)
    quantities = [(f"da's block of {'gate ' + gate if gate != 'n' else 'the candidate n'} (columns {k * H}:{(k + 1) * H} "
                   f"of dWx and db)", got, da_n * c.hn * c.r * (1 - c.r) if gate == "r" else core.product_of(factors),
                   product(got, factors, derivatives)) for gate, k, got, factors, derivatives in blocks]
    if dah is not None:
        quantities += [("the candidate's block of dah (columns {0}:{1} of dWh, da_n * r)".format(2 * H, 3 * H), dah[:, 2 * H:],
                        da_n * c.r, product(dah[:, 2 * H:], [("da_n", da_n), ("r", c.r)])),
                       ("dah's blocks of gates r and z", dah[:, :2 * H], da[:, :2 * H], lambda: None)]
    else:
        dah = right_dah
    dprev_h_terms = [("what flows back through dah, dah @ Wh.T", [("dah @ Wh.T", dah @ c.Wh.T)], []),
                     ("the direct path dnext_h * z", [("dnext_h", dnext_h), ("z", c.z)], [])]
    return core.read_quantities(quantities + [(what, got, want, lambda: None) for what, got, want in (
        ("dx", dx, da @ c.Wx.T), ("db", db, da.sum(axis=0)), ("dWh", dWh, c.prev_h.T @ dah))] + [
        ("dprev_h", dprev_h, dah @ c.Wh.T + dnext_h * c.z, lambda: core.sum_reading(dprev_h, dprev_h_terms, pool))])


def check_gru_step_backward(fn, N=3, D=4, H=5, seed=0):
    """Check gru_step_backward(dnext_h, cache) -> (dx, dprev_h, dWx, dWh, db) against numerical gradients."""
    __tracebackhide__ = True
    core.check_backward_read(LESSON, "gru_step_backward", fn, gru.gru_step_forward, _gru_step_inputs(N, D, H, seed),
                             ("dx", "dprev_h", "dWx", "dWh", "db"), gru.gru_step_backward, _gru_step_backward_variant,
                             _GRU_STEP_MISTAKES, _gru_step_reading, relations=_gru_step_relations)
