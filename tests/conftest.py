"""Shared fixtures: one released copy of the course, made once per test session."""
import sys
import tempfile
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # the instructor/ tooling lives beside rnnlib, not inside it

# The exercise functions of each assignment, in order (the course spec's table).
EXERCISES = {
    "01_forward_pass": ["rnn_step_forward", "rnn_forward", "temporal_affine_forward"],
    "02_softmax_stability": ["softmax", "log_softmax", "temporal_softmax_loss"],
    "03_bptt": ["numerical_gradient", "rnn_step_backward", "rnn_backward", "temporal_affine_backward"],
    "04_vanishing_gradients": ["jacobian_norms", "clip_grad_norm"],
    "05_binary_addition": ["int_to_bits", "bits_to_int", "train_step"],
    "06_char_rnn": ["tbptt_batches", "adagrad_update", "sample"],
    "07_lstm": ["lstm_step_forward", "lstm_forward", "lstm_step_backward", "lstm_backward"],
}


@pytest.fixture(scope="session")
def course():
    """A temporary course directory with every assignment released by nbgrader."""
    from instructor.demo import make_course
    with tempfile.TemporaryDirectory() as tmp:
        yield make_course(tmp)


def as_student(*functions):
    """Recompile functions (e.g. grading's deliberately wrong variants) as if a student had written
    them in a notebook, so the delegation check sees student code, not rnnlib's. All functions share
    one namespace, so they may call each other; returns the first."""
    import inspect
    import textwrap
    namespace = dict(functions[0].__globals__)
    for fn in functions:
        exec(compile(textwrap.dedent(inspect.getsource(fn)), "<student>", "exec"), namespace)
    return namespace[functions[0].__name__]


def fails(check, fn, **kwargs):
    """The message of the GradingFailure that check(fn, **kwargs) must raise."""
    from rnnlib.grading import GradingFailure
    with pytest.raises(GradingFailure) as e:
        check(fn, **kwargs)
    return str(e.value)
