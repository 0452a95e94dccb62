"""Lesson 06's checks: correct work passes, known mistakes are named, delegation is rejected."""
import numpy as np

from rnnlib import data, grading, optim

from conftest import as_student, fails


def tbptt(data, batch_size, seq_len):
    seg = len(data) // batch_size
    for k in range((seg - 1) // seq_len):
        idx = np.arange(batch_size)[:, None] * seg + k * seq_len + np.arange(seq_len)
        yield data[idx], data[idx + 1]


def adagrad(params, grads, cache, lr, eps=1e-8):
    for k in params:
        cache[k] += grads[k] ** 2
        params[k] -= lr * grads[k] / (np.sqrt(cache[k]) + eps)


def sample(model, seed_ids, n, temperature=1.0, rng=None):
    p, h, out = model.params, np.zeros(model.params["Wh"].shape[0]), []
    for token in seed_ids[:-1]:
        h = np.tanh(p["W_embed"][token] @ p["Wx"] + h @ p["Wh"] + p["b"])
    token = seed_ids[-1]
    for _ in range(n):
        h = np.tanh(p["W_embed"][token] @ p["Wx"] + h @ p["Wh"] + p["b"])
        s = (h @ p["V"] + p["c"]) / temperature
        e = np.exp(s - s.max())
        token = int(rng.choice(len(e), p=e / e.sum()))
        out.append(token)
    return out



def test_correct_solutions_pass(capsys):
    grading.check_tbptt_batches(tbptt)
    grading.check_tbptt_batches(tbptt, L=1000, batch_size=2, seq_len=10)
    grading.check_adagrad_update(adagrad)
    grading.check_sample(sample)
    assert capsys.readouterr().out.count("all checks passed") == 4


def test_tbptt_mistakes():
    def contiguous_rows(data, batch_size, seq_len):     # rows side by side instead of offset segments
        for k in range((len(data) // batch_size - 1) // seq_len):
            idx = k * batch_size * seq_len + np.arange(batch_size)[:, None] * seq_len + np.arange(seq_len)
            yield data[idx], data[idx + 1]
    assert "row i must start at offset" in fails(grading.check_tbptt_batches, contiguous_rows)

    def restarting(data, batch_size, seq_len):
        first = next(tbptt(data, batch_size, seq_len))
        for _ in tbptt(data, batch_size, seq_len):
            yield first
    assert "continue each row" in fails(grading.check_tbptt_batches, restarting)


def test_adagrad_and_sample_mistakes():
    def no_history(params, grads, cache, lr, eps=1e-8):
        for k in params:
            cache[k][...] = grads[k] ** 2
            params[k] -= lr * grads[k] / (np.sqrt(cache[k]) + eps)
    assert "accumulate the squared gradients" in fails(grading.check_adagrad_update, no_history)

    def ignores_temperature(model, seed_ids, n, temperature=1.0, rng=None):
        return sample(model, seed_ids, n, 1.0 if temperature > 0.5 else temperature, rng)
    assert "divided by the temperature" in fails(grading.check_sample, ignores_temperature)


def call_adagrad_core(params, grads, cache, lr, eps=1e-8):
    from rnnlib.optim import adagrad_step
    adagrad_step(params, grads, cache, lr, eps)


def test_delegation_is_rejected():
    assert "reference implementation" in fails(grading.check_tbptt_batches, data.tbptt_batches)

    def generator_delegate(d, batch_size, seq_len):
        yield from data.tbptt_batches(d, batch_size, seq_len)
    assert "reference implementation" in fails(grading.check_tbptt_batches, generator_delegate)
    assert "reference implementation" in fails(grading.check_adagrad_update, optim.adagrad_update)
    assert "reference implementation" in fails(   # its unchecked core too
        grading.check_adagrad_update, as_student(call_adagrad_core))
    assert "reference implementation" in fails(
        grading.check_sample, lambda m, s, n, temperature=1.0, rng=None: m.sample(s, n, temperature, rng))
