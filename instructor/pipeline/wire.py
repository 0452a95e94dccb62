"""The wire format between the trusted grader and a student's kernel: JSON with arrays as .npy.

Self-contained (numpy and the standard library only): its source is sent into the kernel with
every call (before instructor/pipeline/kernel_call.py's, which uses it there), so a submission cannot have
replaced it beforehand. Decoding never unpickles and only
rebuilds rnnlib's own classes (named tuples such as rnn's StepCache, models such as CharRNN), so a
hostile kernel's answer can carry wrong data but never code.
"""
import base64
import builtins
import importlib
import io
import types

import numpy as np


class Unportable(TypeError):
    """An argument that cannot cross to the kernel (a closure, an open file, ...)."""


def _class_path(obj):
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _rnnlib_class(path):
    module, _, qualname = path.partition(":")
    if module != "rnnlib" and not module.startswith("rnnlib."):
        raise ValueError(f"refusing to rebuild {path!r}: only rnnlib's classes cross the wire")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise ValueError(f"{path!r} is not a class")
    return obj


def encode(value, memo):
    """A JSON-able form of value; memo (id -> index) keeps shared arrays shared."""
    if isinstance(value, np.ndarray):
        if id(value) in memo:
            return {"ref": memo[id(value)]}
        memo[id(value)] = len(memo)
        buf = io.BytesIO()
        np.save(buf, value, allow_pickle=False)
        return {"array": base64.b64encode(buf.getvalue()).decode(), "id": memo[id(value)]}
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, np.generic):
        return encode(value.item(), memo)
    if isinstance(value, np.random.Generator):
        return {"generator": value.bit_generator.state}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: encode(v, memo) for k, v in value.items()}}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"namedtuple": _class_path(value), "items": [encode(v, memo) for v in value]}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple": [encode(v, memo) for v in value]}
    if isinstance(value, types.GeneratorType):
        return encode(list(value), memo)
    if type(value).__module__.startswith("rnnlib.") and hasattr(value, "__dict__"):
        return {"object": _class_path(value), "state": encode(vars(value), memo)}
    raise Unportable(f"cannot send a {type(value).__name__} to the grading kernel")


def decode(data, memo):
    """The inverse of encode; memo (index -> array) rebuilds shared arrays once."""
    if not isinstance(data, dict):
        return data
    if "array" in data:
        memo[data["id"]] = np.load(io.BytesIO(base64.b64decode(data["array"])), allow_pickle=False)
        return memo[data["id"]]
    if "ref" in data:
        return memo[data["ref"]]
    if "generator" in data:
        bits = np.random.PCG64()
        bits.state = data["generator"]
        return np.random.Generator(bits)
    if "dict" in data:
        return {k: decode(v, memo) for k, v in data["dict"].items()}
    if "list" in data:
        return [decode(v, memo) for v in data["list"]]
    if "tuple" in data:
        return tuple(decode(v, memo) for v in data["tuple"])
    if "namedtuple" in data:
        return _rnnlib_class(data["namedtuple"])(*(decode(v, memo) for v in data["items"]))
    if "object" in data:
        obj = object.__new__(_rnnlib_class(data["object"]))
        obj.__dict__.update(decode(data["state"], memo))
        return obj
    raise ValueError(f"unknown wire value with keys {sorted(data)}")


def error_class(name):
    """The builtin exception class called name, or RuntimeError for anything else."""
    cls = getattr(builtins, str(name), None)
    return cls if isinstance(cls, type) and issubclass(cls, Exception) else RuntimeError
