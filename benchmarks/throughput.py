"""Training throughput of a character RNN, in characters per second, measured in one run.

    .venv/bin/python benchmarks/throughput.py            # ~3 minutes: every configuration + 60 s quality run
    .venv/bin/python benchmarks/throughput.py --smoke    # seconds: a couple of iterations each (the test suite)

(a) a faithful min-char-rnn baseline written here (one-hot column vectors, one character per step,
    batch 1, hidden 100, seq 25, Adagrad, clipping to [-5, 5]);
(b) rnnlib.CharRNN, hidden 100 and 256, batch 32, T = 25, float64 and float32, Adagrad;
(c) PyTorch nn.RNN of the same size on the CPU, when torch is installed (never a dependency).
Prints chars/s and the ratios to the baseline and to PyTorch. Goals: rnnlib >= 20x the baseline at
hidden 100; >= 0.5x PyTorch at hidden 256, batch 32. Then the quality in fixed time: held-out bits
per character after 60 s of training at hidden 256.
"""
import argparse
import time

import numpy as np

from rnnlib import Adagrad, CharRNN, Vocab, clip_grad_norm, load_corpus, tbptt_batches


def min_char_rnn(ids, V, seconds, hidden=100, seq=25, lr=1e-1):
    """Karpathy's min-char-rnn training loop, kept faithful; returns chars/s."""
    rng = np.random.default_rng(0)
    Wxh, Whh, Why = (rng.standard_normal(s) * 0.01 for s in ((hidden, V), (hidden, hidden), (V, hidden)))
    bh, by = np.zeros((hidden, 1)), np.zeros((V, 1))
    params = [Wxh, Whh, Why, bh, by]
    mem = [np.zeros_like(p) for p in params]
    hprev, p, chars, start = np.zeros((hidden, 1)), 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        if p + seq + 1 >= len(ids):
            hprev, p = np.zeros((hidden, 1)), 0
        inputs, targets = ids[p:p + seq], ids[p + 1:p + seq + 1]
        xs, hs, ps = {}, {-1: hprev}, {}
        for t in range(seq):
            xs[t] = np.zeros((V, 1))
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
            y = Why @ hs[t] + by
            ps[t] = np.exp(y - y.max()) / np.sum(np.exp(y - y.max()))
        grads = [np.zeros_like(q) for q in params]
        dWxh, dWhh, dWhy, dbh, dby = grads
        dhnext = np.zeros_like(hs[0])
        for t in reversed(range(seq)):
            dy = ps[t].copy()
            dy[targets[t]] -= 1
            dWhy += dy @ hs[t].T
            dby += dy
            dh = Why.T @ dy + dhnext
            dhraw = (1 - hs[t] * hs[t]) * dh
            dbh += dhraw
            dWxh += dhraw @ xs[t].T
            dWhh += dhraw @ hs[t - 1].T
            dhnext = Whh.T @ dhraw
        for param, d, m in zip(params, grads, mem):
            np.clip(d, -5, 5, out=d)
            m += d * d
            param += -lr * d / np.sqrt(m + 1e-8)
        hprev, p, chars = hs[seq - 1], p + seq, chars + seq
    return chars / (time.perf_counter() - start)


def rnnlib_rate(ids, V, seconds, hidden, dtype, batch=32, seq=25, model=None):
    """chars/s of rnnlib.CharRNN with truncated BPTT, Adagrad and clipping; returns (rate, model)."""
    model = model or CharRNN(V, hidden, seed=0, dtype=dtype)
    opt, state, chars, start = Adagrad(model.params, lr=0.1), None, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for x, y in tbptt_batches(ids, batch, seq):
            loss, grads, state = model.loss_and_grads(x, y, state)
            clip_grad_norm(grads, 5.0)
            opt.step(grads)
            chars += x.size
            if time.perf_counter() - start >= seconds:
                break
        state = None
    return chars / (time.perf_counter() - start), model


def torch_rate(ids, V, seconds, hidden, batch=32, seq=25):
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    torch.set_num_threads(2)
    emb, rnn, out = torch.nn.Embedding(V, min(hidden, V)), torch.nn.RNN(min(hidden, V), hidden, batch_first=True), torch.nn.Linear(hidden, V)
    params = [*emb.parameters(), *rnn.parameters(), *out.parameters()]
    opt, state, chars, start = torch.optim.Adagrad(params, lr=0.1), None, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for x, y in tbptt_batches(ids, batch, seq):
            x, y = torch.from_numpy(x), torch.from_numpy(y)
            hs, state = rnn(emb(x), state)
            state = state.detach()
            loss = torch.nn.functional.cross_entropy(out(hs).reshape(-1, V), y.reshape(-1), reduction="sum") / batch
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            chars += x.numel()
            if time.perf_counter() - start >= seconds:
                break
    return chars / (time.perf_counter() - start)


def bits_per_char(model, ids, batch=32, seq=100):
    """Held-out cross-entropy in bits per character (state carried across batches)."""
    total, count, state = 0.0, 0, None
    for x, y in tbptt_batches(ids, batch, seq):
        loss, _, state = model.loss_and_grads(x, y, state)
        total, count = total + loss * batch, count + x.size
    return total / count / np.log(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a couple of iterations each, for the test suite")
    parser.add_argument("--corpus", default="tinyshakespeare")
    args = parser.parse_args()
    seconds, quality_seconds = (0.3, 1.0) if args.smoke else (10.0, 60.0)

    text = load_corpus(args.corpus)
    vocab = Vocab(text)
    ids = vocab.encode(text)
    split = int(0.9 * len(ids))
    train, held_out = ids[:split], ids[split:]
    V = len(vocab)
    print(f"corpus {args.corpus}: {len(ids):,} characters, vocabulary {V}; {seconds:g} s per measurement")

    base = min_char_rnn(train, V, seconds)
    print(f"{'min-char-rnn baseline, hidden 100, batch 1':48s} {base:10,.0f} chars/s")
    rates = {}
    for hidden in (100, 256):
        for dtype in (np.float64, np.float32):
            rates[hidden, dtype] = rnnlib_rate(train, V, seconds, hidden, dtype)[0]
            print(f"{f'rnnlib CharRNN, hidden {hidden}, batch 32, {np.dtype(dtype).name}':48s} "
                  f"{rates[hidden, dtype]:10,.0f} chars/s  ({rates[hidden, dtype] / base:5.1f}x baseline)")
    torch256 = torch_rate(train, V, seconds, 256)
    if torch256 is None:
        print("PyTorch not installed: comparison skipped (pip install torch to add it)")
    else:
        best = max(rates[256, np.float32], rates[256, np.float64])
        print(f"{'PyTorch nn.RNN, hidden 256, batch 32, float32':48s} {torch256:10,.0f} chars/s  "
              f"(rnnlib's best = {best / torch256:.2f}x PyTorch)")
    print(f"goal: rnnlib >= 20x baseline at hidden 100: {max(rates[100, np.float32], rates[100, np.float64]) / base:.1f}x")

    _, model = rnnlib_rate(train, V, quality_seconds, 256, np.float32)
    print(f"quality: held-out {bits_per_char(model, held_out):.3f} bits per character after {quality_seconds:g} s "
          f"of training (hidden 256, float32, Adagrad)")


if __name__ == "__main__":
    main()
