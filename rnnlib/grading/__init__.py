"""The checks behind every test cell, one module per lesson: students and the autograder get the same message.

Each ``check_<exercise>(fn, ...)`` runs the student's function on seeded inputs, compares it with
rnnlib's reference (outputs) or with rnnlib's trusted numerical gradients (backwards, float64),
prints one line when everything holds and otherwise raises ``GradingFailure`` with a message a
student can act on: which output or gradient, the relative error and tolerance, the worst index
with the expected and obtained values, and a hint: the cause, for a well-known mistake whose
result the student's equals, or else what the result is relative to the right one (a factor
such as 1/N, a transpose, zeros, float32 round-off, the wrong time steps or gate block) and
where to look.

    core                 the Lesson declaration, running the student's code, the shape of a verdict
    forward_pass         lesson 01        bptt             lesson 03        char_rnn   lesson 06
    softmax_stability    lesson 02        vanishing_gradients  lesson 04    lstm       lesson 07
    binary_addition      lesson 05        seq2seq_attention  lesson 08

Each lesson module declares ``LESSON``: its assignment, its exercises, the rnnlib functions that
answer them (see core.Lesson). ``LESSONS`` lists them in course order.
"""
from importlib import import_module
from pkgutil import iter_modules

from .core import GradingFailure, Lesson, results_only  # noqa: F401  (what test cells and the tools import from here)

# Every module here but core is a lesson's, in course order. A student edition of the course
# (instructor/commands/publish.py) holds only the lessons published so far: the package takes what is there.
MODULES = tuple(sorted((import_module(f"{__name__}.{m.name}") for m in iter_modules(__path__) if m.name != "core"),
                       key=lambda module: module.LESSON.assignment))
LESSONS = tuple(module.LESSON for module in MODULES)
# Every lesson's check_<exercise>, so that a test cell says `from rnnlib.grading import check_rnn_forward`.
globals().update({name: results_only(getattr(module, name)) for module in MODULES for name in vars(module)
                  if name.startswith("check_")})


def lesson(assignment):
    """The Lesson whose assignment id is assignment (e.g. "03_bptt"); KeyError if there is none."""
    found = [x for x in LESSONS if x.assignment == assignment]
    if not found:
        raise KeyError(f"no lesson has the assignment id {assignment!r}: {[x.assignment for x in LESSONS]}")
    return found[0]

