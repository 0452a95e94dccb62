"""rnnlib.models: gradients of whole models, overfitting, sampling, the binary adder."""
import numpy as np
import pytest

from rnnlib.data import (Vocab, all_binary_addition_pairs, binary_addition_batch, first_bit_batch, lookahead_batch,
                         random_binary_addition_batch)
from rnnlib.gradcheck import compare, numerical_gradient
from rnnlib.layers import embedding_backward, embedding_forward, temporal_affine_backward, temporal_affine_forward
from rnnlib.losses import temporal_softmax_loss
from rnnlib.lstm import lstm_backward, lstm_forward
from rnnlib.rnn import rnn_backward, rnn_forward
from rnnlib.bidirectional import CELLS
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


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_one_direction_tagger_fused_pass_is_the_layers_composed(cell):
    """The one-directional tagger's fused, time-major pass: the same loss, gradients and scores as
    rnn/lstm/gru_forward -> temporal affine -> masked softmax loss and back (the layers' functions)."""
    model = SequenceTagger(3, 4, 5, cell=cell, seed=1)
    rng = np.random.default_rng(4)
    for p in model.params.values():
        p[...] = rng.standard_normal(p.shape) * 0.5
    x, y = rng.standard_normal((2, 6, 3)), rng.integers(5, size=(2, 6))
    mask = rng.random((2, 6)) < 0.6           # uneven across the batch: a mask laid out wrongly shows
    forward, backward = CELLS[cell]
    p = model.params
    hs, cache = forward(x, np.zeros((2, 4)), p["Wx"], p["Wh"], p["b"])
    scores, affine_cache = temporal_affine_forward(hs, p["V"], p["c"])
    expected_loss, dscores = temporal_softmax_loss(scores, y, mask)
    dhs, dV, dc = temporal_affine_backward(dscores, affine_cache)
    _, _, dWx, dWh, db = backward(dhs, cache)
    expected = {"Wx": dWx, "Wh": dWh, "b": db, "V": dV, "c": dc}

    loss, grads = model.loss_and_grads(x, y, mask)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    assert grads.keys() == expected.keys()
    for k, g in grads.items():
        np.testing.assert_allclose(g, expected[k], rtol=1e-10, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(model.scores(x), scores, rtol=1e-12, atol=1e-12)


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


def composed_loss_and_grads(model, x, y, states):
    """CharRNN's loss, gradients and last states, from the lesson-facing layer functions."""
    p, lstm = model.params, model.cell == "lstm"
    hs, emb_cache = embedding_forward(x, p["W_embed"])
    caches, last = [], []
    for layer, state in enumerate(states):
        Wx, Wh, b = (p[k] for k in model._keys(layer))
        if lstm:
            hs, cache = lstm_forward(hs, state[0], Wx, Wh, b, c0=state[1])
            last.append((hs[:, -1], cache[-1].f * cache[-1].prev_c + cache[-1].i * cache[-1].g))
        else:
            hs, cache = rnn_forward(hs, state, Wx, Wh, b)
            last.append(hs[:, -1])
        caches.append(cache)
    scores, affine_cache = temporal_affine_forward(hs, p["V"], p["c"])
    loss, dscores = temporal_softmax_loss(scores, y)
    grads = {}
    dhs, grads["V"], grads["c"] = temporal_affine_backward(dscores, affine_cache)
    for layer in reversed(range(len(states))):
        dhs, _, *layer_grads = (lstm_backward if lstm else rnn_backward)(dhs, caches[layer])
        grads.update(zip(model._keys(layer), layer_grads))
    grads["W_embed"] = embedding_backward(dhs, emb_cache)
    return loss, grads, last


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_char_rnn_fused_pass_is_the_layers_composed(cell, num_layers, dtype):
    """loss_and_grads fuses the layers (time-major, the embedding folded into the first product):
    the same numbers as embedding -> rnn/lstm_forward -> affine -> loss and back, from a carried state."""
    model = CharRNN(vocab_size=9, hidden_size=6, cell=cell, seed=2, num_layers=num_layers, dtype=dtype)
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (1e-4, 1e-6)
    rng = np.random.default_rng(4)
    x, y = rng.integers(9, size=(3, 7)), rng.integers(9, size=(3, 7))
    h = lambda: (0.5 * rng.standard_normal((3, 6))).astype(dtype)
    states = [(h(), h()) if cell == "lstm" else h() for _ in range(num_layers)]
    loss, grads, last = model.loss_and_grads(x, y, states[0] if num_layers == 1 else states)
    expected_loss, expected_grads, expected_last = composed_loss_and_grads(model, x, y, states)
    assert loss == pytest.approx(expected_loss, rel=rtol)
    assert grads.keys() == expected_grads.keys() == model.params.keys()
    for k, g in grads.items():
        assert g.dtype == dtype, k
        np.testing.assert_allclose(g, expected_grads[k], rtol=rtol, atol=atol, err_msg=k)
    flat = lambda states: [a for s in states for a in (s if cell == "lstm" else (s,))]
    for got, expected in zip(flat(last if num_layers > 1 else [last]), flat(expected_last), strict=True):
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


def test_char_rnn_checks_its_inputs_once_with_clear_messages():
    model = CharRNN(5, 4, cell="lstm")
    x = np.zeros((2, 3), dtype=int)
    with pytest.raises(ValueError, match=r"x: ids must lie in \[0, 5\)"):
        model.loss_and_grads(x + 5, x)
    with pytest.raises(ValueError, match=r"y: expected shape \(N, T\) = \(2, 3\), got \(2, 4\)"):
        model.loss_and_grads(x, np.zeros((2, 4), dtype=int))
    with pytest.raises(ValueError, match="x: expected an integer array"):
        model.loss_and_grads(x.astype(float), x)
    with pytest.raises(ValueError, match=r"c0: expected shape \(2, 4\), got \(2, 5\)"):
        model.loss_and_grads(x, x, (np.zeros((2, 4)), np.zeros((2, 5))))
    with pytest.raises(ValueError, match=r"h0: expected an LSTM state \(h, c\)"):
        model.loss_and_grads(x, x, np.zeros((2, 4)))


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
