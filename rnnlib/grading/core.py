"""What every lesson's checks share: the Lesson declaration, running the student's code, messages.

A lesson module declares itself once, as ``LESSON = Lesson(...)``: its assignment id, its
exercises and, for each, the rnnlib function that answers it, plus any other rnnlib function that
computes an answer (the unchecked cores). Everything else reads that declaration: the checks
(``LESSON.call`` refuses delegation), the autograder's stripped rnnlib (instructor/strip.py), the
grading canary, the tests and the benchmarks.

Delegation has one definition, used alike by Validate (the student's kernel) and the autograder:
while the lesson is graded, the student's code may call any rnnlib function except the lesson's
references and the checks' own code (rnnlib.grading, whose deliberately wrong variants are
answers too). In the student's kernel a profiler sees such a call; in the autograder those
functions are not there at all (they raise ``WITHHELD``), and both become the same message.
"""
import functools
import importlib
import operator
import os
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import gradcheck

TOL = 1e-7
# What a withheld reference raises in the autograder's kernel (instructor/strip.py writes it).
WITHHELD = "rnnlib's reference {} is withheld while this lesson is graded"
_WITHHELD = re.compile(re.escape(WITHHELD).replace(r"\{\}", r"(\S+)"))
_GRADING = f"{Path(__file__).resolve().parent}{os.sep}"      # the checks' own files start with this


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
    Module names under "grading." are the checks' own code: the autograder's kernel has none of it.
    """
    assignment: str
    exercises: dict
    cores: tuple = ()

    @property
    def references(self):
        """Every rnnlib function whose use counts as delegation, as "module:qualname". An exercise
        answered by a class (lesson 03's TimeRNN) counts with every method the class defines."""
        return tuple(dict.fromkeys(method for ref in [*self.exercises.values(), *self.cores] for method in _methods(ref)))

    @functools.cached_property
    def forbidden(self):
        """{code object: the reference's qualname} for every reference, nested functions included."""
        return {code: ref.split(":")[1] for ref in self.references for code in _codes(resolve(ref).__code__)}

    def call(self, name, fn, *args, callbacks=(), **kwargs):
        """Run the student's fn; turn 'not written yet', crashes and delegation into clear failures.

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
        sys.setprofile(profile)
        try:
            result = fn(*args, **kwargs)
        except NotImplementedError:
            raise GradingFailure(f"{name} is not written yet (it raised NotImplementedError): replace the "
                                 f"`raise NotImplementedError()` line with your code and run its cell again.") from None
        except GradingFailure:
            raise
        except Exception as e:
            withheld = _WITHHELD.match(str(e))
            if withheld:                      # the autograder's kernel: the reference is not there
                raise delegation(name, withheld.group(1)) from None
            shapes = ", ".join(f"{np.shape(a)}" for a in args if isinstance(a, np.ndarray))
            raise GradingFailure(f"{name} raised {type(e).__name__}: {e}\n  (called with arrays of shapes {shapes})") from e
        finally:
            sys.setprofile(previous)
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


# --- the shape of a verdict ------------------------------------------------------------------

def unpack(name, result, fields):
    """Check that fn returned a tuple with the documented fields."""
    if not isinstance(result, tuple) or len(result) != len(fields):
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        raise GradingFailure(f"{name}: expected it to return a tuple ({', '.join(fields)}), got {got}.")
    return result


def as_array(name, what, value, shape):
    if not isinstance(value, np.ndarray):
        raise GradingFailure(f"{name}: {what} should be a numpy array of shape {shape}, got {type(value).__name__}.")
    if value.shape != tuple(shape):
        raise GradingFailure(f"{name}: {what} has shape {value.shape}, expected {tuple(shape)}."
                             + shape_hint(value.shape, shape))
    if not np.isfinite(value).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        raise GradingFailure(f"{name}: {what} contains {value[idx]} at index {idx}; expected finite values.")
    return value


def shape_hint(got, want):
    if tuple(got) == tuple(want)[::-1] or sorted(got) == sorted(want):
        return " The sizes are right but in the wrong order: a transpose is probably missing or extra."
    return ""


def mismatch(what, got, expected, tol=TOL):
    """None if got matches expected, else a line naming the relative error and the worst entry."""
    check = gradcheck.compare(what, got, expected, tol)
    if check.ok:
        return None
    return (f"{what}: relative error {check.rel_error:.1e} > tolerance {tol:.0e}; worst at index "
            f"{check.worst_index}: expected {check.numerical:.6g}, got {check.analytic:.6g}")


def hints(got, variants, correct):
    """Hints of the known mistakes whose result equals the student's (and differs from correct).

    Known mistakes are recognised, not guessed: each is a deliberately wrong variant of the
    reference, and its hint is given when the student's result equals that variant's."""
    return [hint for hint, value in variants
            if value is not None and np.shape(value) == np.shape(got) and gradcheck.compare("", got, value, 1e-6).ok
            and not gradcheck.compare("", value, correct, 1e-6).ok]


def fail(name, problems):
    """problems: list of (line, [hints]). Each distinct hint is given once, after the problems."""
    wrong = [line for line, _ in problems if not line.startswith("correct:")]
    lines = [f"{name}: {len(wrong)} problem{'s' if len(wrong) > 1 else ''} found."]
    lines += ["  " + line for line, _ in problems]
    lines += [f"  Likely cause: {h}" for h in dict.fromkeys(h for _, hs in problems for h in hs)]
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


def _gradient_failures(name, report, correct, variants):
    """Turn a failing GradReport into problems; variants: list of (hint, grads tuple) for known mistakes."""
    problems = []
    for k, check in enumerate(report.checks.values()):
        if check.ok:
            continue
        if not check.shape_ok:
            got = np.shape(report.grads[k]) if k < len(report.grads) else "nothing"
            problems.append((f"{check.name} has shape {got}, expected {np.shape(correct[k])}."
                             + shape_hint(got, np.shape(correct[k])), []))
            continue
        line = (f"{check.name}: relative error {check.rel_error:.1e} > tolerance {check.tol:.0e}; worst at index "
                f"{check.worst_index}: numerical gradient {check.numerical:.6g}, yours {check.analytic:.6g}")
        problems.append((line, hints(report.grads[k], [(h, g[k]) for h, g in variants], correct[k])))
    for m in report.mutated:
        problems.append((f"it modified its input {m}. A backward must not write into dout or the cache: later "
                         f"steps read them (write da = dnext_h * (...), not dnext_h *= ...).", []))
    ok = [c.name for c in report.checks.values() if c.ok]
    if ok and len(ok) < len(report.checks):
        problems.append(("correct: " + ", ".join(ok), []))
    fail(name, problems)


def check_backward(lesson, name, fn, forward, inputs, names, reference, variant, mistakes, tol=TOL):
    """Grade fn against numerical gradients of forward; explain failures with the known mistakes.

    mistakes: [(kwargs, hint)]: variant(*douts, cache, **kwargs) is the backward with that mistake."""
    __tracebackhide__ = True
    report = gradcheck.check_gradients(forward, lambda *a: unpack(name, lesson.call(name, fn, *a), names),
                                       inputs, names, tol=tol)
    if not report.ok:
        cache = forward(*inputs)[-1]
        correct = reference(*report.douts, cache)
        variants = [(hint, variant(*report.douts, cache, **kwargs)) for kwargs, hint in mistakes]
        _gradient_failures(name, report, correct, variants)
    worst = max(c.rel_error for c in report.checks.values())
    passed(name, f" ({len(names)} gradients match numerical ones, worst relative error {worst:.1e})")

