"""Whole models built from rnnlib's layers: a character language model and a binary adder.

Each model keeps its arrays in ``params`` (a dict, so the optimisers in rnnlib.optim apply) and
shows its whole forward and backward in one short method, min-char-rnn style.
"""
import numpy as np

from ._checks import check_array, check_positive
from .layers import embedding_backward, embedding_forward, temporal_affine_backward, temporal_affine_forward
from .losses import softmax, temporal_softmax_loss
from .lstm import _step_forward as _lstm_step, lstm_backward, lstm_forward, sigmoid
from .rnn import _step_forward as _rnn_step, rnn_backward, rnn_forward


def _uniform(rng, fan_in, shape, dtype):
    # The seeds' initialisation: uniform in [-1/sqrt(n), 1/sqrt(n)] with n the fan-in.
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


class CharRNN:
    """Embedding -> RNN or LSTM -> affine -> softmax, over characters (or any token ids).

    vocab_size V, hidden_size H, embed_size E (default min(H, V)); cell "rnn" or "lstm".
    params: W_embed (V, E), Wx (E, H|4H), Wh (H, H|4H), b (H|4H,), V (H, V), c (V,).
    dtype float64 by default (gradient checks need it); float32 trains about twice as fast.
    """

    def __init__(self, vocab_size, hidden_size, cell="rnn", seed=0, embed_size=None, dtype=np.float64):
        check_positive("vocab_size", vocab_size)
        check_positive("hidden_size", hidden_size)
        if cell not in ("rnn", "lstm"):
            raise ValueError(f"cell: expected 'rnn' or 'lstm', got {cell!r}")
        rng = np.random.default_rng(seed)
        V, H = vocab_size, hidden_size
        E = embed_size or min(H, V)
        G = 4 * H if cell == "lstm" else H
        self.cell, self.vocab_size, self.hidden_size = cell, V, H
        self.params = {"W_embed": rng.standard_normal((V, E)).astype(dtype) * 0.1,
                       "Wx": _uniform(rng, E, (E, G), dtype), "Wh": _uniform(rng, H, (H, G), dtype),
                       "b": np.zeros(G, dtype=dtype),
                       "V": _uniform(rng, H, (H, V), dtype), "c": np.zeros(V, dtype=dtype)}
        if cell == "lstm":
            self.params["b"][H:2 * H] = 1.0   # forget gates start open, so memory flows from the start

    def _zeros_state(self, N):
        h = np.zeros((N, self.hidden_size), dtype=self.params["Wh"].dtype)
        return (h, h.copy()) if self.cell == "lstm" else h

    def loss_and_grads(self, x, y, h0=None):
        """x, y int arrays (N, T): inputs and next-token targets.

        h0: the state to start from (None = zeros); for an LSTM a tuple (h, c). Returns
        (loss, grads, h_last): loss summed over time and averaged over N, grads like params,
        and the final state (same form as h0) to pass as h0 of the next batch in truncated
        BPTT. Gradients never flow into h0: that is the truncation.
        """
        p = self.params
        check_array("y", y, x.shape, kind="int")
        state = self._zeros_state(x.shape[0]) if h0 is None else h0
        emb, emb_cache = embedding_forward(x, p["W_embed"])
        if self.cell == "lstm":
            hs, rnn_cache = lstm_forward(emb, state[0], p["Wx"], p["Wh"], p["b"], c0=state[1])
            last = rnn_cache[-1]
            h_last = (hs[:, -1], last.f * last.prev_c + last.i * last.g)
        else:
            hs, rnn_cache = rnn_forward(emb, state, p["Wx"], p["Wh"], p["b"])
            h_last = hs[:, -1]
        scores, affine_cache = temporal_affine_forward(hs, p["V"], p["c"])
        loss, dscores = temporal_softmax_loss(scores, y)

        grads = {}
        dhs, grads["V"], grads["c"] = temporal_affine_backward(dscores, affine_cache)
        backward = lstm_backward if self.cell == "lstm" else rnn_backward
        demb, _, grads["Wx"], grads["Wh"], grads["b"] = backward(dhs, rnn_cache)
        grads["W_embed"] = embedding_backward(demb, emb_cache)
        return loss, grads, h_last

    def sample(self, seed_ids, n, temperature=1.0, rng=None):
        """Feed seed_ids (a non-empty sequence of ids), then sample n more ids; returns the n ids.

        Each id is drawn from softmax(scores / temperature): temperature -> 0 approaches argmax,
        large temperatures approach the uniform distribution.
        """
        check_positive("temperature", temperature, integer=False)
        check_positive("n", n)
        seed_ids = np.asarray(seed_ids)
        if seed_ids.ndim != 1 or seed_ids.size == 0 or not np.issubdtype(seed_ids.dtype, np.integer):
            raise ValueError(f"seed_ids: expected a non-empty 1-D sequence of int ids, got {seed_ids!r}")
        rng = np.random.default_rng() if rng is None else rng
        p = self.params
        state = self._zeros_state(1)
        out, token = [], int(seed_ids[0])
        for t in range(len(seed_ids) + n - 1):
            xt = p["W_embed"][[token]]
            if self.cell == "lstm":
                h, c, _ = _lstm_step(xt, *state, p["Wx"], p["Wh"], p["b"])
                state = (h, c)
            else:
                h, _ = _rnn_step(xt, state, p["Wx"], p["Wh"], p["b"])
                state = h
            if t + 1 < len(seed_ids):
                token = int(seed_ids[t + 1])
                continue
            probs = softmax((h @ p["V"] + p["c"])[0].astype(np.float64) / temperature)
            token = int(rng.choice(self.vocab_size, p=probs))
            out.append(token)
        return out


class BinaryAdder:
    """Adds two binary numbers fed least-significant bit first (lesson 05).

    x (N, T, 2): the two operands' bits at each step; the output at step t is the sum's bit t.
    A tanh RNN (hidden_size units) carries the carry; a per-step affine + sigmoid reads it out.
    params: Wx (2, H), Wh (H, H), b (H,), Wy (H, 1), c (1,).
    """

    def __init__(self, hidden_size=16, seed=0):
        check_positive("hidden_size", hidden_size)
        rng = np.random.default_rng(seed)
        H = hidden_size
        self.params = {"Wx": _uniform(rng, 2, (2, H), np.float64), "Wh": _uniform(rng, H, (H, H), np.float64),
                       "b": np.zeros(H), "Wy": _uniform(rng, H, (H, 1), np.float64), "c": np.zeros(1)}

    def _logits(self, x):
        check_array("x", x, ("N", "T", 2))
        p = self.params
        hs, rnn_cache = rnn_forward(x, np.zeros((x.shape[0], p["Wh"].shape[0])), p["Wx"], p["Wh"], p["b"])
        z, affine_cache = temporal_affine_forward(hs, p["Wy"], p["c"])
        return z, rnn_cache, affine_cache

    def hidden_states(self, x):
        """x (N, T, 2) -> the hidden states (N, T, H), to look inside."""
        return np.stack([c.next_h for c in self._logits(x)[1]], axis=1)

    def forward(self, x):
        """x (N, T, 2) -> probabilities (N, T, 1) that each bit of the sum is 1."""
        return sigmoid(self._logits(x)[0])

    def predict(self, x):
        """x (N, T, 2) -> predicted sum bits (N, T) as int64, least-significant first."""
        return (self._logits(x)[0][..., 0] > 0).astype(np.int64)

    def loss_and_grads(self, x, y):
        """Binary cross-entropy, summed over time and averaged over N; y (N, T, 1) in {0, 1}.

        Computed from the logits z: BCE = softplus(z) - y z, finite for any z, and its gradient
        is simply sigmoid(z) - y.
        """
        z, rnn_cache, affine_cache = self._logits(x)
        check_array("y", y, z.shape)
        N = x.shape[0]
        loss = float((np.logaddexp(0, z) - y * z).sum() / N)
        grads = {}
        dhs, grads["Wy"], grads["c"] = temporal_affine_backward((sigmoid(z) - y) / N, affine_cache)
        _, _, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dhs, rnn_cache)
        return loss, grads
