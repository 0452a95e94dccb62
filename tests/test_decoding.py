"""rnnlib.decoding: greedy decoding and beam search on hand-made decoders whose answers are known."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlib.decoding import beam_search, greedy_decode

EOS = 0


def table_decoder(table):
    """A decoder whose next-token distribution depends only on the last token: table (V, V) of
    probabilities, row = last token. The state is unused (B, 1) zeros."""
    log_table = np.log(np.asarray(table, dtype=np.float64))

    def step(tokens, state):
        return log_table[tokens], state
    return step, np.zeros((1, 1))


# The designed case: greedy takes token 1 first (0.5 > 0.4), after which every continuation is
# unsure (eos at 0.34 is its best); token 2 first is followed by eos with probability 0.9. So greedy
# finds 1, eos (0.5 * 0.34 = 0.17) and beam search of width 2 finds 2, eos (0.4 * 0.9 = 0.36).
TRAP = [[0.97, 0.01, 0.01, 0.01],       # after eos (never used)
        [0.34, 0.33, 0.32, 0.01],       # after 1: unsure
        [0.9, 0.05, 0.03, 0.02],        # after 2: eos at once
        [0.09, 0.5, 0.4, 0.01]]         # bos = 3: 1 or 2


def log_likelihood(table, bos, tokens):
    prev, total = bos, 0.0
    for t in tokens:
        total += np.log(table[prev][t])
        prev = t
    return total


def test_beam_search_beats_greedy_on_the_designed_case():
    step, state = table_decoder(TRAP)
    greedy, greedy_score = greedy_decode(step, state, bos=3, eos=EOS, max_len=5)
    beam, beam_score = beam_search(step, state, bos=3, eos=EOS, max_len=5, width=2)
    assert greedy == [1, 0] and beam == [2, 0]
    assert np.isclose(greedy_score, log_likelihood(TRAP, 3, greedy)) and np.isclose(beam_score, np.log(0.36))
    assert beam_score > greedy_score


def exhaustive_best(table, bos, max_len):
    """The most likely sequence ending in eos within max_len tokens, or of max_len tokens, by enumeration."""
    V = len(table)
    ended = [[*body, EOS] for n in range(max_len) for body in itertools.product(range(1, V), repeat=n)]
    unended = [list(body) for body in itertools.product(range(1, V), repeat=max_len)]
    return max((log_likelihood(table, bos, seq), seq) for seq in ended + unended)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3))
def test_width_one_is_greedy(seed, max_len):
    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.ones(4), size=4)
    step, state = table_decoder(table)
    assert beam_search(step, state, 3, EOS, max_len, width=1) == greedy_decode(step, state, 3, EOS, max_len)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_a_wide_beam_finds_the_most_likely_sequence(seed):
    """A beam as wide as every hypothesis there is never prunes: it must find the best finished sequence."""
    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.ones(3), size=3) * 0.98 + 0.0066
    table /= table.sum(axis=1, keepdims=True)
    step, state = table_decoder(table)
    tokens, score = beam_search(step, state, 2, EOS, max_len=4, width=3 ** 4)
    want_score, want = exhaustive_best(table, 2, 4)
    assert np.isclose(score, want_score) and tokens == want      # want may end without eos (max_len)
    assert np.isclose(score, log_likelihood(table, 2, tokens))


def test_wider_beams_never_score_lower_on_the_designed_case():
    step, state = table_decoder(TRAP)
    scores = [beam_search(step, state, 3, EOS, 5, width)[1] for width in (1, 2, 3, 4)]
    assert scores[0] < scores[1] == scores[2] == scores[3]


def test_max_len_stops_a_decoder_that_never_ends():
    step, state = table_decoder([[0.5, 0.5], [1e-9, 1 - 1e-9]])      # after 1: 1 again, almost surely
    assert greedy_decode(step, state, 1, EOS, max_len=4)[0] == [1, 1, 1, 1]
    tokens, score = beam_search(step, state, 1, EOS, max_len=4, width=2)
    assert tokens == [1, 1, 1, 1] and np.isclose(score, 4 * np.log(1 - 1e-9))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_states_follow_their_hypotheses(seed):
    """A decoder whose next token depends on the last two (the state holds the one before the last):
    a beam that hands a hypothesis another's state scores it under the wrong row and misses the best."""
    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.ones(3), size=(3, 3)) * 0.98 + 0.0066     # table[before last, last] -> next
    table /= table.sum(axis=-1, keepdims=True)
    log_table = np.log(table)

    def step(tokens, state):
        return log_table[state[:, 0], tokens], tokens[:, None]

    def likelihood(seq):
        prev2, prev, total = 2, 2, 0.0
        for t in seq:
            total, prev2, prev = total + log_table[prev2, prev, t], prev, t
        return total
    tokens, score = beam_search(step, np.array([[2]]), 2, EOS, max_len=4, width=3 ** 4)
    ended = [[*body, EOS] for n in range(4) for body in itertools.product((1, 2), repeat=n)]
    candidates = ended + [list(body) for body in itertools.product((1, 2), repeat=4)]
    best = max(candidates, key=likelihood)
    assert tokens == best and np.isclose(score, likelihood(best))


@pytest.mark.parametrize("kwargs,message", [({"max_len": 0}, "max_len: expected a positive integer"),
                                            ({"bos": -1}, "bos: expected a token id"),
                                            ({"width": 0}, "width: expected a positive integer")])
def test_wrong_arguments_are_named(kwargs, message):
    step, state = table_decoder(TRAP)
    args = {"bos": 3, "eos": EOS, "max_len": 5, "width": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        beam_search(step, state, **args)


def test_a_step_of_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"step: expected log_probs of shape \(B, V\) with B = 1"):
        greedy_decode(lambda tokens, state: (np.zeros(4), state), np.zeros((1, 1)), 3, EOS, 5)
