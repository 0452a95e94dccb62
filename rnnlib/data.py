"""Data for the course: text corpora, a character vocabulary, truncated-BPTT batches, and the
binary-addition toy task.

Everything here is deterministic and works offline: the built-in corpora ship with Python or
with this package.

    text = load_corpus()                       # str
    vocab = Vocab(text)                        # sorted characters
    ids = vocab.encode(text)                   # (L,) int64
    for x, y in tbptt_batches(ids, 32, 25):    # x, y (32, 25) int64, y = next token of x
        ...
"""
import os
from pathlib import Path

import numpy as np

from ._checks import check_array, check_positive

BUILTIN_CORPORA = ("python-docs", "tinyshakespeare")
_CORPORA_DIR = Path(__file__).parent / "corpora"

# int64 holds every value below 2**63, so that is the widest bit string we can convert.
_MAX_BITS = 63


# Corpora

def _python_docs():
    # The help() texts of the Python docs, bundled with every CPython as a dict topic -> text.
    # Joined in sorted key order so the corpus is identical on every run of one Python version
    # (a different Python version ships slightly different docs, hence a slightly different text).
    from pydoc_data.topics import topics
    return "".join(topics[key] for key in sorted(topics))


def load_corpus(name_or_path="python-docs"):
    """Return a corpus as one string.

    name_or_path: a built-in name or the path (str or path-like) of a UTF-8 text file.
      "python-docs"     (default) the Python documentation topics, ~465k characters, ~100
                        distinct ones; built from the standard library, so no download.
      "tinyshakespeare" Karpathy's Tiny Shakespeare, ~1.1M characters, 65 distinct ones.
    Line endings are normalised to "\\n".
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ValueError(f"name_or_path: expected a built-in corpus name {BUILTIN_CORPORA} or the path "
                         f"of a UTF-8 text file, got {type(name_or_path).__name__}")
    if name_or_path == "python-docs":
        return _python_docs()
    if name_or_path == "tinyshakespeare":
        # Shipped inside the package (package data), so it loads offline from any install.
        return (_CORPORA_DIR / "tinyshakespeare.txt").read_text(encoding="utf-8")
    if not os.path.isfile(name_or_path):
        raise ValueError(f"name_or_path: expected a built-in corpus name {BUILTIN_CORPORA} or the path "
                         f"of a UTF-8 text file, got {str(name_or_path)!r} (no such file)")
    with open(name_or_path, encoding="utf-8") as f:
        try:
            return f.read()
        except UnicodeDecodeError as e:
            raise ValueError(f"name_or_path: expected a UTF-8 text file, but {str(name_or_path)!r} "
                             f"is not valid UTF-8 ({e.reason} at byte {e.start})") from None


# Character vocabulary

class Vocab:
    """A character-level vocabulary: every distinct character of a text, in sorted order.

    itos: list of the V characters, id -> character.
    stoi: dict character -> id, its inverse.
    Sorting makes the ids depend only on the set of characters, not on where they first occur.
    """

    def __init__(self, text):
        if not isinstance(text, str) or not text:
            got = repr(text) if isinstance(text, str) else type(text).__name__
            raise ValueError(f"text: expected a non-empty str, got {got}")
        self.itos = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text):
        """Same as Vocab(text)."""
        return cls(text)

    def __len__(self):
        return len(self.itos)

    def __repr__(self):
        return f"Vocab({len(self)} characters: {''.join(self.itos)!r})"

    def encode(self, text):
        """str of length L -> ids (L,) int64. A character outside the vocabulary raises ValueError."""
        if not isinstance(text, str):
            raise ValueError(f"text: expected a str, got {type(text).__name__}")
        try:
            return np.array([self.stoi[ch] for ch in text], dtype=np.int64)
        except KeyError as e:
            ch = e.args[0]
            raise ValueError(f"text: character {ch!r} at index {text.index(ch)} is not in the "
                             f"vocabulary of {len(self)} characters") from None

    def decode(self, ids):
        """ids (L,) integers in [0, V) (an array, list or single int) -> str of length L."""
        ids = np.asarray(ids)
        if ids.size == 0:
            return ""   # np.asarray([]) is float64: let an empty list through before the dtype check
        if not np.issubdtype(ids.dtype, np.integer) or ids.ndim > 1:
            raise ValueError(f"ids: expected integers of shape (L,), got dtype {ids.dtype} "
                             f"and shape {ids.shape}")
        ids = ids.reshape(-1)
        bad = (ids < 0) | (ids >= len(self))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"ids: expected ids in [0, {len(self)}), got {ids[i]} at index {i}")
        return "".join(self.itos[i] for i in ids.tolist())


# Truncated-BPTT batches

def tbptt_batches(data, batch_size, seq_len):
    """One epoch of batches for a stateful RNN trained with truncated BPTT.

    data (L,) integer token ids; batch_size B; seq_len T.
    Yields (x, y), each (B, T) with data's dtype, where y[i, t] is the token after x[i, t].

    The series is cut into B segments of S = L // B tokens; row i reads segment i, starting at
    offset i * S, and every batch continues each row exactly where the previous one stopped.
    So row i of one batch is the continuation of row i of the previous batch, and the hidden
    state a stateful RNN carries from one batch to the next belongs to the same stream.
    (E.g. L = 1000, B = 2: row 0 reads from 0, row 1 from 500.)

    There are (S - 1) // T batches: the targets need one token more than the inputs, and the
    targets of row i never leave segment i. What is dropped:
      - the last L - B * S (< B) tokens of data, which fill no segment;
      - the tail of each segment that does not fill a whole window of T: the last
        S - n_batches * T tokens of a segment are never an input (the first of them is still
        the final target).
    Each other position is an input exactly once per epoch.
    """
    check_array("data", data, ("L",), kind="int")
    check_positive("batch_size", batch_size)
    check_positive("seq_len", seq_len)
    need = batch_size * (seq_len + 1)
    if len(data) < need:
        raise ValueError(f"data: expected at least batch_size * (seq_len + 1) = {batch_size} * "
                         f"({seq_len} + 1) = {need} tokens for one batch, got {len(data)}")
    segment = len(data) // batch_size
    n_batches = (segment - 1) // seq_len
    # idx[i, t] = position of x[i, t] in data for batch 0; batch k shifts every row by k * T.
    idx = np.arange(batch_size)[:, None] * segment + np.arange(seq_len)

    # A generator of its own, because a function containing `yield` only runs at the first next():
    # tbptt_batches itself is a plain function, so the checks above raise at call time.
    def batches():
        for k in range(n_batches):
            pos = idx + k * seq_len
            yield data[pos], data[pos + 1]   # fancy indexing copies: the batches never alias data

    return batches()


# Bits

def _check_width(width, limit=_MAX_BITS):
    check_positive("width", width)
    if width > limit:
        raise ValueError(f"width: expected at most {limit} bits, got {width}")
    return width


def int_to_bits(n, width):
    """Binary digits of non-negative integers, least-significant bit first.

    n: an int, or an integer array of any shape (...), each value in [0, 2**width).
    Returns bits (..., width) int64 of 0s and 1s: bits[..., k] is the bit worth 2**k.
    int64 rather than uint8 so arithmetic such as `bits - 1` cannot wrap around.
    e.g. int_to_bits(6, 4) -> [0, 1, 1, 0].
    """
    _check_width(width)
    if isinstance(n, (int, np.integer)) and not isinstance(n, bool):
        _check_range("n", int(n), int(n), width)   # before np.int64(n), which overflows on huge n
        n = np.int64(n)
    elif isinstance(n, np.ndarray) and np.issubdtype(n.dtype, np.integer):
        _check_array_range("n", n, width)
    else:
        got = f"dtype {n.dtype}" if isinstance(n, np.ndarray) else type(n).__name__
        raise ValueError(f"n: expected an int or an integer array, got {got}")
    n = np.asarray(n, dtype=np.int64)
    # Shift each number right by 0, 1, ..., width-1 and keep the lowest bit: LSB first.
    return (n[..., None] >> np.arange(width)) & 1


def _check_range(name, lo, hi, width):
    # lo, hi: the smallest and largest value, as Python ints, so 2**width cannot overflow.
    if lo < 0:
        raise ValueError(f"{name}: expected values in [0, 2**{width}) = [0, {2 ** width}), got {lo}")
    if hi >= 2 ** width:
        raise ValueError(f"{name}: expected values in [0, 2**{width}) = [0, {2 ** width}), "
                         f"got {hi}, which needs more than {width} bits")


def _check_array_range(name, n, width):
    if n.size:
        _check_range(name, int(n.min()), int(n.max()), width)
    return n


def bits_to_int(bits):
    """Inverse of int_to_bits: bits (..., width), least-significant bit first -> ints (...) int64.

    bits may be int, bool or float, as long as every value is exactly 0 or 1 (threshold model
    outputs first, e.g. bits_to_int(p > 0.5)). A single bit string (width,) gives a scalar.
    """
    if not isinstance(bits, np.ndarray):
        raise ValueError(f"bits: expected a numpy array of shape (..., width), got {type(bits).__name__}")
    if bits.ndim == 0 or bits.shape[-1] == 0:
        raise ValueError(f"bits: expected shape (..., width) with width >= 1, got {bits.shape}")
    if bits.shape[-1] > _MAX_BITS:
        raise ValueError(f"bits: expected at most {_MAX_BITS} bits on the last axis, got {bits.shape[-1]}")
    if not (np.issubdtype(bits.dtype, np.integer) or np.issubdtype(bits.dtype, np.floating)
            or bits.dtype == bool):
        raise ValueError(f"bits: expected an int, float or bool array, got dtype {bits.dtype}")
    bad = (bits != 0) & (bits != 1)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"bits: expected only 0s and 1s, got {bits[at].item()!r} at index {at}")
    weights = np.int64(1) << np.arange(bits.shape[-1], dtype=np.int64)   # 1, 2, 4, ... (LSB first)
    return (bits.astype(np.int64) * weights).sum(axis=-1)[()]   # [()] turns a 0-d result into a scalar


# Binary addition (lesson 05, after iamtrask's toy)

# The sum of two operands below 2**62 still fits int64.
_MAX_ADD_BITS = 62


def binary_addition_batch(a, b, width=8):
    """Encode sums a + b as sequences for an RNN, least-significant bit first.

    a (N,), b (N,): non-negative integer arrays with every a + b < 2**width.
    Returns x (N, width, 2) float64 and y (N, width, 1) float64:
      x[n, t] = [bit t of a[n], bit t of b[n]], y[n, t, 0] = bit t of a[n] + b[n].
    LSB first is what makes the task learnable step by step: the carry into bit t depends
    only on bits already seen, so the RNN's hidden state can hold it.
    """
    _check_width(width, _MAX_ADD_BITS)
    dims = {}
    check_array("a", a, ("N",), dims, kind="int")
    check_array("b", b, ("N",), dims, kind="int")
    _check_array_range("a", a, width)
    _check_array_range("b", b, width)
    total = a.astype(np.int64) + b.astype(np.int64)   # cannot overflow: both < 2**62
    if total.size and total.max() >= 2 ** width:
        i = int(np.argmax(total))
        raise ValueError(f"a, b: expected every a + b < 2**{width} = {2 ** width} so the sum fits in "
                         f"{width} bits, got a[{i}] + b[{i}] = {a[i]} + {b[i]} = {total[i]}")
    x = np.stack([int_to_bits(a, width), int_to_bits(b, width)], axis=-1).astype(np.float64)
    y = int_to_bits(total, width)[..., None].astype(np.float64)
    return x, y


# 4**11 ~ 4M pairs, 64 MB of operands: enough for any sensible exhaustive evaluation.
_MAX_ALL_PAIRS_BITS = 12


def all_binary_addition_pairs(width=8):
    """Every pair of operands in [0, 2**(width-1)), for an exhaustive test of the adder.

    Returns a, b, each (4**(width-1),) int64: all (2**(width-1))**2 pairs, a-major
    (a = 0, 0, ..., 1, 1, ...; b = 0, 1, ..., 0, 1, ...). Width 8 gives 128 * 128 = 16384 pairs.
    Operands below 2**(width-1) guarantee that every sum fits in width bits. (Some larger
    operands also fit, e.g. 200 + 10 < 256, but are left out to keep the set a square grid.)
    width is at most 12.
    """
    _check_width(width, _MAX_ALL_PAIRS_BITS)
    half = 2 ** (width - 1)
    a, b = np.divmod(np.arange(half * half, dtype=np.int64), half)
    return a, b


def random_binary_addition_batch(n, width=8, rng=None):
    """A batch of n random additions, operands uniform in [0, 2**(width-1)) so every sum fits.

    rng: a np.random.Generator (or a seed, or None for a fresh unseeded generator); pass a
    seeded one for reproducible runs.
    Returns x (n, width, 2) float64, y (n, width, 1) float64, as binary_addition_batch.
    The operands can be read back with bits_to_int(x[..., 0]) and bits_to_int(x[..., 1]).
    """
    check_positive("n", n)
    _check_width(width, _MAX_ADD_BITS)
    rng = np.random.default_rng(rng)
    a, b = rng.integers(0, 2 ** (width - 1), size=(2, n), dtype=np.int64)
    return binary_addition_batch(a, b, width)


# --- sequence tasks for lesson 07 -----------------------------------------------------------

def first_bit_batch(N, k, rng=None):
    """"Remember the first bit": a long-range task. One bit, then k - 1 steps of noise; answer the bit.

    Returns x (N, k, 2) float64, y (N, k) int64 and mask (N, k) bool. Channel 0 carries the bit
    as -1 or +1 at step 0 and is 0 afterwards; channel 1 is standard normal noise at every step.
    The label y[:, -1] is the bit and mask is True only at the last step, so the loss (and every
    gradient) starts k - 1 steps after the one input it needs.
    """
    check_positive("N", N)
    check_positive("k", k)
    rng = np.random.default_rng() if rng is None else rng
    bits = rng.integers(0, 2, size=N)
    x = np.zeros((N, k, 2))
    x[:, 0, 0] = 2.0 * bits - 1
    x[:, :, 1] = rng.standard_normal((N, k))
    y, mask = np.zeros((N, k), dtype=np.int64), np.zeros((N, k), dtype=bool)
    y[:, -1], mask[:, -1] = bits, True
    return x, y, mask


def lookahead_batch(N, T, shift=2, rng=None):
    """Tag each position with the bit `shift` steps in its future (needs a bidirectional RNN).

    Returns x (N, T, 2) one-hot float64 bits, y (N, T) int64 with y[:, t] = bit t + shift, and
    mask (N, T) bool, False for the last `shift` steps, which have no future bit to predict.
    A left-to-right RNN has not seen bit t + shift when it answers at step t: chance is 50%.
    """
    check_positive("shift", shift)
    if shift >= T:
        raise ValueError(f"shift: expected 0 < shift < T = {T}, got {shift}")
    check_positive("N", N)
    rng = np.random.default_rng() if rng is None else rng
    bits = rng.integers(0, 2, size=(N, T))
    x = np.eye(2)[bits]                                # one-hot (N, T, 2), float64
    y, mask = np.zeros((N, T), dtype=np.int64), np.zeros((N, T), dtype=bool)
    y[:, :-shift], mask[:, :-shift] = bits[:, shift:], True
    return x, y, mask


# --- a sequence-to-sequence task for lesson 08 -----------------------------------------------

REVERSE_BOS, REVERSE_EOS = 10, 11     # the target vocabulary: the digits 0-9, then bos and eos


def reverse_batch(N, min_len, max_len, rng=None):
    """"Reverse the digits": a source of min_len..max_len random digits, the same digits backwards.

    Returns src (N, S) int64 digits (padding 0 after each source's end), src_mask (N, S) bool,
    tgt_in (N, S + 1) int64 (bos, then the reversed digits), tgt_out (N, S + 1) int64 (the reversed
    digits, then eos) and tgt_mask (N, S + 1) bool (the digits and the eos), with S = max_len.
    Source vocabulary 10; target vocabulary 12 (REVERSE_BOS = 10, REVERSE_EOS = 11).
    """
    check_positive("N", N)
    check_positive("min_len", min_len)
    if max_len < min_len:
        raise ValueError(f"max_len: expected max_len >= min_len = {min_len}, got {max_len}")
    rng = np.random.default_rng() if rng is None else rng
    lengths = rng.integers(min_len, max_len + 1, size=N)
    src_mask = np.arange(max_len) < lengths[:, None]
    src = np.where(src_mask, rng.integers(0, 10, size=(N, max_len)), 0)
    tgt_out = np.zeros((N, max_len + 1), dtype=np.int64)
    for n, L in enumerate(lengths):
        tgt_out[n, :L] = src[n, :L][::-1]
        tgt_out[n, L] = REVERSE_EOS
    tgt_in = np.concatenate([np.full((N, 1), REVERSE_BOS), tgt_out[:, :-1]], axis=1)
    tgt_mask = np.arange(max_len + 1) <= lengths[:, None]
    return src, src_mask, tgt_in, tgt_out, tgt_mask
