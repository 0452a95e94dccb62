"""Lesson 03's TimeRNN exercise: the solution passes, the known mistakes are named, delegation is rejected."""
import nbformat
import numpy as np
import pytest

from rnnlib import grading, rnn
from rnnlib.grading import check_TimeRNN

from conftest import ROOT, fails
from instructor.model.layout import notebook_path
from instructor.pipeline.execute import KernelDict
from instructor.pipeline.submissions import solution_answers


def student_namespace():
    """The lesson's given forward and the solution's answers, compiled as a student's notebook code."""
    nb = nbformat.read(notebook_path(ROOT / "solutions", "03_bptt"), as_version=4)
    answers = solution_answers(nb)
    given = next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "given_forward")
    namespace = {"np": np}
    for source in (given, answers["rnn_backward"], answers["rnn_step_backward"], answers["TimeRNN"]):
        exec(compile(source, "<student>", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def student():
    return student_namespace()


def test_the_solution_passes_visible_and_hidden_checks(student, capsys):
    for kw in ({}, {"N": 1, "T": 1, "D": 2, "H": 3, "blocks": 2, "seed": 1}, {"N": 3, "T": 7, "blocks": 4, "seed": 2}):
        check_TimeRNN(student["TimeRNN"], **kw)
    assert capsys.readouterr().out.count("TimeRNN: all checks passed") == 3


def variant(student, **changes):
    """The solution's class with some methods replaced, as a student might have written them."""
    return type("TimeRNN", (student["TimeRNN"],), changes)


def test_a_state_that_is_not_carried_is_named(student):
    def forward(self, x):              # always from zeros
        self.h = None
        return student["TimeRNN"].forward(self, x)
    message = fails(check_TimeRNN, variant(student, forward=forward))
    assert "block 2 of 3" in message and "the state carried into each forward is the last state of the previous one" in message


def test_gradients_left_out_of_grads_are_named(student):
    def backward(self, dhs):           # computes dx but never stores the weight gradients
        dx, self.dh0, *_ = student["rnn_backward"](dhs, self.cache)
        return dx
    assert "store the weight gradients" in fails(check_TimeRNN, variant(student, backward=backward))


def test_set_state_that_does_nothing_is_named(student):
    assert "set_state(h) makes the next forward start from h" in fails(
        check_TimeRNN, variant(student, set_state=lambda self, h: None))


def test_a_missing_attribute_is_named(student):
    def backward(self, dhs):
        dx, _, dWx, dWh, db = student["rnn_backward"](dhs, self.cache)
        for key, g in (("Wx", dWx), ("Wh", dWh), ("b", db)):
            self.grads[key][...] = g
        del self.dh0
        return dx
    assert "no attribute 'dh0'" in fails(check_TimeRNN, variant(student, backward=backward))


def test_rnnlibs_timernn_is_delegation(student):
    assert "reference implementation (TimeRNN.__init__)" in fails(check_TimeRNN, rnn.TimeRNN)
    lesson = grading.lesson("03_bptt")
    namespace = {}
    exec(compile(lesson.delegating_answer("TimeRNN"), "<student>", "exec"), namespace)
    assert "reference implementation" in fails(check_TimeRNN, namespace["TimeRNN"])


def test_every_method_of_the_class_is_a_reference():
    refs = grading.lesson("03_bptt").references
    assert {f"rnn:TimeRNN.{m}" for m in ("__init__", "forward", "backward", "set_state", "reset_state")} <= set(refs)


def test_gradients_written_into_new_arrays_are_named(student):
    def backward(self, dhs):           # rebinds the dict's entries: the arrays gathered before stay zero
        dx, self.dh0, dWx, dWh, db = student["rnn_backward"](dhs, self.cache)
        self.grads.update(Wx=dWx, Wh=dWh, b=db)
        return dx
    message = fails(check_TimeRNN, variant(student, backward=backward))
    assert "backward put new arrays into self.grads['Wx'] and 2 more" in message and "in place" in message
    # the autograder reads the layer, which stays in the student's kernel, as copies: the same verdict
    assert fails(check_TimeRNN, read_as_copies(variant(student, backward=backward))) == message
    check_TimeRNN(read_as_copies(student["TimeRNN"]))


def read_as_copies(cls):
    """cls as the autograder sees it: every attribute read is a copy (instructor/pipeline/execute.py's
    RemoteObject), a dict with the identities its values have where the layer lives."""
    class Copies:
        def __init__(self, *args, **kwargs):
            self.__dict__["layer"] = cls(*args, **kwargs)

        def __getattr__(self, attr):
            value = getattr(self.layer, attr)
            if isinstance(value, dict):
                return KernelDict({k: np.copy(v) for k, v in value.items()}, {k: id(v) for k, v in value.items()})
            return np.copy(value) if isinstance(value, np.ndarray) else value
    return Copies


def test_gradients_added_to_across_calls_are_named(student):
    def backward(self, dhs):           # keeps the gradients of earlier calls
        dx, self.dh0, dWx, dWh, db = student["rnn_backward"](dhs, self.cache)
        for key, g in zip(("Wx", "Wh", "b"), (dWx, dWh, db)):
            self.grads[key] += g
        return dx
    message = fails(check_TimeRNN, variant(student, backward=backward))
    assert "after a second backward of the same forward" in message and "across calls" in message


def test_a_stateless_layer_that_starts_from_a_set_state_is_named(student):
    def forward(self, x):              # starts from self.h whenever one is set, stateful or not
        if self.h is None:
            self.h = np.zeros((x.shape[0], self.params["Wh"].shape[0]))
        hs, self.cache = student["rnn_forward"](x, self.h, self.params["Wx"], self.params["Wh"], self.params["b"])
        self.h = None if not self.stateful else hs[:, -1]
        return hs
    message = fails(check_TimeRNN, variant(student, forward=forward))
    assert "set_state(h) with stateful=False" in message and "even after set_state(h)" in message
