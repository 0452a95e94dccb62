"""The checks behind every test cell, one module per lesson: students and the autograder get the same message.

Each ``check_<exercise>(fn, ...)`` runs the student's function on seeded inputs, compares it with
rnnlib's reference (outputs) or with rnnlib's trusted numerical gradients (backwards, float64),
prints one line when everything holds and otherwise raises ``GradingFailure`` with a message a
student can act on: which output or gradient, the relative error and tolerance, the worst index
with the expected and obtained values, and, for well-known mistakes, a hint naming the cause.

    core                 the Lesson declaration, running the student's code, the shape of a verdict
    forward_pass         lesson 01        bptt             lesson 03        char_rnn   lesson 06
    softmax_stability    lesson 02        vanishing_gradients  lesson 04    lstm       lesson 07
    binary_addition      lesson 05

Each lesson module declares ``LESSON``: its assignment, its exercises, the rnnlib functions that
answer them (see core.Lesson). ``LESSONS`` lists them in course order.
"""
from . import binary_addition, bptt, char_rnn, forward_pass, lstm, softmax_stability, vanishing_gradients
from .binary_addition import check_bits_to_int, check_int_to_bits, check_train_step
from .bptt import check_numerical_gradient, check_rnn_backward, check_rnn_step_backward, check_temporal_affine_backward
from .char_rnn import check_adagrad_update, check_sample, check_tbptt_batches
from .core import GradingFailure, Lesson
from .forward_pass import check_rnn_forward, check_rnn_step_forward, check_temporal_affine_forward
from .lstm import check_lstm_backward, check_lstm_forward, check_lstm_step_backward, check_lstm_step_forward
from .softmax_stability import check_log_softmax, check_softmax, check_temporal_softmax_loss
from .vanishing_gradients import check_clip_grad_norm, check_jacobian_norms

MODULES = (forward_pass, softmax_stability, bptt, vanishing_gradients, binary_addition, char_rnn, lstm)
LESSONS = tuple(module.LESSON for module in MODULES)


def lesson(assignment):
    """The Lesson whose assignment id is assignment (e.g. "03_bptt"); KeyError if there is none."""
    found = [x for x in LESSONS if x.assignment == assignment]
    if not found:
        raise KeyError(f"no lesson has the assignment id {assignment!r}: {[x.assignment for x in LESSONS]}")
    return found[0]

