"""Whole models built from rnnlib's layers: a character language model, a sequence tagger and a
binary adder.

Each model keeps its arrays in ``params`` (a dict, so the optimisers in rnnlib.optim apply) and
shows its whole forward and backward in one method, min-char-rnn style: the layers' functions
composed, or for CharRNN and the one-directional SequenceTagger, which the course trains longest,
their arithmetic fused (time-major, on the unchecked recurrences).
"""
import numpy as np

from ._checks import check_array, check_positive
from .layers import temporal_affine_backward, temporal_affine_forward
from .losses import check_targets, softmax, softmax_cross_entropy, temporal_softmax_loss
from .bidirectional import CELLS, bidirectional_backward, bidirectional_forward
from . import gru, lstm, rnn
from .lstm import sigmoid
from .rnn import rnn_backward, rnn_forward


def _uniform(rng, fan_in, shape, dtype):
    # The seeds' initialisation: uniform in [-1/sqrt(n), 1/sqrt(n)] with n the fan-in.
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def _recurrence_forward(cell, a, state, Wh):
    """One layer's recurrence, time-major, from state: h0 (N, H), or (h0, c0) for an LSTM.

    a (T, N, G): the input terms x_t @ Wx + b, overwritten by the gates. Returns hs (T + 1, N, H),
    h0 first, and what _recurrence_backward needs besides (for an LSTM, cs (T + 1, N, H) first).
    """
    T, N, _ = a.shape
    h0 = state[0] if cell == "lstm" else state
    hs = np.empty((T + 1, N, h0.shape[1]), dtype=a.dtype)
    hs[0] = h0
    if cell == "rnn":
        hs[1:] = a
        return rnn.forward_steps(hs, Wh), None
    if cell == "lstm":
        cs = np.empty_like(hs)
        cs[0] = state[1]
        return hs, (cs, lstm.forward_steps(a, hs, cs, Wh))
    return hs, gru.forward_steps(a, hs, Wh)


def _recurrence_backward(cell, dh, a, hs, saved, Wh):
    """dh (T, N, H), the gradients reaching each h_t from above (overwritten) -> (da, dah), the
    gradients (T, N, G) of the input terms and of the recurrent terms h_{t-1} @ Wh (the same but
    for a GRU, whose reset gate scales part of its recurrent term)."""
    if cell == "rnn":
        da, _ = rnn.backward_steps(dh, hs, Wh)
        return da, da
    if cell == "lstm":
        cs, tanh_cs = saved
        da, _ = lstm.backward_steps(dh, a, cs[:-1], tanh_cs, Wh)
        return da, da
    da, dah, _ = gru.backward_steps(dh, a, hs[:-1], saved, Wh)
    return da, dah


class CharRNN:
    """Embedding -> RNN or LSTM layers -> affine -> softmax, over characters (or any token ids).

    vocab_size V, hidden_size H, embed_size E (default min(H, V)); cell "rnn" or "lstm";
    num_layers L: a stacked (deep) RNN, where layer l reads the hidden states of layer l - 1.
    params: W_embed (V, E), Wx (E, H|4H), Wh (H, H|4H), b (H|4H,) for the first layer, then
    Wx1, Wh1, b1 (input H instead of E), Wx2, ... for the layers above it, and V (H, V), c (V,).
    dtype float64 by default (gradient checks need it); float32 trains about twice as fast.

    A state is an (N, H) array for an RNN and a tuple (h, c) for an LSTM; with num_layers > 1 it
    is a list with one state per layer, bottom first.
    """

    def __init__(self, vocab_size, hidden_size, cell="rnn", seed=0, embed_size=None, dtype=np.float64,
                 num_layers=1):
        check_positive("vocab_size", vocab_size)
        check_positive("hidden_size", hidden_size)
        check_positive("num_layers", num_layers)
        if cell not in ("rnn", "lstm"):
            raise ValueError(f"cell: expected 'rnn' or 'lstm', got {cell!r}")
        rng = np.random.default_rng(seed)
        V, H = vocab_size, hidden_size
        E = embed_size or min(H, V)
        G = 4 * H if cell == "lstm" else H
        self.cell, self.vocab_size, self.hidden_size, self.num_layers = cell, V, H, num_layers
        # Embedding entries of unit scale: the next layer's uniform [-1/sqrt(E), 1/sqrt(E)] weights
        # then give input terms of the same scale as the recurrent ones (entries of 0.1 made them
        # ten times smaller, and a hidden-256 model learned markedly slower).
        self.params = {"W_embed": rng.standard_normal((V, E)).astype(dtype)}
        for layer in range(num_layers):
            Wx, Wh, b = self._keys(layer)
            fan_in = E if layer == 0 else H
            self.params.update({Wx: _uniform(rng, fan_in, (fan_in, G), dtype), Wh: _uniform(rng, H, (H, G), dtype),
                                b: np.zeros(G, dtype=dtype)})
            if cell == "lstm":
                self.params[b][H:2 * H] = 1.0   # forget gates start open, so memory flows from the start
        self.params.update({"V": _uniform(rng, H, (H, V), dtype), "c": np.zeros(V, dtype=dtype)})

    @staticmethod
    def _keys(layer):
        suffix = str(layer) if layer else ""
        return "Wx" + suffix, "Wh" + suffix, "b" + suffix

    def _zeros_state(self, N):
        h = np.zeros((N, self.hidden_size), dtype=self.params["Wh"].dtype)
        return (h, h.copy()) if self.cell == "lstm" else h

    def _layer_states(self, state, N):
        """The public state form -> a list of per-layer states, each checked: (N, H) arrays."""
        if state is None:
            return [self._zeros_state(N) for _ in range(self.num_layers)]
        states = [state] if self.num_layers == 1 else list(state)
        if len(states) != self.num_layers:
            raise ValueError(f"h0: expected a list of {self.num_layers} per-layer states, got {len(states)}")
        shape = (N, self.hidden_size)
        for s in states:
            if self.cell == "lstm":
                if not isinstance(s, (tuple, list)) or len(s) != 2:
                    raise ValueError(f"h0: expected an LSTM state (h, c) of two {shape} arrays, got {type(s).__name__}")
                check_array("h0", s[0], shape), check_array("c0", s[1], shape)
            else:
                check_array("h0", s, shape)
        return states

    def _public_state(self, states):
        return states[0] if self.num_layers == 1 else states

    def loss_and_grads(self, x, y, h0=None):
        """x, y int arrays (N, T): inputs and next-token targets.

        h0: the state to start from (None = zeros; see the class docstring for its form). Returns
        (loss, grads, h_last): loss summed over time and averaged over N, grads like params,
        and the final state (same form as h0) to pass as h0 of the next batch in truncated
        BPTT. Gradients never flow into h0: that is the truncation.

        The arithmetic of embedding_forward, rnn_forward (or lstm_forward), temporal_affine_forward,
        temporal_softmax_loss and their backward passes, fused: everything time-major (T, N, ...),
        each step a contiguous block, so no layer transposes or copies its input; the checks once,
        here; and the embedding folded into the first layer's input product (see below).
        """
        p, V, H = self.params, self.vocab_size, self.hidden_size
        dims = {}
        check_array("x", x, ("N", "T"), dims, kind="int")
        check_array("y", y, ("N", "T"), dims, kind="int")
        for name, ids in (("x", x), ("y", y)):
            if ids.size and (ids.min() < 0 or ids.max() >= V):
                raise ValueError(f"{name}: ids must lie in [0, {V}) (the vocabulary), got values in [{ids.min()}, {ids.max()}]")
        N, T = x.shape
        states = self._layer_states(h0, N)

        # Forward. Layer 0's input term needs no embedded sequence: e_t @ Wx = W_embed[x_t] @ Wx
        # is row x_t of the (V, G) table W_embed @ Wx, so a lookup replaces an (N T, E) @ (E, G) product.
        layers, below = [], None     # per layer: (gates, hs, what its backward needs)
        for layer, state in enumerate(states):
            Wx, Wh, b = (p[k] for k in self._keys(layer))
            if layer == 0:
                a = (p["W_embed"] @ Wx + b)[x.T]                          # (T, N, G)
            else:
                a = (below.reshape(T * N, H) @ Wx).reshape(T, N, -1)
                a += b
            hs, saved = _recurrence_forward(self.cell, a, state, Wh)
            layers.append((a, hs, saved))
            below = hs[1:]
        top = below.reshape(T * N, H)
        loss, dscores = softmax_cross_entropy(top @ p["V"] + p["c"], y.T.ravel(), 1.0 / N)

        # Backward, layer by layer from the top: each layer's dx is the dh of the one below.
        grads = {"V": top.T @ dscores, "c": dscores.sum(axis=0)}
        dh = (dscores @ p["V"].T).reshape(T, N, H)
        for layer in reversed(range(self.num_layers)):
            Wx_key, Wh_key, b_key = self._keys(layer)
            a, hs, saved = layers[layer]
            da, _ = _recurrence_backward(self.cell, dh, a, hs, saved, p[Wh_key])
            flat = da.reshape(T * N, -1)
            grads[Wh_key], grads[b_key] = hs[:-1].reshape(T * N, H).T @ flat, flat.sum(axis=0)
            if layer:
                grads[Wx_key] = layers[layer - 1][1][1:].reshape(T * N, H).T @ flat
                dh = (flat @ p[Wx_key].T).reshape(T, N, H)
            else:
                # The table's gradient: da summed over the positions of each id (one-hot rows times
                # da, as embedding_backward does), then through the product W_embed @ Wx.
                one_hot = np.zeros((V, T * N), dtype=flat.dtype)
                one_hot[x.T.ravel(), np.arange(T * N)] = 1.0
                dtable = one_hot @ flat
                grads[Wx_key], grads["W_embed"] = p["W_embed"].T @ dtable, dtable @ p[Wx_key].T
        last = [(hs[-1].copy(), saved[0][-1].copy()) if self.cell == "lstm" else hs[-1].copy() for _, hs, saved in layers]
        return loss, grads, self._public_state(last)

    def step(self, token, state=None):
        """Feed one token id; returns (scores (V,), the new state). state None = zeros."""
        if not isinstance(token, (int, np.integer)) or not 0 <= token < self.vocab_size:
            raise ValueError(f"token: expected an int id in [0, {self.vocab_size}), got {token!r}")
        p = self.params
        h, states = p["W_embed"][[int(token)]], self._layer_states(state, 1)
        for layer, s in enumerate(states):
            Wx, Wh, b = (p[k] for k in self._keys(layer))
            if self.cell == "lstm":
                h, c, _ = lstm.step_forward(h, *s, Wx, Wh, b)
                states[layer] = (h, c)
            else:
                h, _ = rnn.step_forward(h, s, Wx, Wh, b)
                states[layer] = h
        return (h @ p["V"] + p["c"])[0], self._public_state(states)

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
        state = None
        for token in seed_ids[:-1]:
            _, state = self.step(token, state)
        out, token = [], int(seed_ids[-1])
        for _ in range(n):
            scores, state = self.step(token, state)
            probs = softmax(scores.astype(np.float64) / temperature)
            token = int(rng.choice(self.vocab_size, p=probs))
            out.append(token)
        return out


class SequenceTagger:
    """An RNN, LSTM or GRU (optionally bidirectional) -> affine -> softmax at every step (lesson 07).

    Reads float inputs x (N, T, D) and predicts one of num_classes labels at each step; a mask
    restricts the loss to some steps (e.g. only the last, for a whole-sequence answer).
    params: Wx (D, G), Wh (H, G), b (G,) with G = H (rnn), 4H (lstm) or 3H (gru); bidirectional: the same
    with suffixes _f (forward direction) and _b (backward direction); then V (H or 2H, M), c (M,).
    forget_bias: the initial bias of the gate that keeps the state, the LSTM's forget gate f (the
    GRU's update gate z); the cell state (the GRU's h) keeps a fraction σ(forget_bias)
    of itself per step (0.73 for 1, 0.95 for 3), so memory over k steps needs σ(forget_bias)**k
    not to vanish before learning can begin.
    """

    def __init__(self, input_size, hidden_size, num_classes, cell="rnn", bidirectional=False, seed=0,
                 forget_bias=1.0):
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_classes", num_classes)):
            check_positive(name, value)
        if cell not in CELLS:
            raise ValueError(f"cell: expected one of {list(CELLS)}, got {cell!r}")
        rng = np.random.default_rng(seed)
        D, H = input_size, hidden_size
        G = {"rnn": 1, "lstm": 4, "gru": 3}[cell] * H
        self.cell, self.bidirectional, self.hidden_size = cell, bidirectional, H
        self.params = {}
        for suffix in ("_f", "_b") if bidirectional else ("",):
            self.params.update({"Wx" + suffix: _uniform(rng, D, (D, G), np.float64),
                                "Wh" + suffix: _uniform(rng, H, (H, G), np.float64), "b" + suffix: np.zeros(G)})
            if cell in ("lstm", "gru"):   # keep gates start open: f (or z) = σ(forget_bias), both at H:2H
                self.params["b" + suffix][H:2 * H] = forget_bias
        width = 2 * H if bidirectional else H
        self.params.update({"V": _uniform(rng, width, (width, num_classes), np.float64), "c": np.zeros(num_classes)})

    def _both_directions(self, x):
        p, h0 = self.params, np.zeros((x.shape[0], self.hidden_size))
        return bidirectional_forward(x, h0, h0, p["Wx_f"], p["Wh_f"], p["b_f"], p["Wx_b"], p["Wh_b"], p["b_b"],
                                     cell=self.cell)

    def _one_direction(self, x):
        """The recurrence of a one-directional tagger, time-major: x (N, T, D) ->
        (xs (T, N, D), gates (T, N, G), hs (T + 1, N, H) with h0 first, what the backward needs)."""
        p = self.params
        xs = np.ascontiguousarray(x.transpose(1, 0, 2))
        T, N, D = xs.shape
        a = (xs.reshape(T * N, D) @ p["Wx"]).reshape(T, N, -1)
        a += p["b"]
        h0 = np.zeros((N, self.hidden_size), dtype=a.dtype)
        return (xs, a, *_recurrence_forward(self.cell, a, (h0, h0) if self.cell == "lstm" else h0, p["Wh"]))

    def scores(self, x):
        """x (N, T, D) -> class scores (N, T, M)."""
        check_array("x", x, ("N", "T", self.params["Wx_f" if self.bidirectional else "Wx"].shape[0]))
        if self.bidirectional:
            hs, _ = self._both_directions(x)
            return hs @ self.params["V"] + self.params["c"]
        _, _, hs, _ = self._one_direction(x)
        return (hs[1:] @ self.params["V"] + self.params["c"]).transpose(1, 0, 2)      # (T, N, M) -> (N, T, M)

    def predict(self, x):
        """x (N, T, D) -> the most likely label at every step (N, T)."""
        return self.scores(x).argmax(axis=-1)

    def loss_and_grads(self, x, y, mask=None):
        """Softmax cross-entropy, summed over the (masked) steps and averaged over N; y int (N, T).

        One direction: the arithmetic of rnn_forward (lstm_forward, gru_forward), temporal_affine_forward,
        temporal_softmax_loss and their backward passes, fused and time-major as in CharRNN.
        """
        check_array("x", x, ("N", "T", self.params["Wx_f" if self.bidirectional else "Wx"].shape[0]))
        if not self.bidirectional:
            return self._one_direction_loss_and_grads(x, y, mask)
        hs, rnn_cache = self._both_directions(x)
        scores, affine_cache = temporal_affine_forward(hs, self.params["V"], self.params["c"])
        loss, dscores = temporal_softmax_loss(scores, y, mask)
        grads = {}
        dhs, grads["V"], grads["c"] = temporal_affine_backward(dscores, affine_cache)
        names = ("Wx_f", "Wh_f", "b_f", "Wx_b", "Wh_b", "b_b")
        grads.update(zip(names, bidirectional_backward(dhs, rnn_cache)[3:]))
        return loss, grads

    def _one_direction_loss_and_grads(self, x, y, mask):
        p = self.params
        N, T, _ = x.shape
        check_targets(y, mask, (N, T, p["V"].shape[1]))
        xs, a, hs, saved = self._one_direction(x)
        H = hs.shape[2]
        top = hs[1:].reshape(T * N, H)
        weight = 1.0 / N if mask is None else mask.T.reshape(-1, 1) / N     # time-major, as the scores
        loss, dscores = softmax_cross_entropy(top @ p["V"] + p["c"], y.T.ravel(), weight)
        grads = {"V": top.T @ dscores, "c": dscores.sum(axis=0)}
        da, dah = _recurrence_backward(self.cell, (dscores @ p["V"].T).reshape(T, N, H), a, hs, saved, p["Wh"])
        da, dah = da.reshape(T * N, -1), dah.reshape(T * N, -1)
        grads.update({"Wx": xs.reshape(T * N, -1).T @ da, "Wh": hs[:-1].reshape(T * N, H).T @ dah, "b": da.sum(axis=0)})
        return loss, grads


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
