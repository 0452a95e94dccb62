"""An encoder–decoder (sequence to sequence) of two GRUs, with or without attention.

The encoder reads the source and the decoder starts from the encoder's last real state (padding
after a source's end is skipped). Training uses **teacher forcing**: the decoder's input at step t
is the right output of step t - 1 (bos at t = 0), not its own guess. At every decoder step the
output layer reads the decoder's state, and with attention also the context over the encoder's
states (rnnlib.attention):

    h_enc = GRU_enc(E_src[src])                      (N, S, H)
    h_dec = GRU_dec(E_tgt[tgt_in], h0 = h_enc at each source's last step)    (N, T, H)
    scores = [h_dec, context(h_dec, h_enc)] @ V + c   (N, T, V_tgt)   (without attention: h_dec @ V + c)

Both GRUs run on rnnlib.gru's time-major recurrences (through gru_forward and gru_backward).
Decoding (greedy, beam search) uses rnnlib.decoding through ``Seq2Seq.decoder``.
"""
import numpy as np

from ._checks import check_array, check_positive
from . import gru
from .attention import attention_backward, attention_forward, check_mask
from .decoding import beam_search, greedy_decode
from .layers import EmbeddingCache, embedding_backward, temporal_affine_backward, temporal_affine_forward
from .losses import log_softmax, temporal_softmax_loss


def last_steps(mask):
    """The index of each row's last True: mask (N, S) bool, True on a prefix of each row -> (N,) ints."""
    lengths = mask.sum(axis=1)
    if not (mask == (np.arange(mask.shape[1]) < lengths[:, None])).all():
        raise ValueError("src_mask: expected True on a prefix of each row (the source) and False after it (padding)")
    return lengths - 1


class Seq2Seq:
    """A GRU encoder and a GRU decoder, with scaled dot-product attention if ``attention``.

    src_vocab, tgt_vocab: vocabulary sizes; hidden_size H (the embeddings are H wide too).
    params: E_src (V_src, H), Wx_enc (H, 3H), Wh_enc (H, 3H), b_enc (3H,), E_tgt (V_tgt, H),
    Wx_dec, Wh_dec, b_dec (the same shapes), V (2H or H, V_tgt), c (V_tgt,). float64.
    """

    def __init__(self, src_vocab, tgt_vocab, hidden_size, attention=True, seed=0):
        for name, value in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab), ("hidden_size", hidden_size)):
            check_positive(name, value)
        rng = np.random.default_rng(seed)
        H, self.attention = hidden_size, attention

        def uniform(fan_in, *shape):
            return rng.uniform(-1, 1, shape) / np.sqrt(fan_in)
        self.params = {"E_src": rng.standard_normal((src_vocab, H)) * 0.5,
                       "Wx_enc": uniform(H, H, 3 * H), "Wh_enc": uniform(H, H, 3 * H), "b_enc": np.zeros(3 * H),
                       "E_tgt": rng.standard_normal((tgt_vocab, H)) * 0.5,
                       "Wx_dec": uniform(H, H, 3 * H), "Wh_dec": uniform(H, H, 3 * H), "b_dec": np.zeros(3 * H),
                       "V": uniform((2 if attention else 1) * H, (2 if attention else 1) * H, tgt_vocab),
                       "c": np.zeros(tgt_vocab)}

    def _check(self, src, src_mask, tgt=None):
        p = self.params
        dims = {}
        check_array("src", src, ("N", "S"), dims, kind="int")
        src_mask = check_mask(src_mask, *src.shape, name="src_mask")
        if tgt is not None:
            check_array("tgt_in", tgt, ("N", "T"), dims, kind="int")
        for name, ids, V in (("src", src, len(p["E_src"])), ("tgt_in", tgt, len(p["E_tgt"]))):
            if ids is not None and ids.size and (ids.min() < 0 or ids.max() >= V):
                raise ValueError(f"{name}: token ids must lie in [0, {V}), got [{ids.min()}, {ids.max()}]")
        return src_mask

    def encode(self, src, src_mask=None):
        """src (N, S) ints, src_mask (N, S) bool or None -> h_enc (N, S, H), h0 (N, H) for the decoder, cache."""
        p = self.params
        src_mask = self._check(src, src_mask)
        N, H = len(src), p["Wh_enc"].shape[0]
        h_enc, cache = gru.gru_forward(p["E_src"][src], np.zeros((N, H)), p["Wx_enc"], p["Wh_enc"], p["b_enc"])
        last = last_steps(src_mask)
        return h_enc, h_enc[np.arange(N), last], (cache, last, src_mask)

    def _features(self, h_dec, h_enc, src_mask):
        if not self.attention:
            return h_dec, None
        context, cache = attention_forward(h_dec, h_enc, src_mask)
        return np.concatenate([h_dec, context], axis=-1), cache

    def forward(self, src, src_mask, tgt_in):
        """Teacher-forced scores: src (N, S), src_mask (N, S) bool, tgt_in (N, T) ints -> scores (N, T, V_tgt), cache."""
        p = self.params
        src_mask = self._check(src, src_mask, tgt_in)
        h_enc, h0, enc_cache = self.encode(src, src_mask)
        h_dec, dec_cache = gru.gru_forward(p["E_tgt"][tgt_in], h0, p["Wx_dec"], p["Wh_dec"], p["b_dec"])
        features, att_cache = self._features(h_dec, h_enc, src_mask)
        scores, out_cache = temporal_affine_forward(features, p["V"], p["c"])
        return scores, (src, tgt_in, enc_cache, dec_cache, att_cache, out_cache)

    def loss_and_grads(self, src, src_mask, tgt_in, tgt_out, tgt_mask=None):
        """Cross-entropy of the targets, summed over time and averaged over the batch, and its gradients.

        src (N, S) ints, src_mask (N, S) bool, tgt_in (N, T) ints (bos, then the targets shifted),
        tgt_out (N, T) ints, tgt_mask (N, T) bool or None. Returns loss (float), grads (dict as params).
        """
        loss, grads, _ = self._loss_and_grads(src, src_mask, tgt_in, tgt_out, tgt_mask)
        return loss, grads

    def source_gradient(self, src, src_mask, tgt_in, tgt_out, tgt_mask=None):
        """The loss's gradient with respect to the encoder's inputs (the source's embeddings): (N, S, H).

        With tgt_mask True at one output step only, it shows how much of that step's loss reaches
        each source step, the measure of lesson 04 on an encoder-decoder.
        """
        return self._loss_and_grads(src, src_mask, tgt_in, tgt_out, tgt_mask)[2]

    def _loss_and_grads(self, src, src_mask, tgt_in, tgt_out, tgt_mask):
        p = self.params
        scores, (src, tgt_in, (enc_cache, last, src_mask), dec_cache, att_cache, out_cache) = self.forward(
            src, src_mask, tgt_in)
        loss, dscores = temporal_softmax_loss(scores, tgt_out, tgt_mask)
        dfeatures, dV, dc = temporal_affine_backward(dscores, out_cache)
        H = p["Wh_dec"].shape[0]
        dh_enc = np.zeros((*src.shape, H))
        dh_dec = dfeatures[..., :H]
        if self.attention:
            dh_dec_att, dh_enc = attention_backward(np.ascontiguousarray(dfeatures[..., H:]), att_cache)
            dh_dec = dh_dec + dh_dec_att
        dx_dec, dh0, dWx_dec, dWh_dec, db_dec = gru.gru_backward(dh_dec, dec_cache)
        dh_enc[np.arange(len(src)), last] += dh0
        dx_enc, _, dWx_enc, dWh_enc, db_enc = gru.gru_backward(dh_enc, enc_cache)
        grads = {"E_src": embedding_backward(dx_enc, EmbeddingCache(src, p["E_src"])), "Wx_enc": dWx_enc, "Wh_enc": dWh_enc,
                 "b_enc": db_enc, "E_tgt": embedding_backward(dx_dec, EmbeddingCache(tgt_in, p["E_tgt"])), "Wx_dec": dWx_dec,
                 "Wh_dec": dWh_dec, "b_dec": db_dec, "V": dV, "c": dc}
        return loss, grads, dx_enc

    def predict(self, src, src_mask, tgt_in):
        """The most likely token at every step, teacher-forced: (N, T) ints."""
        return self.forward(src, src_mask, tgt_in)[0].argmax(axis=-1)

    def alignment(self, src, src_mask, tgt_in):
        """The attention weights of a teacher-forced pass: (N, T, S); None without attention."""
        if not self.attention:
            return None
        cache = self.forward(src, src_mask, tgt_in)[1]
        return cache[4].weights

    def decoder(self, src):
        """One source as a decoder for rnnlib.decoding: src (S,) ints -> (step, state (1, H)).

        step(tokens (B,), state (B, H)) -> (log_probs (B, V_tgt), state (B, H)); each of the B
        hypotheses attends to the same encoder states.
        """
        p = self.params
        src = np.asarray(src)
        h_enc, h0, _ = self.encode(src[None, :])

        def step(tokens, state):
            h, _ = gru.step_forward(p["E_tgt"][tokens], state, p["Wx_dec"], p["Wh_dec"], p["b_dec"])
            keys = np.broadcast_to(h_enc, (len(tokens), *h_enc.shape[1:]))
            features, _ = self._features(h[:, None, :], keys, None)
            return log_softmax(features[:, 0] @ p["V"] + p["c"]), h
        return step, h0

    def translate(self, src, bos, eos, max_len, width=1):
        """Decode one source src (S,) ints: greedy when width = 1, else beam search. -> (tokens, log_prob)."""
        step, state = self.decoder(src)
        if width == 1:
            return greedy_decode(step, state, bos, eos, max_len)
        return beam_search(step, state, bos, eos, max_len, width)
