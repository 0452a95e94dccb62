"""Input validation shared by every public function.

Errors are raised early, as ``ValueError``, with a message that names the argument, the shape it
got and the shape it was expected to have, e.g.::

    ValueError: Wh: expected shape (H, H) = (4, 4), got (4, 5)
"""
import numpy as np


def _fmt(shape, dims, got=()):
    """'(N, T, D) = (2, 5, 3)': symbols not bound yet are shown with the size this array has."""
    def tup(items):
        items = [str(i) for i in items]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if all(isinstance(s, int) for s in shape):
        return tup(shape)
    got = tuple(got) + (None,) * len(shape)
    # A symbol with no size known yet stays a symbol: '(N, D) = (N, 3)'.
    sizes = [s if isinstance(s, int) else dims.get(s, got[i] if got[i] is not None else s)
             for i, s in enumerate(shape)]
    return tup(shape) if sizes == list(shape) else f"{tup(shape)} = {tup(sizes)}"


def check_array(name, a, shape, dims=None, kind="float"):
    """Check one array argument and return it as an ndarray.

    name:  the argument's name, used in the message.
    shape: tuple of dimension symbols (str) or fixed sizes (int), e.g. ("N", "T", "D").
    dims:  dict symbol -> size shared by the arguments of one call; a symbol seen for the first
           time is bound to this array's size, so later arguments must agree with it.
    kind:  "float" (real floating dtype, no NaN or inf) or "int" (integer dtype).
    """
    dims = {} if dims is None else dims
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array of shape {_fmt(shape, dims)}, "
                         f"got {type(a).__name__}")
    if kind == "float" and a.dtype.kind != "f":           # np.floating (issubdtype is slower)
        raise ValueError(f"{name}: expected a floating-point array (float32 or float64), got dtype {a.dtype}")
    if kind == "int" and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name}: expected an integer array, got dtype {a.dtype}")
    if a.ndim != len(shape):
        raise ValueError(f"{name}: expected shape {_fmt(shape, dims)}, got {a.shape}")
    for sym, size in zip(shape, a.shape):
        want = sym if isinstance(sym, int) else dims.setdefault(sym, size)
        if size != want:
            raise ValueError(f"{name}: expected shape {_fmt(shape, dims, a.shape)}, got {a.shape}")
    if kind == "float" and not np.isfinite(a).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"{name}: contains NaN or inf (first at index {bad})")
    return a


def check_gate_params(Wx, Wh, b, dims, gates):
    """Gated cells' weights: Wh (H, gH) first (it fixes H, if the state has not, and so the gH that
    Wx (D, gH) and b (gH,) must have), with g = gates (4 for the LSTM, 3 for the GRU)."""
    width = f"{gates}H"
    check_array("Wh", Wh, ("H", width), dims)
    if dims[width] != gates * dims["H"]:
        H = dims["H"]
        raise ValueError(f"Wh: expected shape (H, {width}) = ({H}, {gates * H}), got {Wh.shape}")
    check_array("Wx", Wx, ("D", width), dims)
    check_array("b", b, (width,), dims)


def check_positive(name, value, integer=True):
    """Check that a size or count (int) or a rate (float) is strictly positive."""
    ok_type = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    if not ok_type or isinstance(value, bool) or not value > 0:
        what = "a positive integer" if integer else "a positive number"
        raise ValueError(f"{name}: expected {what}, got {value!r}")
    return value


def check_cache_list(cache, forward):
    """A sequence backward's cache: the non-empty list of step caches that `forward` returned."""
    if not isinstance(cache, (list, tuple)) or not cache:
        got = "an empty list" if isinstance(cache, (list, tuple)) else type(cache).__name__
        raise ValueError(f"cache: expected the list of T >= 1 step caches from {forward}, got {got}")
    return cache


def check_step_cache(cache, cache_type, forward, t=None):
    """A step cache as cache_type (a NamedTuple): forward's own, or any tuple of its length in its
    field order, e.g. from a forward written in a notebook. t: the step, for the message."""
    if isinstance(cache, cache_type):
        return cache
    if isinstance(cache, tuple) and len(cache) == len(cache_type._fields):
        return cache_type(*cache)
    name = "cache" if t is None else f"cache[{t}]"
    size = f" of length {len(cache)}" if isinstance(cache, (tuple, list)) else ""
    raise ValueError(f"{name}: expected a step cache ({', '.join(cache_type._fields)}) as {forward} "
                     f"returns it, got {type(cache).__name__}{size}")
