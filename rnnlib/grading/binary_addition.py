"""Binary addition: bits least-significant first, and one BPTT step of the seed's sigmoid adder."""
import itertools
import re

import numpy as np

from .. import lstm
from . import core
from .core import GradingFailure, Lesson

# train_step's answer is this module's own adder_train_step (the seed's network has no rnnlib twin).
LESSON = Lesson(
    "05_binary_addition",
    exercises={"int_to_bits": "data:int_to_bits", "bits_to_int": "data:bits_to_int",
               "train_step": "grading.binary_addition:adder_train_step"},
    material=("models:BinaryAdder",),
)


def check_int_to_bits(fn, seed=0):
    """Check int_to_bits(n, width): least-significant bit first, vectorised over int arrays."""
    __tracebackhide__ = True
    from ..data import int_to_bits as reference
    name = "int_to_bits"
    rng = np.random.default_rng(seed)
    for n, width, what in [(6, 4, "6 with width 4"), (np.array(rng.integers(0, 256, size=5)), 8, "an array of 5 ints"),
                           (rng.integers(0, 2 ** 12, size=(2, 3)), 12, "a (2, 3) array")]:
        try:
            got = LESSON.call(name, fn, n, width)
        except GradingFailure as e:
            if np.ndim(n) == 0 and isinstance(e.__cause__, TypeError):
                raise GradingFailure(f"{e}\n  Likely cause: the wrong type: n may be a plain Python int, which has no "
                                     f"[..., None] or shape: start from np.asarray(n).") from e.__cause__
            if np.ndim(n) == 0:
                raise
            raise GradingFailure(f"{e}\n  Likely cause: it must work on whole arrays of ints at once, e.g. "
                                 f"(n[..., None] >> np.arange(width)) & 1, not one Python int at a time.") from e.__cause__
        expected = reference(n, width)
        if not isinstance(got, np.ndarray) or got.dtype.kind not in "iub":     # bools are 0/1 too
            raise GradingFailure(f"{name}: for {what} it should return a numpy array of ints, got "
                                 f"{f'a {got.dtype} array' if isinstance(got, np.ndarray) else type(got).__name__}. "
                                 f"Likely cause: the wrong type: shifts and & on int arrays keep ints, "
                                 f"(n[..., None] >> np.arange(width)) & 1; a list or a float array is not that.")
        if np.shape(got) != expected.shape:
            bits_first = np.shape(got) == (width, *np.shape(n))
            raise GradingFailure(f"{name}: for {what} the result has shape {np.shape(got)}, expected {expected.shape} "
                                 f"(the input's shape plus a last axis of size width). "
                                 + ("Likely cause: the wrong shape, with the bits axis first: the bits are stacked "
                                    "along axis 0 instead of the last axis (np.stack(..., axis=-1), or "
                                    "n[..., None] >> np.arange(width))."
                                    if bits_first else "Use numpy operations that work on whole arrays, e.g. "
                                    "(n[..., None] >> np.arange(width)) & 1."))
        got = np.asarray(got)
        if not np.array_equal(got, expected):
            hints = (["the bits are most-significant first; this course feeds the least-significant bit first "
                      "(bit k is (n >> k) & 1), as the carry travels from low bits to high."]
                     if np.array_equal(got, expected[..., ::-1]) else
                     ["the bits are shifted by one position: bit k is (n >> k) & 1 for k = 0 .. width-1 (the shift "
                      "starts at 0)."]
                     if np.array_equal(got[..., :-1], expected[..., 1:]) or np.array_equal(got[..., 1:], expected[..., :-1])
                     else ["some entries are neither 0 nor 1: the mask & 1, which keeps only the lowest bit after the "
                           "shift, is missing or wrong."]
                     if not np.isin(got, (0, 1)).all() else [_bit_positions(n, width, got)])
            core.fail(name, [(f"for {what}: expected {expected.tolist()}, got {got.tolist()}", hints)])
    core.passed(name)


def check_bits_to_int(fn, seed=0):
    """Check bits_to_int(bits): inverse of int_to_bits over the last axis."""
    __tracebackhide__ = True
    from ..data import int_to_bits
    name = "bits_to_int"
    rng = np.random.default_rng(seed)
    for n, width in [(np.array(11), 4), (rng.integers(0, 256, size=7), 8), (rng.integers(0, 2 ** 16, size=(3, 2)), 16)]:
        bits = int_to_bits(n, width)
        try:
            got = LESSON.call(name, fn, bits.copy())
        except GradingFailure as e:
            reading = _axis_crash(e.__cause__, bits.shape)
            if reading:
                raise GradingFailure(f"{e}\n  Likely cause: {reading}") from e.__cause__
            raise
        integral = isinstance(got, (int, np.integer)) or isinstance(got, np.ndarray) and got.dtype.kind in "iu"
        if not integral and (isinstance(got, (list, tuple)) or np.shape(got) == np.shape(n)
                             and np.array_equal(np.asarray(got, dtype=float), n)):   # the values right, the type not
            raise GradingFailure(f"{name}: for bits of shape {bits.shape} it should return ints (a numpy int array, or an "
                                 f"int for one number), got {f'a {got.dtype} array' if isinstance(got, np.ndarray) else type(got).__name__}. "
                                 f"Likely cause: the wrong type: the powers of two as ints, 1 << np.arange(width), keep "
                                 f"the sum an int; 2.0 ** k or a list do not.")
        if np.shape(got) != np.shape(n) or not np.array_equal(np.asarray(got), n):
            if np.ndim(got) == 1 and np.shape(got) == bits.shape[:-2] + bits.shape[-1:] and bits.ndim > 1:
                raise GradingFailure(f"{name}: for bits of shape {bits.shape} the result has shape {np.shape(got)}, "
                                     f"expected {np.shape(n)}. Likely cause: the sum runs over the wrong axis: the bits "
                                     f"are on the last axis (axis=-1).")
            reversed_value = (bits[..., ::-1] * (1 << np.arange(width))).sum(-1)
            linear = (bits * (2 * np.arange(width))).sum(-1)
            hints = (["the bits are read the wrong way round, most-significant first; bit k (counting from 0 at the "
                      "front) is worth 2**k."]
                     if np.shape(got) == np.shape(n) and np.array_equal(np.asarray(got), reversed_value) else
                     ["bit k is worth 2**k (a power), not 2 * k."]
                     if np.shape(got) == np.shape(n) and np.array_equal(np.asarray(got), linear) else
                     core.hints(np.asarray(got, dtype=float), [], np.asarray(n, dtype=float), "the result",
                                sizes=[("width", width, "the number of bits")])
                     if np.shape(got) == np.shape(n) else [])
            if not hints and np.shape(got) == np.shape(n):
                hints = [h for h in [_bit_weights(fn, bits, got) or _ignores_bits(fn, bits, got)] if h]
            if not hints and np.asarray(got).dtype.kind == "f" and not np.isfinite(got).all():
                # ints cannot overflow to inf: an infinite weight, from a division by zero, is what makes it
                hints = ["the result is not finite: some bit's weight is infinite, as a division by zero (by k = 0, "
                         "say) makes it; bit k is worth 2**k, 1 << k."]
            core.fail(name, [(f"for bits of shape {bits.shape}: expected {np.asarray(n).tolist()}, got "
                          f"{np.asarray(got).tolist() if isinstance(got, np.ndarray) else got}", hints)])
    core.passed(name)


def _axis_crash(error, shape):
    """Why bits_to_int crashed on bits of this shape, when the error names an axis or a length that
    shape does not have on its last axis: the bits' axis is the last one, whatever the ndim. Else None."""
    text = str(error)
    last = f"the bits are on the last axis, whatever the number of axes: bits.shape[-1] and axis=-1"
    if type(error).__name__ == "AxisError" or isinstance(error, IndexError) and "tuple index" in text:
        return (f"the bits here have shape {shape}, {len(shape)} axis{'es' if len(shape) > 1 else ''}: an axis or an index "
                f"into bits.shape that they do not have is used; {last}.")
    lengths = [int(v) for v in re.findall(r"\((\d+),\)", text)] if "broadcast" in text else []
    if lengths and lengths[0] != shape[-1] and lengths[0] in shape[:-1]:
        return (f"one power per bit is needed, {shape[-1]} of them, but there are {lengths[0]}, the length of another "
                f"axis of bits {shape}: {last}.")
    return None


def _bit_positions(n, width, got):
    """For 0/1 results that are not the bits of n in order: what each position holds (a bit of n,
    its flip, or a constant), read from the values of many n; the extraction (n >> k) & 1 is not
    computed."""
    if np.size(n) < 5:      # a position's value says which bit it is only over many numbers
        return ("the values are 0 and 1 but not n's bits in order: the shift n >> k or the mask & 1 that picks bit k "
                "is missing or replaced")
    bits = (np.asarray(n)[..., None] >> np.arange(width + 8)) & 1     # n's bits, and some above width
    held = []
    for k in range(width):
        column = got[..., k]
        same = [j for j in range(bits.shape[-1]) if np.array_equal(column, bits[..., j])]
        flipped = [j for j in range(bits.shape[-1]) if np.array_equal(column, 1 - bits[..., j])]
        held.append(f"bit {same[0]}" if same else f"1 - bit {flipped[0]}" if flipped else
                    f"{int(column.flat[0])}" if np.all(column == column.flat[0]) else "?")
    return (f"position k holds [{', '.join(held)}] of n instead of bit k: the shift n >> k or the mask & 1 that picks "
            f"bit k is missing or replaced")


def _bit_weights(fn, bits, got):
    """What each bit counts for, read from probes: the all-zeros bits give the constant, one bit
    set at a time gives each bit's weight. A hint when those explain got (the result for bits) and
    differ from the powers of two; else None. bits: (..., width)."""
    width = bits.shape[-1]
    try:
        zero = np.asarray(LESSON.call("bits_to_int", fn, np.zeros((1, width), dtype=bits.dtype)), dtype=float)
        ones = np.asarray(LESSON.call("bits_to_int", fn, np.eye(width, dtype=bits.dtype)), dtype=float)
    except GradingFailure:
        return None
    if zero.shape != (1,) or ones.shape != (width,):
        return None
    weights, constant = ones - zero[0], zero[0]
    if not np.allclose(np.asarray(got, dtype=float), bits @ weights + constant):
        return None
    found = []
    if not np.allclose(weights, 2.0 ** np.arange(width)):
        found.append(f"bit k counts as {_numbers(weights)} (k = 0 .. {width - 1}) instead of 2**k = "
                     f"{_numbers(2.0 ** np.arange(width))}: the factor each bit is multiplied by is wrong")
    if constant:
        found.append(f"with every bit 0 it returns {constant:g}, not 0: an extra constant is added to the bits' values "
                     f"(a + where a * belongs?)")
    return "; ".join(found) or None


def _ignores_bits(fn, bits, got):
    """A hint when bits_to_int returns got whatever the bits are (all zeros, all ones): the bits
    never enter the sum. Else None."""
    try:
        same = [np.asarray(LESSON.call("bits_to_int", fn, make(bits))) for make in (np.zeros_like, np.ones_like)]
    except GradingFailure:
        return None
    if not all(np.array_equal(v, np.asarray(got)) for v in same):
        return None
    return ("it returns the same value whatever the bits are (all zeros, all ones): the bits are missing from the sum, "
            "where each bit k must multiply its power 2**k")


def _numbers(values):
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def adder_train_step(params, x, y, lr, accumulate=True, deriv="output", sign=1.0, hidden_deriv=True, carry=True,
                     dWh_from="h_prev", inside=False, parts=None):
    """The seed's sigmoid RNN (no biases), one gradient step on 0.5 * sum (yhat - y)**2 / N.

    The keywords make it one of the known mistakes; parts, a dict, receives each weight's
    per-step gradients (a list in time order)."""
    Wx, Wh, Wy = params["Wx"], params["Wh"], params["Wy"]
    N, T, _ = x.shape
    hs, ys = [np.zeros((N, Wh.shape[0]))], []
    for t in range(T):
        hs.append(lstm.sigmoid(x[:, t] @ Wx + hs[-1] @ Wh))
        ys.append(lstm.sigmoid(hs[-1] @ Wy))
    yhat = np.stack(ys, axis=1)
    loss = 0.5 * np.sum((yhat - y) ** 2) / N
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dnext = np.zeros((N, Wh.shape[0]))
    for t in reversed(range(T)):
        dz = (ys[t] - y[:, t]) / N * (ys[t] * (1 - ys[t]) if deriv == "output" else 1.0)
        dh = dz @ Wy.T + (dnext if carry else 0)
        da = dh * {True: hs[t + 1] * (1 - hs[t + 1]), False: 1.0, "tanh": 1 - hs[t + 1] ** 2}[hidden_deriv]
        step = {"Wy": hs[t + 1].T @ dz, "Wx": x[:, t].T @ da, "Wh": (hs[t] if dWh_from == "h_prev" else hs[t + 1]).T @ da}
        for k in grads:
            grads[k] = grads[k] + step[k] if accumulate else step[k]
            if parts is not None:
                parts.setdefault(k, [None] * T)[t] = step[k]
            if inside:   # the seed's warning: updating here changes the Wh that earlier steps use
                params[k] -= sign * lr * step[k]
        dnext = da @ Wh.T
    if not inside:
        for k in params:
            params[k] -= sign * lr * grads[k]
    return float(loss)


_ADDER_MISTAKES = [
    ({"accumulate": False}, "the weight updates must be accumulated over all 8 steps (+=) and applied once, "
     "as in the seed; here only one step's contribution was kept."),
    ({"deriv": "none"}, "the output's sigmoid derivative yhat * (1 - yhat) is missing from the output delta."),
    ({"sign": -1.0}, "the update has the wrong sign: the weights moved up the gradient; subtract lr * gradient (or "
     "add lr * update with error = y - yhat)."),
    ({"hidden_deriv": "tanh"}, "the hidden units are sigmoids, so their derivative is h * (1 - h); 1 - h**2 is tanh's."),
    ({"inside": True}, "the weights are updated inside the time loop: the seed accumulates every step's update and "
     "applies them once, after the loop, so that every step's delta uses the same Wh."),
    ({"hidden_deriv": False}, "the hidden layer's delta needs the sigmoid derivative h * (1 - h) of that step's "
     "hidden state."),
    ({"carry": False}, "the hidden delta of step t must also receive the delta coming back from step t+1 (through "
     "Wh), not only the output's."),
    ({"dWh_from": "h_t"}, "Wh's update pairs each step's delta with the hidden state of the time step before, h_{t-1} "
     "(the one Wh multiplied in the forward), not with the step's own h_t."),
]


def check_train_step(fn, seed=0, N=4, hidden=16):
    """Check train_step(params, x, y, lr) -> loss: one full-BPTT step of the seed's sigmoid adder."""
    __tracebackhide__ = True
    from ..data import random_binary_addition_batch
    name, lr = "train_step", 0.1
    rng = np.random.default_rng(seed)
    x, y = random_binary_addition_batch(N, width=8, rng=rng)
    params = {"Wx": rng.uniform(-1, 1, (2, hidden)), "Wh": rng.uniform(-1, 1, (hidden, hidden)),
              "Wy": rng.uniform(-1, 1, (hidden, 1))}
    mine = {k: v.copy() for k, v in params.items()}
    arrays = dict(mine)
    loss = LESSON.call(name, fn, mine, x.copy(), y.copy(), lr)
    expected, parts = {k: v.copy() for k, v in params.items()}, {}
    ref_loss = adder_train_step(expected, x, y, lr, parts=parts)
    if any(mine[k] is not arrays[k] for k in mine):
        raise GradingFailure(f"{name}: replaced the arrays in params; update them in place (params[k] -= ...).")
    if all(np.array_equal(mine[k], params[k]) for k in params):
        raise GradingFailure(f"{name}: the params arrays did not change. Likely cause: either the update rebinds a "
                             f"local name (Wx = Wx - ...), which leaves the arrays in params as they were (write into "
                             f"them in place: Wx -= ...), or the gradients it subtracts are all zeros (the loop that "
                             f"computes them never runs).")
    problems = []
    line = loss_line = core.mismatch("loss", np.array([float(loss)]), np.array([ref_loss]))
    if line:
        after = adder_train_step({k: v.copy() for k, v in expected.items()}, x, y, lr)
        late = [("the loss returned is computed in the wrong order, after the update (with the new weights): return "
                 "the loss of the forward pass, before the weights change.", np.array([after]))]
        problems.append((line + " (the loss before the update: 0.5 * sum of squared errors / N)",
                         core.hints(np.array([float(loss)]), late, np.array([ref_loss]), "loss",
                                    sizes=[core.batch_size(N)])))
    wrong = [k for k in ("Wx", "Wh", "Wy") if core.mismatch("", mine[k], expected[k])]
    known = []
    for kw, hint in _ADDER_MISTAKES if wrong else []:
        variant = {k: v.copy() for k, v in params.items()}
        adder_train_step(variant, x, y, lr, **kw)
        if all(core.close(mine[k], variant[k]) for k in params):
            known.append(hint)
    sizes = [core.batch_size(N), ("T", x.shape[1], "the number of bits, one per time step")]
    for k in wrong:
        line = core.mismatch(f"params[{k!r}] after the step", mine[k], expected[k])
        # what the student's code subtracted, in units of lr: their gradient, compared with the true one
        text = None if known else core.relation((params[k] - mine[k]) / lr, (params[k] - expected[k]) / lr,
                                                 sizes=sizes, steps=parts[k])
        problems.append((line, [(f"the update of params[{k!r}]", text)] if text else []))
    if known:
        at = next(i for i, (line, _) in enumerate(problems) if line.startswith("params"))
        problems[at] = (problems[at][0], known)
    elif problems and not any(h for _, h in problems):
        reading = _reading(fn, params, x, y, lr, mine, expected, seed)
        problems[0] = (problems[0][0], ([reading] if reading else []) + [_where(bool(loss_line), wrong)])
    if problems:
        core.fail(name, problems)
    core.passed(name)


def _where(loss_wrong, wrong):
    """Where to look, from which results are wrong: the forward feeds everything, the output delta
    all three updates, the hidden delta those of Wx and Wh."""
    if loss_wrong and not wrong:
        return ("the loss is wrong but every update is right, so the forward pass (the states and outputs) is right: "
                "look at the line that computes the loss.")
    if loss_wrong:
        return ("the loss is already wrong, so the forward pass is (the hidden states or the outputs), or the loss "
                "formula: fix that first, every update depends on it.")
    if set(wrong) == {"Wx", "Wh", "Wy"}:
        return ("the loss is right but all three updates are wrong: look at what they share, the output delta "
                "(or the update step itself).")
    if set(wrong) == {"Wx", "Wh"}:
        return ("the loss and Wy's update are right, so the output delta is: look at the hidden delta, which only "
                "Wx's and Wh's updates use.")
    return (f"only the update of {' and '.join(wrong)} is wrong: look at what only {'it uses' if len(wrong) == 1 else 'they use'} "
            f"(the array each step's delta is paired with, and the update line).")


# --- reading a wrong step from what it did -------------------------------------------------------
#
# train_step returns only the loss and changes the weights, so its deltas are read back from the
# changes: a short, wide probe (few time steps and examples, many hidden units) makes each weight's
# gradient, a sum over steps of a state times a delta, pin the deltas down (core.read_back).

PROBE_N, PROBE_T, PROBE_HIDDEN = 3, 4, 40


def _adder_pass(params, x, y, input_term=1.0, recurrent_term=1.0, output_state=0, hidden_act=lstm.sigmoid,
                output_act=lstm.sigmoid, transposed_Wh=False, target=1.0, power=2, multiplied=False, output_from=None,
                inline=None):
    """The seed adder's forward and backward, with every intermediate, as numpy arrays:
    hs (N, T+1, H), hs[:, 0] the zeros; ys, dz (output deltas) (N, T, 1); da (hidden deltas)
    (N, T, H); loss, and the per-step losses (T,).

    The keywords change the forward, as a wrong answer's reading needs: input_term, recurrent_term
    scale those terms; output_state = -1 computes each output from the state before the step's,
    output_from = j every output from the state hs[j];
    hidden_act, output_act are the activations; transposed_Wh multiplies the state by Wh.T;
    multiplied multiplies the two terms instead of adding them, inline joins the input term to the
    previous state by that function before the state meets Wh, as x @ Wx * h @ Wh does; the loss is
    0.5 * sum (yhat - target * y) ** power / N."""
    Wx, Wh, Wy = params["Wx"], params["Wh"], params["Wy"]
    N, T, _ = x.shape
    hs = [np.zeros((N, Wh.shape[0]))]
    for t in range(T):
        terms = (input_term * x[:, t] @ Wx, recurrent_term * hs[-1] @ (Wh.T if transposed_Wh else Wh))
        if inline is not None:          # * and @ bind alike, left to right: x @ Wx * h @ Wh is ((x @ Wx) * h) @ Wh
            terms = (inline(input_term * x[:, t] @ Wx, hs[-1]) @ Wh, 0.0)
        hs.append(hidden_act(terms[0] * terms[1] if multiplied else terms[0] + terms[1]))
    ys = np.stack([output_act(hs[t + 1 + output_state if output_from is None else output_from] @ Wy)
                   for t in range(T)], axis=1)
    hs = np.stack(hs, axis=1)
    step_losses = 0.5 * ((ys - target * y) ** power).sum(axis=(0, 2)) / N
    dz = (ys - y) / N * ys * (1 - ys)
    da = np.zeros((N, T, Wh.shape[0]))
    for t in reversed(range(T)):
        carried = da[:, t + 1] @ Wh.T if t + 1 < T else 0.0
        da[:, t] = (dz[:, t] @ Wy.T + carried) * hs[:, t + 1] * (1 - hs[:, t + 1])
    return {"hs": hs, "ys": ys, "dz": dz, "da": da, "loss": float(step_losses.sum()), "step_losses": step_losses}


def _probe(seed):
    """Params, x, y of the probe: PROBE_N examples of PROBE_T steps, PROBE_HIDDEN hidden units.
    Its inputs are not bits: a step with both inputs 0 would start from the constant state
    sigmoid(0), and a constant vector among the states hides a constant change in the read-back."""
    rng = np.random.default_rng(seed + 1000)
    x = rng.uniform(0.1, 1.0, (PROBE_N, PROBE_T, 2))
    y = rng.integers(0, 2, (PROBE_N, PROBE_T, 1)).astype(float)
    params = {"Wx": rng.uniform(-1, 1, (2, PROBE_HIDDEN)), "Wh": rng.uniform(-1, 1, (PROBE_HIDDEN, PROBE_HIDDEN)) / 4,
              "Wy": rng.uniform(-1, 1, (PROBE_HIDDEN, 1))}
    return params, x, y


def _batches(params, shape, seed, count=3):
    """More (params, x, y) cases like the check's: same weights, same N and T, other additions."""
    from ..data import random_binary_addition_batch
    rng = np.random.default_rng(seed + 2000)
    return [(params, *random_binary_addition_batch(shape[0], width=shape[1], rng=rng)) for _ in range(count)]


def _run(fn, params, x, y, lr):
    """The student's loss and weight changes (params minus the new weights) on copies."""
    mine = {k: v.copy() for k, v in params.items()}
    loss = LESSON.call("train_step", fn, mine, x.copy(), y.copy(), lr)
    return float(loss), {k: params[k] - mine[k] for k in params}


def _reading(fn, params, x, y, lr, mine, expected, seed):
    """A hint read from what the student's step did (its weight changes and loss), or None."""
    try:
        return (_lr_reading(fn, params, x, y, lr, mine, expected) or _change_reading(params, mine, expected, lr)
                or _forward_reading(fn, [(params, x, y)] + _batches(params, x.shape, seed), lr)
                or _delta_reading(fn, *_probe(seed), lr))
    except (GradingFailure, ValueError, FloatingPointError):   # the student's code fails on the probe: no reading
        return None


def _lr_reading(fn, params, x, y, lr, mine, expected):
    """The weights' changes must be lr times a gradient that does not depend on lr: doubling lr
    must double every change."""
    _, doubled = _run(fn, params, x, y, 2 * lr)
    off = [k for k in params if not core.close(mine[k], expected[k])
           and not core.close(doubled[k], 2 * (params[k] - mine[k]))]
    if not off:
        return None
    return (f"the change of {' and '.join(f'params[{k!r}]' for k in off)} does not double when lr doubles, so it is "
            f"not lr times the gradient: the update must be W -= lr * dW, applied once the gradients are complete")


def _change_reading(params, mine, expected, lr):
    """A wrong weight whose change has no gradient's shape: the same number everywhere (the gradient
    is not in the update), lr divided by the gradient, or one row or column repeated (a gradient of
    the wrong shape, broadcast)."""
    for k in params:
        change = (params[k] - mine[k]) / lr
        if core.close(mine[k], expected[k]) or change.size < 2:
            continue
        gradient = (params[k] - expected[k]) / lr
        if np.allclose(change * gradient, 1.0):
            return (f"params[{k!r}] changes by lr divided by its gradient, lr / dW, instead of lr times it: the update "
                    f"must be W -= lr * dW")
        if np.allclose(change, change.flat[0]):
            return (f"params[{k!r}] moves by the same amount, {change.flat[0]:.4g} * lr, everywhere: the gradient is "
                    f"missing from its update, W -= lr * dW")
        for axis, what in ((1, "column"), (0, "row")):
            if change.shape[axis] > 1 and np.allclose(change, np.take(change, [0], axis=axis)):
                return (f"every {what} of params[{k!r}]'s change is the same: its gradient has one {what}, broadcast "
                        f"across all {change.shape[axis]}, so a product in it uses the wrong array")
    return None


_FORWARD_TERMS = (("input_term", "the input term x[:, t] @ Wx"),
                  ("recurrent_term", "the recurrent term hs[-1] @ Wh (the previous state's)"))
_TERM_ERRORS = ((0.0, "is missing inside the sigmoid"), (-1.0, "has the wrong sign inside the sigmoid"),
                (2.0, "is counted twice inside the sigmoid"))
# other readings of a wrong forward: _adder_pass's keywords, and what they say
_FORWARDS = (({"output_state": -1}, "each output is computed from the previous state, hs[-2], not from the step's "
                                    "new state"),
             ({"output_from": 1}, "every step reads the first state, hs[1], for its output, not the step's new "
                                  "state hs[-1]"),
             *(({"inline": join}, f"the input term is joined to the recurrent term by {op} instead of +: as {op} and "
                                  f"@ bind alike, left to right, x[:, t] @ Wx {op} hs[-1] @ Wh is "
                                  f"((x[:, t] @ Wx) {op} hs[-1]) @ Wh") for join, op in ((np.multiply, "*"),)),
             ({"hidden_act": np.tanh}, "the hidden state uses tanh where it needs the sigmoid (the wrong activation)"),
             ({"output_act": np.tanh}, "the output uses tanh where it needs the sigmoid (the wrong activation)"),
             ({"transposed_Wh": True}, "the previous state is multiplied by Wh.T instead of Wh (a transpose is extra)"),
             ({"multiplied": True}, "the input term and the recurrent term are multiplied instead of added"),
             ({"target": 0.0}, "the loss's error is yhat alone: the target y is missing from yhat - y"),
             ({"target": -1.0}, "the loss's error yhat - y has the wrong sign on y (a + for a -)"),
             ({"power": 1}, "the loss's error is not squared: the ** 2 is missing"))


def _forward_reading(fn, cases, lr):
    """Why the loss is wrong, when it is wrong alike on every one of cases [(params, x, y)] (of one
    N and T): a constant factor or offset, a step's error left out, or a term of the forward
    missing, doubled or sign-flipped, another activation or state, or the loss's error changed."""
    got = np.array([_run(fn, p, x, y, lr)[0] for p, x, y in cases])
    right = [_adder_pass(p, x, y) for p, x, y in cases]
    want = np.array([r["loss"] for r in right])
    if core.close(got, want, 1e-9):
        return None
    N, T = cases[0][1].shape[:2]
    text = core.affine_reading("the loss", got, want, [core.batch_size(N), ("T", T, "the number of bits, one per time step")])
    if text:
        return text
    text = _unsquared(got, [r["ys"] - y for r, (_, _, y) in zip(right, cases)]) or _power_of_sum(got, want, N)
    if text:
        return text
    for t, where in ((0, "first"), (-1, "last")):
        if core.close(got, want - np.array([r["step_losses"][t] for r in right]), 1e-9):
            return f"the loss is missing the {where} time step's error: look at the range of the sum over the steps"
    readings = [f"{label} {how}" for term, label in _FORWARD_TERMS for scale, how in _TERM_ERRORS
                if core.close(got, _losses(cases, **{term: scale}), 1e-9)]
    readings += [how for forward, how in _FORWARDS if core.close(got, _losses(cases, **forward), 1e-9)]
    return "; or ".join(readings) or None


def _unsquared(got, errors):
    """When the losses got (one per case) are a * sum(yhat - y) + b over the cases' errors (each
    (N, T, 1)), linear in the errors where the loss squares them: a hint; else None."""
    sums = np.array([e.sum() for e in errors])
    A = np.stack([sums, np.ones_like(sums)], axis=1)
    if len(got) < 3 or np.ptp(sums) < 1e-6:
        return None
    (a, b), *_ = np.linalg.lstsq(A, got, rcond=None)
    if not core.close(got, A @ [a, b], 1e-9) or abs(a) < 1e-12:
        return None
    offset = f" {'+' if b > 0 else '-'} {abs(b):.4g}" if abs(b) > 1e-9 else ""
    return (f"the loss is {a:.4g} times the sum of the errors, sum(yhat - y){offset}, on every batch tried: it is "
            f"linear in the errors, so the square of each error, (yhat - y) ** 2, is missing")


def _power_of_sum(got, want, N):
    """When the losses got are a * S ** p over the cases, S the sum of squared errors (want, the right
    losses, are 0.5 * S / N), for a whole p other than 1: a hint; else None."""
    S = 2 * N * np.asarray(want)
    if len(got) < 3 or (got <= 0).any() or np.ptp(np.log(S)) < 1e-3:
        return None
    p, log_a = np.polyfit(np.log(S), np.log(got), 1)
    p = round(float(p))
    if p in (0, 1) or not core.close(got, np.exp(log_a) * S ** p, 1e-9):
        return None
    how = ("S divides where it must multiply: the loss is divided by S" if p == -1 else
           f"S is raised to the power {p}")
    return (f"the loss is {np.exp(log_a):.4g} * S ** {p} on every batch tried, S the sum of squared errors, where it "
            f"must be 0.5 * S / N: {how}")


def _losses(cases, **forward):
    """The right losses of cases [(params, x, y)] with the forward changed as _adder_pass's keywords say."""
    return np.array([_adder_pass(p, x, y, **forward)["loss"] for p, x, y in cases])


def _delta_reading(fn, params, x, y, lr):
    """Why the updates are wrong, from the output and hidden deltas read back from the changes of
    Wy and Wh on the probe (the loss being right there)."""
    loss, changes = _run(fn, params, x, y, lr)
    right = _adder_pass(params, x, y)
    if not np.isclose(loss, right["loss"], rtol=1e-9):
        return None
    hs, ys, dz, da = right["hs"], right["ys"], right["dz"], right["da"]
    N, T, _ = x.shape
    dz_got = core.read_back(changes["Wy"] / lr, [hs[:, t + 1] for t in range(T)])
    if dz_got is None:
        return ("the change of Wy is no sum of the hidden states h_1 .. h_T times deltas, as its gradient must be: "
                "either each step's output delta is paired with another array than its new state hs[t + 1], or the "
                "update line does not subtract lr times the summed gradient")
    if not core.close(dz_got, dz, 1e-7):
        states = _pairing(dz_got, dz)
        if states is not None:
            unknown = " (? where no single state fits)" if None in states else ""
            return (f"Wy's update pairs the output deltas of steps t = 0 .. {T - 1} with the hidden states "
                    f"hs[{', '.join('?' if j is None else str(j + 1) for j in states)}]{unknown} instead of each "
                    f"step's own new state hs[t + 1] = hs[{', '.join(str(t + 1) for t in range(T))}] (another time "
                    f"step's state)")
        return _output_delta(dz_got, right, y)
    # step 0's delta meets hs[0], the zeros, in Wh's gradient: only steps 1 .. T-1 can be read back
    da_got = core.read_back(changes["Wh"] / lr, [hs[:, t] for t in range(1, T)])
    if da_got is None:
        return ("the change of Wh is no sum of the previous states h_0 .. h_{T-1} times deltas, as its gradient must "
                "be: either each step's hidden delta is paired with another array than the state before it, hs[t], or "
                "the update line does not subtract lr times the summed gradient")
    if not core.close(da_got, da[:, 1:], 1e-7):
        return _hidden_delta(da_got, right, params)
    return None


def _pairing(got, steps):
    """Which state each step's delta was paired with: got (N, J, K) holds the delta read back for
    each of J states, steps (N, T, K) the right delta of each step. When every state's read-back
    delta is the sum of the deltas of one set of steps, and no step is used twice: [state index of
    step t, None when it meets no state (or the zeros)]; else None."""
    T, owner = steps.shape[1], {}
    atol = 1e-9 * np.abs(steps).max()          # a state paired with no step reads back as round-off, not zeros
    for j in range(got.shape[1]):
        sets = [S for r in range(T + 1) for S in itertools.combinations(range(T), r)
                if np.allclose(got[:, j], steps[:, list(S)].sum(axis=1), rtol=1e-6, atol=atol)]
        if len(sets) != 1 or any(t in owner for t in sets[0]):
            return None
        owner.update({t: j for t in sets[0]})
    return [owner.get(t) for t in range(T)]


def _output_delta(got, right, y):
    """got (N, T, 1): the output deltas read back from Wy's change; right: _adder_pass's."""
    ys, N = right["ys"], y.shape[0]
    label = "the output delta dy (read back from Wy's change)"
    error = ("the error (yhat - y) / N", (ys - y) / N, [("yhat / N", ys / N), ("the target y / N", -y / N)])
    text = (core.product_reading(label, got, [error, ("the sigmoid derivative yhat * (1 - yhat)", ys * (1 - ys), [])])
            or core.product_reading(label, got, [error, ("the sigmoid derivative's factor yhat", ys, [],
                                                  _inverted("yhat", ys)),
                                                 ("the sigmoid derivative's factor (1 - yhat)", 1 - ys,
                                                  [("its 1", np.ones_like(ys)), ("its - yhat", -ys)],
                                                  _inverted("(1 - yhat)", 1 - ys) + _lost_one("yhat", ys))]))
    if text:
        return text
    text = core.relation(got, right["dz"], sizes=[core.batch_size(N)], time_axis=1)
    return f"{label} is {text}" if text else None


def _hidden_delta(got, right, params):
    """got (N, T-1, H): the hidden deltas of steps 1 .. T-1 read back from Wh's change, each
    compared with what the right formula makes of the student's own delta of the step after."""
    hs, dz = right["hs"], right["dz"]
    h = hs[:, 2:]                                                   # each of steps 1 .. T-1's new state
    output = np.einsum("ntk,hk->nth", dz[:, 1:], params["Wy"])
    carried = np.concatenate([got[:, 1:] @ params["Wh"].T, np.zeros_like(got[:, :1])], axis=1)
    label = "the hidden delta da (read back from Wh's change)"
    untransposed = np.concatenate([got[:, 1:] @ params["Wh"], np.zeros_like(got[:, :1])], axis=1)
    inner = ("(dy @ Wy.T + da_next @ Wh.T)", output + carried,
             [("the output's share dy @ Wy.T", output),
              ("the delta carried back from step t+1, da_next @ Wh.T", carried)],
             [("the delta carried back is multiplied by Wh, not its transpose Wh.T (a transpose is missing)",
               output + untransposed),
              ("the output's share and the delta carried back are multiplied instead of added", output * carried)])
    # the states a step's derivative may have been taken of instead of its own new state, hs[t + 1]
    states = [("the state before the step, hs[t]", hs[:, 1:-1]), ("the first state, hs[1]", hs[:, 1:2] + 0 * h)]
    if hs.shape[1] > 3:
        states.append(("the state after the step, hs[t + 2]", np.concatenate([hs[:, 3:], hs[:, :1]], axis=1)))
    text = (core.product_reading(label, got, [inner, ("the sigmoid derivative h * (1 - h)", h * (1 - h), [],
                                                      [(f"it is taken of {s} instead of the step's own hs[t + 1]",
                                                        v * (1 - v)) for s, v in states])])
            or core.product_reading(label, got, [inner, ("the sigmoid derivative's factor h", h, [],
                                                         [(f"it is {s} instead of the step's own hs[t + 1]", v)
                                                          for s, v in states] + _inverted("h", h)),
                                                 ("the sigmoid derivative's factor (1 - h)", 1 - h,
                                                  [("its 1", np.ones_like(h)), ("its - h", -h)],
                                                  [(f"it is 1 - {s} instead of 1 - the step's own hs[t + 1]", 1 - v)
                                                   for s, v in states] + _inverted("(1 - h)", 1 - h)
                                                  + _lost_one("h", h))]))
    text = text or _derivative_states(got, inner[1], hs)
    if text:
        return text
    text = core.relation(got, right["da"][:, 1:], sizes=[core.batch_size(got.shape[0])], time_axis=1,
                         flow="backward")
    return f"{label} is {text}" if text else None


def _inverted(name, value):
    """A factor that reads back as its reciprocal: the delta is divided by it (product_reading's others)."""
    with np.errstate(divide="ignore"):
        return [(f"the delta is divided by {name} instead of multiplied by it", 1 / value)]


def _lost_one(name, value):
    """The factor (1 - v) that reads back as v itself: its "1 -" is lost (product_reading's others)."""
    return [(f"it is {name} itself: the 1 - of (1 - {name}) is missing, so the derivative is {name} * {name}", value)]


def _derivative_states(got, inner, hs):
    """When each step's hidden delta is inner * h_j * (1 - h_k) for states h_j, h_k of some steps
    (not the step's own new state): which ones. got, inner (N, T-1, H) for steps 1 .. T-1; hs the
    states (N, T+1, H)."""
    S = got.shape[1]
    own = hs[:, 2:]
    for label, rest, form in (("h", inner * (1 - own), lambda v: v), ("(1 - h)", inner * own, lambda v: 1 - v)):
        if not (np.abs(rest) > 1e-9).all():
            continue
        implied = got / rest
        # a state's values lie in (0, 1): the zeros hs[0] read back as round-off, so the tolerance is absolute too
        found = [next((j for j in range(hs.shape[1])
                       if np.allclose(implied[:, s], form(hs[:, j]), rtol=1e-7, atol=1e-9)), None) for s in range(S)]
        if None not in found and found != list(range(2, S + 2)):
            return (f"in the hidden delta da (read back from Wh's change), the sigmoid derivative's factor {label} of "
                    f"steps 1 .. {S} is taken of hs[{', '.join(map(str, found))}] instead of each step's own new state "
                    f"hs[t + 1] = hs[{', '.join(map(str, range(2, S + 2)))}] (another time step's state)")
    return None
