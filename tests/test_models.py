"""rnnlib.models: gradients of whole models, overfitting, sampling, the binary adder."""
import numpy as np
import pytest

from rnnlib.data import (Vocab, all_binary_addition_pairs, binary_addition_batch, first_bit_batch, lookahead_batch,
                         random_binary_addition_batch)
from rnnlib.gradcheck import compare, numerical_gradient
from rnnlib.models import BinaryAdder, CharRNN, SequenceTagger
from rnnlib.optim import Adam, clip_grad_norm


def assert_model_gradients_match_numerical(model, loss_and_grads):
    rng = np.random.default_rng(2)
    for p in model.params.values():    # O(1) weights, so no gradient is tiny next to round-off
        p[...] = rng.standard_normal(p.shape) * 0.5
    _, grads = loss_and_grads()[:2]
    assert grads.keys() == model.params.keys()
    for name, p in model.params.items():
        num = numerical_gradient(lambda: loss_and_grads()[0], p)
        # The loss is O(T log V) ~ 10, so round-off in f (1e-15) / h leaves ~1e-10 absolute noise;
        # deep and gated models have entries ~1e-5 (above the checker's floor), hence 1e-5. A real
        # mistake is off by far more (a missing term is off by 100%).
        check = compare(name, grads[name], num, tol=1e-5)
        assert check.ok, check


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_stacked_char_rnn_gradients_match_numerical(cell):
    model = CharRNN(vocab_size=6, hidden_size=4, cell=cell, seed=1, embed_size=3, num_layers=3)
    assert {"Wx", "Wx1", "Wx2", "Wh2", "b2"} <= model.params.keys() and model.params["Wx1"].shape[0] == 4
    rng = np.random.default_rng(3)
    x, y = rng.integers(6, size=(2, 5)), rng.integers(6, size=(2, 5))
    h0 = CharRNN(6, 4, cell=cell, num_layers=3, seed=9).loss_and_grads(x, y)[2]   # a non-zero state
    assert_model_gradients_match_numerical(model, lambda: model.loss_and_grads(x, y, h0))


def test_stacked_state_is_one_per_layer_and_carries_over():
    model = CharRNN(vocab_size=5, hidden_size=3, cell="lstm", num_layers=2)
    x = np.random.default_rng(0).integers(5, size=(4, 6))
    _, _, state = model.loss_and_grads(x, x)
    assert len(state) == 2 and all(h.shape == c.shape == (4, 3) for h, c in state)
    # Two halves with the state carried give the same loss as the whole sequence.
    whole = model.loss_and_grads(x, x)[0]
    first, _, carried = model.loss_and_grads(x[:, :3], x[:, :3])
    assert first + model.loss_and_grads(x[:, 3:], x[:, 3:], carried)[0] == pytest.approx(whole)
    with pytest.raises(ValueError, match="2 per-layer states"):
        model.loss_and_grads(x, x, state[:1])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_sequence_tagger_gradients_match_numerical(cell, bidirectional):
    model = SequenceTagger(3, 4, 5, cell=cell, bidirectional=bidirectional, seed=1)
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((2, 6, 3)), rng.integers(5, size=(2, 6))
    mask = rng.random((2, 6)) < 0.7
    assert_model_gradients_match_numerical(model, lambda: model.loss_and_grads(x, y, mask))


def test_bidirectional_tagger_sees_the_future_and_a_forward_one_cannot():
    accuracy = {}
    for bidirectional in (False, True):
        model = SequenceTagger(2, 12, 2, bidirectional=bidirectional, seed=0)
        opt, rng = Adam(model.params, lr=0.02), np.random.default_rng(0)
        for _ in range(200):
            x, y, mask = lookahead_batch(32, 16, shift=2, rng=rng)
            opt.step(model.loss_and_grads(x, y, mask)[1])
        x, y, mask = lookahead_batch(400, 16, shift=2, rng=np.random.default_rng(1))
        accuracy[bidirectional] = (model.predict(x) == y)[mask].mean()
    assert accuracy[True] > 0.97 and 0.4 < accuracy[False] < 0.6


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_char_rnn_gradients_match_numerical(cell):
    model = CharRNN(vocab_size=7, hidden_size=5, cell=cell, seed=1, embed_size=4)
    rng = np.random.default_rng(3)
    x, y = rng.integers(7, size=(2, 6)), rng.integers(7, size=(2, 6))
    assert_model_gradients_match_numerical(model, lambda: model.loss_and_grads(x, y))


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_initial_loss_is_log_vocab_per_step(cell):
    model = CharRNN(vocab_size=30, hidden_size=16, cell=cell)
    x = np.random.default_rng(0).integers(30, size=(8, 10))
    loss, _, _ = model.loss_and_grads(x, x)
    assert loss / 10 == pytest.approx(np.log(30), rel=0.05)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_char_rnn_overfits_a_short_string(cell):
    text = "the quick brown fox jumps over the lazy dog. hello"
    vocab = Vocab(text)
    ids = vocab.encode(text)
    x, y = ids[None, :-1], ids[None, 1:]
    model = CharRNN(len(vocab), 32, cell=cell, seed=0)
    opt = Adam(model.params, lr=0.02)
    for _ in range(300):
        loss, grads, _ = model.loss_and_grads(x, y)
        clip_grad_norm(grads, 5.0)
        opt.step(grads)
    assert loss / x.shape[1] < 0.05
    greedy = model.sample(vocab.encode("t"), 20, temperature=1e-3, rng=np.random.default_rng(0))
    assert vocab.decode(greedy) == text[1:21]


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_h_last_carries_the_state(cell):
    model = CharRNN(10, 8, cell=cell, seed=0)
    x = np.random.default_rng(0).integers(10, size=(3, 12))
    full, _, _ = model.loss_and_grads(x, x)
    first, _, h = model.loss_and_grads(x[:, :6], x[:, :6])
    second, _, _ = model.loss_and_grads(x[:, 6:], x[:, 6:], h0=h)
    restart, _, _ = model.loss_and_grads(x[:, 6:], x[:, 6:])
    assert first + second == pytest.approx(full, rel=1e-12)
    assert restart != pytest.approx(second, rel=1e-6)


def test_sampling_temperature_limits():
    model = CharRNN(5, 8, seed=3)
    model.params["c"][:] = [2.0, 1.0, 0.0, -1.0, -2.0]
    model.params["V"][:] = 0.0                 # scores = c whatever the state
    greedy = model.sample([0], 50, temperature=1e-4, rng=np.random.default_rng(0))
    assert greedy == [0] * 50
    hot = model.sample([0], 5000, temperature=1e4, rng=np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(hot, minlength=5) / 5000, 0.2, atol=0.03)
    assert len(model.sample([1, 2], 7, rng=np.random.default_rng(0))) == 7


def test_model_errors():
    with pytest.raises(ValueError, match="cell: expected 'rnn' or 'lstm'"):
        CharRNN(5, 4, cell="gru")
    with pytest.raises(ValueError, match="temperature: expected a positive number"):
        CharRNN(5, 4).sample([0], 3, temperature=0)
    with pytest.raises(ValueError, match="seed_ids: expected a non-empty"):
        CharRNN(5, 4).sample([], 3)
    for token in (-1, 5, 2.0):   # a negative id would silently read the last embedding row
        with pytest.raises(ValueError, match=r"token: expected an int id in \[0, 5\)"):
            CharRNN(5, 4).step(token)
    with pytest.raises(ValueError, match=r"token: expected an int id in \[0, 5\), got 7"):
        CharRNN(5, 4).sample([1, 7], 3)


def test_binary_adder_gradients_match_numerical():
    model = BinaryAdder(hidden_size=3, seed=1)
    x, y = random_binary_addition_batch(4, width=5, rng=np.random.default_rng(0))
    _, grads = model.loss_and_grads(x, y)
    for name, p in model.params.items():
        check = compare(name, grads[name], numerical_gradient(lambda: model.loss_and_grads(x, y)[0], p))
        assert check.ok, check


def test_binary_adder_learns_every_8_bit_sum():
    model = BinaryAdder(hidden_size=16, seed=0)
    opt = Adam(model.params, lr=0.05)
    rng = np.random.default_rng(0)
    a, b = all_binary_addition_pairs(8)
    X, Y = binary_addition_batch(a, b, 8)
    for step in range(2000):
        opt.step(model.loss_and_grads(*random_binary_addition_batch(256, width=8, rng=rng))[1])
        if step % 100 == 99 and np.all(model.predict(X) == Y[..., 0]):
            break
    assert np.all(model.predict(X) == Y[..., 0]), "not all 128 x 128 sums are right"
    # the same cell at every step: it generalises to 16-bit numbers it never saw
    x16, y16 = random_binary_addition_batch(500, width=16, rng=rng)
    assert np.mean(np.all(model.predict(x16) == y16[..., 0], axis=1)) > 0.99


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_step_by_step_reaches_the_state_of_the_whole_sequence(cell):
    """CharRNN.step runs the unchecked step_forward of rnn or lstm: token by token, it must reach
    the state that the checked sequence forward reaches."""
    model = CharRNN(7, 5, cell=cell, seed=2, num_layers=2)
    x = np.random.default_rng(3).integers(7, size=(1, 9))
    _, _, whole = model.loss_and_grads(x, x)
    state = None
    for token in x[0]:
        _, state = model.step(token, state)
    for mine, reference in zip(state, whole):
        np.testing.assert_allclose(mine, reference, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_sequence_tagger_keep_gate_starts_at_forget_bias(cell):
    """The gate that keeps the state (the LSTM's f, the GRU's z, both at H:2H) starts at σ(forget_bias)."""
    from rnnlib.bidirectional import CELLS
    model = SequenceTagger(2, 4, 2, cell=cell, forget_bias=3.0, seed=0)
    p = model.params
    _, cache = CELLS[cell][0](np.zeros((1, 1, 2)), np.zeros((1, 4)), p["Wx"], p["Wh"], p["b"])
    keep = cache[0].f if cell == "lstm" else cache[0].z
    np.testing.assert_allclose(keep, 1 / (1 + np.exp(-3.0)))


def test_gru_tagger_remembers_only_when_its_update_gate_starts_open():
    """Lesson 07's claim: with z = σ(3) = 0.95 the GRU carries a bit across 20 steps of noise; with
    z = σ(0) = 0.5 it keeps 0.5**20 of it at the start, gets no gradient and stays at chance."""
    accuracy = {}
    for bias in (0.0, 3.0):
        model = SequenceTagger(2, 16, 2, cell="gru", forget_bias=bias, seed=0)
        opt, rng = Adam(model.params, lr=0.02), np.random.default_rng(0)
        for _ in range(250):
            x, y, mask = first_bit_batch(32, 20, rng)
            grads = model.loss_and_grads(x, y, mask)[1]
            clip_grad_norm(grads, 5.0)
            opt.step(grads)
        x, y, mask = first_bit_batch(1000, 20, np.random.default_rng(1234))
        accuracy[bias] = (model.predict(x) == y)[mask].mean()
    assert accuracy[3.0] > 0.95 and 0.4 < accuracy[0.0] < 0.6, accuracy
