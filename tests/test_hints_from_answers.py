"""Hints read from what a wrong answer is: each case edits the solution's answer cell as a student
might have written it, runs the exercise's whole test cell, and expects the message to name the cause."""
import importlib.util

import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location("feedback_mutants", ROOT / "benchmarks" / "feedback_mutants.py")
harness = importlib.util.module_from_spec(spec)
spec.loader.exec_module(harness)
EXERCISES = {e.name: e for e in harness.exercises()}

RECOMPUTE_LOSS = """    hs, ys = [np.zeros((N, Wh.shape[0]))], []
    for t in range(T):
        hs.append(sigmoid(x[:, t] @ Wx + hs[-1] @ Wh))
        ys.append(sigmoid(hs[-1] @ Wy))
    loss = 0.5 * sum(np.sum((ys[t] - y[:, t]) ** 2) for t in range(T)) / N
"""

CASES = [
    ("rnn_step_forward", "return next_h, cache", "return cache, next_h", "it returned (cache, next_h); the order is (next_h, cache)"),
    ("rnn_backward", "return dx, dh0, dWx, dWh, db", "return dx, dh0, dWh, dWx, db", "outputs returned in the wrong order"),
    ("rnn_backward", "dh[:, t] + dprev_h", "dh[:, t] + (dprev_h if t == T - 1 else 0)", "gradient flowing back from step t+1"),
    ("lstm_step_backward", "dc = dnext_c + dnext_h", "dc = dnext_h", "dprev_c: missing the cell state's own path, dnext_c * f"),
    ("gru_step_backward", "dah @ Wh.T + dnext_h * z", "dah @ Wh.T", "directly, through z * prev_h"),
    ("clip_grad_norm", "    if total > max_norm:\n        for g in grads.values():\n            g *= max_norm / total",
     "    for g in grads.values():\n        g *= max_norm / total", "rescaled although their global norm is below max_norm"),
    ("train_step", "    Wy -= lr * dWy\n", "    Wy -= lr * dWy\n" + RECOMPUTE_LOSS, "the loss returned is computed in the wrong order, after the update"),
    ("sample", "token = int(rng.choice(len(probs), p=probs / probs.sum()))", "token = int(np.argmax(probs))",
     "that is argmax (greedy decoding), not sampling"),
    ("sample", "p=probs / probs.sum()", "p=scores", "draws from a probability distribution"),
    ("adagrad_update", "np.sqrt(cache[k]) + eps", "np.sqrt(cache[k] + eps)", "is inside the square root, sqrt(cache + eps)"),
    ("int_to_bits", "return (np.asarray(n)[..., None] >> np.arange(width)) & 1",
     "return ((np.asarray(n)[..., None] >> np.arange(width)) & 1).tolist()", "should return a numpy array of ints, got list"),
    ("bits_to_int", "(1 << np.arange(bits.shape[-1]))", "(2.0 ** np.arange(bits.shape[-1]))", "got float64"),
    ("tbptt_batches", "yield data[idx], data[idx + 1]", "yield data[idx].tolist(), data[idx + 1].tolist()",
     "should be a numpy array of ints (token ids), got list"),
    ("tbptt_batches", "    for k in range((segment - 1) // seq_len):\n", "    k = 0\n    while True:\n",
     "the position never advances, so the generator never ends"),
    ("gru_step_forward", "x @ Wx + b, prev_h @ Wh", "x @ Wx, prev_h @ Wh", "inside the sigmoid of r: missing the bias b[0:5]"),
    ("gru_step_forward", "r, z = sigmoid(a[:, :H] + ah[:, :H])", "r, z = np.tanh(a[:, :H] + ah[:, :H])",
     "r uses tanh where it needs the sigmoid"),
    ("gru_step_forward", "sigmoid(a[:, H:2 * H] + ah[:, H:2 * H])", "sigmoid(a[:, H:2 * H] - ah[:, H:2 * H])",
     "the recurrent term prev_h @ Wh[:, 5:10] of gate z has the wrong sign"),
    ("gru_step_forward", "(1 - z) * n + z * prev_h", "(1 - z) * n", "missing the old state's share z * prev_h"),
    ("lstm_step_forward", "sigmoid(a[:, 2 * H:3 * H])", "np.tanh(a[:, 2 * H:3 * H])", "o uses tanh where it needs the sigmoid"),
    ("rnn_step_forward", "np.tanh(x @ Wx + prev_h @ Wh + b)", "np.tanh(x @ Wx + prev_h @ Wh + b + b)",
     "inside the tanh of next_h: the bias b is counted twice"),
    ("train_step", "(dy @ Wy.T + da_next @ Wh.T)", "(dy @ Wy.T - da_next @ Wh.T)",
     "the delta carried back from step t+1, da_next @ Wh.T has the wrong sign"),
    ("train_step", "* hs[t + 1] * (1 - hs[t + 1])", "* hs[t] * (1 - hs[t])",
     "it is taken of the state before the step, hs[t] instead of the step's own hs[t + 1]"),
    ("train_step", "(ys[t] - y[:, t]) / N * ys[t]", "(ys[t] + y[:, t]) / N * ys[t]",
     "the target y / N has the wrong sign"),
    ("train_step", "    Wx -= lr * dWx\n", "    Wx -= lr + dWx\n", "does not double when lr doubles"),
    ("train_step", "hs[-1] @ Wh))", "hs[-1] @ Wh.T))", "multiplied by Wh.T instead of Wh"),
    ("train_step", "loss = 0.5 * sum(", "loss = 0.5 + sum(", "an extra constant is added"),
    ("train_step", "dWy += hs[t + 1].T @ dy", "dWy += hs[t].T @ dy",
     "pairs the output deltas of steps t = 0 .. 3 with the hidden states hs[-, 1, 2, 3]"),
    ("log_softmax", "np.exp(shifted).sum(axis=axis, keepdims=True)", "np.exp(shifted).sum(axis=0, keepdims=True)",
     "their exps sum to 1 along axis 0 instead of axis -1"),
    ("temporal_softmax_loss", "loss = -(picked * mask).sum() / N", "loss = -(picked * mask).sum() / N + 1.0",
     "the loss is off by the same constant +1 on every input tried"),
    ("temporal_softmax_loss", "dx[np.arange(N)[:, None], np.arange(T), y] -= 1",
     "dx[np.arange(N)[:, None], np.arange(T), y] += 1", "the one-hot target's term -onehot(y) * mask / N has the wrong sign"),
    ("softmax", "np.exp(z - z.max(axis=axis, keepdims=True))", "np.exp(2 * z - z.max(axis=axis, keepdims=True))",
     "z was changed by more than subtracting one number per slice"),
    ("clip_grad_norm", "g *= max_norm / total", "g = g * (max_norm / total)", "not written into the dict's arrays in place"),
    ("rnn_step_forward", "np.tanh(x @ Wx + prev_h @ Wh + b)", "np.tanh((x @ Wx) * (prev_h @ Wh) + b)",
     "the result is what no input at all gives: that term is missing"),
    ("temporal_affine_forward", "out = h @ V + c", "out = h @ V / c", "the result is not a number in places"),
    ("temporal_affine_forward", "out = h @ V + c", "out = h @ V - c", "with only the bias c (h = 0), the result is minus"),
    ("jacobian_norms", "np.diag(1 - h[k + 1] ** 2)", "np.diag(1 + h[k + 1] ** 2)",
     "the error comes with h's values, which enter only through the tanh derivative"),
    ("jacobian_norms", "for k in range(T - 2, -1, -1):", "for k in range(T - 2, 0, -1):",
     "here norms[k] multiplies [0, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0] steps"),
    ("jacobian_norms", "norms[k] = np.linalg.norm(J, 2)", "norms[k] = np.linalg.norm(J)",
     "the Frobenius norm is taken instead of the spectral norm"),
    ("sample", 'h = np.tanh(p["W_embed"][token] @ p["Wx"] + h @ p["Wh"] + p["b"])',
     'h = np.tanh(p["W_embed"][token] @ p["Wx"] + h @ p["Wh"].T + p["b"])',
     "multiplies h by Wh.T instead of Wh (a transpose) while feeding the seed ids"),
    ("sample", 'scores = (h @ p["V"] + p["c"]) / temperature', 'scores = (h @ p["V"]) / temperature',
     "the scores' bias c is missing"),
    ("tbptt_batches", "idx = offsets + k * seq_len + np.arange(seq_len)", "idx = offsets + k + np.arange(seq_len)",
     "batch k starts 1 * k positions in, where it must be seq_len * k"),
    ("tbptt_batches", "yield data[idx], data[idx + 1]", "yield data[idx], data[idx + 2]",
     "y is shifted by 2 positions from x instead of by 1"),
    ("bits_to_int", "(1 << np.arange(bits.shape[-1]))", "(1 + np.arange(bits.shape[-1]))",
     "bit k counts as [1, 2, 3, 4] (k = 0 .. 3) instead of 2**k = [1, 2, 4, 8]"),
    ("int_to_bits", "return (np.asarray(n)[..., None] >> np.arange(width)) & 1",
     "return (np.asarray(n)[..., None] + np.arange(width)) & 1", "the shift n >> k or the mask & 1"),
    ("train_step", "dWy += hs[t + 1].T @ dy", "dWy += hs[max(t - 1, 0)].T @ dy",
     "Wy's update pairs the output deltas of steps t = 0 .. 3 with the hidden states hs[-, -, 1, 2]"),
    ("train_step", "* hs[t + 1] * (1 - hs[t + 1])", "* hs[t + 1] * (1 - hs[1])",
     "the sigmoid derivative's factor (1 - h): it is 1 - the first state, hs[1]"),
    ("train_step", "* hs[t + 1] * (1 - hs[t + 1])", "* hs[t + 1] * (1 - hs[t // 2])",
     "the sigmoid derivative's factor (1 - h) of steps 1 .. 3 is taken of hs[0, 1, 1]"),
    ("train_step", "    Wy -= lr * dWy\n", "    Wy -= lr\n", "the gradient is missing from its update"),
    ("train_step", "dWx += x[:, t].T @ da", "dWx += x[:, t].T @ dy", "its gradient has one column, broadcast"),
    ("adagrad_update", "cache[k] += grads[k] * grads[k]", "cache[k] += grads[k] + grads[k]",
     "an update adds 2 times the gradient itself to the cache: the square is missing"),
    ("numerical_gradient", "grad[i] = (plus - minus) / (2 * h)", "grad[i] = (plus - minus) / (2 * h) + 1.0",
     "the gradient is off by the same constant +1 on every entry"),
    ("tbptt_batches", "idx = offsets + k * seq_len + np.arange(seq_len)", "idx = offsets - k * seq_len + np.arange(seq_len)",
     "batch k starts -5 * k positions in"),
    ("train_step", "dy = (ys[t] - y[:, t]) / N * ys[t] * (1 - ys[t])", "dy = (ys[t] - y[:, t]) / N + ys[t] * (1 - ys[t])",
     "the error (yhat - y) / N and the sigmoid derivative yhat * (1 - yhat) are added instead of multiplied"),
    ("softmax", "return e / e.sum(axis=axis, keepdims=True)", "return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)",
     "has dtype float32, expected float64"),
]


@pytest.mark.parametrize("name, old, new, cause", CASES, ids=[f"{c[0]}-{c[3][:30]}" for c in CASES])
def test_the_message_names_the_cause(name, old, new, cause):
    exercise = EXERCISES[name]
    assert old in exercise.source, (name, old)
    message = harness.run_calls(exercise, exercise.source.replace(old, new, 1), exercise.visible + exercise.hidden)
    assert message and cause in message, message
