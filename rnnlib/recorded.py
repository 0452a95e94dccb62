"""Answers recorded for the checks of a lesson that is open: the results without the code.

While a lesson is handed out and not yet closed, the student edition (instructor/commands/publish.py) must
not hold the code that answers it: its references and its checks' deliberately wrong variants.
Its visible tests still need their results, on the seeded inputs the checks use. So the edition
holds those functions as stubs that look their result up here, in a table the instructor's side
recorded by running the lesson's checks against the real code (instructor/pipeline/record.py). Called
with any other arguments, a stub raises its message: the table holds results, never a way to
compute one.

    fingerprint(value)                   a digest of arrays, numbers, tuples, caches, generators...
    recorded(name, message, arguments)   a stub's body: the recorded result, or RuntimeError(message)

A call's arguments are what the function's signature binds them to (defaults applied), so the
recorder (inspect.signature(...).bind) and the stub (locals() on entry) see the same thing. What
the function changed in place (an optimiser's parameters, a generator's state, an object's
attributes) is recorded too and put back into the caller's objects.
"""
import copy
import functools
import hashlib
import os
import pickle
import sys
from pathlib import Path

import numpy as np

from . import stepwise

TABLE = Path(__file__).with_name("recorded.pickle")


class NotRecorded(RuntimeError):
    """A stub was called with arguments no check of its lesson uses."""


def _feed(digest, value, seen):
    if id(value) in seen:                      # a cycle (an object holding itself): name the type only
        digest.update(b"<cycle>")
        return
    if isinstance(value, np.ndarray):
        digest.update(f"a{value.dtype.kind}{value.shape}".encode())
        # float32 digits: another BLAS build or processor may differ in float64's last bits
        digest.update(np.ascontiguousarray(value.astype(np.float32) if value.dtype.kind == "f" else value).tobytes())
    elif isinstance(value, (np.generic, int, float, complex, bool, str, bytes, type(None))):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, (tuple, list)):
        digest.update(f"{type(value).__name__}[{len(value)}](".encode())
        for item in value:
            _feed(digest, item, seen | {id(value)})
        digest.update(b")")
    elif isinstance(value, dict):
        digest.update(f"dict[{len(value)}](".encode())
        for key in sorted(value, key=repr):
            _feed(digest, key, seen)
            _feed(digest, value[key], seen | {id(value)})
        digest.update(b")")
    elif isinstance(value, np.random.Generator):
        _feed(digest, value.bit_generator.state, seen)
    elif callable(value) and hasattr(value, "__qualname__"):
        digest.update(f"fn:{getattr(value, '__module__', '')}.{value.__qualname__};".encode())
        if hasattr(value, "__self__"):
            _feed(digest, value.__self__, seen)
    elif hasattr(value, "__dict__"):
        digest.update(f"obj:{type(value).__qualname__}".encode())
        _feed(digest, vars(value), seen | {id(value)})
    else:
        raise TypeError(f"cannot fingerprint a {type(value).__name__}")


def fingerprint(value):
    """A digest of value that equal inputs share across processes (arrays by dtype, shape and bytes)."""
    digest = hashlib.sha256()
    _feed(digest, value, frozenset())
    return digest.hexdigest()


def _holds_state(value):
    return isinstance(value, (np.ndarray, np.random.Generator, dict, list)) or (
        hasattr(value, "__dict__") and not callable(value))


def _state(value):
    return mutable(value) if _holds_state(value) else copy.deepcopy(value)


def mutable(value):
    """The state of value that a call can change in place, or None (numbers, strings, tuples)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, np.random.Generator):
        return value.bit_generator.state
    if isinstance(value, dict):
        return {k: _state(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_state(v) for v in value]
    if _holds_state(value):
        return {k: _state(v) for k, v in vars(value).items()}
    return None


def restore(value, state):
    """Put state (from mutable) back into value, in place: arrays' entries, a generator's position,
    a dict's or an object's entries (new ones added, as an output dict filled by the call)."""
    if isinstance(value, np.ndarray):
        value[...] = state
    elif isinstance(value, np.random.Generator):
        value.bit_generator.state = state
    elif isinstance(value, list):
        for i, item in enumerate(state):
            if i < len(value) and _holds_state(value[i]):
                restore(value[i], item)
            elif i < len(value):
                value[i] = copy.deepcopy(item)
            else:
                value.append(copy.deepcopy(item))
        del value[len(state):]
    else:
        entries = value if isinstance(value, dict) else vars(value)
        for k, item in state.items():
            if k in entries and _holds_state(entries[k]):
                restore(entries[k], item)
            else:
                entries[k] = copy.deepcopy(item)


_CHECKS = f"{Path(__file__).resolve().parent / 'grading'}{os.sep}"
_running = set()        # the exercises whose student function a stub is running (a delegating answer recurses)


@functools.cache
def _load():
    """{"results": {(name, fingerprint): (result, changes)}, "exercises": {name: exercise function}}."""
    return pickle.loads(TABLE.read_bytes()) if TABLE.exists() else {"results": {}, "exercises": {}}


def _yours(name, message, arguments):
    exercise = _load()["exercises"].get(name)
    adapter = None
    if exercise is None and name in stepwise.ADAPTERS:      # a recurrence, done by the student's steps
        adapter, exercise = stepwise.ADAPTERS[name]
    fn = getattr(sys.modules.get("__main__"), exercise or "", None)     # the notebook's namespace
    if (not callable(fn) or getattr(fn, "__module__", "").startswith("rnnlib") or exercise in _running
            or called_by_a_check()):
        if adapter:         # the student writes the step, never the recurrence the message names
            message += f"; this runs on your {exercise}: run the cell that defines it first"
        raise NotRecorded(message)
    values = list(arguments.values())
    takes = _positional(fn)
    if not adapter and takes < len(values) and any(v is not None for v in values[takes:]):   # lstm_forward's c0
        raise NotRecorded(message)
    _running.add(exercise)
    try:
        return adapter(fn, *values) if adapter else fn(*values[:takes])
    finally:
        _running.discard(exercise)


def _positional(fn):
    """How many positional arguments fn takes (any number: a large one)."""
    import inspect
    parameters = inspect.signature(fn).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return 1 << 30
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)


def called_by_a_check():
    """Is one of the checks (rnnlib.grading's code) on the stack?"""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.startswith(_CHECKS):
            return True
        frame = frame.f_back
    return False


def recorded(name, message, arguments):
    """What a stub returns: the result its function gave on these arguments when recorded.

    arguments: the stub's locals() on entry ({parameter: value}). A call no check of the lesson
    makes runs the student's own function of the same exercise instead (a recurrence: the student's
    step function, through rnnlib/stepwise.py), when the notebook has defined it and a check is not
    the caller (a lesson's demos and widgets run on the student's code while the lesson is open);
    otherwise it raises NotRecorded(message)."""
    try:
        key = (name, fingerprint(arguments))
    except TypeError:
        key = None
    found = _load()["results"].get(key)
    if found is None:
        return _yours(name, message, arguments)
    result, changed = found
    for parameter, state in changed.items():
        restore(arguments[parameter], state)
    if isinstance(result, Generated):
        return iter(copy.deepcopy(result.items))
    return copy.deepcopy(result)


class Generated:
    """What a generator function yielded, recorded: its stub returns an iterator over it."""

    def __init__(self, items):
        self.items = items
