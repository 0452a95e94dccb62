"""rnnlib.seq2seq: the encoder-decoder's gradients, its masks, its decoder step, and the reversal task."""
import numpy as np
import pytest

from rnnlib.data import REVERSE_BOS, REVERSE_EOS, reverse_batch
from rnnlib.gradcheck import compare, numerical_gradient
from rnnlib.optim import Adam, clip_grad_norm
from rnnlib.seq2seq import Seq2Seq, last_steps


@pytest.mark.parametrize("attention", [True, False])
def test_every_gradient_matches_numerical_ones(attention):
    """Error relative to each gradient's largest entry: the loss is about 7, so entry by entry the
    round-off of a centred difference (epsilon L / h, lesson 07) swamps the smallest entries."""
    model = Seq2Seq(10, 12, 5, attention=attention, seed=1)
    rng = np.random.default_rng(2)
    for p in model.params.values():
        p[...] = rng.standard_normal(p.shape) * 0.5
    batch = reverse_batch(3, 1, 4, np.random.default_rng(3))
    assert not batch[1].all()                                  # ragged: some padding
    loss, grads = model.loss_and_grads(*batch)
    for name, p in model.params.items():
        numerical = numerical_gradient(lambda: model.loss_and_grads(*batch)[0], p)
        error = np.abs(grads[name] - numerical).max() / np.abs(numerical).max()
        assert error < 1e-7, (name, error, str(compare(name, grads[name], numerical)))


def test_padding_changes_nothing():
    model = Seq2Seq(10, 12, 6, seed=0)
    src, src_mask, tgt_in, tgt_out, tgt_mask = reverse_batch(4, 1, 5, np.random.default_rng(0))
    loss, grads = model.loss_and_grads(src, src_mask, tgt_in, tgt_out, tgt_mask)
    other = np.where(src_mask, src, 7)
    loss2, grads2 = model.loss_and_grads(other, src_mask, tgt_in, tgt_out, tgt_mask)
    assert loss == pytest.approx(loss2, rel=1e-12)
    for k in ("Wh_enc", "V", "E_tgt"):
        np.testing.assert_allclose(grads[k], grads2[k], rtol=1e-10, atol=1e-14)
    # each source alone gives the same scores as in the padded batch
    scores = model.forward(src, src_mask, tgt_in)[0]
    for n in range(4):
        L = src_mask[n].sum()
        alone = model.forward(src[n:n + 1, :L], None, tgt_in[n:n + 1])[0]
        np.testing.assert_allclose(alone[0], scores[n], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("attention", [True, False])
def test_the_decoder_step_is_the_teacher_forced_forward(attention):
    model = Seq2Seq(10, 12, 6, attention=attention, seed=0)
    src, src_mask, tgt_in, _, _ = reverse_batch(1, 4, 4, np.random.default_rng(5))
    scores = model.forward(src, src_mask, tgt_in)[0][0]
    step, state = model.decoder(src[0])
    for t in range(tgt_in.shape[1]):
        log_probs, state = step(tgt_in[0, t:t + 1], state)
        shifted = scores[t] - scores[t].max()
        np.testing.assert_allclose(log_probs[0], shifted - np.log(np.exp(shifted).sum()), rtol=1e-10)


def test_alignment_rows_are_distributions_over_the_real_source():
    model = Seq2Seq(10, 12, 6, seed=0)
    src, src_mask, tgt_in, _, _ = reverse_batch(3, 1, 5, np.random.default_rng(1))
    weights = model.alignment(src, src_mask, tgt_in)
    assert weights.shape == (3, 6, 5)
    np.testing.assert_allclose(weights.sum(-1), 1.0)
    assert (weights[~np.broadcast_to(src_mask[:, None], weights.shape)] == 0).all()
    assert Seq2Seq(10, 12, 6, attention=False).alignment(src, src_mask, tgt_in) is None


def test_reverse_batch_is_the_reversal():
    src, src_mask, tgt_in, tgt_out, tgt_mask = reverse_batch(50, 2, 7, np.random.default_rng(0))
    for n in range(50):
        L = src_mask[n].sum()
        assert 2 <= L <= 7 and src_mask[n, :L].all()
        assert list(tgt_out[n, :L]) == list(src[n, :L][::-1]) and tgt_out[n, L] == REVERSE_EOS
        assert tgt_in[n, 0] == REVERSE_BOS and list(tgt_in[n, 1:L + 1]) == list(tgt_out[n, :L])
        assert tgt_mask[n].sum() == L + 1 and (src[n, L:] == 0).all()


def test_training_learns_short_reversals_and_width_one_is_greedy():
    model = Seq2Seq(10, 12, 24, seed=0)
    opt, rng = Adam(model.params, lr=0.02), np.random.default_rng(0)
    for _ in range(200):
        _, grads = model.loss_and_grads(*reverse_batch(32, 1, 3, rng))
        clip_grad_norm(grads, 5.0)
        opt.step(grads)
    src, src_mask, _, tgt_out, _ = reverse_batch(50, 1, 3, np.random.default_rng(1))
    right = 0
    for n in range(50):
        L = src_mask[n].sum()
        greedy = model.translate(src[n, :L], REVERSE_BOS, REVERSE_EOS, 5)
        assert model.translate(src[n, :L], REVERSE_BOS, REVERSE_EOS, 5, width=1) == greedy
        beam = model.translate(src[n, :L], REVERSE_BOS, REVERSE_EOS, 5, width=3)
        assert beam[1] >= greedy[1] - 1e-12
        right += greedy[0] == list(tgt_out[n, :L + 1])
    assert right >= 45


@pytest.mark.parametrize("call,message", [
    (lambda m, b: m.loss_and_grads(b[0].astype(float), *b[1:]), "src: expected an integer array"),
    (lambda m, b: m.loss_and_grads(b[0] + 10, *b[1:]), r"src: token ids must lie in \[0, 10\)"),
    (lambda m, b: m.loss_and_grads(b[0], b[1][:, :2], *b[2:]), r"^src_mask: expected a bool array of shape \(N, S\) = \(2, 4\)"),
    (lambda m, b: m.loss_and_grads(b[0], b[1], b[2][:1], *b[3:]), r"tgt_in: expected shape \(N, T\) = \(2, 5\), got \(1, 5\)"),
    (lambda m, b: m.loss_and_grads(b[0], b[1][:, ::-1].copy(), *b[2:]), "src_mask: expected True on a prefix"),
])
def test_wrong_arguments_are_named(call, message):
    model = Seq2Seq(10, 12, 4)
    batch = reverse_batch(2, 2, 4, np.random.default_rng(0))
    batch[1][0, 2:] = False
    with pytest.raises(ValueError, match=message):
        call(model, batch)


def test_last_steps():
    assert list(last_steps(np.array([[True, True, False], [True, False, False], [True, True, True]]))) == [1, 0, 2]


def test_source_gradient_is_the_embeddings_gradient_by_position():
    model = Seq2Seq(10, 12, 5, seed=0)
    batch = reverse_batch(3, 2, 4, np.random.default_rng(4))
    dx = model.source_gradient(*batch)
    _, grads = model.loss_and_grads(*batch)
    one_hot = (batch[0][..., None] == np.arange(10)).astype(float)                 # (N, S, V)
    np.testing.assert_allclose(np.einsum("nsv,nsh->vh", one_hot, dx), grads["E_src"], rtol=1e-12, atol=1e-15)
    assert (dx[~batch[1]] == 0).all()            # padding reaches nothing
