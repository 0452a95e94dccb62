"""Tests for rnnlib.data: corpora, Vocab, truncated-BPTT batches, bits and binary addition."""
import inspect
import socket
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rnnlib.data
from rnnlib.data import (
    BUILTIN_CORPORA,
    Vocab,
    all_binary_addition_pairs,
    binary_addition_batch,
    bits_to_int,
    first_bit_batch,
    int_to_bits,
    load_corpus,
    lookahead_batch,
    random_binary_addition_batch,
    tbptt_batches,
)

FAST = settings(max_examples=60, deadline=None)


# --------------------------------------------------------------------------------------------
# load_corpus
# --------------------------------------------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch):
    """Make any attempt to open a network connection fail loudly."""
    def refuse(*args, **kwargs):
        raise AssertionError("load_corpus tried to use the network")
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_default_corpus_is_nonempty_deterministic_and_offline(no_network):
    text = load_corpus()
    assert isinstance(text, str)
    assert len(text) > 100_000
    assert load_corpus("python-docs") == text


def test_tinyshakespeare_ships_with_the_package(no_network):
    text = load_corpus("tinyshakespeare")
    assert text.startswith("First Citizen")
    assert len(text) == 1_115_394
    assert len(Vocab(text)) == 65


def test_corpus_from_a_path(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("héllo\nwörld\n", encoding="utf-8")
    assert load_corpus(path) == "héllo\nwörld\n"
    assert load_corpus(str(path)) == "héllo\nwörld\n"


def test_unknown_corpus_lists_the_builtin_names(tmp_path):
    with pytest.raises(ValueError, match="no such file") as e:
        load_corpus("shakespeare")
    for name in BUILTIN_CORPORA:
        assert name in str(e.value)
    with pytest.raises(ValueError, match="tinyshakespeare"):
        load_corpus(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="name_or_path"):
        load_corpus(42)


def test_non_utf8_file_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match="UTF-8"):
        load_corpus(path)


# --------------------------------------------------------------------------------------------
# Vocab
# --------------------------------------------------------------------------------------------

def test_vocab_is_sorted_and_consistent():
    v = Vocab("hello world")
    assert v.itos == sorted(set("hello world"))
    assert len(v) == 8
    assert all(v.stoi[ch] == i for i, ch in enumerate(v.itos))
    assert Vocab.from_text("hello world").itos == v.itos


def test_vocab_encode_decode():
    v = Vocab("abc")
    ids = v.encode("cab")
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [2, 0, 1])
    assert v.decode(ids) == "cab"
    assert v.decode([0, 1]) == "ab"
    assert v.decode(np.int64(2)) == "c"
    assert v.decode([]) == ""
    assert v.encode("").shape == (0,)


@FAST
@given(st.text(min_size=1, max_size=200))
def test_vocab_round_trip(text):
    v = Vocab(text)
    assert v.decode(v.encode(text)) == text


def test_vocab_errors():
    v = Vocab("abc")
    with pytest.raises(ValueError, match="'z'"):
        v.encode("abz")
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        v.decode([0, 3])
    with pytest.raises(ValueError, match="ids"):
        v.decode(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="text"):
        Vocab("")


# --------------------------------------------------------------------------------------------
# tbptt_batches
# --------------------------------------------------------------------------------------------

def check_tbptt(data, batch_size, seq_len):
    """Every property of one epoch of tbptt_batches, for one input."""
    batches = list(tbptt_batches(data, batch_size, seq_len))
    segment = len(data) // batch_size
    n_batches = (segment - 1) // seq_len
    assert len(batches) == n_batches >= 1
    offsets = np.arange(batch_size) * segment
    for k, (x, y) in enumerate(batches):
        assert x.shape == y.shape == (batch_size, seq_len)
        assert x.dtype == y.dtype == data.dtype
        for i in range(batch_size):
            start = offsets[i] + k * seq_len
            np.testing.assert_array_equal(x[i], data[start:start + seq_len])
            np.testing.assert_array_equal(y[i], data[start + 1:start + seq_len + 1])  # next token
    for i in range(batch_size):
        # Row i continues where it stopped: its inputs over the epoch are one contiguous run of
        # its own segment, so each position is an input exactly once.
        row = np.concatenate([x[i] for x, _ in batches])
        np.testing.assert_array_equal(row, data[offsets[i]:offsets[i] + n_batches * seq_len])
        # and its targets never leave its segment
        assert offsets[i] + n_batches * seq_len < offsets[i] + segment


def test_tbptt_dlfs2_example():
    # A series of 1000 with batch 2: row 1 starts at 500.
    data = np.arange(1000)
    x, y = next(tbptt_batches(data, 2, 10))
    np.testing.assert_array_equal(x[:, 0], [0, 500])
    np.testing.assert_array_equal(y[:, 0], [1, 501])
    x2, _ = list(tbptt_batches(data, 2, 10))[1]
    np.testing.assert_array_equal(x2[:, 0], [10, 510])
    check_tbptt(data, 2, 10)


def test_tbptt_drops_the_incomplete_tail():
    # segment = 10 // 2 = 5, so (5 - 1) // 2 = 2 batches; data[10] fills no segment.
    data = np.arange(11)
    batches = list(tbptt_batches(data, 2, 2))
    assert len(batches) == 2
    np.testing.assert_array_equal(batches[-1][0], [[2, 3], [7, 8]])
    np.testing.assert_array_equal(batches[-1][1], [[3, 4], [8, 9]])


def test_tbptt_smallest_valid_input():
    data = np.arange(6)
    (x, y), = tbptt_batches(data, 2, 2)
    np.testing.assert_array_equal(x, [[0, 1], [3, 4]])
    np.testing.assert_array_equal(y, [[1, 2], [4, 5]])


@FAST
@given(st.integers(1, 8), st.integers(1, 12), st.data())
def test_tbptt_property(batch_size, seq_len, draw):
    length = draw.draw(st.integers(batch_size * (seq_len + 1), 400), label="length")
    check_tbptt(np.arange(length, dtype=np.int64) * 7 % 13, batch_size, seq_len)


def test_tbptt_batches_do_not_alias_data():
    data = np.arange(20)
    x, y = next(tbptt_batches(data, 2, 3))
    x[:] = -1
    np.testing.assert_array_equal(data, np.arange(20))


def test_tbptt_errors_are_raised_at_call_time():
    data = np.arange(100)
    with pytest.raises(ValueError, match=r"at least .* = 12 tokens.*got 10"):
        tbptt_batches(np.arange(10), 2, 5)
    with pytest.raises(ValueError, match="batch_size"):
        tbptt_batches(data, 0, 5)
    with pytest.raises(ValueError, match="seq_len"):
        tbptt_batches(data, 2, 2.5)
    with pytest.raises(ValueError, match="data: expected an integer array"):
        tbptt_batches(data.astype(float), 2, 5)
    with pytest.raises(ValueError, match="data: expected shape"):
        tbptt_batches(data.reshape(10, 10), 2, 5)
    with pytest.raises(ValueError, match="data"):
        tbptt_batches(list(range(100)), 2, 5)


# --------------------------------------------------------------------------------------------
# int_to_bits / bits_to_int
# --------------------------------------------------------------------------------------------

def test_bits_are_lsb_first():
    bits = int_to_bits(6, 4)
    np.testing.assert_array_equal(bits, [0, 1, 1, 0])
    assert bits.dtype == np.int64
    np.testing.assert_array_equal(int_to_bits(1, 3), [1, 0, 0])
    np.testing.assert_array_equal(int_to_bits(np.uint8(255), 8), [1] * 8)
    assert bits_to_int(np.array([0, 1, 1, 0])) == 6


def test_bits_are_vectorised():
    n = np.arange(24).reshape(2, 3, 4)
    bits = int_to_bits(n, 5)
    assert bits.shape == (2, 3, 4, 5)
    np.testing.assert_array_equal(bits[1, 2, 3], int_to_bits(23, 5))
    back = bits_to_int(bits)
    assert back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, n)
    assert int_to_bits(np.zeros(0, dtype=int), 3).shape == (0, 3)


def test_bits_to_int_accepts_float_and_bool_bits():
    assert bits_to_int(np.array([1.0, 0.0, 1.0])) == 5
    assert bits_to_int(np.array([0.9, 0.2, 0.7]) > 0.5) == 5


@FAST
@given(st.integers(1, 63).flatmap(lambda w: st.tuples(
    st.just(w), hnp.arrays(np.int64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                           elements=st.integers(0, 2 ** w - 1)))))
def test_bits_round_trip(width_and_n):
    width, n = width_and_n
    bits = int_to_bits(n, width)
    assert bits.shape == n.shape + (width,)
    assert set(np.unique(bits)) <= {0, 1}
    np.testing.assert_array_equal(bits_to_int(bits), n)


@FAST
@given(st.integers(1, 63).flatmap(lambda w: st.tuples(st.just(w), st.integers(0, 2 ** w - 1))))
def test_bits_round_trip_python_ints(width_and_n):
    width, n = width_and_n
    assert int(bits_to_int(int_to_bits(n, width))) == n
    assert sum(int(bit) << k for k, bit in enumerate(int_to_bits(n, width))) == n


def test_bits_errors():
    with pytest.raises(ValueError, match=r"n: .*got -1"):
        int_to_bits(-1, 4)
    with pytest.raises(ValueError, match=r"n: .*got 16"):
        int_to_bits(16, 4)
    with pytest.raises(ValueError, match=r"n: .*got 16"):
        int_to_bits(np.array([3, 16, 2]), 4)
    with pytest.raises(ValueError, match="n: .*got -2"):
        int_to_bits(np.array([[0, -2]]), 4)
    with pytest.raises(ValueError, match="n: .*more than 8 bits"):
        int_to_bits(2 ** 100, 8)
    with pytest.raises(ValueError, match="n: expected an int or an integer array"):
        int_to_bits(np.array([1.0]), 4)
    with pytest.raises(ValueError, match="n: expected an int"):
        int_to_bits(True, 4)
    with pytest.raises(ValueError, match="width"):
        int_to_bits(1, 0)
    with pytest.raises(ValueError, match="width"):
        int_to_bits(1, 64)
    with pytest.raises(ValueError, match=r"bits: expected only 0s and 1s, got 2"):
        bits_to_int(np.array([0, 2]))
    with pytest.raises(ValueError, match="bits: expected a numpy array"):
        bits_to_int([0, 1])
    with pytest.raises(ValueError, match="width >= 1"):
        bits_to_int(np.zeros((3, 0), dtype=int))


# --------------------------------------------------------------------------------------------
# Binary addition
# --------------------------------------------------------------------------------------------

def decode_addition(x, y):
    """x (N, W, 2), y (N, W, 1) -> a, b, sum (N,) each."""
    return bits_to_int(x[..., 0]), bits_to_int(x[..., 1]), bits_to_int(y[..., 0])


def test_binary_addition_batch_shapes_and_values():
    a, b = np.array([0, 1, 100, 127]), np.array([0, 2, 55, 128])
    x, y = binary_addition_batch(a, b)
    assert x.shape == (4, 8, 2) and x.dtype == np.float64
    assert y.shape == (4, 8, 1) and y.dtype == np.float64
    da, db, ds = decode_addition(x, y)
    np.testing.assert_array_equal(da, a)
    np.testing.assert_array_equal(db, b)
    np.testing.assert_array_equal(ds, a + b)
    # LSB first: 1 + 2 = 3 reads [1, 0, ...] + [0, 1, ...] = [1, 1, 0, ...]
    np.testing.assert_array_equal(x[1, :3], [[1, 0], [0, 1], [0, 0]])
    np.testing.assert_array_equal(y[1, :3, 0], [1, 1, 0])


def test_all_pairs_cover_the_grid_and_add_up():
    a, b = all_binary_addition_pairs()
    assert len(a) == len(b) == 128 * 128
    assert len(set(zip(a.tolist(), b.tolist()))) == 128 * 128
    assert a.min() == b.min() == 0 and a.max() == b.max() == 127
    x, y = binary_addition_batch(a, b)
    da, db, ds = decode_addition(x, y)
    np.testing.assert_array_equal(da, a)
    np.testing.assert_array_equal(db, b)
    np.testing.assert_array_equal(da + db, ds)
    assert len(all_binary_addition_pairs(4)[0]) == 8 * 8


def test_random_batch_is_reproducible_and_adds_up():
    x, y = random_binary_addition_batch(64, rng=np.random.default_rng(0))
    x2, y2 = random_binary_addition_batch(64, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert x.shape == (64, 8, 2) and y.shape == (64, 8, 1)
    da, db, ds = decode_addition(x, y)
    assert da.max() < 128 and db.max() < 128
    np.testing.assert_array_equal(da + db, ds)


@FAST
@given(st.integers(1, 16), st.integers(1, 20), st.integers(0, 2 ** 32 - 1))
def test_random_batch_property(width, n, seed):
    x, y = random_binary_addition_batch(n, width, rng=np.random.default_rng(seed))
    assert x.shape == (n, width, 2) and y.shape == (n, width, 1)
    da, db, ds = decode_addition(x, y)
    np.testing.assert_array_equal(da + db, ds)


def test_binary_addition_errors():
    with pytest.raises(ValueError, match=r"a \+ b < 2\*\*8"):
        binary_addition_batch(np.array([200, 1]), np.array([100, 1]))
    with pytest.raises(ValueError, match="a: .*got -1"):
        binary_addition_batch(np.array([-1]), np.array([1]))
    with pytest.raises(ValueError, match="b: expected shape"):
        binary_addition_batch(np.array([1, 2]), np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="a: expected an integer array"):
        binary_addition_batch(np.array([1.0]), np.array([1]))
    with pytest.raises(ValueError, match="n"):
        random_binary_addition_batch(0)
    with pytest.raises(ValueError, match="width"):
        all_binary_addition_pairs(0)


def test_first_bit_batch_hides_the_answer_in_the_first_step():
    x, y, mask = first_bit_batch(64, 10, rng=np.random.default_rng(0))
    assert x.shape == (64, 10, 2) and y.shape == mask.shape == (64, 10)
    assert mask[:, -1].all() and not mask[:, :-1].any()
    np.testing.assert_array_equal(y[:, -1], (x[:, 0, 0] > 0).astype(int))
    assert set(np.unique(y[:, -1])) == {0, 1} and (x[:, 1:, 0] == 0).all()
    with pytest.raises(ValueError, match="k"):
        first_bit_batch(4, 0)


def test_lookahead_labels_are_the_bits_shift_steps_ahead():
    x, y, mask = lookahead_batch(8, 12, shift=3, rng=np.random.default_rng(0))
    bits = x.argmax(-1)
    np.testing.assert_array_equal(y[:, :-3], bits[:, 3:])
    assert mask[:, :-3].all() and not mask[:, -3:].any()
    with pytest.raises(ValueError, match="shift"):
        lookahead_batch(8, 3, shift=3)


def test_tbptt_batches_is_one_plain_function_returning_a_generator():
    """The whole answer lives in tbptt_batches: a plain function (so it checks at call time) whose
    batches come from a generator defined inside it."""
    assert not inspect.isgeneratorfunction(tbptt_batches)
    assert isinstance(tbptt_batches(np.arange(20), 2, 3), types.GeneratorType)
    assert not hasattr(rnnlib.data, "_tbptt_batches")
