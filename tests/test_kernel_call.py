"""The kernel's side of a call from the grader (instructor/pipeline/kernel_call.py), run here as the kernel
runs it: the code instructor/pipeline/execute.py sends, executed with IPython's hooks standing in for a
kernel's. The red-team tests (tests/test_redteam.py) run it in real sandboxed kernels."""
import json

import IPython
import IPython.display
import numpy as np
import pytest

from instructor.pipeline import execute, kernel_call, wire


class Kernel:
    """What the call code reaches of IPython: the user namespace and display publishing."""

    def __init__(self, monkeypatch, **user_ns):
        self.user_ns, self.published = user_ns, []
        monkeypatch.setattr(IPython, "get_ipython", lambda: self)
        monkeypatch.setattr(IPython.display, "publish_display_data", self.published.append)

    def run(self, name, *args, **request):
        """Execute the code the grader sends for name(*args); returns the decoded reply."""
        payload = json.dumps({"args": wire.encode(list(args), {}), "kwargs": wire.encode({}, {}), **request})
        exec(execute.kernel_code(name, payload), {})
        (reply,) = [data[kernel_call.MIME] for data in self.published]
        self.published.clear()
        return reply


def test_what_is_sent_is_the_modules_own_source():
    code = execute.kernel_code("f", "{}")
    for module in (wire, kernel_call):
        assert repr(open(module.__file__).read()) in code


def test_a_call_returns_the_result_and_the_arguments_as_the_function_left_them(monkeypatch):
    def step(x, cache):
        cache["seen"] = x.sum()
        x *= 2
        return x + 1

    kernel = Kernel(monkeypatch, step=step)
    reply = kernel.run("step", np.ones(3), {"old": 1})
    assert np.array_equal(wire.decode(reply["result"], {}), np.full(3, 3.0))
    x, cache = wire.decode(reply["args_after"], {})
    assert np.array_equal(x, np.full(3, 2.0)) and cache == {"old": 1, "seen": 3.0}
    assert reply["replaced"] == [[], []]


def test_an_error_names_the_students_line_not_the_call_code(monkeypatch):
    def broken(x):
        return x[5]

    reply = Kernel(monkeypatch, broken=broken).run("broken", [1, 2])
    assert (reply["raised"], reply["message"]) == ("IndexError", "list index out of range")
    assert len(reply["where"]) == 1 and reply["where"][0].startswith("broken, line ")


def test_an_object_of_the_students_stays_in_the_kernel_behind_a_handle(monkeypatch):
    Made = type("Made", (), {"__module__": "__main__", "size": 4, "double": lambda self, n: 2 * n})
    kernel = Kernel(monkeypatch, make=Made)
    assert kernel.run("make")["result"] == {"handle": 0}
    size = kernel.run("@0.size", get=True)
    assert (size["callable"], size["result"]) == (False, 4)
    assert kernel.run("@0.double", get=True)["callable"] is True
    assert kernel.run("@0.double", 21)["result"] == 42


def test_an_object_of_no_one_s_that_cannot_cross_is_an_error(monkeypatch):
    reply = Kernel(monkeypatch, opener=lambda: open).run("opener")
    assert reply["raised"] == "Unportable"


@pytest.mark.parametrize("name", ["missing", "@3"])
def test_a_name_the_kernel_does_not_have_is_an_error(monkeypatch, name):
    assert Kernel(monkeypatch).run(name)["raised"] in ("KeyError", "IndexError")


def test_a_dict_read_from_an_object_carries_the_kernel_s_identities_of_its_values(monkeypatch):
    class Layer:
        def __init__(self):
            self.grads = {"W": np.zeros(2)}

        def rebind(self):
            self.grads["W"] = np.ones(2)

        def write(self):
            self.grads["W"][...] = 2.0

    Layer.__module__ = "__main__"
    kernel = Kernel(monkeypatch, make=Layer)
    kernel.run("make")
    first = kernel.run("@0.grads", get=True)["identities"]
    kernel.run("@0.write")
    assert kernel.run("@0.grads", get=True)["identities"] == first
    kernel.run("@0.rebind")
    assert kernel.run("@0.grads", get=True)["identities"]["W"] != first["W"]


def test_a_call_that_does_not_return_in_its_seconds_is_stopped_at_the_students_line(monkeypatch):
    def spin(n):
        while n > 0:
            n = n + 1
        return n

    reply = Kernel(monkeypatch, spin=spin).run("spin", 1, seconds=0.2)
    first = spin.__code__.co_firstlineno
    assert reply["raised"] == "TimedOut"
    assert reply["stopped_at"] in (["spin", first + 1, "while n > 0:"], ["spin", first + 2, "n = n + 1"])


def test_a_generator_stays_in_the_kernel_and_is_read_one_item_at_a_time(monkeypatch):
    def count(n):
        yield from range(n)

    kernel = Kernel(monkeypatch, count=count)
    assert kernel.run("count", 2)["result"] == {"handle": 0, "iterator": True}
    assert [kernel.run("@0.__next__")["result"] for _ in range(2)] == [0, 1]
    assert kernel.run("@0.__next__")["raised"] == "StopIteration"
