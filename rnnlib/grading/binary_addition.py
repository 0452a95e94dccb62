"""Binary addition: bits least-significant first, and one BPTT step of the seed's sigmoid adder."""
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
                     if not np.isin(got, (0, 1)).all() else [])
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
        got = LESSON.call(name, fn, bits.copy())
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
            hints = (["the bits are read most-significant first; bit k (counting from 0 at the front) is worth 2**k."]
                     if np.shape(got) == np.shape(n) and np.array_equal(np.asarray(got), reversed_value) else
                     ["bit k is worth 2**k (a power), not 2 * k."]
                     if np.shape(got) == np.shape(n) and np.array_equal(np.asarray(got), linear) else
                     core.hints(np.asarray(got, dtype=float), [], np.asarray(n, dtype=float), "the result",
                                sizes=[("width", width, "the number of bits")])
                     if np.shape(got) == np.shape(n) else [])
            core.fail(name, [(f"for bits of shape {bits.shape}: expected {np.asarray(n).tolist()}, got "
                          f"{np.asarray(got).tolist() if isinstance(got, np.ndarray) else got}", hints)])
    core.passed(name)


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
        problems[0] = (problems[0][0], [_where(bool(loss_line), wrong)])
    if problems:
        core.fail(name, problems)
    core.passed(name)


def _where(loss_wrong, wrong):
    """Where to look, from which results are wrong: the forward feeds everything, the output delta
    all three updates, the hidden delta those of Wx and Wh."""
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
