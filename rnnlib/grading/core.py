"""What every lesson's checks share: the Lesson declaration, running the student's code, messages.

A lesson module declares itself once, as ``LESSON = Lesson(...)``: its assignment id, its
exercises and, for each, the rnnlib function that answers it, plus any other rnnlib function that
computes an answer (the unchecked cores). Everything else reads that declaration: the checks
(``LESSON.call`` refuses delegation), the autograder's stripped rnnlib (instructor/pipeline/strip.py), the
grading canary, the tests and the benchmarks.

Delegation has one definition, used alike by Validate (the student's kernel) and the autograder:
while the lesson is graded, the student's code may call any rnnlib function except the lesson's
references and the checks' own code (rnnlib.grading, whose deliberately wrong variants are
answers too). In the student's kernel a profiler sees such a call; in the autograder those
functions are not there at all (they raise ``WITHHELD``), and both become the same message.
"""
import contextlib
import functools
import importlib
import inspect
import operator
import os
import re
import signal
import sys
import sysconfig
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import itertools

import numpy as np

from .. import gradcheck, recorded
from ..lstm import sigmoid

TOL = 1e-7
# What a withheld reference raises in the autograder's kernel (instructor/pipeline/strip.py writes it).
WITHHELD = "rnnlib's reference {} is withheld while this lesson is graded"
_WITHHELD = re.compile(re.escape(WITHHELD).replace(r"\{\}", r"(\S+)"))
_GRADING = f"{Path(__file__).resolve().parent}{os.sep}"      # the checks' own files start with this
# Every call of the student's code from a check gets this many seconds. A fixed limit, generous
# for every exercise: the slowest right answer (lesson 06's sample, 4000 draws in a Python loop)
# takes about 0.4 s, the others milliseconds, so only code that will not finish reaches it; and
# it ends a check well before the autograder's per-cell timeout (60 s, nbgrader_config.py).
TIME_LIMIT = 10
# Library code: a time limit names the innermost line that is none of these (the student's).
_LIBRARIES = tuple({sysconfig.get_path(p) for p in ("stdlib", "platstdlib", "purelib", "platlib")}
                   | {f"{Path(__file__).resolve().parents[1]}{os.sep}"})


class GradingFailure(AssertionError):
    """A test cell's verdict: the message says what is wrong and how to find it."""

    def _render_traceback_(self):
        # IPython shows these lines instead of a traceback: the message is the whole story, and
        # the test cell's source (hidden tests included) stays out of the student's feedback.
        lines = [f"{type(self).__name__}: {line}" if i == 0 else line
                 for i, line in enumerate(str(self).splitlines())]
        if self.__cause__ is not None:   # the student's own code crashed: show where, in their code
            frames = [f for f in traceback.extract_tb(self.__cause__.__traceback__)
                      if not f.filename.startswith(_GRADING)]
            lines += ["", "Where it happened (most recent call last):"] + [
                f"  {f.name}, line {f.lineno}: {f.line}" for f in frames]
        return lines


class TimedOut(BaseException):
    """Raised into the student's code when its time is up: a BaseException, so that their own
    `except Exception` does not swallow it. stopped_at: (function, line number, line) where it
    was stopped, when that was found elsewhere (the autograder's kernel); else its traceback says."""

    def __init__(self, stopped_at=None):
        super().__init__()
        self.stopped_at = stopped_at


def _time_up(signum, frame):
    raise TimedOut()


@contextlib.contextmanager
def time_limit(seconds):
    """Raise TimedOut in whatever runs inside once `seconds` have passed.

    SIGALRM, so only in the main thread (elsewhere the code runs without a limit). An alarm that
    was already set (a benchmark's signal.alarm around a check) is put back afterwards, still
    counting; if it is due before this limit, it stays in charge and no limit is added."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    earlier = signal.getitimer(signal.ITIMER_REAL)[0]
    if 0 < earlier <= seconds:
        yield
        return
    previous_handler = signal.signal(signal.SIGALRM, _time_up)
    previous_left, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_left:          # 0 would disarm it: an alarm overdue by now fires at once
            left = max(previous_left - (time.monotonic() - started), 1e-6)
            signal.setitimer(signal.ITIMER_REAL, left, previous_interval)


def timed_out(name, seconds, error):
    """The message for a call of name that error (a TimedOut) stopped: the line of the student's
    code it was stopped at, not the grader's."""
    stopped_at = error.stopped_at
    if stopped_at is None:
        frames = [f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith(_LIBRARIES)]
        stopped_at = (frames[-1].name, frames[-1].lineno, frames[-1].line) if frames else None
    where = ""
    if stopped_at:
        function, lineno, line = stopped_at
        inside = "" if function == name.split(".")[-1] else f" of {function}"
        where = f": it was stopped at line {lineno}{inside}" + (f": `{line}`" if line else "")
    return f"{name} did not return within {seconds:g} s{where} — an endless loop?"


def delegation(name, used):
    return GradingFailure(f"{name} runs rnnlib's reference implementation ({used}). This exercise is for "
                          f"writing it yourself with numpy: it earns no points while it calls rnnlib.")


def resolve(reference):
    """The rnnlib function named "module:qualname" (e.g. "models:CharRNN.sample")."""
    module, qualname = reference.split(":")
    return operator.attrgetter(qualname)(importlib.import_module(f"rnnlib.{module}"))


def _methods(reference):
    """reference itself, or for a class "module:Class" every "module:Class.method" it defines."""
    cls = resolve(reference)
    if not isinstance(cls, type):
        return [reference]
    return [f"{reference}.{name}" for name, value in vars(cls).items() if hasattr(value, "__code__")]


def _codes(code):
    """code and every function defined inside it (a nested generator, a lambda)."""
    yield code
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            yield from _codes(const)


@dataclass(frozen=True)
class Lesson:
    """One lesson's grading facts, declared once in its module.

    assignment: the nbgrader assignment id (the folder name under solutions/).
    exercises: exercise function -> "module:qualname" of the rnnlib function that answers it, in
        notebook order; its test cell is test_<exercise> and calls check_<exercise>.
    cores: other rnnlib functions that compute an answer (e.g. the unchecked step functions).
    material: rnnlib code this lesson brings that answers none of its exercises but follows from
        earlier answers (lesson 07's TimeLSTM is lesson 03's TimeRNN with a cell state): a student
        edition holds it only once the lesson is published (instructor/commands/publish.py).
    Module names under "grading." are the checks' own code: the autograder's kernel has none of it.
    """
    assignment: str
    exercises: dict
    cores: tuple = ()
    material: tuple = ()

    @property
    def references(self):
        """Every rnnlib function whose use counts as delegation, as "module:qualname". An exercise
        answered by a class (lesson 03's TimeRNN) counts with every method the class defines."""
        return tuple(dict.fromkeys(method for ref in [*self.exercises.values(), *self.cores] for method in _methods(ref)))

    @property
    def unpublished(self):
        """What an edition without this lesson must not hold: its references and its material."""
        return tuple(dict.fromkeys([*self.references, *(method for ref in self.material for method in _methods(ref))]))

    @functools.cached_property
    def forbidden(self):
        """{code object: the reference's qualname} for every reference, nested functions included."""
        return {code: ref.split(":")[1] for ref in self.references for code in _codes(resolve(ref).__code__)}

    def call(self, name, fn, *args, callbacks=(), **kwargs):
        """Run the student's fn for at most TIME_LIMIT seconds; turn 'not written yet', crashes, time-outs
        and delegation into clear failures.

        callbacks: functions of ours that fn is given and may call (e.g. the f of numerical_gradient).
        """
        __tracebackhide__ = True
        if not callable(fn):
            raise GradingFailure(f"{name}: expected a function, got {type(fn).__name__}. Run the cell that defines it.")
        forbidden, ours, seen = self.forbidden, {f.__code__ for f in callbacks}, []

        def profile(frame, event, arg):
            code = frame.f_code
            if event == "call" and not seen and code not in ours and (
                    code in forbidden or code.co_filename.startswith(_GRADING)):
                seen.append(forbidden.get(code, code.co_qualname))

        previous = sys.getprofile()
        try:
            with time_limit(TIME_LIMIT):          # armed outside the profile, which would take it for the student's
                sys.setprofile(profile)
                try:
                    result = fn(*args, **kwargs)
                finally:
                    sys.setprofile(previous)
        except TimedOut as e:
            raise GradingFailure(timed_out(name, TIME_LIMIT, e)) from None
        except NotImplementedError:
            raise GradingFailure(f"{name} is not written yet (it raised NotImplementedError): replace the "
                                 f"`raise NotImplementedError()` line with your code and run its cell again.") from None
        except GradingFailure:
            raise
        except Exception as e:
            withheld = _WITHHELD.match(str(e))
            if withheld:                      # the autograder's kernel: the reference is not there
                raise delegation(name, withheld.group(1)) from None
            if isinstance(e, recorded.NotRecorded):   # an edition with the lesson open: a stub
                raise delegation(name, seen[0] if seen else str(e).split(" ")[0]) from None
            shapes = ", ".join(f"{np.shape(a)}" for a in args if isinstance(a, np.ndarray))
            called = f"\n  (called with arrays of shapes {shapes})" if shapes else ""
            raise GradingFailure(f"{name} raised {type(e).__name__}: {e}{called}") from e
        if seen:
            raise delegation(name, seen[0])
        return result

    def delegating_answer(self, exercise):
        """Source of an answer cell that only calls rnnlib's reference: it must earn nothing."""
        module, qualname = self.exercises[exercise].split(":")
        if isinstance(resolve(self.exercises[exercise]), type):     # a class: inherit every method
            return (f"import rnnlib.{module}\n\n\n"
                    f"class {exercise}(rnnlib.{module}.{qualname}):\n    pass\n")
        return (f"def {exercise}(*args, **kwargs):\n"
                f"    import operator, rnnlib.{module}\n"
                f"    return operator.attrgetter({qualname!r})(rnnlib.{module})(*args, **kwargs)\n")


def results_only(check):
    """check, ending in one clear line where an edition with its lesson open cannot finish it.

    In such an edition (rnnlib/recorded.py) the lesson's references answer only the inputs that
    the checks give them for a right answer; a wrong result can lead a check to ask them more."""
    @functools.wraps(check)
    def guarded(*args, **kwargs):
        __tracebackhide__ = True
        try:
            return check(*args, **kwargs)
        except recorded.NotRecorded:
            raise GradingFailure(
                f"{check.__name__.removeprefix('check_')}: your result is not the expected one, and saying how "
                f"needs an answer that the course holds back while this lesson is open. Compare your code with "
                f"the lesson's formulas; once the lesson closes, this test says more.") from None
    return guarded


# --- the shape of a verdict ------------------------------------------------------------------

def unpack(name, result, fields, expected=None):
    """Check that fn returned a tuple with the documented fields.

    expected: the right results, in the order of fields (None where unknown): when the student's
    tuple holds them in another order, the message says so instead of blaming the values."""
    if not isinstance(result, tuple) or len(result) != len(fields):
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        hint = _which_fields(result if isinstance(result, (tuple, list)) else (result,), fields, expected)
        raise GradingFailure(f"{name}: expected it to return a tuple ({', '.join(fields)}), got {got}." + hint)
    order = misplaced(result, expected, fields) if expected is not None else None
    if order:
        fail(name, [(order[0], [order[1]])])
    return result


def _same_value(got, want):
    """got is want: equal arrays, equal numbers, or containers of the same kind and length (a cache)."""
    if isinstance(want, np.ndarray):
        return isinstance(got, np.ndarray) and close(got, want, 1e-7)
    if isinstance(want, (tuple, list)):
        return isinstance(got, (tuple, list)) and len(got) == len(want) and \
            [type(g).__name__ for g in got] == [type(w).__name__ for w in want]
    try:
        return np.ndim(got) == 0 and np.ndim(want) == 0 and bool(np.isclose(float(got), float(want), rtol=1e-9))
    except (TypeError, ValueError):
        return False


def misplaced(got, expected, fields):
    """(line, hint) when the results are there but in the wrong places (reordered, two swapped), else None."""
    n = len(fields)
    returned = [fields[k] if _same_value(got[k], expected[k]) else
                next((fields[j] for j in range(n) if expected[j] is not None and _same_value(got[k], expected[j])),
                     "something else") for k in range(n)]
    if all(r in (fields[k], "something else") for k, r in enumerate(returned)):
        return None
    return (f"it returned ({', '.join(returned)}); the order is ({', '.join(fields)})",
            "outputs returned in the wrong order (or two of them swapped): return them in the documented order")


def _which_fields(result, fields, expected):
    """For a tuple of the wrong length: which of the documented results it holds."""
    if expected is None:
        return ""
    held = [fields[j] for item in result for j in range(len(fields))
            if expected[j] is not None and _same_value(item, expected[j])]
    missing = [f for f in fields if f not in held]
    return (f" It holds {', '.join(held)} but not {', '.join(missing)}. Likely cause: {', '.join(missing)} "
            f"missing from what it returns: return every one of them, in this order." if held and missing else "")


def as_array(name, what, value, shape):
    if not isinstance(value, np.ndarray):
        raise GradingFailure(f"{name}: {what} should be a numpy array of shape {shape}, got {type(value).__name__}."
                             + (" Likely cause: the wrong type, a Python list where a numpy array is expected: build "
                                "the array with numpy (np.zeros then fill it, or np.stack / np.array of the list)."
                                if isinstance(value, list) else ""))
    if value.dtype.kind == "f" and value.dtype.itemsize < 8:
        raise GradingFailure(f"{name}: {what} has dtype {value.dtype}, expected float64. Likely cause: an array in "
                             f"this computation is {value.dtype} (a dtype= or an astype): its round-off, about 1e-7 "
                             f"relative, is above the tolerance. Keep everything float64.")
    if value.shape != tuple(shape):
        raise GradingFailure(f"{name}: {what} has shape {value.shape}, expected {tuple(shape)}."
                             + shape_hint(value.shape, shape))
    if not np.isfinite(value).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        raise GradingFailure(f"{name}: {what} contains {value[idx]} at index {idx}; expected finite values.")
    return value


def shape_hint(got, want):
    got, want = tuple(got), tuple(want)
    if got == want[::-1] or sorted(got) == sorted(want):
        return " The sizes are right but in the wrong order: a transpose is probably missing or extra."
    if len(got) == len(want) and all(g in (w, 1) for g, w in zip(got, want)):
        axes = ", ".join(str(k) for k, (g, w) in enumerate(zip(got, want)) if g != w)
        return (f" It has size 1 along axis {axes}: that is the shape of a reduction (a sum or max with "
                f"keepdims=True), so the term it should be combined with is missing or was replaced.")
    return ""


def mismatch(what, got, expected, tol=TOL):
    """None if got matches expected, else a line naming the relative error and the worst entry."""
    check = gradcheck.compare(what, got, expected, tol)
    if check.ok:
        return None
    return (f"{what}: relative error {check.rel_error:.1e} > tolerance {tol:.0e}; worst at index "
            f"{check.worst_index}: expected {check.numerical:.6g}, got {check.analytic:.6g}")


def close(a, b, tol=1e-6):
    """a equals b up to round-off (the shapes too): how a result is recognised as a variant's."""
    return np.shape(a) == np.shape(b) and gradcheck.compare("", a, b, tol).ok


def hints(got, variants, correct, what=None, **relations):
    """Hints of the known mistakes whose result equals the student's (and differs from correct).

    Known mistakes are recognised, not guessed: each is a deliberately wrong variant of the
    reference, and its hint is given when the student's result equals that variant's. When none
    matches and ``what`` names the result, the hint comes from how the result relates to the
    right one (see ``relation``; relations are its keyword arguments)."""
    found = [hint for hint, value in variants
             if value is not None and close(got, value) and not close(value, correct)]
    if found or what is None:
        return found
    text = relation(got, correct, **relations)
    return [(what, text)] if text else []


_PLAIN_FACTORS = ((-1, "minus the right value: a sign is flipped (a + for a -, or a difference the wrong way round)"),
                  (2, "twice the right value: a term is counted twice, or a factor 2 is extra"),
                  (0.5, "half the right value: a factor 2 is missing, or half of a sum"))


def factor_reading(c, sizes, number=False):
    """How a constant factor c reads: "1/N of the right value (N = 4, the batch size)", "twice", ...

    When c is both a size and a plain factor (a batch of 2 and a term counted twice), both causes
    are named: the evidence cannot tell them apart. number: the result is a single number, which is
    always some multiple of the right one: only a factor with a name (a size, -1, 2, 1/2) says
    anything, else None."""
    plain = next((text for value, text in _PLAIN_FACTORS if np.isclose(c, value)), None)
    for sign, word in ((1, ""), (-1, "minus ")):
        named = [(f"1/{s}", s, n, meaning) for s, n, meaning in sizes if n > 1 and np.isclose(c, sign / n)]
        named += [(s, s, n, meaning) for s, n, meaning in sizes if n > 1 and np.isclose(c, sign * n)]
        if named:
            how = word + " = ".join(dict.fromkeys(x for x, *_ in named)) + (" of" if abs(c) < 1 else " times")
            values = "; ".join(f"{s} = {n}, {m}" for _, s, n, m in named)
            fix = ("something divides by it that should not" if abs(c) < 1 else "a division by it is missing")
            text = f"{how} the right value ({values}): {fix}" + ("; the sign is flipped too" if sign < 0 else "")
            return text + (f"; or, since that is {plain.split(':')[0]}, {plain.split(': ', 1)[1]}" if plain else "")
    if plain:
        return plain
    if number:
        return None
    return f"{c:.4g} times the right value: a constant factor is wrong (look for a scale, a 2, a division)"


def _slices(a, axis, n):
    return [np.take(a, k, axis=axis) for k in range(n)]


def relation(got, want, sizes=(), time_axis=None, steps=None, blocks=None, flow=None, terms=()):
    """What the student's array is, relative to the right one, as the end of a hint (or None).

    Looks, in this order, for: all zeros; float32 round-off; a constant factor (named when it is
    1/N, T, ... of ``sizes``, a list of (symbol, value, meaning)); a transpose; the wrong column
    blocks (``blocks``: (H, gate names[, notes]) for arrays whose last axis holds one block of H per
    gate; see ``_blocks``); one of the ``terms`` (a list of (label, array): the parts the right value
    is the sum of) missing, counted twice or with its sign flipped;
    the wrong time steps along ``time_axis`` (``flow``: "forward" for states computed from earlier
    steps, "backward" for gradients computed from later ones), or, for a sum over time steps, the steps whose
    contributions ``steps`` (a list, one array per step) are missing or alone."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape or close(got, want, 1e-7) or not np.isfinite(got).all():
        return None
    if not got.any():
        return "all zeros: nothing reaches it; look for a result that is never assigned or never added to"
    err = gradcheck.compare("", got, want).rel_error
    raw = np.asarray(got)
    if err < 1e-3 and np.array_equal(raw, raw.astype(np.float32)):
        return (f"right to about 7 digits only (relative error {err:.0e}), the round-off of float32: an array "
                f"in this computation is float32 (a dtype= or an astype); keep everything float64")
    c = float(np.vdot(got, want) / np.vdot(want, want)) if want.any() else 0.0
    if want.any() and close(got, c * want) and not np.isclose(c, 1):
        return factor_reading(c, sizes, number=got.size == 1)
    if got.ndim == 2 and got.shape[0] == got.shape[1] and close(got, want.T) and not close(want, want.T):
        return "transposed: the right values with rows and columns swapped; look at the order of a product's factors"
    text = _term(got, want, terms)
    if text:
        return text
    if blocks and got.shape[-1] == blocks[0] * len(blocks[1]):
        text = _blocks(got, want, *blocks)
        if text:
            return text
    if time_axis is not None and got.shape[time_axis] > 1:
        return _time_steps(got, want, time_axis, flow)
    if steps is not None and len(steps) > 1:
        return _missing_steps(got, want, steps)
    return None


def _term(got, want, terms):
    """One of terms (the parts want is the sum of) missing, counted twice or with its sign flipped."""
    for label, term in terms:
        for k, how in ((-1, f"missing {label}"), (1, f"{label} is counted twice"),
                       (-2, f"{label} has the wrong sign (a + for a -)")):
            if np.any(term) and close(got, want + k * term):
                return how + (" (an extra copy of it)" if k == 1 else "")
    return None


def _logit(p):
    return np.log(p) - np.log1p(-p)


# name: (function, inverse, the open interval of its values)
ACTIVATIONS = {"tanh": (np.tanh, np.arctanh, (-1, 1)), "sigmoid": (sigmoid, _logit, (0, 1))}


def activation_hint(label, got, act, terms):
    """Why got, meant to be act(the sum of terms), is wrong, read from what it is; else None.

    terms: [(label, array)]. Recognises the activation missing or another one used, and, from the
    input that got implies (got run back through the activation's inverse), a term missing, counted
    twice or with its sign flipped."""
    want = sum(term for _, term in terms)
    if close(got, want):
        return f"{label} is its input itself: the {act} is missing"
    for other, (fn, _, _) in ACTIVATIONS.items():
        if other != act and close(got, fn(want)):
            return f"{label} uses {other} where it needs the {act} (the wrong activation)"
    for term_label, term in terms:       # a term added to the result, outside the activation
        if np.any(term) and close(got, ACTIVATIONS[act][0](want - term) + term):
            return f"{term_label} is missing inside the {act}: it is added after it; it belongs inside, with the other terms"
    _, inverse, (low, high) = ACTIVATIONS[act]
    if np.all((got > low) & (got < high)):
        with np.errstate(all="ignore"):
            text = _term(inverse(got), want, terms)
        if text:
            return f"inside the {act} of {label}: {text}"
    return None


def first_wrong(steps):
    """The hint for the first wrong quantity of a forward, read from what it is, or None.

    steps: [(label, got, want, act, terms)] in the order the forward computes them; act is None
    for a plain sum of terms (then relation's reading applies), else the activation applied to it.
    A quantity that equals another's right value is named as holding that one."""
    for label, got, want, act, terms in steps:
        if not isinstance(got, np.ndarray) or got.shape != np.shape(want) or close(got, want):
            continue
        same = [other for other, _, value, _, _ in steps if other != label and close(got, value)]
        if same:
            return f"{label} holds what {same[0]} should (two quantities mixed up, or blocks in the wrong order)"
        return (activation_hint(label, got, act, terms) if act else relation(got, want, terms=terms)) or \
            f"{label} is the first wrong quantity (the ones computed before it are right): look at how it is computed"
    return None


def _blocks(got, want, H, gates, notes=None):
    """notes: {frozenset of gate names: where to look when exactly those gates' columns are wrong}."""
    n = len(gates)
    g, w = np.split(got, n, axis=-1), np.split(want, n, axis=-1)
    bad = [k for k in range(n) if not close(g[k], w[k])]
    swapped = [(j, k) for j in bad for k in bad if j < k and close(g[j], w[k]) and close(g[k], w[j])]
    if swapped:
        j, k = swapped[0]
        return (f"the column blocks of gates {gates[j]} and {gates[k]} are swapped (columns {j * H}:{(j + 1) * H} "
                f"and {k * H}:{(k + 1) * H}); the blocks go in the order {', '.join(gates)}")
    if len(bad) == n:
        return None
    names = " and ".join(gates[k] for k in bad)
    part = relation(g[bad[0]], w[bad[0]]) if len(bad) == 1 else None
    ranges = ", ".join(f"{k * H}:{(k + 1) * H}" for k in bad)
    where = (notes or {}).get(frozenset(gates[k] for k in bad),
                              f"what only {'these gates use' if len(bad) > 1 else 'this gate uses'}")
    return (f"only the columns of gate{'s' if len(bad) > 1 else ''} {names} (columns {ranges}) are wrong"
            + (f", and they are {part}" if part else "") + f"; the other gates' columns are right, so look at "
            + where)


_CARRIED = {
    "forward": (0, "right only at the first time step, t = 0, and wrong at every later one: what is carried from "
                   "one step to the next is wrong (each step must start from the state the previous step made)"),
    "backward": (-1, "right only at the last time step and wrong at every earlier one: what flows back from later "
                     "steps is missing or wrong (step t must receive its own upstream gradient plus the one carried "
                     "back from step t+1)"),
}


def _time_steps(got, want, axis, flow=None):
    T = got.shape[axis]
    g, w = _slices(got, axis, T), _slices(want, axis, T)
    if all(close(g[t], w[t - 1]) for t in range(1, T)):
        return "shifted one step later in time: step t holds what belongs to step t-1"
    if all(close(g[t], w[t + 1]) for t in range(T - 1)):
        return "shifted one step earlier in time: step t holds what belongs to step t+1"
    if all(close(g[t], w[T - 1 - t]) for t in range(T)):
        return "in reverse time order: step t holds what belongs to step T-1-t"
    if all(np.array_equal(g[t], g[0]) for t in range(T)):
        return "the same at every time step: look at what is stored for each step"
    bad = [t for t in range(T) if not close(g[t], w[t])]
    zero = [t for t in bad if not g[t].any()]
    if flow in _CARRIED and T > 2 and not zero and [t for t in range(T) if t not in bad] == [_CARRIED[flow][0] % T]:
        return _CARRIED[flow][1]
    if len(bad) == T:
        return (f"zero at time step{'s' if len(zero) > 1 else ''} t = {', '.join(map(str, zero))} and wrong at the "
                f"others: is every step computed? look at the time loop's range") if 0 < len(zero) <= 4 else None
    where = ("only at the first time step, t = 0" if bad == [0] else
             f"only at the last time step, t = {T - 1}" if bad == [T - 1] else
             f"at time steps t = {', '.join(map(str, bad))}" if len(bad) <= 4 else
             f"at {len(bad)} of the {T} time steps (from t = {bad[0]} to {bad[-1]})")
    return (f"wrong {where}" + (" (zero there: is that step computed?)" if zero == bad else "")
            + "; the other steps are right")


def _missing_steps(got, want, steps):
    T = len(steps)
    for t, where in ((0, "the first time step, t = 0"), (T - 1, f"the last time step, t = {T - 1}")):
        if close(got, want - steps[t]):
            return f"missing the contribution of {where}; look at the time loop's range"
        if close(got, steps[t]):
            return (f"only the contribution of {where}: the sum over the steps is overwritten at each step instead of "
                    f"added to (+=)")
    return None


def which(value, named):
    """How a message names what value is: "next_h" if it equals named["next_h"], else "something else"."""
    same = [k for k, v in named.items() if isinstance(value, np.ndarray) and np.shape(v) == value.shape
            and np.allclose(value, v, rtol=1e-10, atol=1e-12)]
    return same[0] if same else "something else"


def identities(d):
    """{key: identity of the object d holds there}: the kernel's, when d is a copy of a dict that lives in
    the student's kernel (the autograder's KernelDict), else the objects' own."""
    return getattr(d, "identities", None) or {str(k): id(v) for k, v in d.items()}


def check_cache(name, cache, reference, where="", also=None):
    """cache must hold what reference (a step or layer cache: a named tuple such as LSTMStepCache,
    GRUStepCache or AttentionCache) holds, field by field; where: which one, e.g. "[3]" in a list;
    also: {name: array} of the forward's other quantities, by which a misplaced value is named."""
    fields, kind = reference._fields, type(reference).__name__
    if isinstance(cache, tuple) and len(cache) == len(fields) and any(
            not _same_value(g, w) for g, w in zip(cache, reference)):
        order = misplaced(cache, tuple(reference), fields)
        if order:
            fail(name, [(f"the cache{where}: {order[0]}", ["the cache is returned with its fields in the wrong order, "
                                                          "and the backward reads them by position"])])
    if not isinstance(cache, tuple) or len(cache) != len(fields):
        raise GradingFailure(f"{name}: the cache{where} must be {kind}({', '.join(fields)}), which the backward "
                             f"reads, got {type(cache).__name__}"
                             + (f" of length {len(cache)}" if isinstance(cache, (tuple, list)) else "") + ".")
    for k, (got, want) in enumerate(zip(cache, reference)):
        if not isinstance(got, np.ndarray) or got.shape != want.shape or not np.allclose(got, want, rtol=1e-10,
                                                                                        atol=1e-12):
            held = which(got, {**dict(zip(fields, reference)), **(also or {})})
            raise GradingFailure(f"{name}: cache{where} field {k} should be {fields[k]} (the order is "
                                 f"{', '.join(fields)}), but it holds {held}."
                                 + (f" Likely cause: {held} is stored instead of {fields[k]} (two quantities mixed up)."
                                    if held != "something else" else ""))


def step_caches(name, cache, reference):
    """A sequence forward's cache: the list of its T step caches, in time order."""
    T = len(reference)
    if isinstance(cache, list) and len(cache) == T:
        if T > 1 and close(cache[-1][0], reference[0][0]) and close(cache[0][0], reference[-1][0]):
            fail(name, [("the step caches are in reverse time order: cache[t] must be step t's",
                              ["time order: append each step's cache as the loop runs from t = 0 to T-1"])])
        return
    one_step = isinstance(cache, tuple) and len(cache) == len(reference[0])
    raise GradingFailure(f"{name}: the cache must be a list of the T = {T} step caches, in time order; got "
                         f"{type(cache).__name__}" + (f" of length {len(cache)}" if isinstance(cache, (list, tuple)) else "")
                         + ("." if not one_step else ", one step's cache. Likely cause: the cache is overwritten at "
                            "each step instead of collected: append every step's cache to a list."))


def probe_terms(call, reference, args, terms):
    """Which terms of a forward are wrong, found by calling it with the other inputs set to zero.

    call(*args) and reference(*args) return tuples of arrays; terms: [(label, indices of args
    to zero)]. A hint naming the wrong terms when some, not all, are wrong; else None."""
    wrong = []
    for label, zeroed in terms:
        probe = tuple(np.zeros_like(a) if i in zeroed else a for i, a in enumerate(args))
        got, want = call(*probe), reference(*probe)
        if any(not close(g, w, 1e-7) for g, w in zip(got, want)):
            wrong.append(label)
    if wrong and len(wrong) < len(terms):
        return "with the other inputs set to zero, only these terms are wrong: " + "; ".join(wrong) + "."
    return None


def probe_readings(call, reference, args, terms):
    """What each term alone makes of a forward, read from what it is: sentences for the probes
    (the other inputs set to zero, as in probe_terms) whose result is wrong.

    A term alone that gives what no input at all gives is missing or in a product with the zeroed
    terms; one that gives no number in places is divided by them (neither happens when the terms
    are added); else relation reads the probe's result (a flipped sign, a factor)."""
    nothing = reference(*(np.zeros_like(a) for a in args))
    readings = []
    for label, zeroed in terms:
        probe = tuple(np.zeros_like(a) if i in zeroed else a for i, a in enumerate(args))
        with np.errstate(all="ignore"):
            got, want = call(*probe), reference(*probe)
        for g, w, none in zip(got, want, nothing):
            if not isinstance(g, np.ndarray) or g.shape != np.shape(w) or close(g, w, 1e-7):
                continue
            if not np.isfinite(g).all():
                readings.append(f"with only {label}, the result is not a number in places (a division or modulo by "
                                f"the terms that are zero there): the + that adds the terms is missing or replaced")
            elif close(g, none, 1e-7):
                readings.append(f"with only {label}, the result is what no input at all gives: that term is missing, "
                                f"or it meets the other terms in a product or quotient where it must be added to them")
            else:
                text = relation(g, w)
                readings += [f"with only {label}, the result is {text}"] if text else []
            break
    return readings


def read_back(grad, states):
    """The per-step deltas d that make grad = sum over t of states[t].T @ d[:, t], or None.

    grad: (H, K), a weight gradient made of one product per time step; states: T arrays (N, H),
    the (right) states each step's delta is paired with. The deltas are found by least squares,
    which pins them down only when the states' N * T rows are independent vectors of H > N * T
    entries (a short, wide probe). None when grad is no such sum: then it pairs the deltas with
    something other than these states. Returns (N, T, K)."""
    N, T = states[0].shape[0], len(states)
    rows = np.concatenate(states, axis=0).T                     # (H, T * N): column t * N + n is states[t][n]
    if rows.shape[0] <= rows.shape[1] or np.linalg.matrix_rank(rows) < rows.shape[1]:
        return None
    deltas, *_ = np.linalg.lstsq(rows, grad, rcond=None)        # (T * N, K)
    if not close(rows @ deltas, grad, 1e-8):
        return None
    return deltas.reshape(T, N, -1).transpose(1, 0, 2)


def product_reading(label, got, factors):
    """Why got, meant to be the product of factors, is wrong, read from what it is; else None.

    factors: [(label, array, terms[, others])], terms as relation's (the parts that factor is the
    sum of), others [(reading, array)]: what that factor may have been mixed up with (another time
    step's state), and how to say so. Recognises one factor missing, or wrong in a way _term names (a missing,
    doubled or sign-flipped term) or equal to one of its others, the other factors being right."""
    readings = []
    for k, (factor, value, terms, *others) in enumerate(factors):
        rest = np.prod([f[1] for j, f in enumerate(factors) if j != k], axis=0)
        if close(got, rest):
            readings.append(f"{factor} is missing from {label}")
            continue
        if not (np.abs(rest) > 1e-6 * np.abs(rest).max()).all():
            continue
        implied = got / rest                        # what got says this factor is, the others being right
        text = _term(implied, value, terms) or next(
            (other for other, v in (others[0] if others else ()) if close(implied, v)), None)
        if text:
            readings.append(f"in {label}, {factor}: {text}")
    readings = readings or _combined(label, got, factors)
    # two readings that both fit are both told: the evidence cannot choose
    return "; or ".join(readings) or None


def _combined(label, got, factors):
    """got as the factors' first part and the rest joined by +, - or / instead of a product."""
    for k in range(1, len(factors)):
        first, rest = (np.prod([f[1] for f in part], axis=0) for part in (factors[:k], factors[k:]))
        names = [" * ".join(f[0] for f in part) for part in (factors[:k], factors[k:])]
        a, b = names
        with np.errstate(all="ignore"):
            joined = [(f"{a} and {b} are added instead of multiplied", first + rest),
                      (f"{b} is subtracted from {a} instead of multiplying it", first - rest),
                      (f"{a} is divided by {b} instead of multiplied by it", first / rest)]
        for text, value in joined:
            if np.isfinite(value).all() and close(got, value):
                return [f"in {label}, {text}"]
    return []


def affine_reading(what, got, want, sizes=(), over="input tried"):
    """How got relates to want when got = a * want + b on every input tried, else None.

    got, want: one value of the result per input (at least 3 inputs, so that a line through them
    is evidence), or per entry of one result (over="entry"). A constant factor a is named as factor_reading
    names it; an offset b is an extra term."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.size < 3 or not np.isfinite(got).all() or close(got, want, 1e-9):
        return None
    (a, b), *_ = np.linalg.lstsq(np.stack([want, np.ones_like(want)], axis=1), got, rcond=None)
    if not close(got, a * want + b, 1e-9):
        return None
    if abs(b) <= 1e-9 * max(1.0, np.abs(want).max()):
        return f"{what} is {factor_reading(a, sizes)}, on every {over}"
    if np.isclose(a, 1):
        return (f"{what} is off by the same constant {b:+.4g} on every {over}: an extra term is added to it, or a "
                f"term is missing")
    return (f"{what} is {a:.4g} times the right value {b:+.4g} on every {over}: a constant factor is wrong and an "
            f"extra constant is added (a + where a * or / belongs?)")


def fail(name, problems):
    """problems: list of (line, [hints]). Each distinct hint is given once, after the problems.

    A hint is a sentence, or (subject, sentence) from ``relation``: subjects with the same
    sentence share one line ("dWx, dWh, db: 1/N of the right value ...")."""
    wrong = [line for line, _ in problems if not line.startswith("correct:")]
    lines = [f"{name}: {len(wrong)} problem{'s' if len(wrong) > 1 else ''} found."]
    lines += ["  " + line for line, _ in problems]
    grouped = {}
    for _, hs in problems:
        for h in hs:
            subject, text = h if isinstance(h, tuple) else (None, h)
            grouped.setdefault(text, []).append(subject)
    for text, subjects in grouped.items():
        named = ", ".join(dict.fromkeys(s for s in subjects if s))
        lines.append(f"  Likely cause: {named + ': ' if named else ''}{text}{'' if text.endswith('.') else '.'}")
    raise GradingFailure("\n".join(lines))


def passed(name, detail=""):
    print(f"{name}: all checks passed{detail}")


# --- backwards, graded against numerical gradients (lessons 03 and 07) -----------------------

def add_step_grads(totals, parts, how, last):
    """Add one step's weight gradients to the totals: right ("sum") or as the known mistakes do."""
    for total, part in zip(totals, parts):
        if how == "sum" or (how == "last_step" and last):
            total += part
        elif how == "overwrite":
            total[...] = part


def _summed_axes(got, want, sizes):
    """A shape hint when got keeps an axis (the batch, time) that the gradient sums over."""
    if got == "nothing":
        return ""
    kept = [(s, n, meaning) for s, n, meaning in sizes if n > 1 and list(got).count(n) > list(want).count(n)]
    if not kept:
        return ""
    s, n, meaning = kept[0]
    return (f" Its shape keeps an axis of {s} = {n} ({meaning}), which this gradient sums over: look at the axis "
            f"of a sum or the order of a product's factors.")


def _mutation_problem(mutated, arguments):
    """One line for every input the backward wrote into, each named as the student named it."""
    def named(path):
        if path.startswith("dout["):
            k = int(path[5:path.index("]")])
            return arguments[k] + path[path.index("]") + 1:] if k < len(arguments) - 1 else path
        return arguments[-1] + path[len("cache"):] if arguments else path
    paths = [named(m) for m in mutated]
    listed = ", ".join(paths[:4]) + (f" and {len(paths) - 4} more" if len(paths) > 4 else "")
    return (f"it modified its input{'s' if len(paths) > 1 else ''} {listed}.",
            ["a backward must not write into its upstream gradients or the cache: other steps and layers read "
             "them. Compute new arrays instead of changing those in place (no *=, += or [...] = on them)."])


def _gradient_failures(name, report, correct, variants, arguments=(), upstream=None, **relations):
    """Turn a failing GradReport into problems; variants: list of (hint, grads tuple) for known mistakes.

    A variant's hint is given when the student's gradients equal the variant's, all of them; else
    each wrong gradient gets the hint of its relation to the right one (``relation``, with
    ``relations[gradient name]`` as keyword arguments), and when every gradient is wrong and no
    relation explains any, ``upstream`` says which shared quantity to look at first."""
    grads, names = report.grads, [c.name for c in report.checks.values()]
    order = misplaced(grads, correct, names) if len(grads) == len(correct) else None
    if order:
        fail(name, [(order[0], [order[1]])])
    shapes_ok = all(c.shape_ok for c in report.checks.values())
    known = [hint for hint, g in variants if shapes_ok and all(close(grads[k], g[k]) for k in range(len(correct)))
             and not all(close(g[k], correct[k]) for k in range(len(correct)))]
    problems = []
    for k, check in enumerate(report.checks.values()):
        if check.ok:
            continue
        if not check.shape_ok:
            got = np.shape(grads[k]) if k < len(grads) else "nothing"
            others = [c.name for j, c in enumerate(report.checks.values()) if np.shape(correct[j]) == got]
            hint = shape_hint(got, np.shape(correct[k])) or _summed_axes(
                got, np.shape(correct[k]), relations.get(check.name, {}).get("sizes", ())) or (
                f" {got} is the shape of {' and '.join(others)}: a product uses the wrong array." if others else "")
            problems.append((f"{check.name} has shape {got}, expected {np.shape(correct[k])}." + hint, []))
            continue
        line = (f"{check.name}: relative error {check.rel_error:.1e} > tolerance {check.tol:.0e}; worst at index "
                f"{check.worst_index}: numerical gradient {check.numerical:.6g}, yours {check.analytic:.6g}")
        text = None if known else relation(grads[k], correct[k], **relations.get(check.name, {}))
        problems.append((line, [(check.name, text)] if text else []))
    if known and problems:
        problems[0] = (problems[0][0], known)
    elif upstream and problems and all(not c.ok for c in report.checks.values()) and not any(h for _, h in problems):
        problems[0] = (problems[0][0], [upstream])
    if report.mutated:
        problems.append(_mutation_problem(report.mutated, arguments))
    ok = [c.name for c in report.checks.values() if c.ok]
    if ok and len(ok) < len(report.checks):
        problems.append(("correct: " + ", ".join(ok), []))
    fail(name, problems)


def _arguments(fn):
    """The argument names of fn's signature (the answer cell's def line gives them to the student)."""
    try:
        return list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return []


def check_backward(lesson, name, fn, forward, inputs, names, reference, variant, mistakes, tol=TOL,
                   upstream=None, relations=None):
    """Grade fn against numerical gradients of forward; explain failures with the known mistakes.

    mistakes: [(kwargs, hint)]: variant(*douts, cache, **kwargs) is the backward with that mistake.
    relations(douts, cache) -> {gradient name: keyword arguments of ``relation``}; upstream: the hint
    when every gradient is wrong and nothing else explains it."""
    __tracebackhide__ = True
    report = gradcheck.check_gradients(forward, lambda *a: unpack(name, lesson.call(name, fn, *a), names),
                                       inputs, names, tol=tol)
    if not report.ok:
        cache = forward(*inputs)[-1]
        correct = reference(*report.douts, cache)
        variants = [(hint, variant(*report.douts, cache, **kwargs)) for kwargs, hint in mistakes]
        # named as in the reference's signature, which the answer cell's def line repeats: the
        # autograder calls a stand-in for the student's function, whose own signature is (*args)
        _gradient_failures(name, report, correct, variants, _arguments(reference), upstream,
                           **(relations(report.douts, cache) if relations else {}))
    worst = max(c.rel_error for c in report.checks.values())
    passed(name, f" ({len(names)} gradients match numerical ones, worst relative error {worst:.1e})")


def batch_size(N):
    return ("N", N, "the batch size")


def time_steps(T):
    return ("T", T, "the number of time steps")


def sequence_relations(step, weights=("dWx", "dWh", "db"), **extra):
    """relation's arguments for a sequence backward (dh, cache) -> (dx, dh0, *weights).

    step(dh_t, carried, cache_t) -> (carried, weight gradients of that step) is the reference step,
    carried None at the last step: it gives each weight gradient's per-step parts. extra: more
    keyword arguments for the weights' relations (e.g. the LSTM's gate blocks)."""
    def relations(douts, cache):
        (dh,) = douts
        N, T, _ = dh.shape
        sizes = [batch_size(N), time_steps(T)]
        parts, carried = [None] * T, None
        for t in reversed(range(T)):
            carried, parts[t] = step(dh[:, t], carried, cache[t])
        found = {"dx": {"sizes": sizes, "time_axis": 1, "flow": "backward"},
                 "dh0": {"sizes": sizes, "terms": [("the first step's own upstream gradient dh[:, 0]", dh[:, 0])]}}
        for k, name in enumerate(weights):
            found[name] = {"sizes": sizes, "steps": [p[k] for p in parts],
                           **{key: value(cache) for key, value in extra.items()}}
        return found
    return relations


# --- lesson 07 ---
# Readings of a gradient built as a product of factors (the LSTM's and the GRU's gate blocks of da),
# and a check of a backward that reads the student's own intermediate gradients before anything else.

def product_of(factors):
    """The product of factors, [(label, array)]."""
    value = 1.0
    for _, factor in factors:
        value = value * factor
    return value


def _named(labels):
    labels = list(labels)
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _missing_factors(got, factors, derivatives):
    """got is the product of some of factors, the others left out: their labels, else None."""
    n = len(factors)
    for size in range(1, n):
        found = [dropped for dropped in itertools.combinations(range(n), size)
                 if close(got, product_of([f for k, f in enumerate(factors) if k not in dropped]))]
        if len(found) == 1:
            dropped = found[0]
            for indices, text, _, _ in derivatives:
                if set(dropped) == set(indices):
                    return f"missing {text}"
                if set(dropped) < set(indices):
                    return f"missing the factor {_named(factors[k][0] for k in dropped)} of {text}"
            return f"missing the factor{'s' if size > 1 else ''} {_named(factors[k][0] for k in dropped)}"
        if found:            # two ways to read it: say nothing
            return None
    return None


def _replaced_factor(got, factors, pool, sums):
    """got is the product with one factor replaced by another quantity of pool: "X instead of Y", else None.
    sums: {factor label: [(label, term)]}: a factor that is a sum, whose replacement by the sum less one
    of its terms is that term missing."""
    found = []
    for k, (label, value) in enumerate(factors):
        rest = product_of(factors[:k] + factors[k + 1:])
        for other, candidate in pool:
            if other != label and np.shape(rest * candidate) == np.shape(got) and not close(candidate, value) \
                    and close(got, rest * candidate):
                less = [term for term, part in sums.get(label, ()) if close(candidate, value - part)]
                found.append(f"{other} instead of {label}" + (f" ({label} with {less[0]} missing)" if less else ""))
    return f"it uses {' or '.join(found)}" if 0 < len(found) <= 2 else None


def _wrong_term_in_factor(got, factors, sums):
    """A factor that is a sum (sums: {label: [(term label, term)]}) with one of its terms missing or
    its sign flipped, the other factors right; else None."""
    for k, (label, value) in enumerate(factors):
        rest = product_of(factors[:k] + factors[k + 1:])
        for term, part in sums.get(label, ()):
            if close(got, rest * (value - part)):
                return f"{term} is missing from the factor {label}"
            if close(got, rest * (value - 2 * part)):
                return f"in the factor {label}, {term} has the wrong sign (a + for a -, or the difference the wrong way round)"
        parts = sums.get(label, ())
        if len(parts) == 2:          # a difference a - b written with another operator
            (a_label, a), (b_label, minus_b) = parts
            found = [f"in the factor {label}, the - is a {symbol}: it computes ({a_label} {symbol} {b_label})"
                     for symbol, op in _ALL_OPERATORS.items() if close(got, rest * op(a, -minus_b))]
            if len(found) == 1:
                return found[0]
    return None


def _inverted_factor(got, factors):
    """got is the product with one factor divided by instead of multiplied by; else None."""
    found = [label for k, (label, value) in enumerate(factors)
             if close(got, product_of(factors[:k] + factors[k + 1:]) / value)]
    return f"it divides by {found[0]} instead of multiplying by it" if len(found) == 1 else None


def _formula(factors):
    return " * ".join(label for label, _ in factors)


def _split_product(got, factors):
    """got is two groups of the factors added or subtracted instead of multiplied; else None."""
    n = len(factors)
    found = []
    for size in range(1, n):
        for group in itertools.combinations(range(n), size):
            if 0 not in group:          # each split once: the group holding the first factor
                continue
            a = [factors[k] for k in group]
            b = [factors[k] for k in range(n) if k not in group]
            for sign, op in ((1, "+"), (-1, "-")):
                if close(got, product_of(a) + sign * product_of(b)):
                    found.append(f"it computes {_formula(a)} {op} {_formula(b)} instead of the product {_formula(factors)}")
            if close(got, product_of(b) - product_of(a)):
                found.append(f"it computes {_formula(b)} - {_formula(a)} instead of the product {_formula(factors)}")
    return found[0] if len(found) == 1 else None


_OPERATORS = {"//": np.floor_divide, "%": np.mod, "**": np.power}
_ALL_OPERATORS = {"*": np.multiply, "/": np.divide, **_OPERATORS}


def _other_operator(got, factors):
    """got is the product, written in the order of factors, with one * typed as another operator
    (//, % or **; / is ``_inverted_factor``), Python's precedence kept; else None."""
    found = []
    for k in range(1, len(factors)):
        for symbol, op in _OPERATORS.items():
            if symbol == "**":       # binds tighter than *: only the two factors beside it
                value = product_of(factors[:k - 1]) * op(factors[k - 1][1], factors[k][1]) * product_of(factors[k + 1:])
            else:                    # as tight as *, from the left: what comes before it, then the rest
                value = op(product_of(factors[:k]), factors[k][1]) * product_of(factors[k + 1:])
            if np.all(np.isfinite(value)) and close(got, value):
                written = " * ".join(label for label, _ in factors[:k]) + f" {symbol} " + \
                    " * ".join(label for label, _ in factors[k:])
                found.append(f"it computes {written} instead of the product {_formula(factors)}")
    return found[0] if len(found) == 1 else None


def _other_function(got, factors, functions):
    """got is the product with some factors, together a function of one variable (an activation's
    derivative, 1 - z), replaced by another function of that variable; else None.

    The evidence: got divided by the other factors is, at every entry, one smooth function of the
    variable (a combination of 1, v, v**2, v**3, 1/v and 1/v**2 fits it exactly), and there are
    enough distinct values of the variable for that to mean something."""
    for indices, text, variable, value in functions:
        rest = product_of([f for k, f in enumerate(factors) if k not in indices])
        rest, v, g = (np.broadcast_to(a, np.shape(got)).ravel() for a in (rest, value, got))
        usable = (np.abs(rest) > 1e-6 * np.abs(rest).max(initial=0)) & (np.abs(v) > 1e-3)
        basis = np.stack([np.ones_like(v), v, v ** 2, v ** 3, 1 / v, 1 / v ** 2], axis=1)
        if not usable.all() or len(np.unique(np.round(v, 12))) < basis.shape[1] + 6:
            continue        # too few points to tell a function of the variable from anything else
        coefficients, *_ = np.linalg.lstsq(basis, g / rest, rcond=None)
        if close(g, rest * (basis @ coefficients)):
            others = _named(factors[k][0] for k in range(len(factors)) if k not in indices)
            return (f"{text} is wrong: {others} must be multiplied by it, and yours multiplies "
                    f"{'it' if ' and ' not in others else 'them'} by another function of {variable}")
    return None


def gate_product_reading(got, factors, pool=(), derivatives=(), terms=(), sums=None):
    """How got, meant to be the product of factors, differs from it, as the end of a hint; else None.

    factors: [(label, array)] whose product (broadcast to got's shape) is the right value; pool:
    [(label, array)] the other quantities at hand, which a factor may have been taken for;
    derivatives: [(indices into factors, text, variable label, variable array)]: factors that
    together are one function of one variable, an activation's derivative for one, e.g. ((2, 3),
    "the sigmoid's derivative i * (1 - i)", "i", i); terms: [(label, array)] the parts the right value
    is the sum of; sums: {factor label: [(label, term)]} for factors that are sums. Reads, in this
    order: a constant factor, the sign or a term of terms missing or doubled (``relation``); factors
    left out; one factor replaced by a quantity of pool; a term of a factor missing or its sign
    flipped; a factor divided by; the factors added or subtracted in two groups; a function of one
    variable replaced by another; one * typed as another operator. Each reading is true of every
    array equal to got; when two fit equally, both are named (or, beyond two, none)."""
    want = product_of(factors)
    got = np.asarray(got, dtype=np.float64)
    if np.shape(got) != np.shape(want) or close(got, want) or not np.isfinite(got).all():
        return None
    sums = sums or {}
    with np.errstate(all="ignore"):
        return (relation(got, want, terms=terms) or _missing_factors(got, factors, derivatives) or
                _replaced_factor(got, factors, pool, sums) or _wrong_term_in_factor(got, factors, sums) or
                _inverted_factor(got, factors) or _split_product(got, factors) or
                _other_function(got, factors, derivatives) or _other_operator(got, factors))


def sum_reading(got, terms, pool=(), sums=None):
    """How got, meant to be a sum of products, differs from it; else None.

    terms: [(label, factors, derivatives)], each a product as ``gate_product_reading`` takes it (pool and
    sums too). Reads a term missing, counted twice or with its sign flipped (``relation``); several
    terms missing; terms multiplied, divided or joined by another operator instead of added; then
    one term's own product, the others being right."""
    parts = [(label, product_of(factors)) for label, factors, _ in terms]
    want = sum(value for _, value in parts)
    text = relation(got, want, terms=parts)
    if text or len(terms) < 2:
        return text
    text = _missing_terms(got, parts) or _combined_terms(got, parts) or _junctions(got, parts, terms)
    if text:
        return text
    for k, (label, factors, derivatives) in enumerate(terms):
        rest = np.asarray(got) - sum(value for j, (_, value) in enumerate(parts) if j != k)
        text = gate_product_reading(rest, factors, pool, derivatives, sums=sums)
        if text:
            return f"in {label}: {text}"
    return None


def _junction(got, first, second):
    """got is the sum of two products (factors first, then second, as written) with its + typed as
    another operator, Python's precedence kept: (prod(first) op second[0]) * the rest; else None."""
    with np.errstate(all="ignore"):
        found = []
        for symbol, op in _ALL_OPERATORS.items():
            if symbol == "**":
                value = product_of(first[:-1]) * op(first[-1][1], second[0][1]) * product_of(second[1:])
            else:
                value = op(product_of(first), second[0][1]) * product_of(second[1:])
            if np.all(np.isfinite(value)) and close(got, value):
                found.append(f"it computes {_formula(first)} {symbol} {_formula(second)} instead of the sum "
                             f"{_formula(first)} + {_formula(second)}")
    return found[0] if len(found) == 1 else None


def _missing_terms(got, parts):
    """got is the sum of only some of parts (two or more left out; one is ``relation``'s); else None."""
    n = len(parts)
    for size in range(2, n):
        found = [dropped for dropped in itertools.combinations(range(n), size)
                 if close(got, sum(v for k, (_, v) in enumerate(parts) if k not in dropped))]
        if len(found) == 1:
            return "missing " + _named(parts[k][0] for k in found[0])
    return None


def _junctions(got, parts, terms):
    """got is the sum with one + typed as another operator: between two products (``_junction``), or
    between the sum of the terms before it, computed first, and the next term; else None."""
    if len(terms) == 2 and len(terms[0][1]) > 1:
        return _junction(got, terms[0][1], terms[1][1])
    found = []
    with np.errstate(all="ignore"):
        for k in range(1, len(terms)):
            before = sum(value for _, value in parts[:k])
            label = " + ".join(l for l, _ in parts[:k])
            label = f"({label})" if k > 1 else label
            factors, after = terms[k][1], sum(value for _, value in parts[k + 1:])
            for symbol, op in _ALL_OPERATORS.items():
                value = op(before, factors[0][1]) * product_of(factors[1:]) + after
                if np.all(np.isfinite(value)) and close(got, value):
                    found.append(f"it computes {label} {symbol} {_formula(factors)} instead of adding them")
    return found[0] if len(found) == 1 else None


def _combined_terms(got, parts):
    """got is the sum of parts with two of them, or two groups of them, multiplied or divided
    instead of added; else None. parts: [(label, array)]."""
    with np.errstate(all="ignore"):
        return _combined_parts(got, parts)


def _combined_parts(got, parts):
    n, found = len(parts), []
    combine = (("multiplied", lambda a, b: a * b), ("divided", lambda a, b: a / b))
    for j in range(n):              # two terms combined, the others added
        for k in range(n):
            if j == k:
                continue
            rest = sum(parts[m][1] for m in range(n) if m not in (j, k))
            found += [f"{parts[j][0]} and {parts[k][0]} are {how} instead of added" for how, op in combine
                      if (how == "divided" or j < k) and close(got, rest + op(parts[j][1], parts[k][1]))]
            found += [f"it computes {parts[j][0]} {symbol} {parts[k][0]} instead of adding them"
                      for symbol, op in _OPERATORS.items() if close(got, rest + op(parts[j][1], parts[k][1]))]
    for size in range(2, n):        # two groups of terms, each added up, combined
        for group in itertools.combinations(range(n), size):
            a, b = [parts[m] for m in group], [parts[m] for m in range(n) if m not in group]
            for first, second in ((a, b), (b, a)):
                found += [f"({' + '.join(l for l, _ in first)}) and ({' + '.join(l for l, _ in second)}) are {how} "
                          f"instead of added" for how, op in combine
                          if (how == "divided" or first is a) and
                          close(got, op(sum(v for _, v in first), sum(v for _, v in second)))]
    return found[0] if len(set(found)) == 1 else None


def recover_rows(inputs, product):
    """da (N, K) from product = inputs.T @ da (a weight's gradient: dWx = x.T @ da, inputs (N, D)):
    read_back for one step; None when inputs cannot pin it down or product is no such product."""
    if np.ndim(product) != 2 or np.shape(product)[0] != inputs.shape[1]:
        return None
    deltas = read_back(product, [inputs])
    return None if deltas is None else deltas[:, 0]


def agreed(witnesses, right):
    """The value on which most witnesses (arrays, each one use of a quantity run backwards) agree,
    at least two of them; the right value when no two agree; None when a wrong value wins although
    a witness holds the right one (then the quantity may be right and its uses wrong: two readings)."""
    votes = [sum(close(w, other) for other in witnesses) for w in witnesses]
    best = max(votes, default=0)
    if best < 2:
        return right
    winners = [w for w, v in zip(witnesses, votes) if v == best]
    winner = next((w for w in winners if close(w, right)), winners[0])
    if not close(winner, right) and any(close(w, right) for w in witnesses):
        return None
    return winner


def read_quantities(quantities):
    """The hints for the wrong ones of a backward's quantities, read from what they are; None when
    one that is wrong has no reading (then the other hints say what they can).

    quantities: [(intro, got, want, read)], each got the student's value (recovered from what they
    returned), want what it should be given the student's own values before it, read() the end of
    a hint or None."""
    hints = []
    for intro, got, want, read in quantities:
        if got is None or close(got, want):
            continue
        text = read()
        if not text:
            return None
        hints.append(f"{intro}: {text}")
    return hints or None


# Where a nan in a result comes from: no formula of these lessons gives one, only an invalid operation.
NAN_CAUSE = ("an operation with no real result happened on the way, such as a division by zero (or // or % by "
             "zero), a power ** of a negative number with a fractional exponent, or the square root or log of a "
             "negative number")


def check_backward_read(lesson, name, fn, forward, inputs, names, reference, variant, mistakes, read, tol=TOL,
                        **options):
    """check_backward, reading the answer's own intermediate gradients first.

    read(grads, douts, cache) -> [hint] or None: hints that explain every wrong gradient (e.g.
    lesson 07's gate blocks of da, recovered from dWx = x.T @ da). They are given when no known
    mistake matches and the gradients have the right shapes and order; otherwise, and for a right
    answer, check_backward (with options) decides."""
    __tracebackhide__ = True
    report = gradcheck.check_gradients(forward, lambda *a: unpack(name, lesson.call(name, fn, *a), names),
                                       inputs, names, tol=tol)
    hints = None if report.ok else _read_hints(report, forward(*inputs)[-1], reference, variant, mistakes, read)
    if hints:
        checks = list(report.checks.values())
        problems = [(f"{c.name}: relative error {c.rel_error:.1e} > tolerance {c.tol:.0e}; worst at index "
                     f"{c.worst_index}: numerical gradient {c.numerical:.6g}, yours {c.analytic:.6g}", [])
                    for c in checks if not c.ok]
        problems[0] = (problems[0][0], hints)
        ok = [c.name for c in checks if c.ok]
        fail(name, problems + ([("correct: " + ", ".join(ok), [])] if ok else []))
    check_backward(lesson, name, fn, forward, inputs, names, reference, variant, mistakes, tol=tol, **options)


def _read_hints(report, cache, reference, variant, mistakes, read):
    """read's hints, or None where check_backward's own verdict comes first (a wrong shape, order or
    number of results, an input written into, a known mistake)."""
    grads, correct = report.grads, reference(*report.douts, cache)
    if report.mutated or len(grads) != len(correct) or not all(c.shape_ok for c in report.checks.values()):
        return None
    if misplaced(grads, correct, [c.name for c in report.checks.values()]):
        return None
    for kwargs, _ in mistakes:
        known = variant(*report.douts, cache, **kwargs)
        if all(close(g, k) for g, k in zip(grads, known)) and not all(close(k, w) for k, w in zip(known, correct)):
            return None
    nan = [c.name for c, g in zip(report.checks.values(), grads) if np.isnan(g).any()]
    if nan:     # no formula gives nan: only an operation without a real result does
        return [f"{_named(nan)} hold{'s' if len(nan) == 1 else ''} nan (not a number): {NAN_CAUSE}"]
    return read(grads, report.douts, cache)
