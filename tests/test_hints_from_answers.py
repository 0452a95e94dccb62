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
    ("lstm_step_backward", "dc = dnext_c + dnext_h", "dc = dnext_h", "dc, the cell state's total gradient (da's blocks of "
     "gates i, f and g and dprev_c are computed from it), is wrong: missing dnext_c"),
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
     "pairs the output deltas of steps t = 0 .. 3 with the hidden states hs[?, 1, 2, 3] (? where no single state fits)"),
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
    # where numerical_gradient evaluated f, recorded by the objective it is given
    ("numerical_gradient", "x[i] = old + h\n", "x[i] = h * x[i]\n",
     "the first evaluation of f sees x[i] = x[i] * h instead of x[i] + h: x[i] is scaled by h"),
    ("numerical_gradient", "x[i] = old - h\n", "x[i] = h + old\n",
     "both evaluations of f see x[i] = x[i] + h: f at x[i] - h is never evaluated"),
    ("numerical_gradient", "grad[i] = (plus - minus) / (2 * h)", "grad[i] = (plus - minus) // h // 2",
     "the gradient is (f(x+h) - f(x-h)) // (2h)"),
    # softmax's two quantities, the shifted exps and their sum, combined by another operation than /
    ("softmax", "return e / e.sum(axis=axis, keepdims=True)", "return e + np.sum(e, axis=axis, keepdims=True)",
     "every value is e + s"),
    ("softmax", "return e / e.sum(axis=axis, keepdims=True)", "return e",
     "every value is e, with e = exp(z - max) and s, their sum along the axis: the exps are not divided by their sum"),
    ("log_softmax", "return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))",
     "lse = np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))\n    return lse * shifted",
     "every value is s * lse"),
    # nan out of rnn_backward: from which step backward on (a carried gradient normalised by its norm, 0 at T-1)
    ("rnn_backward", "dh[:, t] + dprev_h", "dh[:, t] + dprev_h / np.linalg.norm(dprev_h)",
     "It starts at t = T-1, the first step backward, where the gradient carried back from step t+1 is still zeros"),
    # rnn_backward is linear in dh: how many times each step's dh[:, t] entered, read from the gradients
    ("rnn_backward", "rnn_step_backward(dh[:, t] + dprev_h, cache[t])",
     "rnn_step_backward(dh[:, t] * (2 if t == 0 else 1) + dprev_h, cache[t])",
     "dh[:, 0] enters step 0 twice (an extra copy)"),
    ("numerical_gradient", "x[i] = old - h\n", "x[i] = -np.float64(h)\n",
     "the second evaluation of f sees x[i] = -h instead of x[i] - h: x[i] is set to -h, its old value dropped"),
    ("numerical_gradient", "for i in np.ndindex(x.shape):\n        old = x[i]",
     "for i in range(x.shape[0]):\n        old = x[i].copy()",
     "f is evaluated with 4 entries of x moved at once (the whole row x[0] of the (3, 4) x)"),
    # the loss read over a few more score arrays: an operation between the summed loss and N, a rounding per step
    ("temporal_softmax_loss", "loss = -(picked * mask).sum() / N", "loss = float(np.floor_divide(-(picked * mask).sum(), N))",
     "the loss is the summed loss floor-divided by N (// N)"),
    ("temporal_softmax_loss", "loss = -(picked * mask).sum() / N", "loss = -np.floor(picked * mask).sum() / N",
     "each step's log-probability is rounded down to a whole number before the sum"),
    ("softmax", "return e / e.sum(axis=axis, keepdims=True)", "return z / np.sum(e, axis=axis, keepdims=True)",
     "every value is z / s"),
    ("temporal_softmax_loss", "dx[np.arange(N)[:, None], np.arange(T), y] -= 1",
     "np.put_along_axis(dx, y[..., None], 1.0, axis=-1)",
     "dx is wrong only at the target classes y, where it is 1 / N: the targets' entries are set to 1"),
    # lesson 01: the output has the bias's shape, holds h0 at every step, or holds nan
    ("rnn_step_forward", "np.tanh(x @ Wx + prev_h @ Wh + b)", "np.tanh((x @ Wx + prev_h @ Wh).sum(axis=0) + b)",
     "(4,) is the shape of the bias b alone"),
    ("rnn_step_forward", "np.tanh(x @ Wx + prev_h @ Wh + b)", "np.tanh(x @ Wx + prev_h @ Wh + np.sqrt(b))",
     "next_h holds nan (not a number)"),
    ("rnn_forward", "h[:, t] = prev_h", "h[:, t] = h0.copy()", "h[:, t] holds h0 at every step"),
    # TimeRNN: an attribute of another array's shape holds the wrong array
    ("TimeRNN", 'self.params = {"Wx": Wx, "Wh": Wh, "b": b}', 'self.params = dict(zip(("Wx", "Wh", "b"), (Wh, Wx, b)))',
     "params['Wx'] has shape (4, 4), expected (3, 4). It is the shape of Wh: the wrong array is stored there"),
    ("TimeRNN", "dx, self.dh0, dWx, dWh, db = rnn_backward(dhs, self.cache)",
     "dx, dh0, dWx, dWh, db = rnn_backward(dhs, self.cache)\n        self.dh0 = dx[:, -1]",
     "It is the shape of a step's input x[:, t] or its gradient dx[:, t], (N, D)"),
    ("temporal_affine_forward", "out = h @ V + c", "out = (h.transpose(1, 0, 2) @ V + c).reshape(h.shape[0], h.shape[1], -1)",
     "a reshape mixes the batch and time axes"),
    ("temporal_affine_forward", "out = h @ V + c", "out = (h @ V + c)[::-1]",
     "every score vector is right but sits at another position (out[0, 0] holds the scores of h[1, 0]): look at how"),
    ("sample", 'for token in seed_ids[:-1]:\n        h = np.tanh(p["W_embed"][token] @ p["Wx"] + h @ p["Wh"] + p["b"])',
     'for token in seed_ids[:-1]:\n        h = np.tanh(p["b"] + p["W_embed"][token] @ p["Wx"] * h @ p["Wh"])',
     "joined to the recurrent term by * instead of +: as * and @ bind alike"),
    ("train_step", "hs.append(sigmoid(x[:, t] @ Wx + hs[-1] @ Wh))", "hs.append(sigmoid(np.dot(hs[-1] * (x[:, t] @ Wx), Wh)))",
     "((x[:, t] @ Wx) * hs[-1]) @ Wh"),
    ("sample", "token = int(rng.choice(len(probs), p=probs / probs.sum()))\n        out.append(token)",
     "out.append(int(rng.choice(len(probs), p=probs / probs.sum())))", "the id drawn is not fed back in"),
    ("sample", 'scores = (h @ p["V"] + p["c"]) / temperature', 'scores = p["c"] / temperature',
     "the scores are c alone: their term h @ V is missing"),
    ("tbptt_batches", "idx = offsets + k * seq_len + np.arange(seq_len)", "idx = segment + k * seq_len + np.arange(seq_len)",
     "x is one row of seq_len tokens, where batch_size = 4 rows are needed: the row offsets"),
    ("tbptt_batches", "yield data[idx], data[idx + 1]", "yield data[idx], data[k + 1]", "y is a single token"),
    ("bits_to_int", "(1 << np.arange(bits.shape[-1]))", "(1 << np.arange(len(bits)))",
     "one power per bit is needed, 8 of them, but there are 7, the length of another axis of bits (7, 8)"),
    ("bits_to_int", "return (bits * (1 << np.arange(bits.shape[-1]))).sum(axis=-1)",
     "return np.sum(bits * (1 << np.arange(bits.shape[-1])), axis=1)",
     "an axis or an index into bits.shape that they do not have is used"),
    ("bits_to_int", "(1 << np.arange(bits.shape[-1]))", "(2 ** np.arange(bits.shape[-1]) / np.arange(bits.shape[-1]))",
     "the result is not finite: some bit's weight is infinite"),
    ("bits_to_int", "return (bits * (1 << np.arange(bits.shape[-1]))).sum(axis=-1)",
     "return sum(1 << k for k in range(bits.shape[-1]))", "the bits are missing from the sum"),
    ("tbptt_batches", "idx = offsets + k * seq_len + np.arange(seq_len)",
     "idx = offsets + (k * seq_len) % 20 + np.arange(seq_len)", "start [0, 5, 10, 15, 0, 5, 10, 15, 0] positions into each row"),
    ("tbptt_batches", "offsets = np.arange(batch_size)[:, None] * segment",
     "offsets = np.minimum(np.arange(batch_size), 2)[:, None] * segment",
     "rows i = 0 .. 3 start at positions [0, 50, 100, 100]"),
    ("adagrad_update", "cache[k] += grads[k] * grads[k]", "cache[k] += grads[k] ** 0.5 * abs(grads[k]) ** 1.5",
     "NaN exactly where the gradient is negative"),
    ("sample", "for token in seed_ids[:-1]:", "for token in seed_ids[1:]:",
     "the ids fed to the network before the first draw are [4, 2, 2], not the seed ids [1, 4, 2] in order"),
    ("sample", 'scores = (h @ p["V"] + p["c"]) / temperature', 'scores = (h @ p["V"] + p["c"] / 2) / temperature',
     "there c reaches the softmax scaled by about 0.5"),
    ("sample", "    for _ in range(n):\n", "    for _ in range(1, n):\n", "11 ids were appended, not n = 12"),
    ("tbptt_batches", "idx = offsets + k * seq_len + np.arange(seq_len)", "idx = offsets + k + np.arange(seq_len)",
     "batch k starts 1 * k positions in, where it must be seq_len * k"),
    ("tbptt_batches", "yield data[idx], data[idx + 1]", "yield data[idx], data[idx + 2]",
     "y is shifted by 2 positions from x instead of by 1"),
    ("bits_to_int", "(1 << np.arange(bits.shape[-1]))", "(1 + np.arange(bits.shape[-1]))",
     "bit k counts as [1, 2, 3, 4] (k = 0 .. 3) instead of 2**k = [1, 2, 4, 8]"),
    ("int_to_bits", "return (np.asarray(n)[..., None] >> np.arange(width)) & 1",
     "return (np.asarray(n)[..., None] + np.arange(width)) & 1", "the shift n >> k or the mask & 1"),
    ("train_step", "dWy += hs[t + 1].T @ dy", "dWy += hs[max(t - 1, 0)].T @ dy",
     "Wy's update pairs the output deltas of steps t = 0 .. 3 with the hidden states hs[?, ?, 1, 2] (? where no single state fits)"),
    ("train_step", "* hs[t + 1] * (1 - hs[t + 1])", "* hs[t + 1] * (1 - hs[1])",
     "the sigmoid derivative's factor (1 - h): it is 1 - the first state, hs[1]"),
    ("train_step", "* hs[t + 1] * (1 - hs[t + 1])", "* hs[t + 1] * (1 - hs[t // 2])",
     "the sigmoid derivative's factor (1 - h) of steps 1 .. 3 is taken of hs[0, 1, 1]"),
    ("train_step", "    Wy -= lr * dWy\n", "    Wy -= lr\n", "the gradient is missing from its update"),
    ("train_step", "* hs[t + 1] * (1 - hs[t + 1])", "* hs[max(t - 1, 0)] * (1 - hs[t + 1])",
     "the sigmoid derivative's factor h of steps 1 .. 3 is taken of hs[0, 1, 2]"),     # hs[0], the zeros, read back
    ("train_step", "* hs[t + 1] * (1 - hs[t + 1])", "* hs[t + 1] * hs[t + 1]",
     "it is h itself: the 1 - of (1 - h) is missing"),
    ("train_step", "(ys[t] - y[:, t]) / N * ys[t] * (1 - ys[t])", "(ys[t] - y[:, t]) / N / (1 - ys[t]) * ys[t]",
     "the delta is divided by (1 - yhat) instead of multiplied by it"),
    ("train_step", "np.sum((ys[t] - y[:, t]) ** 2)", "np.sum(ys[t] - y[:, t])",
     "linear in the errors, so the square of each error, (yhat - y) ** 2, is missing"),
    ("train_step", "for t in range(T)) / N", "for t in range(T)) ** 2 / N", "S is raised to the power 2"),
    ("train_step", "ys.append(sigmoid(hs[-1] @ Wy))", "ys.append(sigmoid(hs[1] @ Wy))",
     "every step reads the first state, hs[1], for its output"),
    ("train_step", "    Wh -= lr * dWh\n", "    Wh -= lr / dWh\n", "params['Wh'] changes by lr divided by its gradient"),
    ("train_step", "dWx += x[:, t].T @ da", "dWx += x[:, t].T @ dy", "its gradient has one column, broadcast"),
    ("adagrad_update", "cache[k] += grads[k] * grads[k]", "cache[k] += grads[k] + grads[k]",
     "an update adds 2 times the gradient itself to the cache: the square is missing"),
    ("numerical_gradient", "grad[i] = (plus - minus) / (2 * h)", "grad[i] = (plus - minus) / (2 * h) + 1.0",
     "the gradient is off by the same constant +1 on every entry"),
    ("tbptt_batches", "idx = offsets + k * seq_len + np.arange(seq_len)", "idx = offsets - k * seq_len + np.arange(seq_len)",
     "batch k starts -5 * k positions in"),
    ("train_step", "dy = (ys[t] - y[:, t]) / N * ys[t] * (1 - ys[t])", "dy = (ys[t] - y[:, t]) / N + ys[t] * (1 - ys[t])",
     "the error (yhat - y) / N and the sigmoid derivative yhat * (1 - yhat) are added instead of multiplied"),
    # lesson 07's backwards: da recovered from dWx = x.T @ da and read block by block as a product of factors
    ("lstm_step_backward", "dc * prev_c * f * (1 - f)", "dc * prev_c * (1 - f)",
     "da's block of gate f (columns 5:10 of dWx, dWh and db): missing the factor f of the sigmoid's derivative f * (1 - f)"),
    ("lstm_step_backward", "dc * i * (1 - g ** 2)", "dc * i * (1 - g) ** 2",
     "da's block of gate g (columns 15:20 of dWx, dWh and db): tanh's derivative 1 - g**2 is wrong"),
    ("lstm_step_backward", "dnext_h * tanh_c * o * (1 - o)", "dnext_h * o * o * (1 - o)", "it uses o instead of tanh_c"),
    ("lstm_step_backward", "dprev_c = da @ Wx.T, da @ Wh.T, dc * f", "dprev_c = da @ Wx.T, da @ Wh.T, dc * o",
     "dprev_c (= dc * f): it uses o instead of f"),
    ("gru_step_backward", "da_n = dnext_h * (1 - z) * (1 - n ** 2)", "da_n = dnext_h * (1 - n ** 2)",
     "da's block of the candidate n (columns 10:15 of dWx and db): missing the candidate's share (1 - z)"),
    ("gru_step_backward", "da_r = da_n * hn", "da_r = dnext_h * hn",
     "da's block of gate r (columns 0:5 of dWx and db): missing the factors (1 - z) and (1 - n**2)"),
    ("lstm_step_backward", "dnext_h * tanh_c * o * (1 - o)", "dnext_h * tanh_c * o ** (1 - o)",
     "it computes dnext_h * tanh_c * o ** (1 - o) instead of the product dnext_h * tanh_c * o * (1 - o)"),
    ("gru_step_backward", "da_z = dnext_h * (prev_h - n)", "da_z = dnext_h * (prev_h / n)",
     "in the factor (prev_h - n), the - is a /: it computes (prev_h / n)"),
    ("gru_step_backward", "dah @ Wh.T + dnext_h * z", "dah @ Wh.T + dnext_h / z",
     "dprev_h: in the direct path dnext_h * z: it divides by z instead of multiplying by it"),
    ("gru_step_forward", "r, z = sigmoid(a[:, :H] + ah[:, :H])", "r, z = sigmoid(a[:, :H] * ah[:, :H])",
     "r: inside the sigmoid: (the input term x @ Wx[:, 0:5] of gate r + the bias b[0:5] of gate r) and (the recurrent "
     "term prev_h @ Wh[:, 0:5] of gate r) are multiplied instead of added"),
    ("gru_step_forward", "r, z = sigmoid(a[:, :H] + ah[:, :H])", "r, z = sigmoid(ah[:, :H])",
     "r: inside the sigmoid: missing the input term x @ Wx[:, 0:5] of gate r and the bias b[0:5] of gate r"),
    ("lstm_forward", "h[:, t] = prev_h", "h[:, t] = h0", "h holds h0 at every time step"),
    ("lstm_step_backward", "dc = dnext_c + dnext_h * o", "dc = dnext_c + dnext_h ** o",
     "hold nan (not a number): an operation with no real result happened on the way"),
    ("gru_step_forward", "next_h = (1 - z) * n + z * prev_h", "next_h = (1 - z) * n + z * prev_h ** z",
     "next_h holds nan (not a number): an operation with no real result happened on the way"),
    ("lstm_backward", "dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))",
     "dprev_h, dprev_c = np.zeros((N, H)), dh[:, -1].copy()",
     "an extra gradient enters the last step, t = 5, as its carried dprev_c (it is dh[:, -1])"),
    ("lstm_backward", "for t in reversed(range(T)):", "for t in reversed(range(T - 1)):",
     "the last step, t = 5, gets no gradient at all, as if it were skipped"),
    # lesson 07's forwards: the first wrong quantity read as a sum of products, inside its activation if it has one
    ("lstm_step_forward", "next_c = f * prev_c + i * g", "next_c = f * prev_c + g * g",
     "next_c: in the input path i * g: it uses g instead of i"),
    ("gru_step_forward", "next_h = (1 - z) * n + z * prev_h", "next_h = (1 + z) * n + z * prev_h",
     "in the factor (1 - z), z has the wrong sign"),
    ("gru_step_forward", "n = np.tanh(a[:, 2 * H:] + r * hn)", "n = np.tanh(a[:, 2 * H:] + r + hn)",
     "n: inside the tanh: in the reset recurrent term r * hn: it computes r + hn instead of the product r * hn"),
    ("lstm_step_forward", "a = x @ Wx + prev_h @ Wh + b", "a = (x @ Wx + prev_h @ Wh) * b",
     "i: inside the sigmoid: (the input term x @ Wx[:, 0:5] of gate i + the recurrent term prev_h @ Wh[:, 0:5] of gate i) "
     "and (the bias b[0:5] of gate i) are multiplied instead of added"),
    ("softmax", "return e / e.sum(axis=axis, keepdims=True)", "return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)",
     "has dtype float32, expected float64"),
    # lesson 08's attention: the weights read from the cache, calls without the mask or with large scores
    ("attention_forward", "scores = scores - scores.max(axis=-1, keepdims=True)", "scores = scores",
     "exp overflows: subtract each row's max score"),
    ("attention_forward", "scores, -np.inf)", "scores, np.inf)", "without a mask (mask=None) the context is right"),
    ("attention_forward", "scores = scores - scores.max(axis=-1, keepdims=True)",
     "scores = -scores.max(axis=-1, keepdims=True)", "the weights in the cache have shape (2, 4, 1), expected (2, 4, 4)"),
    ("attention_forward", "scores = scores - scores.max(axis=-1, keepdims=True)",
     "scores = scores * scores.max(axis=-1, keepdims=True)", "the nan comes with the padded steps"),
    ("attention_forward", "weights.sum(axis=-1, keepdims=True)", "weights.sum(axis=1, keepdims=True)",
     "the weights are normalised along axis 1, the decoder steps"),
    ("attention_forward", "scores.max(axis=-1, keepdims=True)", "scores.max(axis=1, keepdims=True)",
     "the max subtracted is taken along axis 1, the decoder steps"),
    ("attention_forward", 'scores = np.einsum("nth,nsh->nts", query, keys)', 'scores = 0 * np.einsum("nth,nsh->nts", query, keys)',
     "every real encoder step gets the same weight"),
    ("attention_forward", 'np.einsum("nth,nsh->nts", query, keys) / np.sqrt(H)', 'np.einsum("nth,nsh->nts", query, keys) * np.sqrt(H)',
     "the weights are a softmax of scores that are H times the right value"),
    ("attention_backward", 'dscores, keys) / np.sqrt(H)', 'dscores, keys) + np.sqrt(H)',
     "dquery is (dscores @ keys) + sqrt(H)"),
    ("attention_backward", "dkeys = dkeys + np.einsum", "dkeys = dkeys * np.einsum", "dkeys joins its two paths with *"),
    ("attention_backward", 'dscores, query) / np.sqrt(H)', 'dscores, dcontext) / np.sqrt(H)',
     "multiplies dscores.T by dcontext instead of query"),
    ("attention_backward", "(dweights * weights).sum(", "(dweights + weights).sum(",
     "the two are joined by + instead of multiplied"),
    ("attention_backward", "(dweights * weights).sum(", "dweights.sum(", "weights is missing from it"),
    ("attention_backward", "dweights - (dweights * weights)", "dweights + (dweights * weights)",
     "has the wrong sign"),
    # lesson 08's decoding: the score and the tokens read by replaying them on the decoder
    ("greedy_decode", "total += float(log_probs[0, last])", "total = float(log_probs[0, last])",
     "the score is the last token's log-probability alone"),
    ("greedy_decode", "step(np.array([last]), state)", "step(np.array([bos]), state)",
     "every token is the one most likely right after bos"),
    ("greedy_decode", "log_probs, state = step(np.array([last]), state)", "log_probs, _ = step(np.array([last]), state)",
     "every token is the one most likely given the initial state"),
    ("greedy_decode", "while len(tokens) < max_len", "while len(tokens) > max_len", "it returns no tokens"),
    ("beam_search", "(scores[:, None] + log_probs)", "(scores[:, None] - log_probs)", "the score is minus their log-likelihood"),
    ("beam_search", "if token == eos:", "if token != eos:", "neither at eos nor at max_len"),
    ("beam_search", "finished.append((hypotheses[parent] + [token],", "finished.append(([token],",
     "the tokens before them are missing"),
    ("beam_search", "(scores[:, None] + log_probs)", "(scores[:, None] + 0 * log_probs)", "the score is 0"),
    ("beam_search", "np.argsort(-total,", "np.argsort(total,", "the start of the best sequence [2, 0], already scored"),
    ("attention_backward", 'dkeys = dkeys + np.einsum("nts,nth->nsh", dscores, query) / np.sqrt(H)',
     'dkeys = dkeys + np.einsum("nts,nth->nsh", dscores, query)', "the path through the scores is not divided by sqrt(H)"),
]


@pytest.mark.parametrize("name, old, new, cause", CASES, ids=[f"{c[0]}-{c[3][:30]}" for c in CASES])
def test_the_message_names_the_cause(name, old, new, cause):
    exercise = EXERCISES[name]
    assert old in exercise.source, (name, old)
    message = harness.run_calls(exercise, exercise.source.replace(old, new, 1), exercise.visible + exercise.hidden)
    assert message and cause in message, message


def test_a_right_product_has_no_reading():
    import numpy as np
    from rnnlib.grading import core
    rng = np.random.default_rng(0)
    i, dc, g = 1 / (1 + np.exp(-rng.standard_normal((3, 5)))), rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    factors = [("dc", dc), ("g", g), ("i", i), ("(1 - i)", 1 - i)]
    derivative = [((2, 3), "the sigmoid's derivative i * (1 - i)", "i", i)]
    assert core.gate_product_reading(dc * g * i * (1 - i), factors, [("g", g)], derivative) is None
    assert "missing the factor g" in core.gate_product_reading(dc * i * (1 - i), factors, [], derivative)


@pytest.mark.parametrize("name", ["lstm_step_forward", "lstm_step_backward", "gru_step_forward", "gru_step_backward",
                                  "attention_forward", "attention_backward", "greedy_decode", "beam_search"])
def test_the_right_answer_gets_no_hint(name):
    exercise = EXERCISES[name]
    assert harness.run_calls(exercise, exercise.source, exercise.visible + exercise.hidden) is None


def test_a_quantity_read_back_from_its_uses_is_wrong_only_when_no_use_holds_the_right_one():
    import numpy as np
    from rnnlib.grading import core
    right = np.arange(1.0, 7.0).reshape(2, 3)
    assert core.agreed([2 * right, 2 * right, 2 * right], right) is not None       # every use: a wrong dc
    assert core.agreed([2 * right, 2 * right, right], right) is None                # a use holds the right one
    assert core.agreed([2 * right, 3 * right, 4 * right], right) is right           # no two agree


def test_lstm_blocks_scaled_one_by_one_while_dprev_c_is_right_name_no_wrong_dc():
    """Three gate blocks, each doubled, agree on a dc twice the right one, but dprev_c = dc * f holds
    the right dc: dc may be right and each block wrong, so the hint must not say that dc is wrong."""
    exercise = EXERCISES["lstm_step_backward"]
    old = "da = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),"
    new = "da = np.concatenate([2 * dc * g * i * (1 - i), 2 * dc * prev_c * f * (1 - f),"
    source = exercise.source.replace(old, new).replace("dc * i * (1 - g ** 2)]", "2 * dc * i * (1 - g ** 2)]")
    assert source.count("2 * dc") == 3
    message = harness.run_calls(exercise, source, exercise.visible)
    assert message and "dc, the cell state's total gradient" not in message, message


def test_the_readings_of_right_gradients_are_empty():
    """The readings that recover da (and dc) from what the backward returned find nothing to say
    about the reference's own gradients."""
    import numpy as np
    from rnnlib import gru, lstm
    from rnnlib.grading import lstm as checks
    rng = np.random.default_rng(5)
    cache = lstm.lstm_step_forward(*checks._lstm_step_inputs(3, 4, 5, 0))[-1]
    douts = (rng.standard_normal((3, 5)), rng.standard_normal((3, 5)))
    assert checks._lstm_step_reading(lstm.lstm_step_backward(*douts, cache), douts, cache) is None
    cache = gru.gru_step_forward(*checks._gru_step_inputs(3, 4, 5, 0))[-1]
    assert checks._gru_step_reading(gru.gru_step_backward(douts[0], cache), douts[:1], cache) is None


def test_the_readings_of_lessons_01_to_03_are_empty_for_right_results():
    import numpy as np
    from rnnlib import gradcheck, losses, rnn
    from rnnlib.grading import bptt, forward_pass, softmax_stability
    rng = np.random.default_rng(1)
    z = rng.standard_normal((4, 6))
    for name, fn in (("softmax", losses.softmax), ("log_softmax", losses.log_softmax)):
        assert softmax_stability._combination_hint(name, fn(z, axis=-1), z, -1) is None
    x0, h = rng.standard_normal(5), 1e-5
    objective = bptt._RecordingObjective(x0.copy(), "cube")
    right = gradcheck.numerical_gradient(objective, objective.x, h)
    assert bptt._move_hint(objective.points, x0, h) is None and bptt._several_moved(objective.points, x0) is None
    assert bptt._quotient_hint(right, gradcheck.SumOf(x0.copy(), "cube"), x0, h) is None
    inputs = forward_pass.seq_inputs(2, 6, 3, 4, 0)
    cache = rnn.rnn_forward(*inputs)[-1]
    dh = rng.standard_normal((2, 6, 4))
    assert bptt._upstream_counts(rnn.rnn_backward(dh, cache), dh, cache) is None
    scores = rng.standard_normal((2, 3, 5))
    assert forward_pass._positions_moved(scores, scores) is None
    y = rng.integers(5, size=(2, 3))
    dx = losses.temporal_softmax_loss(scores, y)[1]
    assert softmax_stability._target_entries_hint(dx, dx, np.eye(5)[y] > 0, 2) is None


@pytest.mark.parametrize("name", ["numerical_gradient", "rnn_backward", "softmax", "log_softmax", "temporal_softmax_loss",
                                  "rnn_step_forward", "rnn_forward", "temporal_affine_forward", "TimeRNN"])
def test_the_right_answers_of_lessons_01_to_03_pass(name):
    exercise = EXERCISES[name]
    assert harness.run_calls(exercise, exercise.source, exercise.visible + exercise.hidden) is None
