"""The character language model: truncated-BPTT batches, Adagrad, sampling with temperature."""
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
    def materialize(*args):   # a generator runs only when iterated: iterate inside _call's watch
        return list(fn(*args))
    got = LESSON.call(name, materialize, data.copy(), batch_size, seq_len, callbacks=(materialize,))
    expected = list(reference(data, batch_size, seq_len))
    if len(got) != len(expected):
        seg = L // batch_size
        raise GradingFailure(f"{name}: yielded {len(got)} batches for len(data) = {L}, batch_size = {batch_size}, "
                             f"seq_len = {seq_len}; expected {len(expected)}: each row reads its own segment of "
                             f"{seg} tokens, and targets need one token more, so (seg - 1) // seq_len batches.")
    for k, ((x, y), (ex, ey)) in enumerate(zip(got, expected)):
        for what, arr, ref in (("x", x, ex), ("y", y, ey)):
            arr = core.as_array(name, f"{what} of batch {k}", np.asarray(arr), ref.shape)
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
                core.fail(name, [(f"batch {k}, {what} row {row}: expected {ref[row].tolist()}, got {arr[row].tolist()} "
                              f"(data[i] = 3 i mod 1000 here, so each value tells its position)", hints)])
    core.passed(name)


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
        LESSON.call(name, fn, mine_p, grads, mine_c, 0.1)
        for k, g in grads.items():
            cache[k] += g * g
            params[k] -= 0.1 * g / (np.sqrt(cache[k]) + 1e-8)
    if any(mine_p[k] is not arrays["p", k] or mine_c[k] is not arrays["c", k] for k in params):
        raise GradingFailure(f"{name}: replaced arrays in params or cache; update them in place (+=, -=).")
    problems = []
    for k in params:
        line = core.mismatch(f"cache[{k!r}] after two updates", mine_c[k], cache[k])
        if line:
            problems.append((line, ["the cache accumulates squared gradients: cache[k] += g * g (it is never reset)."]))
        line = core.mismatch(f"params[{k!r}] after two updates", mine_p[k], params[k], tol=1e-6)
        if line:
            problems.append((line, ["the step is lr * g / (sqrt(cache) + eps), using the cache *after* adding g * g."]))
    if problems:
        core.fail(name, problems)
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
    greedy = LESSON.call(name, fn, model, seed_ids, 12, temperature=1e-3, rng=np.random.default_rng(1))
    if not isinstance(greedy, list) or len(greedy) != 12:
        raise GradingFailure(f"{name}: should return a list of n = 12 ids, got {type(greedy).__name__}"
                             + (f" of length {len(greedy)}" if hasattr(greedy, "__len__") else "") + ".")
    expected = model.sample(seed_ids, 12, temperature=1e-3, rng=np.random.default_rng(1))
    if [int(i) for i in greedy] != expected:
        core.fail(name, [(f"at temperature 0.001 (almost argmax) expected {expected}, got {[int(i) for i in greedy]}",
                      ["feed every seed id through the network first, carrying the hidden state, and sample the "
                       "first new id from the scores after the last seed id; then feed each sampled id back in."])])
    flat = _state_free_model()
    for temperature in (1.0, 2.5):
        draws = LESSON.call(name, fn, flat, [0], 4000, temperature=temperature, rng=np.random.default_rng(seed))
        freq = np.bincount(np.asarray(draws, dtype=int), minlength=6) / 4000
        want = losses.softmax(flat.params["c"] / temperature)
        if np.abs(freq - want).max() > 0.035:
            hints = (["scores must be divided by the temperature before the softmax: p = softmax(scores / T)."]
                     if np.abs(freq - losses.softmax(flat.params["c"])).max() < 0.035 else [])
            core.fail(name, [(f"at temperature {temperature}, 4000 draws gave frequencies {np.round(freq, 3).tolist()}, "
                          f"expected about {np.round(want, 3).tolist()}", hints)])
    core.passed(name)
