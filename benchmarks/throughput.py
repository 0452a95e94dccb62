"""Training throughput of a character RNN, in characters per second, measured in one run.

    .venv/bin/python benchmarks/throughput.py            # ~3 minutes: every configuration + 60 s quality run
    .venv/bin/python benchmarks/throughput.py --smoke    # seconds: a couple of iterations each (the test suite)

(a) the min-char-rnn baseline: seed 000's training loop (Karpathy's min-char-rnn) as published:
    one-hot column vectors from Python int indices, one character per step, batch 1, hidden 100,
    seq 25, its own softmax (no max shift), clipping each entry to [-5, 5], Adagrad, float64.
    min_char_rnn_published.py keeps a line-for-line transcription; a test checks that this copy
    gives the same losses, bit for bit;
(b) rnnlib.CharRNN (RNN at hidden 100 and 256, LSTM at hidden 256), batch 32, T = 25, float64
    and float32, Adagrad and global-norm clipping;
(c) PyTorch nn.RNN and nn.LSTM of the same sizes on the CPU, float32, when torch is installed
    (never a dependency), with the same optimiser and clipping.
Beside each float64 goal: the float64/float32 ratio of the update's main parts alone (the
recurrent product, the output layer's product, tanh); the whole update's ratio is a mix of these
and of per-call costs, the same in both precisions. With PyTorch, the share of the LSTM's gap to
nn.LSTM that its two per-step products alone account for.
numpy's BLAS and PyTorch use the same number of threads: OPENBLAS_NUM_THREADS, 1 unless set.
The configurations take turns (rounds of about a second each) and each reports its best round,
so that other work on the machine slows them alike and the ratios stay comparable. Peak memory
is what tracemalloc sees while a fresh model takes a few steps (numpy's arrays; it cannot see
PyTorch's allocator). Then the quality in fixed time: held-out bits per character after 60 s
of CPU time training at hidden 256 (float32; Adam, T = 100: see QUALITY_LR).
"""
import os

if __name__ == "__main__":   # before numpy is imported: its BLAS reads the thread count once
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, os.environ.get("OPENBLAS_NUM_THREADS", "1"))

import argparse
import time
import tracemalloc

import numpy as np

from rnnlib import Adagrad, Adam, CharRNN, Vocab, clip_grad_norm, load_corpus, tbptt_batches

BATCH, SEQ = 32, 25
# Adagrad's first step moves every weight by about lr whatever its gradient (g / sqrt(g * g)): at
# lr = 0.1 that adds a random +-0.1 matrix to a 256 x 256 Wh, and its tanh units saturate. At
# hidden 256 we measured 3.17 held-out bits per character after 400 updates at lr 0.1, 2.77
# after 500 at lr 0.05.
LR = 0.05
# The quality run's recipe (the rates above keep min-char-rnn's Adagrad and T = 25, to compare
# like with like). Held-out bits per character at hidden 256, float32, batch 32: Adagrad 0.05 at
# T = 25, 2.56 after 3,000 updates and 2.52 in 60 s of CPU time; Adam 2e-3 at T = 25, 2.41 after
# 6,000 updates (64 s; PyTorch nn.RNN with Adam 3e-3 at T = 25: 2.43 in 60 s); Adam 3e-3 at
# T = 100, 2.36 in 60 s (2,200 updates, each over four times the context; 2e-3: 2.36, 5e-3: 2.39;
# batch 64 at T = 50: 2.36). The same models score 0.26 to 0.29 bits lower on the last 111,000
# characters of the training text than on the held-out text.
QUALITY_LR, QUALITY_SEQ = 3e-3, 100


def min_char_rnn(data, hidden_size=100, seq_length=25, learning_rate=1e-1, seed=0):
    """Seed 000's min-char-rnn loop as published, on the text data; yields each update's loss.

    The loop of min_char_rnn_published.py (see there what was changed and why), written as a
    generator so that it can be timed in turns with the others.
    """
    np.random.seed(seed)
    chars = sorted(set(data))
    vocab_size = len(chars)
    char_to_ix = {ch: i for i, ch in enumerate(chars)}
    Wxh = np.random.randn(hidden_size, vocab_size) * 0.01
    Whh = np.random.randn(hidden_size, hidden_size) * 0.01
    Why = np.random.randn(vocab_size, hidden_size) * 0.01
    bh, by = np.zeros((hidden_size, 1)), np.zeros((vocab_size, 1))
    params = [Wxh, Whh, Why, bh, by]
    mems = [np.zeros_like(param) for param in params]
    n, p = 0, 0
    while True:
        if p + seq_length + 1 >= len(data) or n == 0:
            hprev, p = np.zeros((hidden_size, 1)), 0
        inputs = [char_to_ix[ch] for ch in data[p:p + seq_length]]            # Python ints
        targets = [char_to_ix[ch] for ch in data[p + 1:p + seq_length + 1]]
        xs, hs, ys, ps = {}, {}, {}, {}
        hs[-1] = np.copy(hprev)
        loss = 0
        for t in range(len(inputs)):
            xs[t] = np.zeros((vocab_size, 1))
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
            ys[t] = np.dot(Why, hs[t]) + by
            ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))    # as published: no max shift
            loss += -np.log(ps[t][targets[t], 0])
        grads = [np.zeros_like(param) for param in params]
        dWxh, dWhh, dWhy, dbh, dby = grads
        dhnext = np.zeros_like(hs[0])
        for t in reversed(range(len(inputs))):
            dy = np.copy(ps[t])
            dy[targets[t]] -= 1
            dWhy += np.dot(dy, hs[t].T)
            dby += dy
            dh = np.dot(Why.T, dy) + dhnext
            dhraw = (1 - hs[t] * hs[t]) * dh
            dbh += dhraw
            dWxh += np.dot(dhraw, xs[t].T)
            dWhh += np.dot(dhraw, hs[t - 1].T)
            dhnext = np.dot(Whh.T, dhraw)
        for dparam in grads:
            np.clip(dparam, -5, 5, out=dparam)
        hprev = hs[len(inputs) - 1]
        for param, dparam, mem in zip(params, grads, mems):
            mem += dparam * dparam
            param += -learning_rate * dparam / np.sqrt(mem + 1e-8)
        p, n = p + seq_length, n + 1
        yield float(loss)


def rnnlib_updates(ids, V, hidden, dtype, cell="rnn", model=None, optimiser=None, seq=SEQ):
    """rnnlib.CharRNN with truncated BPTT over seq steps, global-norm clipping at 5 and (by default)
    Adagrad(LR), epoch after epoch; yields each update's loss. model, optimiser: to train one kept outside."""
    model = model or CharRNN(V, hidden, cell=cell, seed=0, dtype=dtype)
    optimiser = optimiser or Adagrad(model.params, lr=LR)
    while True:
        state = None
        for x, y in tbptt_batches(ids, BATCH, seq):
            loss, grads, state = model.loss_and_grads(x, y, state)
            clip_grad_norm(grads, 5.0)
            optimiser.step(grads)
            yield loss


def torch_updates(ids, V, hidden, cell="rnn"):
    """The same model in PyTorch (Embedding, nn.RNN or nn.LSTM, Linear), float32, the same loss,
    clipping and Adagrad; yields each update's loss."""
    import torch
    torch.manual_seed(0)
    E = min(hidden, V)
    emb = torch.nn.Embedding(V, E)
    rnn = (torch.nn.RNN if cell == "rnn" else torch.nn.LSTM)(E, hidden, batch_first=True)
    out = torch.nn.Linear(hidden, V)
    params = [*emb.parameters(), *rnn.parameters(), *out.parameters()]
    opt = torch.optim.Adagrad(params, lr=LR)
    while True:
        state = None
        for x, y in tbptt_batches(ids, BATCH, SEQ):
            x, y = torch.from_numpy(x), torch.from_numpy(y)
            hs, state = rnn(emb(x), state)
            state = tuple(s.detach() for s in state) if cell == "lstm" else state.detach()
            loss = torch.nn.functional.cross_entropy(out(hs).reshape(-1, V), y.reshape(-1), reduction="sum") / BATCH
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            yield loss.item()


def rate(updates, chars_per_update, seconds):
    """(characters per second, characters per CPU second) of the generator `updates` over about
    `seconds` of wall-clock time (at least one update). The process's CPU time leaves out the
    moments the machine gave to other work, so on a shared machine it is the steadier figure."""
    count, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while count == 0 or time.perf_counter() - start < seconds:
        next(updates)
        count += 1
    chars = count * chars_per_update
    return chars / (time.perf_counter() - start), chars / max(time.process_time() - cpu_start, 1e-9)


def peak_memory(make, steps=3):
    """Peak bytes that tracemalloc sees while make() builds a model and it takes `steps` updates."""
    tracemalloc.start()
    try:
        updates = make()
        for _ in range(steps):
            next(updates)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def best_time(op, repeats=200):
    """Seconds per call of op() (no arguments): the best of five runs of `repeats` calls."""
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            op()
        runs.append(time.perf_counter() - start)
    return min(runs) / repeats


def matmul_op(m, k, n, dtype, seed=0):
    """A no-argument numpy product (m, k) @ (k, n) into a preallocated (m, n) array."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    out = np.empty((m, n), dtype=dtype)
    return lambda: np.matmul(a, b, out=out)


def float64_part_ratios(hidden, gates, V):
    """How much longer three parts of an update take in float64 than in float32: the recurrent
    product h @ Wh, (BATCH, hidden) @ (hidden, gates), of every step; the output layer's product,
    (BATCH SEQ, hidden) @ (hidden, V), once per update; and tanh over a step's (BATCH, gates)
    pre-activations. Returns {part: ratio}."""
    rng = np.random.default_rng(0)

    def tanh_op(dtype):
        a = rng.standard_normal((BATCH, gates)).astype(dtype)
        return lambda: np.tanh(a, out=a)

    parts = {"recurrent product": lambda d: matmul_op(BATCH, hidden, gates, d),
             "output product": lambda d: matmul_op(BATCH * SEQ, hidden, V, d, seed=1),
             "tanh": tanh_op}
    return {name: best_time(make(np.float64)) / best_time(make(np.float32)) for name, make in parts.items()}


def per_step_products_us(hidden, gates):
    """Microseconds per call of an LSTM step's two products, numpy against PyTorch (float32): the
    forward h @ Wh, (BATCH, hidden) @ (hidden, gates), and the backward da @ Wh.T, (BATCH, gates)
    @ (gates, hidden). Returns {"numpy": (forward, backward), "PyTorch": (forward, backward)}."""
    import torch
    shapes = ((BATCH, hidden, gates), (BATCH, gates, hidden))
    numpy_ops = [matmul_op(*shape, np.float32) for shape in shapes]
    torch_ops = []
    for m, k, n in shapes:
        a, b, out = torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)
        torch_ops.append(lambda a=a, b=b, out=out: torch.mm(a, b, out=out))
    return {library: tuple(best_time(op) * 1e6 for op in ops) for library, ops in (("numpy", numpy_ops),
                                                                                  ("PyTorch", torch_ops))}


def lstm_blas_gap(best, hidden=256):
    """One line: how much of the time per update between rnnlib's LSTM and nn.LSTM (float32) the
    two per-step products alone account for (numpy's BLAS against PyTorch's, SEQ times each per
    update); best: characters per CPU second by configuration key."""
    us = per_step_products_us(hidden, 4 * hidden)
    per_update_ms = {library: BATCH * SEQ / best[library, "lstm", hidden, "float32"] * 1e3 for library in ("rnnlib", "torch")}
    gap_ms = per_update_ms["rnnlib"] - per_update_ms["torch"]
    products_ms = SEQ * (sum(us["numpy"]) - sum(us["PyTorch"])) / 1e3
    (nf, nb), (tf, tb) = us["numpy"], us["PyTorch"]
    return (f"LSTM hidden {hidden}: per step, h @ Wh takes {nf:.0f} µs in numpy against {tf:.0f} µs in PyTorch and "
            f"da @ Wh.T {nb:.0f} against {tb:.0f} µs; over {SEQ} steps each way that is {products_ms:.1f} ms of the "
            f"{gap_ms:.1f} ms per update between rnnlib ({per_update_ms['rnnlib']:.1f} ms) and nn.LSTM "
            f"({per_update_ms['torch']:.1f} ms)")


def bits_per_char(model, ids, batch=32, seq=100):
    """Held-out cross-entropy in bits per character (state carried across batches)."""
    total, count, state = 0.0, 0, None
    for x, y in tbptt_batches(ids, batch, seq):
        loss, _, state = model.loss_and_grads(x, y, state)
        total, count = total + loss * batch, count + x.size
    return total / count / np.log(2)


def configurations(text, train, V, have_torch):
    """(label, key, make, chars per update, tracemalloc sees it): key = (library, cell, hidden, dtype)."""
    found = [("min-char-rnn as published, hidden 100, batch 1, float64", ("baseline", "rnn", 100, "float64"),
              lambda: min_char_rnn(text), SEQ, True)]
    for cell, hidden in (("rnn", 100), ("rnn", 256), ("lstm", 256)):
        for dtype in ("float64", "float32"):
            found.append((f"rnnlib CharRNN {cell.upper()}, hidden {hidden}, {dtype}", ("rnnlib", cell, hidden, dtype),
                          lambda c=cell, h=hidden, d=dtype: rnnlib_updates(train, V, h, np.dtype(d), c),
                          BATCH * SEQ, True))
        if have_torch:
            name = {"rnn": "nn.RNN", "lstm": "nn.LSTM"}[cell]
            found.append((f"PyTorch {name}, hidden {hidden}, float32", ("torch", cell, hidden, "float32"),
                          lambda c=cell, h=hidden: torch_updates(train, V, h, c), BATCH * SEQ, False))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a couple of iterations each, for the test suite")
    parser.add_argument("--corpus", default="tinyshakespeare")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per configuration")
    parser.add_argument("--quality-seconds", type=float, default=60.0, help="training time of the quality run")
    args = parser.parse_args()
    seconds, rounds, quality_seconds = ((0.2, 1, 1.0) if args.smoke else
                                        (args.seconds, max(1, round(args.seconds)), args.quality_seconds))

    threads = int(os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    try:
        import torch
        torch.set_num_threads(threads)
        have_torch = True
    except ImportError:
        have_torch = False
    text = load_corpus(args.corpus)
    vocab = Vocab(text)
    ids = vocab.encode(text)
    split = int(0.9 * len(ids))
    train, held_out = ids[:split], ids[split:]
    V = len(vocab)
    print(f"corpus {args.corpus}: {len(ids):,} characters, vocabulary {V}; batch {BATCH}, T = {SEQ}; "
          f"{threads} thread(s); {seconds:g} s per configuration in {rounds} round(s); "
          f"load average {os.getloadavg()[0]:.1f}")

    configs = configurations(text[:split], train, V, have_torch)
    updates = {key: make() for _, key, make, _, _ in configs}
    for run in updates.values():  # the first update builds the model and warms up: not timed
        next(run)
    wall, best = dict.fromkeys(updates, 0.0), dict.fromkeys(updates, 0.0)
    for _ in range(rounds):       # in turns: a busy moment on the machine slows every configuration
        for _, key, _, chars, _ in configs:
            wall_rate, cpu_rate = rate(updates[key], chars, seconds / rounds)
            wall[key], best[key] = max(wall[key], wall_rate), max(best[key], cpu_rate)

    base = best["baseline", "rnn", 100, "float64"]
    print("\nchars/s: the best round by the clock; per CPU s: the best round by the process's CPU time, "
          "on which the ratios are taken")
    print(f"\n| {'configuration':55s} | {'chars/s':>9s} | {'per CPU s':>9s} | {'× baseline':>10s} | {'× PyTorch':>9s} "
          f"| {'peak memory':>11s} |")
    print(f"| {'-' * 55} | {'-' * 9}:| {'-' * 9}:| {'-' * 10}:| {'-' * 9}:| {'-' * 11}:|")
    for label, key, make, _, traced in configs:
        torch_rate = best.get(("torch", *key[1:3], "float32"))
        vs_torch = f"{best[key] / torch_rate:.2f}" if key[0] == "rnnlib" and torch_rate else ""
        memory = f"{peak_memory(make) / 2 ** 20:.1f} MiB" if traced else "n/a"
        print(f"| {label:55s} | {wall[key]:9,.0f} | {best[key]:9,.0f} | {best[key] / base:10.1f} | {vs_torch:>9s} "
              f"| {memory:>11s} |")
    print(f"\nload average {os.getloadavg()[0]:.1f}")
    print(f"goal: rnnlib >= 20x the baseline (RNN, hidden 100, float32): {best['rnnlib', 'rnn', 100, 'float32'] / base:.1f}x")
    for cell, hidden in (("rnn", 100), ("rnn", 256), ("lstm", 256)):
        f64, f32 = best["rnnlib", cell, hidden, "float64"], best["rnnlib", cell, hidden, "float32"]
        gates = hidden * (4 if cell == "lstm" else 1)
        parts = ", ".join(f"{name} {ratio:.2f}x" for name, ratio in float64_part_ratios(hidden, gates, V).items())
        line = (f"goal: {cell.upper()} hidden {hidden}: float64 at most 1.7x slower than float32: {f32 / f64:.2f}x "
                f"(float64/float32 of its parts alone: {parts})")
        if have_torch:
            line += f"; rnnlib float32 >= PyTorch: {f32 / best['torch', cell, hidden, 'float32']:.2f}x"
        print(line)
    if have_torch:
        print(lstm_blas_gap(best))
    else:
        print("PyTorch not installed: comparison skipped (pip install torch to add it)")

    model = CharRNN(V, 256, seed=0, dtype=np.float32)
    # Timed by the process's CPU time, as the rates: on a shared machine a minute of the clock can
    # hold a fraction of a minute of training.
    training = rnnlib_updates(train, V, 256, np.float32, model=model, optimiser=Adam(model.params, lr=QUALITY_LR),
                              seq=QUALITY_SEQ)
    start, steps = time.process_time(), 0
    while time.process_time() - start < quality_seconds:
        next(training)
        steps += 1
    bits = bits_per_char(model, held_out)
    # In nats too: the unit of min-char-rnn's printed loss and of most published char-model losses.
    print(f"quality: held-out {bits:.3f} bits ({bits * np.log(2):.3f} nats) per character after {quality_seconds:g} s "
          f"of CPU time, {steps:,} updates (hidden 256, float32, batch {BATCH}, T = {QUALITY_SEQ}, "
          f"Adam lr {QUALITY_LR:g})")


if __name__ == "__main__":
    main()
