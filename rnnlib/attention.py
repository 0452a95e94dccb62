"""Scaled dot-product attention of a decoder's states over an encoder's, with a mask for padding.

At every decoder step t the query q_t (the decoder's state) scores every encoder step s by a dot
product with that step's state k_s, the scores become weights by a softmax over the encoder steps
(steps that are padding get weight 0), and the context is the weighted sum of the encoder states:

    scores[n, t, s] = q[n, t] · k[n, s] / sqrt(H)
    weights[n, t]   = softmax over s of scores[n, t], with weights[n, t, s] = 0 where mask[n, s] is False
    context[n, t]   = sum over s of weights[n, t, s] k[n, s]

Luong et al. (2015) call this the "dot" score, Vaswani et al. (2017) add the 1/sqrt(H): with
entries of unit size a dot product of H terms has a spread of about sqrt(H), and dividing by it
keeps the softmax out of saturation as H grows. The encoder states serve as both keys and values.
Bahdanau's additive score v · tanh(q W + k U) learns two more matrices; the dot product has no
parameters of its own, so its forward and backward are two batched products and a softmax.
"""
from typing import NamedTuple

import numpy as np

from ._checks import check_array, check_step_cache


class AttentionCache(NamedTuple):
    """What attention_forward keeps for the backward pass."""
    query: np.ndarray     # (N, T, H) decoder states
    keys: np.ndarray      # (N, S, H) encoder states (the values too)
    weights: np.ndarray   # (N, T, S) attention weights, rows sum to 1 over the unmasked steps


def check_mask(mask, N, S, name="mask"):
    """mask None or a bool (N, S) array with at least one True per row; returned as (N, S) bool.
    name: the argument's name, for the message."""
    if mask is None:
        return np.ones((N, S), dtype=bool)
    if not isinstance(mask, np.ndarray) or mask.dtype != bool or mask.shape != (N, S):
        got = f"dtype {mask.dtype}, shape {mask.shape}" if isinstance(mask, np.ndarray) else type(mask).__name__
        raise ValueError(f"{name}: expected a bool array of shape (N, S) = ({N}, {S}), got {got}")
    empty = np.flatnonzero(~mask.any(axis=1))
    if empty.size:
        raise ValueError(f"{name}: every row needs at least one True (an encoder step to attend to); row "
                         f"{int(empty[0])} has none")
    return mask


def masked_softmax(scores, mask=None):
    """Softmax over the last axis (the encoder steps) with masked steps left out.

    scores (N, T, S), mask (N, S) bool, True for a real encoder step, or None (all real).
    Returns weights (N, T, S): each row sums to 1 over its unmasked steps; masked steps are exactly 0.
    """
    dims = {}
    check_array("scores", scores, ("N", "T", "S"), dims)
    mask = check_mask(mask, dims["N"], dims["S"])[:, None, :]          # (N, 1, S): the same for every t
    shifted = np.where(mask, scores, -np.inf)
    shifted = shifted - shifted.max(axis=-1, keepdims=True)            # the max trick, over real steps only
    e = np.exp(shifted)                                                # exp(-inf) = 0 on masked steps
    return e / e.sum(axis=-1, keepdims=True)


def attention_forward(query, keys, mask=None):
    """Scaled dot-product attention.

    query (N, T, H): the decoder's states; keys (N, S, H): the encoder's states (keys and values);
    mask (N, S) bool, False on padded encoder steps, or None.
    Returns context (N, T, H) and cache (AttentionCache; cache.weights (N, T, S) are the alignments).
    """
    dims = {}
    check_array("query", query, ("N", "T", "H"), dims)
    check_array("keys", keys, ("N", "S", "H"), dims)
    scores = query @ keys.transpose(0, 2, 1) / np.sqrt(dims["H"])     # (N, T, S)
    weights = masked_softmax(scores, mask)
    return weights @ keys, AttentionCache(query, keys, weights)


def attention_backward(dcontext, cache):
    """Backward of attention_forward.

    dcontext (N, T, H): upstream gradient of the context; cache from attention_forward.
    Returns dquery (N, T, H) and dkeys (N, S, H): keys are reached twice, as values (through the
    weighted sum) and as keys (through the scores), and their gradient is the sum of both.
    """
    query, keys, weights = check_step_cache(cache, AttentionCache, "attention_forward")
    check_array("dcontext", dcontext, query.shape)
    scale = 1.0 / np.sqrt(query.shape[2])
    dweights = dcontext @ keys.transpose(0, 2, 1)                       # (N, T, S)
    dkeys = weights.transpose(0, 2, 1) @ dcontext                      # as values
    # softmax backward, row by row: ds = w ⊙ (dw - sum(dw ⊙ w)); masked steps have w = 0, so ds = 0
    dscores = weights * (dweights - (dweights * weights).sum(axis=-1, keepdims=True))
    dquery = dscores @ keys * scale
    dkeys += dscores.transpose(0, 2, 1) @ query * scale                 # as keys
    return dquery, dkeys
