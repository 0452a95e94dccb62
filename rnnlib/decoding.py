"""Turning a decoder into an output sequence: greedy decoding and beam search.

Both work on any decoder given as one step function, so they can be tried on a hand-made table
as well as on a trained model:

    step(tokens, state) -> (log_probs, state)
        tokens (B,) int: the last token of each of B hypotheses; state: an array (B, ...) holding
        each hypothesis's decoder state; log_probs (B, V): log-probabilities of the next token.

A hypothesis starts from the token bos and ends when it emits eos (kept in its output) or after
max_len tokens. Its score is the sum of its tokens' log-probabilities (no length normalisation):
the log-likelihood of the sequence under the decoder. Ties go to the lower token id, and, in a
beam, to the hypothesis that was ahead, so that a beam of width 1 is greedy decoding exactly.
"""
import numpy as np

from ._checks import check_positive


def _checked_step(step, tokens, state):
    log_probs, state = step(tokens, state)
    if not isinstance(log_probs, np.ndarray) or log_probs.ndim != 2 or log_probs.shape[0] != len(tokens):
        got = np.shape(log_probs) if isinstance(log_probs, np.ndarray) else type(log_probs).__name__
        raise ValueError(f"step: expected log_probs of shape (B, V) with B = {len(tokens)}, got {got}")
    return log_probs, state


def _check_tokens(bos, eos, max_len):
    check_positive("max_len", max_len)
    for name, value in (("bos", bos), ("eos", eos)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name}: expected a token id (an int >= 0), got {value!r}")


def greedy_decode(step, state, bos, eos, max_len):
    """The most likely next token at every step.

    step: see the module's docstring; state (1, ...): the decoder's initial state for one input.
    Returns tokens (list of ints, after bos, up to and including eos) and their total log-probability.
    """
    _check_tokens(bos, eos, max_len)
    tokens, total, last = [], 0.0, bos
    for _ in range(max_len):
        log_probs, state = _checked_step(step, np.array([last]), state)
        last = int(np.argmax(log_probs[0]))
        tokens.append(last)
        total += float(log_probs[0, last])
        if last == eos:
            break
    return tokens, total


def beam_search(step, state, bos, eos, max_len, width):
    """The `width` best partial sequences kept at every step; the most likely finished one returned.

    step: see the module's docstring; state (1, ...): the decoder's initial state for one input;
    width: how many hypotheses are kept. At every step each kept hypothesis is extended by every
    token, and the `width` highest-scoring extensions are kept; one that ends in eos is finished
    and set aside. The search stops when `width` hypotheses are finished, when no unfinished one can
    still beat the best finished one (scores only fall), or after max_len tokens.
    Returns tokens (list of ints, after bos, up to and including eos) and their total log-probability.
    """
    _check_tokens(bos, eos, max_len)
    check_positive("width", width)
    seqs, scores, states = [[]], np.zeros(1), state          # the live hypotheses, best first
    finished = []                                            # (score, tokens), in the order found
    for _ in range(max_len):
        last = np.array([s[-1] if s else bos for s in seqs])
        log_probs, new_states = _checked_step(step, last, states)
        total = (scores[:, None] + log_probs).ravel()        # hypothesis-major: ties go to the better hypothesis
        best = np.argsort(-total, kind="stable")[:width - len(finished)]
        V = log_probs.shape[1]
        keep = []
        for k in best:
            parent, token = divmod(int(k), V)
            if token == eos:
                finished.append((float(total[k]), seqs[parent] + [token]))
            else:
                keep.append((parent, token, float(total[k])))
        if len(finished) >= width or not keep or (finished and max(f[0] for f in finished) >= keep[0][2]):
            break
        parents = np.array([p for p, _, _ in keep])
        seqs = [seqs[p] + [t] for p, t, _ in keep]
        scores = np.array([s for _, _, s in keep])
        states = new_states[parents]
    else:                                                    # max_len reached: the live ones count too
        finished += [(float(s), q) for s, q in zip(scores, seqs)]
    score, tokens = max(finished, key=lambda f: f[0])        # max keeps the first of equal scores
    return tokens, score


class TableDecoder:
    """A decoder given by a table of next-token probabilities, for trying decoding by hand.

    log_probs (V, V) or (V, V, V): log-probabilities of the next token given the last one (row =
    last token), or given the last two. It is a step function: decoder(tokens (B,), state (B, 1))
    -> (log_probs (B, V), state (B, 1)); the state holds each hypothesis's last token but one (the
    table of order two reads it), so start from ``decoder.start(bos)``. A plain class (not a
    closure), so the grader can rebuild it in another process.
    """

    def __init__(self, log_probs):
        log_probs = np.asarray(log_probs, dtype=np.float64)
        V = log_probs.shape[0]
        if log_probs.ndim not in (2, 3) or log_probs.shape != (V,) * log_probs.ndim:
            raise ValueError(f"log_probs: expected shape (V, V) or (V, V, V), got {log_probs.shape}")
        self.log_probs = log_probs

    def start(self, bos):
        """The initial state (1, 1) for a sequence that starts with bos."""
        return np.array([[bos]])

    def __call__(self, tokens, state):
        table = self.log_probs if self.log_probs.ndim == 2 else self.log_probs[state[:, 0]]
        rows = table[tokens] if self.log_probs.ndim == 2 else table[np.arange(len(tokens)), tokens]
        return rows, tokens[:, None].copy()
