"""Sequence to sequence with attention: attention forward and backward, greedy decoding, beam search."""
import numpy as np

from .. import attention, decoding
from . import core
from .core import GradingFailure, Lesson

LESSON = Lesson(
    "08_seq2seq_attention",
    exercises={"attention_forward": "attention:attention_forward", "attention_backward": "attention:attention_backward",
               "greedy_decode": "decoding:greedy_decode", "beam_search": "decoding:beam_search"},
    cores=("attention:masked_softmax",),
    material=("seq2seq:Seq2Seq",),
)


def _attention_inputs(N, T, S, H, seed):
    """query (N, T, H), keys (N, S, H), mask (N, S): the last row padded after S - 2 steps (if S > 2)."""
    rng = np.random.default_rng([seed, 8])
    lengths = rng.integers(1, S + 1, size=N)
    lengths[0], lengths[-1] = S, max(1, S - 2) if N > 1 else lengths[-1]
    return rng.standard_normal((N, T, H)), rng.standard_normal((N, S, H)), np.arange(S) < lengths[:, None]


def _softmax(scores, mask, axis=-1):
    """Softmax of scores (N, T, S) along axis over the steps mask (N, S) keeps; 0 elsewhere, never nan."""
    s = np.where(mask[:, None, :], scores, -np.inf)
    top = s.max(axis=axis, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(top), top, 0.0))
    total = e.sum(axis=axis, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


def _forward_variants(query, keys, mask):
    """Known forward mistakes: (hint, context)."""
    H = query.shape[2]
    everywhere = np.ones_like(mask)
    scores = query @ keys.transpose(0, 2, 1)
    variants = [
        ("the softmax runs over the wrong axis: the weights of one decoder step t are a distribution over the "
         "encoder steps s, so normalise along the last axis (axis=-1), not over the decoder steps.",
         _softmax(np.where(mask[:, None, :], scores / np.sqrt(H), -1e9), everywhere, axis=1) @ keys),
        ("the mask is missing: padded encoder steps (mask False) must get weight 0; set their scores to -inf "
         "(np.where(mask[:, None, :], scores, -np.inf)) before the softmax.",
         _softmax(scores / np.sqrt(H), everywhere) @ keys),
        ("the scale is missing: divide the scores by sqrt(H) before the softmax.", _softmax(scores, mask) @ keys),
        ("the scores are divided by H; the scale is 1/sqrt(H).", _softmax(scores / H, mask) @ keys),
        ("the padded steps' weights are zeroed after the softmax, so the others no longer sum to 1: mask the "
         "scores (-inf) before the softmax instead.", _softmax(scores / np.sqrt(H), everywhere) * mask[:, None] @ keys),
        ("the mask sets the padded steps' scores to 0, which still gives them weight: set them to -inf.",
         _softmax(np.where(mask[:, None, :], scores, 0.0) / np.sqrt(H), everywhere) @ keys),
    ]
    if query.shape[1] == keys.shape[1]:
        transposed = keys @ query.transpose(0, 2, 1) / np.sqrt(H)
        variants += [
            ("the scores are transposed: scores[n, t, s] = query[n, t] · keys[n, s], that is query @ "
             "keys.transpose(0, 2, 1); keys @ query.transpose(0, 2, 1) swaps t and s.", _softmax(transposed, mask) @ keys),
            ("the context is a weighted sum of the encoder states, weights @ keys, not of the queries.",
             _softmax(scores / np.sqrt(H), mask) @ query),
        ]
    return variants


def _centred_logs(weights, real):
    """The log of each row of weights (N, T, S) less its mean over the real steps: a softmax's scores, centred."""
    logs = np.where(real, np.log(np.where(real, weights, 1.0)), 0.0)
    return np.where(real, logs - logs.sum(-1, keepdims=True) / real.sum(-1, keepdims=True), 0.0)


_AXES = {0: "axis 0, the batch", 1: "axis 1, the decoder steps"}


def _scores_reading(got_weights, want_weights, mask, H):
    """The weights are a softmax over the encoder steps of scores that are wrong in a readable way: c times
    the right ones (c = sqrt(H), 1/sqrt(H), -1, ...), or shifted by a number that changes along the encoder
    steps (a max over another axis); else None. The log of a softmax is its scores less one number per
    row: centring each row's logs over its real steps leaves the scores, centred."""
    real = np.broadcast_to(mask[:, None, :], want_weights.shape)
    if (got_weights[real] <= 0).any() or (real.sum(-1) < 2).all():
        return None
    got, want = _centred_logs(got_weights, real), _centred_logs(want_weights, real)
    c = float(np.vdot(got, want) / np.vdot(want, want)) if want.any() else 1.0
    if not np.isclose(c, 1) and core.close(got, c * want):
        sizes = [("sqrt(H)", np.sqrt(H), "the scale, H = %d" % H), ("H", H, "the size of a state")]
        return "the weights are a softmax of scores that are " + core.factor_reading(c, sizes)
    shift = got - want
    for axis, where in _AXES.items():
        if got.shape[axis] > 1 and core.close(shift, np.broadcast_to(shift.mean(axis, keepdims=True), shift.shape)):
            return (f"the scores are shifted by a number that changes along the encoder steps and is the same along "
                    f"{where}: the max subtracted is taken along {where}, instead of along the last axis (axis=-1), so it "
                    f"no longer cancels in the softmax")
    return None


def _weights_reading(weights, want, mask, H):
    """Why the cache's weights (N, T, S), which the student's context is made of, are wrong; else None."""
    padded = ~np.broadcast_to(mask[:, None, :], want.shape)
    if padded.any() and np.abs(weights[padded]).max() > 1e-9:
        return ("the padded encoder steps (mask False) get weight: their scores must be -inf before the softmax, so "
                "that exp gives exactly 0 there")
    for axis, where in _AXES.items():
        totals = weights.sum(axis=axis)
        if weights.shape[axis] > 1 and core.close(totals, np.ones_like(totals)) and \
                not core.close(weights.sum(axis=-1), np.ones_like(weights.sum(axis=-1))):
            return (f"the weights are normalised along {where}: the softmax runs along the last axis (axis=-1), "
                    f"over the encoder steps")
    totals = weights.sum(axis=-1)
    if core.close(totals, np.full_like(totals, totals.flat[0])) and not np.isclose(totals.flat[0], 1):
        sizes = [("S", weights.shape[2], "the number of encoder steps"), ("T", weights.shape[1], "the number of decoder steps")]
        return "the weights are " + core.factor_reading(totals.flat[0], sizes) + " (each row must add up to 1)"
    if not core.close(totals, np.ones_like(totals)):
        return None
    real = np.broadcast_to(mask[:, None, :], want.shape)
    uniform = real / real.sum(-1, keepdims=True)
    if core.close(weights, uniform) and not core.close(want, uniform):
        return ("every real encoder step gets the same weight, 1 / (the number of real steps): the scores are missing "
                "from what goes into the exp (it is the same for every step of a row)")
    return _scores_reading(weights, want, mask, H)


def _context_reading(query, keys, context, cache, want_cache, mask=None):
    """A hint read from the student's weights when their context is made of them; else None."""
    mask = np.ones(keys.shape[:2], dtype=bool) if mask is None else mask
    weights = cache[2] if isinstance(cache, tuple) and len(cache) == 3 else None
    if not isinstance(weights, np.ndarray):
        return None
    if weights.shape != want_cache.weights.shape:     # the context is made of weights of another shape
        why = core.shape_hint(weights.shape, want_cache.weights.shape).strip()
        return f"the weights in the cache have shape {weights.shape}, expected {want_cache.weights.shape}. {why}" if why else None
    if not np.isfinite(weights).all() or not core.close(context, weights @ keys):
        if core.close(weights, want_cache.weights):
            return "the weights in the cache are right, so the error is after them: the context is weights @ keys"
        return None
    return _weights_reading(weights, want_cache.weights, mask, query.shape[2])


def _nan_reading(fn, args):
    """The context holds nan or inf: whether it does without the mask too, read by calling fn again."""
    query, keys, mask = args
    try:
        probe = LESSON.call("attention_forward", fn, query, keys, None)
        unmasked = probe[0]
    except (GradingFailure, TypeError, IndexError):
        return None
    if not isinstance(probe, tuple) or len(probe) != 2:
        return None
    want, want_cache = attention.attention_forward(query, keys)
    if not isinstance(unmasked, np.ndarray) or unmasked.shape != want.shape:
        return None
    if not np.isfinite(unmasked).all():
        return ("the context is not a number even when no step is padded: in the softmax an exp overflowed to inf "
                "(and inf / inf is nan), or an operation with no real result happened (0 / 0, a power ** of a "
                "negative number with a fractional exponent, the log or square root of a negative number)")
    if core.close(unmasked, want):
        return ("without a mask (mask=None) the context is right, so the nan comes from the padded steps: there the "
                "shifted scores meet inf - inf. The padded scores must be -inf (that sign), and the number subtracted "
                "from a row must be its max over the encoder steps (axis=-1, the max, not the min), which is finite")
    reading = _context_reading(query, keys, unmasked, probe[1], want_cache)
    if reading:
        return f"without a mask (mask=None) the context is finite but wrong: {reading}"
    return ("the nan comes with the padded steps: without a mask (mask=None) the context is finite, though wrong too; "
            "with it, the padded steps' scores (-inf, or whatever marks them) meet an operation with no real result "
            "(inf - inf, 0 * inf, inf / inf, 0 / 0). Once they are -inf, only subtract a finite number from the "
            "scores (each row's max over the encoder steps) before the exp")


def _scores_of(query, keys, mask):
    """{name: array} of the scores (N, T, S), before and after the mask, by which a misplaced cache field is named."""
    scores = query @ keys.transpose(0, 2, 1) / np.sqrt(query.shape[2])
    return {"the scores (masked)": np.where(mask[:, None, :], scores, -np.inf), "the scores": scores}


def _check_large_scores(fn, args, name):
    """The softmax must not overflow: the same inputs scaled up give scores of several hundred."""
    query, keys, mask = args
    large = (query * 30, keys * 30, mask)
    context = core.unpack(name, LESSON.call(name, fn, *large), ("context", "cache"))[0]
    want = attention.attention_forward(*large)[0]
    if isinstance(context, np.ndarray) and context.shape == want.shape and not np.isfinite(context).all():
        raise GradingFailure(f"{name}: with large scores (query and keys 30 times larger, scores of several hundred) "
                             f"the context holds nan or inf, while it is right at ordinary sizes. Likely cause: exp "
                             f"overflows: subtract each row's max score before the exp (the max trick), so that every "
                             f"exponent is at most 0.")
    line = core.mismatch("context", context, want, tol=1e-6)
    if line:
        core.fail(name, [(f"with large scores (query and keys 30 times larger): {line}", [])])


def check_attention_forward(fn, N=2, T=4, S=4, H=3, seed=0):
    """Check attention_forward(query, keys, mask) -> (context, cache)."""
    __tracebackhide__ = True
    name = "attention_forward"
    args = _attention_inputs(N, T, S, H, seed)
    want, want_cache = attention.attention_forward(*args)
    context, cache = core.unpack(name, LESSON.call(name, fn, *args), ("context", "cache"), (want, want_cache))
    if isinstance(context, np.ndarray) and context.shape == want.shape and not np.isfinite(context).all():
        nan = _nan_reading(fn, args)
        if nan:
            idx = tuple(int(i) for i in np.argwhere(~np.isfinite(context))[0])
            raise GradingFailure(f"{name}: context contains {context[idx]} at index {idx}; expected finite values. "
                                 f"Likely cause: {nan}.")
    core.as_array(name, "context", context, want.shape)
    line = core.mismatch("context", context, want)
    if line:
        found = core.hints(context, _forward_variants(*args), want)
        reading = None if found else _context_reading(args[0], args[1], context, cache, want_cache, args[2])
        found = found or ([reading] if reading else core.hints(context, [], want, "context", time_axis=1))
        core.fail(name, [(line, found)])
    core.check_cache(name, cache, want_cache, also=_scores_of(*args))
    _check_large_scores(fn, args, name)
    core.passed(name)


def _backward_variant(dcontext, cache, values=True, keys=True, softmax="full", scale=True):
    query, k, w = cache
    s = 1 / np.sqrt(query.shape[2]) if scale else 1.0
    dw = dcontext @ k.transpose(0, 2, 1)
    ds = {"full": w * (dw - (dw * w).sum(-1, keepdims=True)), "no_sum": w * dw, "none": dw,
          "wrong_axis": w * (dw - (dw * w).sum(1, keepdims=True))}[softmax]
    dk = (w.transpose(0, 2, 1) @ dcontext if values else 0) + (ds.transpose(0, 2, 1) @ query * s if keys else 0)
    return ds @ k * s, dk * np.ones_like(k)


_BACKWARD_MISTAKES = [
    ({"values": False}, "the encoder states are the values too: context = weights @ keys, so dkeys also gets "
     "weights.transpose(0, 2, 1) @ dcontext, besides the path through the scores."),
    ({"keys": False}, "the encoder states also enter the scores: dkeys also gets dscores.transpose(0, 2, 1) @ query "
     "/ sqrt(H), besides weights.transpose(0, 2, 1) @ dcontext."),
    ({"softmax": "no_sum"}, "the softmax's derivative has two terms, since each weight depends on every score of "
     "its row, not only its own: dscores = w * (dw - (dw * w).sum(axis=-1, keepdims=True)); the sum term is missing."),
    ({"softmax": "none"}, "the gradient must go back through the softmax: dscores = w * (dw - (dw * w).sum(axis=-1, "
     "keepdims=True)), not dweights itself."),
    ({"softmax": "wrong_axis"}, "the softmax ran over the encoder steps (the last axis), so the sum in its backward "
     "runs over that axis: (dw * w).sum(axis=-1, keepdims=True)."),
    ({"scale": False}, "the forward divided the scores by sqrt(H): the gradients through the scores (dquery, and "
     "dkeys's path through the scores) are divided by sqrt(H) too."),
]

_BACKWARD_UPSTREAM = ("both gradients are wrong, and both come from dweights = dcontext @ keys.T and its softmax "
                      "backward dscores: check those first.")


def _backward_relations(douts, cache):
    sizes = [core.batch_size(cache.query.shape[0])]
    return {"dquery": {"sizes": sizes, "time_axis": 1}, "dkeys": {"sizes": sizes, "time_axis": 1}}


# Python's operators a slip may put where one belongs: how each joins two arrays.
_JOINS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "//": np.floor_divide, "%": np.mod,
          "**": np.power}


def _joined(got, first, second, right, combine=lambda v: v):
    """The operators (other than right) that, joining first and second, then combine, give got: [symbol]."""
    found = []
    with np.errstate(all="ignore"):
        for symbol, op in _JOINS.items():
            value = combine(op(first, second))
            if symbol != right and np.isfinite(value).all() and core.close(got, value):
                found.append(symbol)
    return found


def _dquery_reading(dquery, through, root):
    """dquery (N, T, H) against through / root (through = dscores @ keys, root = sqrt(H)): the division
    written with another operator; else None."""
    found = _joined(dquery, through, root, "/")
    if len(found) == 1:
        return f"dquery is (dscores @ keys) {found[0]} sqrt(H), where dscores @ keys must be divided by sqrt(H)"
    return None


def _dkeys_reading(dkeys, values, scores_path, root, others=()):
    """dkeys (N, S, H) against values + scores_path / root, its two paths (values = weights.T @ dcontext,
    scores_path = dscores.T @ query, root = sqrt(H)): the + or the / written otherwise, query replaced by
    one of others [(label, dscores.T @ that array)], the division or the product missing; else None."""
    # the + replaced, as Python groups the line: values - p / r, or (values op p) / r for *, /, //, %, **
    joins = [s for s in _joined(dkeys, values, scores_path / root, "+") if s == "-"]
    joins += [s for s in _joined(dkeys, values, scores_path, "+", lambda v: v / root) if s not in ("+", "-")]
    if len(joins) == 1:
        return (f"dkeys joins its two paths with {joins[0]} instead of adding them: dkeys = weights.T @ dcontext (as "
                f"values) + dscores.T @ query / sqrt(H) (as keys)")
    for label, path in others:
        if core.close(dkeys, values + path / root):
            return (f"in dkeys, the path through the scores multiplies dscores.T by {label} instead of query: "
                    f"dscores.T @ query / sqrt(H)")
    return _scores_path_reading(dkeys - values, scores_path, root)


def _scores_path_reading(got, scores_path, root):
    """dkeys's path through the scores, got (N, S, H), against scores_path / root; else None."""
    if core.close(got, scores_path):
        return ("in dkeys, the path through the scores is not divided by sqrt(H): it is dscores.T @ query / sqrt(H), "
                "as the forward divided the scores by sqrt(H)")
    if core.close(got, np.full_like(got, root)):
        return ("in dkeys, the path through the scores is the number sqrt(H) alone: dscores.T @ query is missing from "
                "it, dscores.T @ query / sqrt(H)")
    found = _joined(got, scores_path, root, "/")
    if len(found) == 1:
        return (f"in dkeys, the path through the scores is (dscores.T @ query) {found[0]} sqrt(H), where it must be "
                f"divided by sqrt(H)")
    return None


def _softmax_backward_reading(dscores, weights, dweights):
    """The student's dscores (N, T, S) against w * (dw - (dw * w).sum(-1)): a reading; else None."""
    total = (dweights * weights).sum(axis=-1, keepdims=True)
    inner = "(dweights - (dweights * weights).sum(axis=-1))"
    factors = [("weights", weights), (inner, dweights - total)]
    text = core.gate_product_reading(
        dscores, factors, pool=[("dweights", dweights)],
        terms=[("the term weights * dweights", weights * dweights),
               ("the sum term -weights * (dweights * weights).sum(axis=-1)", -weights * total)],
        sums={inner: [("dweights", dweights), ("the sum (dweights * weights).sum(axis=-1)", -total)]})
    if text:
        return text
    # the sum term, read where the weights are not 0: weights * (dweights - X) = dscores
    live = weights > 1e-12
    X = np.where(live, dweights - dscores / np.where(live, weights, 1.0), 0.0)
    for axis, where in _AXES.items():
        other = np.where(live, (dweights * weights).sum(axis=axis, keepdims=True), 0.0)
        if core.close(X, other) and not core.close(X, np.where(live, total, 0.0)):
            return (f"the sum (dweights * weights).sum(...) runs along {where}; the softmax normalised over the "
                    f"encoder steps, so its backward sums along the last axis (axis=-1)")
    joined = _joined(X, dweights, weights, "*", lambda v: np.where(live, v.sum(axis=-1, keepdims=True), 0.0))
    if len(joined) == 1:
        return (f"the sum term adds up dweights {joined[0]} weights where it must add up dweights * weights: the two "
                f"are joined by {joined[0]} instead of multiplied")
    for label, other in (("dweights", "weights"), ("weights", "dweights")):
        alone = (dweights if label == "dweights" else weights).sum(axis=-1, keepdims=True)
        if core.close(X, np.where(live, alone, 0.0)):
            return f"the sum term is {label}.sum(axis=-1): {other} is missing from it, (dweights * weights).sum(axis=-1)"
    text = core.relation(X, np.where(live, total, 0.0), sizes=[("S", weights.shape[2], "the number of encoder steps")])
    return f"the sum (dweights * weights).sum(axis=-1) is {text}" if text else None


def _recovered_dscores(dkeys, values, query, scale):
    """dscores (N, T, S) from dkeys = values + dscores.T @ query * scale, when every query[n] (T, H) has rank T
    (so that only one dscores fits); else None."""
    N, T, H = query.shape
    if T > H or any(np.linalg.matrix_rank(q) < T for q in query):
        return None
    through = (dkeys - values) / scale                               # (N, S, H) = dscores.T @ query
    return np.stack([np.linalg.lstsq(q.T, x.T, rcond=None)[0] for q, x in zip(query, through)])   # (N, T, S)


def _backward_reading(grads, douts, cache):
    """Hints read from the student's dquery and dkeys (see check_backward_read); None when none explains them."""
    dquery, dkeys = grads
    (dcontext,) = douts
    query, keys, weights = cache
    scale = 1 / np.sqrt(query.shape[2])
    dweights = dcontext @ keys.transpose(0, 2, 1)
    right = attention.attention_backward(dcontext, cache)
    dscores = weights * (dweights - (dweights * weights).sum(axis=-1, keepdims=True))
    values = weights.transpose(0, 2, 1) @ dcontext
    query_ok, keys_ok = core.close(dquery, right[0]), core.close(dkeys, right[1])
    if keys_ok and not query_ok:
        text = _dquery_reading(dquery, dscores @ keys, 1 / scale)
        return [text] if text else None
    if query_ok and not keys_ok:
        text = _dkeys_reading(dkeys, values, dscores.transpose(0, 2, 1) @ query, 1 / scale,
                              [("dcontext", dscores.transpose(0, 2, 1) @ dcontext)])
        return [text] if text else None
    theirs = _recovered_dscores(dkeys, values, query, scale)
    if theirs is None or not core.close(dquery, theirs @ keys * scale) or core.close(theirs, dscores):
        return None
    text = _softmax_backward_reading(theirs, weights, dweights)
    return [f"dscores, the gradient of the scores (read back from your dkeys, and your dquery agrees), is wrong: "
            f"{text}"] if text else None


def check_attention_backward(fn, N=2, T=3, S=4, H=3, seed=0):
    """Check attention_backward(dcontext, cache) -> (dquery, dkeys) against numerical gradients."""
    __tracebackhide__ = True
    core.check_backward_read(LESSON, "attention_backward", fn, attention.attention_forward,
                             _attention_inputs(N, T, S, H, seed), ("dquery", "dkeys"), attention.attention_backward,
                             _backward_variant, _BACKWARD_MISTAKES, _backward_reading, upstream=_BACKWARD_UPSTREAM,
                             relations=_backward_relations)


# --- decoding ------------------------------------------------------------------------------------

EOS = 0
# Greedy takes 1 first (0.5 > 0.4) and then ends at once (eos 0.34): 0.5 * 0.34 = 0.17. Taking 2
# first is followed by eos with 0.9: 0.4 * 0.9 = 0.36. Beam search of width 2 finds it.
TRAP = np.log([[0.97, 0.01, 0.01, 0.01],      # after eos (never used)
               [0.34, 0.33, 0.32, 0.01],      # after 1: unsure
               [0.9, 0.05, 0.03, 0.02],       # after 2: eos at once
               [0.09, 0.5, 0.4, 0.01]])       # bos = 3: 1 or 2


def _trap_of_order_two():
    """A decoder whose next token depends on the last two: the best sequence, 2, 1, eos (0.45 * 0.9 *
    0.95), needs the state of hypothesis [2] to follow it to [2, 1]; a beam that hands [2, 1] the state
    of [1] (ahead after one step) reads the row after 1, 1 there and misses it."""
    p = np.full((4, 4, 4), 0.25)
    p[3, 3] = [0.04, 0.5, 0.45, 0.01]        # at the start (state bos, token bos)
    p[3, 1] = [0.01, 0.49, 0.49, 0.01]
    p[3, 2] = [0.05, 0.9, 0.03, 0.02]
    p[2, 1] = [0.95, 0.02, 0.02, 0.01]
    p[1, 1] = [0.02, 0.48, 0.49, 0.01]
    p[1, 2] = [0.2, 0.39, 0.4, 0.01]
    return np.log(p)


TRAP2 = _trap_of_order_two()


def _random_table(V, seed, order=1):
    rng = np.random.default_rng([seed, 80 + order])
    p = rng.dirichlet(np.full(V, 0.7), size=(V,) * order) * 0.97 + 0.03 / V
    return np.log(p / p.sum(axis=-1, keepdims=True))


def _cases(seed):
    """(what, decoder, bos, max_len, eos) of the checks: the designed case, random tables, a table that rarely
    ends, and one whose eos is not token 0 (nor the smallest or largest id: a test of eos must be ==)."""
    never = np.log(np.full((4, 4), 0.02) + np.diag([0.0, 0.92, 0.92, 0.92]))
    never -= np.log(np.exp(never).sum(axis=1, keepdims=True))
    return [("the designed case (rnnlib.grading.seq2seq_attention.TRAP)", decoding.TableDecoder(TRAP), 3, 5),
            (f"a random table of 5 tokens (seed {seed})", decoding.TableDecoder(_random_table(5, seed)), 4, 6),
            ("a table that rarely emits eos (max_len = 4 stops it)", decoding.TableDecoder(never), 1, 4),
            (f"a random table of order two (the state holds the token before the last; seed {seed})",
             decoding.TableDecoder(_random_table(4, seed, order=2)), 3, 5),
            ("a table of order two (rnnlib.grading.seq2seq_attention.TRAP2) whose best sequence needs each "
             "hypothesis to keep its own state", decoding.TableDecoder(TRAP2), 3, 5),
            (f"a random table of 6 tokens whose eos is token 3 (seed {seed})", decoding.TableDecoder(_random_table(6, seed)),
             5, 6, 3)]


def _decoded(name, result):
    tokens, score = core.unpack(name, result, ("tokens", "log_prob"))
    if not isinstance(tokens, list) or not all(isinstance(t, (int, np.integer)) for t in tokens):
        raise GradingFailure(f"{name}: tokens should be a list of ints, got {type(tokens).__name__}"
                             + (f" holding {type(tokens[0]).__name__}" if isinstance(tokens, list) and tokens else "")
                             + ". Use int(...) on the token ids.")
    if not isinstance(score, (float, np.floating)):
        raise GradingFailure(f"{name}: log_prob should be a float, got {type(score).__name__}.")
    return [int(t) for t in tokens], float(score)


def _chosen_log_probs(decoder, bos, tokens):
    """The log-probability of each of tokens (list) after the ones before it, starting from bos: (len(tokens),)."""
    state, last, found = decoder.start(bos), bos, []
    for t in tokens:
        log_probs, state = decoder(np.array([last]), state)
        found.append(float(log_probs[0, t]))
        last = t
    return np.array(found)


def _log_likelihood(decoder, bos, tokens):
    return float(_chosen_log_probs(decoder, bos, tokens).sum())


def _score_reading(score, tokens, decoder, bos):
    """Why score, reported with the right tokens, is not their log-likelihood, read from what it is; else None."""
    parts = _chosen_log_probs(decoder, bos, tokens)
    total = parts.sum()
    if score == 0 and total != 0:
        return "the score is 0: the tokens' log-probabilities are never added to it"
    if np.isclose(score, -total):
        return ("the score is minus their log-likelihood: the log-probabilities are subtracted (a -= or a flipped "
                "sign) where they must be added")
    if np.isclose(score, np.exp(total)):
        return ("the score is the sequence's probability, the product of the tokens' probabilities, instead of its "
                "log-probability, the sum of their log-probabilities")
    if len(parts) > 1 and np.isclose(score, parts[-1]) and not np.isclose(parts[-1], total):
        return ("the score is the last token's log-probability alone: a hypothesis's score must add up the "
                "log-probabilities of all its tokens (total += ..., scores[:, None] + log_probs), not be overwritten")
    if len(parts) > 1 and np.isclose(score, parts.mean()):
        return "the score is the mean of the tokens' log-probabilities: it is their sum (no length normalisation)"
    return None


def _best_after(decoder, token, state):
    return int(np.argmax(decoder(np.array([token]), state)[0][0]))


def _fed_reading(tokens, decoder, bos):
    """What greedy's steps were fed, read from the tokens they chose: each the best after bos, or the best
    given the initial state with the right token; else None."""
    if len(tokens) < 2:
        return None
    start, fed, readings = decoder.start(bos), [bos] + tokens[:-1], []
    if all(t == _best_after(decoder, bos, start) for t in tokens):
        readings.append("every token is the one most likely right after bos: each step must be fed the token the "
                        "previous step chose, not bos")
    if decoder.log_probs.ndim == 3 and all(t == _best_after(decoder, f, start) for t, f in zip(tokens, fed)):
        readings.append("every token is the one most likely given the initial state: each step must be passed the "
                        "state the previous step returned, not the initial one")
    return "; or ".join(readings) or None     # both fit: the evidence cannot choose


def _stopped_early(tokens, eos, max_len):
    """tokens ends neither at eos nor at max_len, which no decoding does: it ended too soon."""
    return bool(tokens) and tokens[-1] != eos and len(tokens) < max_len


def _ended_too_soon(tokens, score, want, decoder, bos):
    """A beam's answer, shorter and less likely than want: want's start of the same length already beat it
    (scores only fall as a sequence grows), so a likelier sequence was within reach when it finished. Three
    ways lead there, and the result cannot tell them apart: all are named."""
    start = want[:len(tokens)]
    return (f"your sequence {tokens} (log-probability {score:.4f}) ends after {len(tokens)} token"
            f"{'s' if len(tokens) > 1 else ''}, when {start}, the start of the best sequence {want}, already scored "
            f"{_log_likelihood(decoder, bos, start):.4f} (and scores only fall as a sequence grows): the loop stopped "
            f"too early (stop only when width hypotheses are finished, when no live one can still beat the best "
            f"finished, or after max_len steps), or that start was pruned (keep the width - len(finished) highest "
            f"scores: mind the sign of the sort key), or another finished hypothesis was returned instead of the one "
            f"with the highest score.")


def _decoding_hints(tokens, score, want, want_score, decoder, bos, eos, max_len, greedy=None):
    hints = []
    if tokens == [bos] + want or (tokens and tokens[0] == bos and tokens[1:] == want[:len(tokens) - 1]):
        hints.append("the output starts after bos: do not include bos itself.")
    elif want and want[-1] == eos and tokens == want[:-1]:
        hints.append("eos is missing from the end of the output: the output ends with eos; keep eos as its last token.")
    elif len(tokens) > max_len:
        hints.append(f"at most max_len = {max_len} tokens: the loop must stop after max_len steps, one token each.")
    elif eos in tokens[:-1]:
        hints.append("the loop must stop as soon as eos is chosen (its condition tests for eos): nothing follows it.")
    elif tokens and len(tokens) < len(want) and tokens == want[-len(tokens):] and np.isclose(score, want_score):
        hints.append(f"the score is the right one, but the tokens are only the last {len(tokens)} of {want}: the "
                     f"tokens before them are missing; a finished hypothesis keeps its whole sequence, its parent's "
                     f"tokens + [token].")
    elif not tokens:
        hints.append("it returns no tokens: the loop never ran a step (its condition is false from the start), or "
                     "the chosen tokens are never appended (missing).")
    elif _stopped_early(tokens, eos, max_len):
        hints.append(f"it stops after {len(tokens)} tokens, neither at eos nor at max_len = {max_len}: the loop "
                     f"ends too soon (look at its range or its condition).")
    elif (greedy is not None and tokens == greedy[0] and np.isclose(score, greedy[1]) and want != greedy[0]
          and decoder.log_probs.ndim == 2):
        # one hypothesis kept per step: by design (greedy's argmax) or because the number kept is computed wrong
        hints.append("this is greedy decoding's answer, as if only one hypothesis were kept at each step: keep the "
                     "width - len(finished) best extensions of all kept hypotheses (scores summed along each "
                     "hypothesis), not only the best one; if you meant to, check how that number is computed (a term "
                     "or an operator of width - len(finished) missing or replaced).")
    if greedy is None and tokens != want and not hints and _fed_reading(tokens, decoder, bos):
        hints.append(_fed_reading(tokens, decoder, bos) + ".")
    if greedy is not None and decoder.log_probs.ndim == 3 and tokens != want:
        hints.append("on this decoder the next token depends on the state: each kept hypothesis must carry on "
                     "the state its own parent's step returned (new_state[parents]), in the order the beam keeps them.")
    if tokens == want and not np.isclose(score, want_score):
        hints.append(_score_reading(score, tokens, decoder, bos) or
                     "the tokens are right but the score is not: it is the sum of the chosen tokens' "
                     "log-probabilities, log_probs[b, token] at each step (not probabilities, not a mean).")
    elif tokens != want and not np.isclose(score, _log_likelihood(decoder, bos, tokens)) and \
            _score_reading(score, tokens, decoder, bos):
        hints.append("for the tokens it returns, " + _score_reading(score, tokens, decoder, bos) + ".")
    elif tokens != want and np.isclose(score, _log_likelihood(decoder, bos, tokens)) and score < want_score:
        hints.append(_ended_too_soon(tokens, score, want, decoder, bos) if greedy is not None and
                     len(tokens) < len(want) else
                     f"your sequence is a real one, but less likely than {want} (log-probability {want_score:.4f}).")
    return hints


def _check_decoding(name, call, reference, seed, width=None):
    for what, decoder, bos, max_len, *other_eos in _cases(seed):
        eos = other_eos[0] if other_eos else EOS
        args = (decoder, decoder.start(bos), bos, eos, max_len) + ((width,) if width else ())
        tokens, score = _decoded(name, LESSON.call(name, call, *args, callbacks=(decoder.__call__,)))
        want, want_score = reference(*args)
        if tokens != want or not np.isclose(score, want_score, rtol=1e-9, atol=1e-12):
            greedy = decoding.greedy_decode(*args[:5]) if width else None
            hints = _decoding_hints(tokens, score, want, want_score, decoder, bos, eos, max_len, greedy)
            core.fail(name, [(f"on {what}" + (f", width {width}" if width else "") + f": expected tokens {want} "
                              f"(log-probability {want_score:.6g}), got {tokens} ({score:.6g})", hints)])


def check_greedy_decode(fn, seed=0):
    """Check greedy_decode(step, state, bos, eos, max_len) -> (tokens, log_prob) on table decoders."""
    __tracebackhide__ = True
    _check_decoding("greedy_decode", fn, decoding.greedy_decode, seed)
    core.passed("greedy_decode", " (6 decoders, the designed cases among them)")


def check_beam_search(fn, widths=(2, 1, 3), seed=0):
    """Check beam_search(step, state, bos, eos, max_len, width) -> (tokens, log_prob) on table decoders:
    on the designed case width 2 finds a likelier sequence than greedy, and width 1 is greedy."""
    __tracebackhide__ = True
    name = "beam_search"
    for width in widths:
        _check_decoding(name, fn, decoding.beam_search, seed, width)
    trap = decoding.TableDecoder(TRAP)
    beam = decoding.beam_search(trap, trap.start(3), 3, EOS, 5, 2)
    greedy = decoding.greedy_decode(trap, trap.start(3), 3, EOS, 5)
    core.passed(name, f" (widths {', '.join(map(str, widths))}; on the designed case width 2 finds {beam[0]}, "
                      f"log-probability {beam[1]:.3f}, where greedy finds {greedy[0]}, {greedy[1]:.3f})")
