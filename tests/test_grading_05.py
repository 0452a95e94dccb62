"""Lesson 05's checks: correct work passes, known mistakes are named, delegation is rejected."""
import numpy as np
import pytest

from rnnlib import data, grading
from rnnlib.grading import binary_addition

from conftest import as_student, fails


def int_to_bits(n, width):
    return (np.asarray(n)[..., None] >> np.arange(width)) & 1


def bits_to_int(bits):
    return (np.asarray(bits) * (1 << np.arange(np.shape(bits)[-1]))).sum(-1)



def test_correct_solutions_pass(capsys):
    grading.check_int_to_bits(int_to_bits)
    grading.check_bits_to_int(bits_to_int)
    step = as_student(binary_addition.adder_train_step)
    grading.check_train_step(step)
    grading.check_train_step(step, seed=2, N=7, hidden=5)
    assert capsys.readouterr().out.count("all checks passed") == 4


def test_msb_first_and_unvectorised_bits_are_explained():
    assert "least-significant bit first" in fails(grading.check_int_to_bits, lambda n, w: int_to_bits(n, w)[..., ::-1])
    assert "most-significant first" in fails(grading.check_bits_to_int, lambda b: bits_to_int(np.asarray(b)[..., ::-1]))

    def scalar_only(n, width):
        return np.array([(int(n) >> k) & 1 for k in range(width)])
    assert "whole arrays" in fails(grading.check_int_to_bits, scalar_only)


@pytest.mark.parametrize("kw,hint", [({"accumulate": False}, "accumulated over all 8 steps"),
                                     ({"deriv": "none"}, "sigmoid derivative"),
                                     ({"sign": -1.0}, "up the gradient")])
def test_train_step_mistakes(kw, hint):
    step = as_student(binary_addition.adder_train_step)
    assert hint in fails(grading.check_train_step, lambda p, x, y, lr: step(p, x, y, lr, **kw))


def test_delegation_is_rejected():
    assert "reference implementation" in fails(grading.check_int_to_bits, data.int_to_bits)
    assert "reference implementation" in fails(grading.check_train_step, binary_addition.adder_train_step)
