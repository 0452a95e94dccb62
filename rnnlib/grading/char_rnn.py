"""The character language model: truncated-BPTT batches, Adagrad, sampling with temperature."""
import itertools

import numpy as np

from .. import losses
from . import core
from .core import GradingFailure, Lesson

LESSON = Lesson(
    "06_char_rnn",
    exercises={"tbptt_batches": "data:tbptt_batches", "adagrad_update": "optim:adagrad_update",
               "sample": "models:CharRNN.sample"},
    cores=("optim:adagrad_step",),
)


def check_tbptt_batches(fn, L=203, batch_size=4, seq_len=5):
    """Check tbptt_batches(data, batch_size, seq_len): row offsets i * (L // B), rows continue."""
    __tracebackhide__ = True
    from ..data import tbptt_batches as reference
    name = "tbptt_batches"
    data = np.arange(L, dtype=np.int64) * 3 % 1000          # distinct values, so positions are recognisable
    expected = list(reference(data, batch_size, seq_len))
    def materialize(*args):   # a generator runs only when iterated: iterate inside LESSON.call's watch and
        # time limit, and only one batch past the expected ones, enough to tell that there are too many
        return list(itertools.islice(fn(*args), len(expected) + 1))
    got = LESSON.call(name, materialize, data.copy(), batch_size, seq_len, callbacks=(materialize,))
    if len(got) > len(expected) and all(np.array_equal(a, b) for a, b in zip(got[-1], got[-2])):
        raise GradingFailure(f"{name}: yielded the same batch again and again (it was stopped after {len(got)}, one "
                             f"more than the {len(expected)} expected). Likely cause: the position never advances, so "
                             f"the generator never ends: move it on by seq_len after each batch.")
    if len(got) != len(expected):
        seg = L // batch_size
        count = f"more than {len(expected)}" if len(got) > len(expected) else len(got)
        raise GradingFailure(f"{name}: yielded {count} batches for len(data) = {L}, batch_size = {batch_size}, "
                             f"seq_len = {seq_len}; expected {len(expected)}. Look at how many batches the loop "
                             f"makes: each row reads its own segment of {seg} tokens, and the targets need one token "
                             f"more than the inputs.")
    for k, ((x, y), (ex, ey)) in enumerate(zip(got, expected)):
        for what, arr, ref in (("x", x, ex), ("y", y, ey)):
            if isinstance(arr, (list, tuple)) or isinstance(arr, np.ndarray) and arr.dtype.kind not in "iu":
                raise GradingFailure(f"{name}: {what} of batch {k} should be a numpy array of ints (token ids), got "
                                     f"{_kind(arr)}. Likely cause: the wrong type: index the data array with an "
                                     f"array of positions (data[idx]), which keeps its int dtype.")
            rows = _rows_reading(what, np.shape(arr), batch_size, seq_len)
            if rows:
                raise GradingFailure(f"{name}: {what} of batch {k} has shape {np.shape(arr)}, expected {ref.shape}. "
                                     f"Likely cause: {rows}")
            arr = core.as_array(name, f"{what} of batch {k}", np.asarray(arr) if np.ndim(arr) else arr, ref.shape)
            if not np.array_equal(arr, ref):
                row = int(np.argmax((arr != ref).any(axis=1)))
                # the layout of every position read, when it has one; else what this one array shows
                layout = _layout_reading(got, L, batch_size, seq_len)
                hints = [layout] if layout else _array_hints(k, what, row, arr, ref, ex, expected, L // batch_size)
                core.fail(name, [(f"batch {k}, {what} row {row}: expected {ref[row].tolist()}, got {arr[row].tolist()} "
                              f"(data[i] = 3 i mod 1000 here, so each value tells its position)", hints)])
    core.passed(name)


def _rows_reading(what, shape, batch_size, seq_len):
    """Why x or y of a batch has one token, or one row, where it must have batch_size rows of seq_len;
    else None. The positions read are offsets (batch_size, 1) + np.arange(seq_len): what the shape lacks
    says which part did not reach them."""
    if shape == ():
        return (f"{what} is a single token, where a ({batch_size}, {seq_len}) array of them is needed: index the data "
                f"with the array of positions" + (" idx" if what == "x" else ", shifted by one, idx + 1") + ".")
    if shape == (seq_len,) and batch_size != seq_len:
        return (f"{what} is one row of seq_len tokens, where batch_size = {batch_size} rows are needed: the row "
                f"offsets, np.arange(batch_size)[:, None] * segment of shape ({batch_size}, 1), are missing from its "
                f"positions, or only one row of the batch is kept.")
    return None


def _array_hints(k, what, row, arr, ref, ex, expected, seg):
    """Hints from one wrong array of batch k (x or y; ex is the right x): a row's start, a batch that
    restarts, y equal to x, else how its positions are off."""
    hints = []
    if k == 0 and what == "x" and row > 0:
        hints.append(f"row i must start at offset i * (len(data) // batch_size) = {row * seg} "
                     f"for row {row} (seed 001: sample 2 of a length-1000 series starts at 500).")
    if k > 0 and np.array_equal(arr, expected[0][0 if what == 'x' else 1]):
        hints.append("every batch starts again at the offsets: batch k must continue each row where "
                     "batch k-1 stopped, or the carried hidden state makes no sense.")
    if what == "y" and np.array_equal(arr, ex):
        hints.append("y must be x shifted by one: the next token of each position.")
    return hints or [_positions_hint(arr[row], ref[row], what, row)]


def _affine_positions(positions, L):
    """(row, batch, column, start) when positions[k, i, j] = row * i + batch * k + column * j + start,
    up to a multiple of L (a negative index reads from the end: data[-1] is data[L - 1]); else None."""
    K, B, S = positions.shape
    start = int(positions[0, 0, 0])
    step = lambda p: int((p - start + L // 2) % L - L // 2)            # the nearest step, a wrap undone
    coef = [step(positions[0, 1, 0]) if B > 1 else 0, step(positions[1, 0, 0]) if K > 1 else 0,
            step(positions[0, 0, 1]) if S > 1 else 0]
    k, i, j = np.meshgrid(np.arange(K), np.arange(B), np.arange(S), indexing="ij")
    if not np.array_equal((coef[0] * i + coef[1] * k + coef[2] * j + start) % L, positions % L):
        return None
    return (*coef, start)


def _layout_reading(got, L, batch_size, seq_len):
    """How the positions read are laid out, when they are an affine function of (row i, batch k,
    column j) for x, and y's are x's plus a constant: each coefficient against the right one
    (L // batch_size, seq_len, 1; y = x + 1). got: the yielded (x, y) pairs. None when the
    positions follow no such rule (or the batches differ in shape)."""
    if any(np.shape(a) != (batch_size, seq_len) for pair in got for a in pair):
        return None
    position = lambda v: np.asarray(v, dtype=np.int64) * 667 % 1000    # data[i] = 3 i mod 1000; 667 = 1/3 mod 1000
    xs, ys = (np.stack([position(pair[m]) for pair in got]) for m in (0, 1))     # (K, B, S)
    coef = _affine_positions(xs, L)
    shifts = set(((ys - xs + L // 2) % L - L // 2).ravel().tolist())      # y's offset from x, a negative index wrapped
    if coef is None and len(shifts) == 1:
        return _separable_layout(xs, L, batch_size, seq_len)
    if coef is None or len(shifts) != 1:
        return None
    row, batch, column, start = coef
    shift, seg = shifts.pop(), L // batch_size
    found = []
    if row != seg:
        found.append(f"row i starts at {row} * i, but row i must start at offset i * (len(data) // batch_size) = "
                     f"{seg} * i: the factor of the row index is wrong")
    if batch == 0:
        found.append("every batch starts again at the offsets: batch k must continue each row where batch k-1 stopped "
                     f"(seq_len * k = {seq_len} * k positions in), as the hidden state carried from batch to batch expects")
    elif batch != seq_len:
        found.append(f"batch k starts {batch} * k positions in, where it must be seq_len * k = {seq_len} * k: the "
                     f"factor of the batch index is wrong")
    if column != 1:
        found.append("within a row the positions run the wrong way (down by 1)" if column == -1 else
                     f"within a row the positions step by {column} instead of 1: a factor on np.arange(seq_len) is wrong")
    if start != 0:
        found.append(f"every position of x is {start:+d} off: an extra constant is added to the positions")
    if shift != 1:
        found.append("y reads the same positions as x: it must be shifted by one, the next token (idx + 1)" if shift == 0
                     else f"y is shifted by {shift} positions from x instead of by 1: it must read the next token, idx + 1")
    return "; ".join(found) or None


def _separable_layout(xs, L, batch_size, seq_len):
    """When x's positions xs (K, B, S) are a row start plus a batch start plus a column step, each any
    list of numbers (no affine rule, which _layout_reading reads): the lists that differ from the
    right ones, i * (L // B), seq_len * k and j. None when the positions are not such a sum."""
    K, B, S = xs.shape
    rows, batches, columns = xs[0, :, 0], xs[:, 0, 0] - xs[0, 0, 0], xs[0, 0, :] - xs[0, 0, 0]
    if not np.array_equal((rows[None, :, None] + batches[:, None, None] + columns[None, None, :]) % L, xs % L):
        return None
    listed = lambda v: "[" + ", ".join(str(int(a)) for a in v) + "]"
    found = []
    if not np.array_equal(rows, np.arange(B) * (L // B)):
        found.append(f"rows i = 0 .. {B - 1} start at positions {listed(rows)}, where they must start at i * (len(data) "
                     f"// batch_size) = {listed(np.arange(B) * (L // B))}: the row offsets are wrong")
    if not np.array_equal(batches, np.arange(K) * seq_len):
        found.append(f"batches k = 0 .. {K - 1} start {listed(batches)} positions into each row, where they must start "
                     f"seq_len * k = {listed(np.arange(K) * seq_len)}: batch k must continue each row where batch k-1 "
                     f"stopped, as the hidden state carried from batch to batch expects")
    if not np.array_equal(columns, np.arange(S)):
        found.append(f"within a row the positions step by {listed(columns)} instead of 0 .. {S - 1}: look at the "
                     f"np.arange(seq_len) part")
    return "; ".join(found) or None


def _kind(value):
    """How a message names what it got: "list", "float64 array"."""
    return f"{value.dtype} array" if isinstance(value, np.ndarray) else type(value).__name__


def _adagrad(params, cache, steps, how="right", lr=0.1, eps=1e-8):
    """Copies of params and cache after the updates steps (a list of grads dicts), right or as a mistake does."""
    params, cache = ({k: v.copy() for k, v in d.items()} for d in (params, cache))
    for grads in steps:
        for k, g in grads.items():
            before = cache[k].copy()
            cache[k] = g * g if how == "reset" else cache[k] + g * g
            scale = {"right": np.sqrt(cache[k]), "reset": np.sqrt(cache[k]), "stale": np.sqrt(before),
                     "no_sqrt": cache[k], "sign": np.sqrt(cache[k]), "eps_inside": np.sqrt(cache[k] + eps) - eps}[how]
            params[k] = params[k] - (-1 if how == "sign" else 1) * lr * g / (scale + eps)
    return params, cache


_ADAGRAD_MISTAKES = [
    ("reset", "the cache must accumulate the squared gradients of every update so far; here it holds only the "
              "last update's (it is reset instead of added to)."),
    ("stale", "the step divides by the cache of the previous step, before this update's squared gradient is added "
              "to it: add first, then take the step."),
    ("no_sqrt", "the square root is missing: the step divides by the cache itself; Adagrad divides by its square root "
                "(plus eps)."),
    ("sign", "the update has the wrong sign: the parameters moved up the gradient; the update subtracts the step."),
    ("eps_inside", "eps, the term that keeps the division finite, is inside the square root, sqrt(cache + eps), as "
                   "min-char-rnn writes it; this exercise's "
                   "rule adds it outside, sqrt(cache) + eps. The two differ where the cache is tiny (the key 'rare' "
                   "here, whose gradients are about 1e-6)."),
]


def _cache_reading(fn, params, cache, grads):
    """What one update adds to the cache, read from a probe update on copies, against the squared
    gradient it must add: nothing, the same number everywhere, a multiple of the gradient itself,
    or a multiple of its square. None when it is none of these."""
    mine_c = {k: v.copy() for k, v in cache.items()}
    try:
        LESSON.call("adagrad_update", fn, {k: v.copy() for k, v in params.items()},
                    {k: g.copy() for k, g in grads.items()}, mine_c, 0.1)
    except GradingFailure:
        return None
    added = np.concatenate([(mine_c[k] - cache[k]).ravel() for k in cache if k != "rare"])
    g = np.concatenate([grads[k].ravel() for k in cache if k != "rare"])
    if not np.isfinite(added).all():
        return _nan_where_negative(added, g)
    if core.close(added, g * g, 1e-7):
        return None
    if np.allclose(added, 0, atol=1e-12):
        return "an update adds nothing to the cache: the squared gradient g * g is missing from it (cache += g * g)"
    if np.allclose(added, added[0]):
        return (f"an update adds {added[0]:.4g} to every cache entry, whatever the gradient: the squared gradient g * g "
                f"is missing from it (cache += g * g)")
    scale = float(np.vdot(added, g) / np.vdot(g, g))
    if np.allclose(added, scale * g):
        return (f"an update adds {scale:.4g} times the gradient itself to the cache: the square is missing "
                f"(cache += g * g)")
    text = core.relation(added, g * g)
    return f"what an update adds to the cache is {text}" if text else None


def _nan_where_negative(added, g):
    """A hint when what an update adds to the cache is NaN exactly where the gradient g is negative
    (and finite elsewhere): a function of g that has no real value there. Else None."""
    if not np.array_equal(np.isnan(added), g < 0) or not np.isfinite(added[g >= 0]).all():
        return None
    return ("what an update adds to the cache is NaN exactly where the gradient is negative: it takes a square root, a "
            "log or a fractional power of g, which has no real value there, where it must add the square g * g")


def _adagrad_where(mine, want):
    """Where to look, from which arrays are wrong: the cache feeds the step, not the other way round."""
    cache_wrong = any(core.mismatch("", mine[key], want[key]) for key in want if key[0] == "cache")
    if not cache_wrong:
        return "the cache is right, so look at the step taken from it (its size, sign and the square root)."
    return ("the cache is wrong, and the step is computed from it: look first at the line that updates the cache (after every update "
              "it holds the running total of each squared gradient so far).")


def _positions_hint(got, want, what, row):
    """data[i] = 3 i mod 1000, so each value gives its position: say how the positions are off."""
    position = lambda v: np.asarray(v, dtype=np.int64) * 667 % 1000    # 667 = 1/3 mod 1000
    shift = position(got) - position(want)
    if np.all(shift == shift[0]):
        return (f"{what} row {row} reads the right run of tokens, but starting {abs(int(shift[0]))} positions too "
                f"{'late' if shift[0] > 0 else 'early'}: look at where a row and a batch start.")
    return (f"{what} row {row} does not read consecutive positions: look at how the positions within a row are "
            f"built.")


def check_adagrad_update(fn, seed=0):
    """Check adagrad_update(params, grads, cache, lr, eps=1e-8): in place, min-char-rnn's rule."""
    __tracebackhide__ = True
    name = "adagrad_update"
    rng = np.random.default_rng(seed)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4), "rare": rng.standard_normal(3)}
    cache = {k: rng.random(v.shape) for k, v in params.items()}
    cache["rare"][:] = 0.0          # a parameter that has seen (almost) no gradient yet: eps matters here
    steps = [{k: rng.standard_normal(v.shape) * (1e-6 if k == "rare" else 1) for k, v in params.items()}
             for _ in range(2)]
    mine_p, mine_c = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in cache.items()}
    arrays = {**{("p", k): v for k, v in mine_p.items()}, **{("c", k): v for k, v in mine_c.items()}}
    for grads in steps:
        LESSON.call(name, fn, mine_p, {k: g.copy() for k, g in grads.items()}, mine_c, 0.1)
    replaced = [f"{'params' if d == 'p' else 'cache'}[{k!r}]" for (d, k), v in arrays.items()
                if (mine_p if d == "p" else mine_c)[k] is not v]
    if replaced:
        raise GradingFailure(f"{name}: {' and '.join(replaced)} became new arrays. Update them in place (+=, -=) so "
                             f"that whoever holds them sees the change.")
    want_p, want_c = _adagrad(params, cache, steps)
    mine = {**{("params", k): v for k, v in mine_p.items()}, **{("cache", k): v for k, v in mine_c.items()}}
    want = {**{("params", k): v for k, v in want_p.items()}, **{("cache", k): v for k, v in want_c.items()}}
    tols = {"params": 1e-6, "cache": 1e-7}
    problems = [(line, (d, k)) for (d, k) in want
                for line in [core.mismatch(f"{d}[{k!r}] after two updates", mine[d, k], want[d, k], tol=tols[d])] if line]
    if problems:
        known = []
        for how, hint in _ADAGRAD_MISTAKES:
            vp, vc = _adagrad(params, cache, steps, how)
            variant = {**{("params", k): v for k, v in vp.items()}, **{("cache", k): v for k, v in vc.items()}}
            if all(core.close(mine[key], variant[key]) for key in want):
                known.append(hint)
        # the rare key's tiny values say little once the others are wrong too: read the others
        readable = [key for _, key in problems if key[1] != "rare"] or [key for _, key in problems]
        found = [(line, [(f"{d}[{k!r}]", text)] if not known and (d, k) in readable
                  and (text := core.relation(mine[d, k], want[d, k])) else []) for line, (d, k) in problems]
        reading = None if known or found[0][1] else _cache_reading(fn, params, cache, steps[0])
        found[0] = (found[0][0], known or found[0][1] or ([reading] if reading else []) + [_adagrad_where(mine, want)])
        core.fail(name, found)
    core.passed(name)


def _state_free_model(V=6, seed=0):
    """A tiny CharRNN whose scores ignore the state, so sampling frequencies are known exactly."""
    from ..models import CharRNN
    model = CharRNN(V, 8, seed=seed)
    model.params["V"][:] = 0.0
    model.params["c"][:] = np.linspace(1.5, -1.0, V)
    return model


def check_sample(fn, seed=0):
    """Check sample(model, seed_ids, n, temperature=1.0, rng=None): greedy limit, frequencies, state."""
    __tracebackhide__ = True
    name = "sample"
    from ..models import CharRNN
    model = CharRNN(7, 10, seed=seed)
    rng = np.random.default_rng(seed)
    for p in model.params.values():
        p[...] = rng.standard_normal(p.shape)
    seed_ids = [1, 4, 2]
    greedy = _sample(fn, model, seed_ids, 12, 1e-3, np.random.default_rng(1))
    if not isinstance(greedy, list) or len(greedy) != 12:
        raise GradingFailure(f"{name}: should return a list of n = 12 ids, got {type(greedy).__name__}"
                             + (f" of length {len(greedy)}" if hasattr(greedy, "__len__") else "") + "."
                             + (" Likely cause: the wrong type: return a Python list (list(...) or .tolist())."
                                if isinstance(greedy, np.ndarray) and len(greedy) == 12 else
                                f" Likely cause: {_count_reading(len(greedy), 12)}"
                                if isinstance(greedy, list) else ""))
    expected = model.sample(seed_ids, 12, temperature=1e-3, rng=np.random.default_rng(1))
    got = [int(i) for i in greedy]
    if got != expected:
        core.fail(name, [(f"at temperature 0.001 (almost argmax) expected {expected}, got {got}",
                          _greedy_hints(fn, model, seed_ids, got, expected))])
    again = [_sample(fn, model, seed_ids, 12, 1.0, np.random.default_rng(5)) for _ in range(2)]
    if again[0] != again[1]:
        core.fail(name, [(f"two runs with the same seeded rng gave different ids: {again[0]} and {again[1]}",
                          ["it ignores the rng argument (np.random.choice draws from numpy's global generator): draw "
                           "with rng.choice, so that a seeded rng gives the same samples."])])
    flat = _state_free_model()
    for temperature in (1.0, 2.5):
        draws = _sample(fn, flat, [0], 4000, temperature, np.random.default_rng(seed))
        freq = np.bincount(np.asarray(draws, dtype=int), minlength=6) / 4000
        want = losses.softmax(flat.params["c"] / temperature)
        if np.abs(freq - want).max() > 0.035:
            hints = (["scores must be divided by the temperature before the softmax: p = softmax(scores / T)."]
                     if np.abs(freq - losses.softmax(flat.params["c"])).max() < 0.035 else
                     ["every draw is the most likely id: that is argmax (greedy decoding), not sampling. Draw each id "
                      "from the distribution: rng.choice(V, p=softmax(scores / temperature))."]
                     if freq.max() == 1.0 else [])
            core.fail(name, [(f"at temperature {temperature}, 4000 draws gave frequencies {np.round(freq, 3).tolist()}, "
                          f"expected about {np.round(want, 3).tolist()}", hints)])
    core.passed(name)


def _count_reading(count, n):
    """Why a list of count ids came back where n were asked for: the drawing loop's count."""
    if count == 0:
        return ("no id was appended: the loop that draws the n new ids never ran, or never appended the id it "
                "drew to the list.")
    return (f"{count} ids were appended, not n = {n}: the loop that draws the new ids must run n times, after the "
            f"seed ids are fed, and append one id per pass.")


def _sample(fn, model, seed_ids, n, temperature, rng):
    name = "sample"
    try:
        with np.errstate(all="ignore"):
            return LESSON.call(name, fn, model, seed_ids, n, temperature=temperature, rng=rng)
    except GradingFailure as e:
        if isinstance(e.__cause__, ValueError) and "probabilities" in str(e.__cause__).lower() and \
                "nan" not in str(e.__cause__).lower():
            raise GradingFailure(f"{e}\n  Likely cause: rng.choice draws from a probability distribution: non-negative "
                                 f"numbers that sum to 1, the softmax of scores / temperature. Scores, or probabilities "
                                 f"divided by the temperature after the softmax, are not one.") from e.__cause__
        if isinstance(e.__cause__, ValueError) and "nan" in str(e.__cause__).lower():
            # NaN already at temperature 1 says where (the state or the scores), not why: no cause is named
            raise GradingFailure(f"{e}\n  " + (
                f"Likely cause: the probabilities contain NaN at temperature {temperature:g} but not at 1: the scores / "
                f"temperature are large, and exp of them overflows (inf / inf = nan). Subtract the largest score "
                f"before exp, as in lesson 02." if temperature < 1 and _finishes(fn, model, seed_ids, n) else
                "Where to look: the probabilities contain NaN even at temperature 1, so the scores are NaN already: "
                "look first at the lines that compute the hidden state and the scores.")) from e.__cause__
        raise


def _finishes(fn, model, seed_ids, n):
    """Whether sample runs through at temperature 1 (its scores are finite)."""
    try:
        _sample(fn, model, seed_ids, n, 1.0, np.random.default_rng(0))
    except GradingFailure:
        return False
    return True


def _greedy_hints(fn, model, seed_ids, got, expected):
    """What the greedy ids say about the mistake: only hints that the ids themselves support."""
    warm = model.sample(seed_ids, len(got), temperature=1.0, rng=np.random.default_rng(1))
    if got == warm:
        return ["scores must be divided by the temperature before the softmax: at temperature 0.001 sampling "
                "is almost argmax, and these ids are what temperature 1 gives."]
    if got == model.sample(seed_ids, len(got), temperature=1e3, rng=np.random.default_rng(1)):
        return ["the scores are multiplied by the temperature instead of divided by it: p = softmax(scores / T), so "
                "a low temperature sharpens the distribution."]
    for seeds, what in ((seed_ids[-1:], "the earlier seed ids are missing from the state: only the last one reached it"),
                        (seed_ids[:-1] or seed_ids, "the last seed id never reached the state"),
                        (seed_ids + seed_ids[-1:], "the last seed id is fed twice")):
        if got == model.sample(seeds, len(got), temperature=1e-3, rng=np.random.default_rng(1)):
            return [f"{what}: feed every seed id through the network, carrying the hidden state, before the "
                    f"first new id is drawn from the scores after the last one."]
    readings = _greedy_readings(fn, model, seed_ids, got, expected)
    if readings:
        return readings
    scale = _bias_scale(fn)
    if scale is not None:
        return [scale]
    first = next(k for k, (a, b) in enumerate(zip(got, expected)) if a != b)
    if first == 0:
        return ["the first new id already differs: look at the state after the seed ids and at the scores "
                "computed from it."]
    right = "id 0 is right" if first == 1 else f"ids 0 to {first - 1} are right"
    return [f"{right} and id {first} differs: look at the lines between one draw and the next (how the id is drawn, "
            f"how it is fed back in, how the hidden state is updated)."]


def _bias_scale(fn, draws=4000):
    """What the draws of a model whose scores are its bias c alone (V = 0) say, at temperature 1:
    they must follow softmax(c). When they follow softmax(k * c) for another k (0: c has no effect,
    -1: its sign is flipped), a hint; None when they follow softmax(c), or no k fits them."""
    flat = _state_free_model()
    c = flat.params["c"]
    c[:] = np.linspace(1.5, -1.2, len(c))       # no zero among them: c may end up a divisor
    try:
        ids = _sample(fn, flat, [0], draws, 1.0, np.random.default_rng(0))
        freq = np.bincount(np.asarray(ids, dtype=int), minlength=len(c)) / draws
    except (GradingFailure, TypeError, ValueError):
        return None
    if freq.shape != c.shape or (freq == 0).any():
        return None
    centred = c - c.mean()
    k = float(np.vdot(np.log(freq), centred) / np.vdot(centred, centred))    # log p = k c + const
    fits = lambda k: np.abs(freq - losses.softmax(k * c)).max() < 0.035
    if fits(1.0) or not fits(k):
        return None
    seen = f"with V = 0 the scores are the bias c alone, and at temperature 1 the ids drawn must follow softmax(c)"
    if fits(0.0):
        return (f"{seen}, yet every id comes out about equally often: c never reaches the probabilities. It must be "
                f"added to the scores, scores = h @ V + c")
    if fits(-1.0):
        return f"{seen}, yet they follow softmax(-c): c has the wrong sign in the scores (scores = h @ V + c)"
    return (f"{seen}, yet they follow softmax({k:.2f} * c): there c reaches the softmax scaled by about {k:.2f}. "
            f"The scores, or c in them, are multiplied by a factor, where at temperature 1 nothing may scale them "
            f"(p = softmax((h @ V + c) / T))")


def _greedy_ids(p, fed, n, seed_step=None, step=None, bias_c=1.0, state_v=1.0, feedback=True):
    """The argmax ids after feeding the ids fed (the last one gives the first scores), with the step's
    terms changed as step (while generating) and seed_step (while feeding) say: {"input", "recurrent",
    "bias": scale, "act": activation, "Wh": the recurrent matrix, "times": k, terms k and k+1
    multiplied, "divided": k, term k divided by term k+1, "inline": np.multiply or np.divide, the
    input term joined to h by it before h meets Wh}; bias_c scales the scores' bias, state_v their
    term h @ V; feedback=False feeds the last id fed at every step instead of the id just drawn."""
    @np.errstate(all="ignore")      # a term divided by a zero state is inf, as the student's would be
    def forward(token, h, change):
        m = {"input": 1.0, "recurrent": 1.0, "bias": 1.0, "act": np.tanh, "Wh": p["Wh"], "times": None,
             "divided": None, "inline": None, **(change or {})}
        terms = [m["input"] * p["W_embed"][token] @ p["Wx"], m["recurrent"] * h @ m["Wh"], m["bias"] * p["b"]]
        for key, join in (("times", np.multiply), ("divided", np.divide)):
            if m[key] is not None:      # two neighbouring terms joined by * or / instead of +
                k = m[key]
                terms[k:k + 2] = [join(terms[k], terms[k + 1])]
        if m["inline"] is not None:     # * and @ bind alike, left to right: e @ Wx * h @ Wh is ((e @ Wx) * h) @ Wh
            terms[:2] = [m["inline"](terms[0], h) @ m["Wh"]]
        return m["act"](sum(terms))
    h = np.zeros(p["Wh"].shape[0])
    for token in fed[:-1]:
        h = forward(token, h, seed_step)
    token, out = fed[-1], []
    for _ in range(n):
        h = forward(token, h, step)
        drawn = int(np.argmax(state_v * h @ p["V"] + bias_c * p["c"]))
        token = drawn if feedback else token
        out.append(drawn)
    return out


_STEP_TERMS = (("input", "the input term W_embed[token] @ Wx"), ("recurrent", "the recurrent term h @ Wh"),
               ("bias", "the bias b"))
_TERM_ERRORS = ((0.0, "is missing"), (-1.0, "has the wrong sign"), (2.0, "is counted twice"))


def _step_changes(p):
    """(change, what it says) for the recurrence's step: a term missing, sign-flipped or doubled,
    the sigmoid for tanh, Wh transposed, two terms multiplied or divided instead of added."""
    changes = [({term: scale}, f"{label} {how}") for term, label in _STEP_TERMS for scale, how in _TERM_ERRORS]
    changes.append(({"input": 0.0, "recurrent": 0.0}, "the input term and the recurrent term are both missing: the "
                                                      "step is tanh(b) alone"))
    return changes + [({"act": core.sigmoid}, "the step uses the sigmoid where the RNN needs tanh"),
                      ({"Wh": p["Wh"].T}, "the recurrent term multiplies h by Wh.T instead of Wh (a transpose)"),
                      ({"times": 0}, "the input term and the recurrent term are multiplied instead of added"),
                      ({"times": 1}, "the recurrent term and the bias b are multiplied instead of added"),
                      ({"divided": 1}, "the recurrent term is divided by the bias b instead of added to it")] + [
                      ({"inline": join}, f"the input term is joined to the recurrent term by {op} instead of +: as {op} "
                                         f"and @ bind alike, left to right, W_embed[token] @ Wx {op} h @ Wh is "
                                         f"((W_embed[token] @ Wx) {op} h) @ Wh")
                      for join, op in ((np.multiply, "*"), (np.divide, "/"))]


def _greedy_readings(fn, model, seed_ids, got, expected, other_seeds=((3, 0, 5), (6, 2, 4), (5, 5, 0))):
    """A reading of greedy ids that no other reading explains: which ids were fed before the first
    draw, or a term of the step changed while feeding the seed ids, while generating or in both.
    A short id sequence is thin evidence, so a reading must also fit the ids the student's sample
    gives for other seed ids (the state forgets old ids fast, so several sets of them); when two fit,
    both are named, when more, none."""
    n, p = len(got), model.params
    if _greedy_ids(p, seed_ids, n) != expected:      # argmax is not what temperature 0.001 gave: no reading
        return []
    candidates = [(lambda seeds, idx=idx: _greedy_ids(p, [seeds[i] for i in idx], n),
                   f"the ids fed to the network before the first draw are {[seed_ids[i] for i in idx]}, not the seed "
                   f"ids {list(seed_ids)} in order: feed each seed id once, in order, carrying the hidden state")
                  for k in range(1, len(seed_ids) + 2) for idx in itertools.product(range(len(seed_ids)), repeat=k)
                  if list(idx) != list(range(len(seed_ids)))]
    for change, what in _step_changes(p):
        for where, kwargs in (("while feeding the seed ids", {"seed_step": change}),
                              ("while generating", {"step": change}),
                              ("in every step", {"seed_step": change, "step": change})):
            candidates.append((lambda seeds, kw=kwargs: _greedy_ids(p, seeds, n, **kw), f"{what} {where}"))
    for scale, how in ((0.0, "is missing"), (-1.0, "has the wrong sign")):
        candidates.append((lambda seeds, c=scale: _greedy_ids(p, seeds, n, bias_c=c),
                           f"the scores' bias c {how} (scores = h @ V + c)"))
    candidates += [(lambda seeds: _greedy_ids(p, seeds, n, state_v=0.0),
                    "the scores are c alone: their term h @ V is missing (scores = h @ V + c), so the state never "
                    "reaches the draws"),
                   (lambda seeds: _greedy_ids(p, seeds, n, feedback=False),
                    "the id drawn is not fed back in: every step while generating reads the last seed id, where it "
                    "must read the id the previous step drew")]
    fits = [(ids, text) for ids, text in candidates if ids(list(seed_ids)) == got]
    for seeds in other_seeds if fits else ():
        other = _argmax_ids(fn, model, list(seeds), n)
        if other is None:
            return []
        fits = [(ids, text) for ids, text in fits if ids(list(seeds)) == other]
    fits = list(dict.fromkeys(text for ids, text in fits))
    return ["; or ".join(fits)] if 0 < len(fits) <= 2 else []


def _argmax_ids(fn, model, seed_ids, n):
    """The ids the student's sample draws at a temperature so low that each draw is the argmax, or
    None when it fails. 1e-6 leaves no near-tie of scores to chance; an answer that overflows there
    is asked at 1e-3."""
    for temperature in (1e-6, 1e-3):
        try:
            ids = _sample(fn, model, seed_ids, n, temperature, np.random.default_rng(1))
            return [int(i) for i in ids]
        except (GradingFailure, TypeError, ValueError):
            continue
    return None
