"""rnnlib.grading: correct work passes, each well-known mistake fails with the message that names it."""
import inspect
import numpy as np
import pytest

from rnnlib import grading, layers, losses, rnn
from rnnlib.grading import GradingFailure, bptt, core

from conftest import as_student, fails


# Independent, student-style solutions (they must not call rnnlib, or the checks reject them).
def step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, b, next_h)


def forward(x, h0, Wx, Wh, b):
    h, cache, prev = np.zeros((x.shape[0], x.shape[1], Wh.shape[0])), [], h0
    for t in range(x.shape[1]):
        prev, c = step_forward(x[:, t], prev, Wx, Wh, b)
        h[:, t] = prev
        cache.append(c)
    return h, cache


def affine_forward(h, V, c):
    return h @ V + c, (h, V, c)


def softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z, axis=-1):
    s = z - z.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def loss_fn(x, y, mask=None):
    N, T, V = x.shape
    m = np.ones((N, T)) if mask is None else mask
    lp = log_softmax(x)
    loss = -(np.take_along_axis(lp, y[..., None], -1)[..., 0] * m).sum() / N
    dx = np.exp(lp) - np.eye(V)[y]
    return loss, dx * m[..., None] / N


def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f()
        x[i] = old - h
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, b, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def backward(dh, cache):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0][0].shape[1]))
    dWx, dWh, db = np.zeros_like(cache[0][2]), np.zeros_like(cache[0][3]), np.zeros_like(cache[0][4])
    dprev = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dprev, gx, gh, gb = step_backward(dh[:, t] + dprev, cache[t])
        dWx, dWh, db = dWx + gx, dWh + gh, db + gb
    return dx, dprev, dWx, dWh, db


def affine_backward(dout, cache):
    h, V, c = cache
    return dout @ V.T, np.einsum("nth,ntm->hm", h, dout), dout.sum(axis=(0, 1))


CORRECT = [
    (grading.check_rnn_step_forward, step_forward, [{}, {"N": 1, "D": 3, "H": 7, "seed": 4}]),
    (grading.check_rnn_forward, forward, [{}, {"N": 1, "T": 1, "D": 3, "H": 2, "seed": 5}, {"T": 12}]),
    (grading.check_temporal_affine_forward, affine_forward, [{}, {"N": 1, "T": 1, "H": 2, "M": 9}]),
    (grading.check_softmax, softmax, [{}, {"scale": 1e4}, {"shape": (7,)}, {"shape": (2, 3, 4), "scale": 1e3}]),
    (grading.check_log_softmax, log_softmax, [{}, {"scale": 1e4}, {"shape": (2, 3, 4)}]),
    (grading.check_temporal_softmax_loss, loss_fn, [{}, {"use_mask": True}, {"N": 1, "T": 1, "scale": 1e3}]),
    (grading.check_numerical_gradient, numerical_gradient, [{}, {"seed": 3}]),
    (grading.check_rnn_step_backward, step_backward, [{}, {"N": 1, "D": 2, "H": 3, "seed": 1}]),
    (grading.check_rnn_backward, backward, [{}, {"N": 1, "T": 1, "D": 4, "H": 2}, {"T": 30, "seed": 3}]),
    (grading.check_temporal_affine_backward, affine_backward, [{}, {"N": 1, "T": 1, "H": 3, "M": 2}]),
]


@pytest.mark.parametrize("check,fn,variants", CORRECT, ids=[c[0].__name__ for c in CORRECT])
def test_correct_solutions_pass_every_variant(check, fn, variants, capsys):
    for kwargs in variants:
        check(fn, **kwargs)
    out = capsys.readouterr().out
    assert out.count("all checks passed") == len(variants)



def variant(**kwargs):
    student = as_student(bptt._rnn_backward_variant, bptt._step_backward_variant, core.add_step_grads)
    return lambda dh, cache: student(dh, cache, **kwargs)


@pytest.mark.parametrize("kwargs,names,hint", [
    ({"accumulate": "overwrite"}, ["dWx", "dWh", "db"], "overwritten at every step"),
    ({"accumulate": "last_step"}, ["dWx", "dWh", "db"], "last time step only"),
    ({"carry": False}, ["dh0", "dWh"], "gradient flowing back from step t+1"),
    ({"order": "forward"}, ["dh0"], "time runs the wrong way"),
    ({"deriv": "prev_h"}, ["dWh"], "1 - next_h**2, not 1 - prev_h**2"),
    ({"transpose": False}, ["dh0"], "a transpose is missing"),
    ({"db": "mean"}, ["db"], "bias gradient is averaged"),
])
def test_bptt_mistakes_name_the_gradient_and_the_cause(kwargs, names, hint):
    message = fails(grading.check_rnn_backward, variant(**kwargs))
    for name in names:
        assert f"  {name}: relative error" in message
    assert "worst at index" in message and "numerical gradient" in message and "yours" in message
    assert "Likely cause: " in message and hint in message


def test_only_the_wrong_gradient_is_blamed():
    message = fails(grading.check_rnn_backward, variant(db="mean"))
    assert "correct: dx, dh0, dWx, dWh" in message and "1 problem found" in message


def test_wrong_shape_names_the_transpose():
    def bad(dnext_h, cache):
        dx, dprev, dWx, dWh, db = step_backward(dnext_h, cache)
        return dx, dprev, dWx.T, dWh, db
    assert "dWx has shape (6, 5), expected (5, 6). The sizes are right but in the wrong order" in \
        fails(grading.check_rnn_step_backward, bad)


def test_forward_mistakes_are_isolated_to_the_wrong_term():
    def no_bias(x, prev_h, Wx, Wh, b):
        return step_forward(x, prev_h, Wx, Wh, np.zeros_like(b))
    message = fails(grading.check_rnn_step_forward, no_bias)
    assert "CS231n's published test values" in message and "expected -0.314101" in message
    assert "the bias b is missing" in message and "only these terms" not in message   # one hint per problem

    def double_bias(x, prev_h, Wx, Wh, b):   # not a listed mistake: read from the input next_h implies
        return step_forward(x, prev_h, Wx, Wh, 2 * b)
    assert "inside the tanh of next_h: the bias b is counted twice" in fails(grading.check_rnn_step_forward, double_bias)

    def half_recurrent(x, prev_h, Wx, Wh, b):   # nothing explains it: the probe still finds the term
        return step_forward(x, prev_h, Wx, 0.5 * Wh, b)
    assert "only these terms are wrong: the recurrent term prev_h @ Wh (x = 0, b = 0)." in fails(
        grading.check_rnn_step_forward, half_recurrent)


@pytest.mark.parametrize("mistake,hint", [
    (lambda x, h0, Wx, Wh, b: forward(x, np.zeros_like(h0), Wx, Wh, b), "h0 is ignored"),
    (lambda x, h0, Wx, Wh, b: (np.concatenate([h0[:, None], forward(x, h0, Wx, Wh, b)[0][:, :-1]], 1),
                               forward(x, h0, Wx, Wh, b)[1]), "state *before* step t"),
])
def test_rnn_forward_mistakes(mistake, hint):
    assert hint in fails(grading.check_rnn_forward, mistake)


def test_rnn_forward_cache_must_be_the_contract():
    def reversed_cache(*args):
        h, cache = forward(*args)
        return h, cache[::-1]
    assert "the step caches are in reverse time order" in fails(grading.check_rnn_forward, reversed_cache)


def test_naive_softmax_overflow_is_explained_without_warnings(recwarn):
    def naive(z, axis=-1):
        return np.exp(z) / np.exp(z).sum(axis=axis, keepdims=True)
    grading.check_softmax(naive)                               # fine for small logits
    message = fails(grading.check_softmax, naive, scale=1e3)
    assert "inf / inf = nan: exp is taken of the raw logits" in message and "global" not in message
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_global_max_softmax_is_caught():
    def global_max(z, axis=-1):
        e = np.exp(z - z.max())
        return e / e.sum(axis=axis, keepdims=True)
    assert "the shift uses the largest logit of the whole array" in fails(grading.check_softmax, global_max, scale=20)


def test_log_of_softmax_is_named():
    def log_of_softmax(z, axis=-1):
        e = np.exp(z - z.max(axis=axis, keepdims=True))
        return np.log(e / e.sum(axis=axis, keepdims=True))
    grading.check_log_softmax(log_of_softmax)                  # fine for small logits
    message = fails(grading.check_log_softmax, log_of_softmax, scale=1e3)
    assert "-inf at index" in message and "this takes the log of softmax" in message


@pytest.mark.parametrize("mistake,hint", [
    (lambda x, y, mask=None: (loss_fn(x, y, mask)[0] / x.shape[1], loss_fn(x, y, mask)[1]), "averaged over N and T"),
    (lambda x, y, mask=None: (loss_fn(x, y, mask)[0], loss_fn(x, y, mask)[1] * x.shape[0]), "dx is not divided by N"),
    (lambda x, y, mask=None: loss_fn(x, y), "the mask is ignored"),
])
def test_loss_mistakes(mistake, hint):
    assert hint in fails(grading.check_temporal_softmax_loss, mistake, use_mask=True)


def test_one_sided_numerical_gradient_is_explained():
    def one_sided(f, x, h=1e-5):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            base = f()
            x[i] += h
            grad[i] = (f() - base) / h
            x[i] -= h
        return grad
    message = fails(grading.check_numerical_gradient, one_sided)
    assert "centred" in message


def test_numerical_gradient_must_restore_x():
    def forgetful(f, x, h=1e-5):
        g = numerical_gradient(f, x, h)
        x += 1.0
        return g
    assert "x was not restored" in fails(grading.check_numerical_gradient, forgetful)


@pytest.mark.parametrize("check,reference", [
    (grading.check_rnn_backward, rnn.rnn_backward),
    (grading.check_rnn_step_forward, rnn.rnn_step_forward),
    (grading.check_temporal_affine_backward, layers.temporal_affine_backward),
    (grading.check_softmax, losses.softmax),
])
def test_delegating_to_rnnlib_earns_nothing(check, reference):
    def delegate(*args, **kwargs):
        return reference(*args, **kwargs)
    assert "runs rnnlib's reference implementation" in fails(check, delegate)


def test_partial_delegation_inside_own_loop_is_caught():
    def uses_reference_step(dh, cache):
        N, T, H = dh.shape
        dprev = np.zeros((N, H))
        for t in reversed(range(T)):
            grads = rnn.rnn_step_backward(dh[:, t] + dprev, rnn.StepCache(*cache[t]))
            dprev = grads[1]
        return backward(dh, cache)
    assert "(rnn_step_backward)" in fails(grading.check_rnn_backward, uses_reference_step)


def test_unwritten_and_crashing_functions_get_clear_messages():
    def unwritten(*args):
        raise NotImplementedError()
    assert "is not written yet" in fails(grading.check_rnn_backward, unwritten)

    def crashing(dnext_h, cache):
        return cache[0] @ cache[0]
    assert "raised ValueError" in fails(grading.check_rnn_step_backward, crashing)
    assert "expected it to return a tuple (dx, dprev_h, dWx, dWh, db), got ndarray" in \
        fails(grading.check_rnn_step_backward, lambda d, c: d)


def test_backward_that_writes_into_its_inputs_is_reported():
    def in_place(dh, cache):
        result = backward(dh, cache)
        dh *= 0
        return result
    assert "modified its input dh." in fails(grading.check_rnn_backward, in_place)   # named as the student named it

    def scribbles_on_every_cache(dh, cache):
        result = backward(dh, cache)
        for step in cache:
            step.x[...] = 0
        return result
    message = fails(grading.check_rnn_backward, scribbles_on_every_cache)
    assert message.count("must not write") == 1 and "cache[0].x, cache[1].x, cache[2].x, cache[3].x and 6 more" in message


def test_notebook_rendering_shows_the_message_not_the_test_source():
    """IPython renders GradingFailure by _render_traceback_: no cell source, so no hidden tests."""
    def crashing(z, axis=-1):
        return z @ np.ones((2, 2))
    with pytest.raises(GradingFailure) as e:
        grading.check_softmax(crashing)
    lines = e.value._render_traceback_()
    assert lines[0].startswith("GradingFailure: softmax raised ValueError")
    assert any("crashing, line" in line and "np.ones((2, 2))" in line for line in lines)
    where = lines[lines.index("Where it happened (most recent call last):") + 1:]
    assert len(where) == 1 and where[0].startswith("  crashing, line"), "only the student's own frames"


def test_grading_helpers_are_reference_code_too():
    """grading's private variants compute correct gradients by default: calling them is delegation."""
    assert "reference implementation" in fails(grading.check_rnn_backward,
                                                lambda dh, cache: bptt._rnn_backward_variant(dh, cache))


@pytest.mark.parametrize("module", grading.MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_each_lesson_module_declares_its_exercises_checks_and_references(module):
    lesson = module.LESSON
    checks = {name for name in vars(module) if name.startswith("check_")}
    assert checks == {f"check_{exercise}" for exercise in lesson.exercises}
    # from rnnlib.grading import ...: the module's check, which the package wraps (core.results_only)
    assert all(inspect.unwrap(getattr(grading, name)) is getattr(module, name) for name in checks)
    for reference in lesson.references:
        assert callable(core.resolve(reference)), reference
    assert lesson.forbidden, "no reference code to watch for"
