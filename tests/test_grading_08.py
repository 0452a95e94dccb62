"""Lesson 08's checks: right answers pass, the known mistakes of attention and decoding are named."""
import numpy as np
import pytest

from rnnlib import attention, decoding, grading
from rnnlib.grading import (check_attention_backward, check_attention_forward, check_beam_search,
                            check_greedy_decode)

from conftest import fails


def softmax(s, axis=-1):
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def student_forward(axis=-1, mask_it=True, transpose=False, scale=True):
    """A student's attention_forward, right by default, with one of the issue's mistakes if asked."""
    def attention_forward(query, keys, mask=None):
        H = query.shape[2]
        scores = (keys @ query.transpose(0, 2, 1)) if transpose else (query @ keys.transpose(0, 2, 1))
        if scale:
            scores = scores / np.sqrt(H)
        if mask is not None and mask_it:
            scores = np.where(mask[:, None, :], scores, -1e9)
        weights = softmax(scores, axis)
        return weights @ keys, attention.AttentionCache(query, keys, weights)
    return attention_forward


def test_a_right_forward_passes(capsys):
    for kw in ({}, {"N": 1, "T": 1, "S": 1, "H": 1, "seed": 1}, {"N": 3, "T": 2, "S": 6, "H": 5, "seed": 2}):
        check_attention_forward(student_forward(), **kw)
    assert capsys.readouterr().out.count("attention_forward: all checks passed") == 3


@pytest.mark.parametrize("mistake,cause", [
    ({"axis": 1}, "the softmax runs over the wrong axis"),
    ({"mask_it": False}, "the mask is missing"),
    ({"transpose": True}, "the scores are transposed"),
    ({"scale": False}, "the scale is missing: divide the scores by sqrt(H)"),
])
def test_forward_mistakes_are_named(mistake, cause):
    message = fails(check_attention_forward, student_forward(**mistake))
    assert "context: relative error" in message and "worst at index" in message
    assert f"Likely cause: {cause}" in message, message


def test_a_cache_in_another_order_is_named():
    def attention_forward(query, keys, mask=None):
        context, cache = student_forward()(query, keys, mask)
        return context, (cache.weights, cache.query, cache.keys)
    assert "it returned (weights, query, keys); the order is (query, keys, weights)" in fails(check_attention_forward, attention_forward)


def student_backward(values=True, keys=True, sum_term=True, scale=True):
    def attention_backward(dcontext, cache):
        query, k, w = cache
        s = 1 / np.sqrt(query.shape[2]) if scale else 1.0
        dw = dcontext @ k.transpose(0, 2, 1)
        ds = w * (dw - (dw * w).sum(-1, keepdims=True)) if sum_term else w * dw
        dk = np.zeros_like(k)
        if values:
            dk = dk + w.transpose(0, 2, 1) @ dcontext
        if keys:
            dk = dk + ds.transpose(0, 2, 1) @ query * s
        return ds @ k * s, dk
    return attention_backward


def test_a_right_backward_passes(capsys):
    check_attention_backward(student_backward())
    check_attention_backward(student_backward(), N=1, T=1, S=1, H=1, seed=1)
    assert capsys.readouterr().out.count("attention_backward: all checks passed") == 2


@pytest.mark.parametrize("mistake,cause", [
    ({"values": False}, "the encoder states are the values too"),
    ({"keys": False}, "the encoder states also enter the scores"),
    ({"sum_term": False}, "the softmax's derivative has two terms"),
    ({"scale": False}, "the forward divided the scores by sqrt(H)"),
])
def test_backward_mistakes_are_named(mistake, cause):
    message = fails(check_attention_backward, student_backward(**mistake))
    assert "numerical gradient" in message and f"Likely cause: {cause}" in message, message


def test_delegation_is_refused():
    assert "reference implementation" in fails(check_attention_forward, attention.attention_forward)
    assert "reference implementation" in fails(check_beam_search, decoding.beam_search)
    lesson = grading.lesson("08_seq2seq_attention")
    namespace = {}
    exec(compile(lesson.delegating_answer("attention_backward"), "<student>", "exec"), namespace)
    assert "reference implementation" in fails(check_attention_backward, namespace["attention_backward"])


def student_greedy(keep_eos=True, with_bos=False):
    def greedy_decode(step, state, bos, eos, max_len):
        tokens, total, last = ([bos] if with_bos else []), 0.0, bos
        for _ in range(max_len):
            log_probs, state = step(np.array([last]), state)
            last = int(np.argmax(log_probs[0]))
            total += float(log_probs[0, last])
            if last == eos:
                if keep_eos:
                    tokens.append(last)
                break
            tokens.append(last)
        return tokens, total
    return greedy_decode


def test_greedy_passes_and_its_mistakes_are_named(capsys):
    check_greedy_decode(student_greedy())
    check_greedy_decode(student_greedy(), seed=3)
    assert capsys.readouterr().out.count("greedy_decode: all checks passed") == 2
    assert "keep eos as its last token" in fails(check_greedy_decode, student_greedy(keep_eos=False))
    assert "do not include bos itself" in fails(check_greedy_decode, student_greedy(with_bos=True))


def student_beam(reorder_states=True, prune_to_one=False):
    def beam_search(step, state, bos, eos, max_len, width):
        beams, done = [([], 0.0, state[0])], []
        for _ in range(max_len):
            last = np.array([b[0][-1] if b[0] else bos for b in beams])
            states = np.stack([b[2] for b in beams])
            log_probs, new = step(last, states)
            candidates = [(b[1] + float(log_probs[i, v]), i, v) for i, b in enumerate(beams)
                          for v in range(log_probs.shape[1])]
            candidates.sort(key=lambda c: -c[0])            # stable: ties keep the earlier hypothesis and token
            beams = []
            for score, i, v in candidates[:1 if prune_to_one else width - len(done)]:
                parent_state = new[i] if reorder_states else new[0]
                if v == eos:
                    done.append((prefix[i] + [v], score))
                else:
                    beams.append((prefix[i] + [v], score, parent_state))
            if len(done) >= width or not beams or (done and max(d[1] for d in done) >= beams[0][1]):
                break
            prefix[:] = [b[0] for b in beams]
        else:
            done += [(b[0], b[1]) for b in beams]
        return max(done, key=lambda d: d[1]) if done else ([], 0.0)
    prefix = []

    def wrapper(step, state, bos, eos, max_len, width):
        prefix[:] = [[]]
        return beam_search(step, state, bos, eos, max_len, width)
    return wrapper


def test_beam_search_passes_and_its_mistakes_are_named(capsys):
    check_beam_search(student_beam())
    out = capsys.readouterr().out
    assert "beam_search: all checks passed" in out and "width 2 finds [2, 0]" in out and "greedy finds [1, 0]" in out
    message = fails(check_beam_search, student_beam(prune_to_one=True))
    assert "on the designed case" in message and "this is greedy decoding's answer" in message
    message = fails(check_beam_search, student_beam(reorder_states=False))
    assert "TRAP2" in message and "its own parent's step returned" in message, message
