"""nbgrader's Execute step, made so that a submission can neither fake a grade nor sink itself.

Test cells run in the grader. As shipped, nbgrader runs a test cell in the student's own kernel,
where the student's code ran first and can have replaced anything the test uses (the checker,
numpy's comparisons, even the test cell's source, through IPython's input transformers). Here a
graded test cell is executed in this trusted process, with rnnlib.grading's checks; each name it
uses that is not a check (the student's function) becomes a RemoteFunction: its arguments are
sent to the student's kernel (instructor/pipeline/wire.py: JSON and .npy, never pickle), the function runs
there, and its results and its changes to its arguments come back. The expected values never
enter the kernel, and the kernel's rnnlib has no reference answers (instructor/pipeline/strip.py).

A dead or hung kernel costs one cell. As shipped, a kernel that dies (os._exit, a segfault, the
memory limit) or stops answering (a loop that ignores the interrupt) fails the whole submission:
no grades at all, reported as a plain 0. Here the cell where it happened gets an error output that
says what happened (so its test, if it is one, scores 0 and the feedback shows why), a fresh
kernel replays the cells before it without keeping their outputs, and grading goes on.
"""
import builtins
import contextlib
import copy
import io
import json
import signal
import time
from pathlib import Path

import numpy as np
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute

from . import kernel_call, wire
from .kernel_call import MIME

DIED = ("KernelDied", "the kernel died while running this cell (for example os._exit, a crash, or more memory "
        "than grading allows). The cells after it were run in a fresh kernel.")
HUNG = ("KernelHung", "this cell did not finish within the time limit and the kernel did not respond to an "
        "interrupt, so it was restarted. The cells after it were run in a fresh kernel.")
MAX_RESTARTS = 5      # a submission that kills every kernel does not get to replay forever


class ResilientExecute(Execute):
    """Execute every cell; on a dead or hung kernel, record why, restart, replay, continue."""

    def preprocess(self, nb, resources=None, km=None):
        from nbclient import NotebookClient
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        start, failed = 0, set()
        while start < len(self.nb.cells):
            start = self._run_from(start, failed, resources, replay=len(failed) <= MAX_RESTARTS)
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _run_from(self, start, failed, resources, replay):
        """Run cells start.. in a new kernel; returns the index after the last cell it got through."""
        with self.setup_kernel():
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            for index in range(start):
                if index not in failed and replay:
                    self._replay(index, resources)
            for index in range(start, len(self.nb.cells)):
                cell = self.nb.cells[index]
                try:
                    self.preprocess_cell(cell, resources, index)
                except DeadKernelError:
                    return self._fail(cell, index, failed, DIED)
                except CellTimeoutError:            # the reply came, the kernel's output never did
                    return self._fail(cell, index, failed, HUNG)
                if self._timed_out(cell) and not self._responsive():
                    return self._fail(cell, index, failed, HUNG)
        return len(self.nb.cells)

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            self._run_trusted(cell, meta.get("grade_id", f"cell {index}"))
            return cell, resources
        return super().preprocess_cell(cell, resources, index)

    def _run_trusted(self, cell, grade_id):
        """Run a test cell here; the student's functions it names run in the kernel."""
        from rnnlib import grading
        code = compile(cell.source, f"<test cell {grade_id}>", "exec")
        namespace = {"__builtins__": builtins, "np": np,
                     **{name: getattr(grading, name) for name in dir(grading) if name.startswith("check_")}}
        for name in code.co_names:
            if name not in namespace and not hasattr(builtins, name):
                namespace[name] = RemoteFunction(self, name, cell)
        self._printed, printed, error = [], io.StringIO(), None
        try:
            with contextlib.redirect_stdout(printed):
                exec(code, namespace)
        except (DeadKernelError, CellTimeoutError):
            raise
        except Exception as e:
            name = "GradingFailure" if isinstance(e, grading.GradingFailure) else type(e).__name__
            lines = str(e).splitlines() or [""]
            error = NotebookNode(output_type="error", ename=name, evalue=str(e),
                                 traceback=[f"{name}: {lines[0]}", *lines[1:]])
        text = "".join(self._printed) + printed.getvalue()
        cell.outputs = [NotebookNode(output_type="stream", name="stdout", text=text)] if text else []
        cell.outputs += [error] if error else []

    def call_in_kernel(self, name, request, cell):
        """Run the kernel's function `name` on the request (its wire-encoded arguments); returns the
        decoded reply dict. A check's time limit (rnnlib.grading.core.time_limit) goes with the call:
        the kernel stops the student's code when it runs out, and raises TimedOut here."""
        from rnnlib.grading.core import TimedOut
        with _alarm_handed_over() as seconds:
            code = kernel_code(name, json.dumps({**request, "seconds": seconds}))
            msg_id = self.kc.execute(code, store_history=False, allow_stdin=False)
            if self.wait_for_reply(msg_id, cell) is None:          # timed out; interrupted
                if not self._responsive():
                    raise CellTimeoutError(f"{name} did not return and the kernel did not respond")
                raise TimeoutError(f"it did not return within {self.timeout} s")
            reply = run_sync(self._collect)(msg_id)
        if reply is not None and reply.get("raised") == "TimedOut":
            raise TimedOut(tuple(reply["stopped_at"]))
        return reply

    async def _collect(self, msg_id):
        """The reply published by the call, and whatever the student's function printed."""
        reply = None
        while True:
            msg = await self.kc.iopub_channel.get_msg(timeout=self.iopub_timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "display_data" and MIME in content.get("data", {}):
                reply = content["data"][MIME]
            elif kind == "stream":
                self._printed.append(content["text"])
            elif kind == "status" and content["execution_state"] == "idle":
                return reply

    def _replay(self, index, resources):
        cell = copy.deepcopy(self.nb.cells[index])
        if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("grade"):
            self.preprocess_cell(cell, resources, index)    # outputs go to the copy and are dropped

    def _fail(self, cell, index, failed, why):
        failed.add(index)
        self.log.error("Cell %d: %s: %s", index, *why)
        cell.outputs.append(NotebookNode(output_type="error", ename=why[0], evalue=why[1],
                                         traceback=[f"{why[0]}: {why[1]}"]))
        return index + 1                    # leaving setup_kernel shuts this kernel down

    @staticmethod
    def _timed_out(cell):
        return any(o.get("ename") == "CellTimeoutError" for o in cell.get("outputs", []))

    def _responsive(self, seconds=10):
        """Did the kernel come back after the timeout's interrupt? (It answers kernel_info.)"""
        saved, self.timeout = self.timeout, seconds
        try:
            return self.wait_for_reply(self.kc.kernel_info()) is not None
        except DeadKernelError:
            return False
        finally:
            self.timeout = saved


# --- test cells run in the grader, the student's functions in the kernel ------------------------

# What the kernel runs for each call: wire.py's text, then kernel_call.py's, each in a namespace of its own.
WIRE_SOURCE = Path(wire.__file__).read_text()
CALL_SOURCE = Path(kernel_call.__file__).read_text()


def kernel_code(name, payload):
    """The code that runs the kernel's function `name` on the wire-encoded payload and publishes its reply."""
    return (f"_rnn_wire = {{'__name__': 'rnn_grading_wire'}}\n"
            f"exec({WIRE_SOURCE!r}, _rnn_wire)\n"
            f"_rnn_call = {{'__name__': 'rnn_grading_call'}}\n"
            f"exec({CALL_SOURCE!r}, _rnn_call)\n"
            f"_rnn_call['call']({name!r}, {payload!r}, _rnn_wire)\ndel _rnn_wire, _rnn_call\n")


@contextlib.contextmanager
def _alarm_handed_over():
    """The seconds left on this process's alarm (a check's time limit), or None: the alarm is paused
    while the kernel runs the call under what is left of it, since here it would stop the grader
    waiting, not the student's code. It resumes afterwards, unless it ran out (the kernel saw to that)."""
    left = signal.setitimer(signal.ITIMER_REAL, 0)[0]
    started = time.monotonic()
    try:
        yield left or None
    finally:
        rest = left - (time.monotonic() - started)
        if left and rest > 0:
            signal.setitimer(signal.ITIMER_REAL, rest)


def _sync(original, after, replaced=()):
    """Carry what the student's function did to its arguments back to the grader's objects."""
    if isinstance(original, np.ndarray):
        if isinstance(after, np.ndarray) and after.shape == original.shape:
            np.copyto(original, after, casting="unsafe")
    elif isinstance(original, dict) and isinstance(after, dict):
        for key in list(original):
            if key not in after:
                del original[key]
        for key, value in after.items():
            if key in replaced or key not in original or not isinstance(original[key], np.ndarray):
                original[key] = value
            else:
                _sync(original[key], value)
    elif isinstance(original, (list, tuple)) and isinstance(after, (list, tuple)) and len(original) == len(after):
        for k, (o, a) in enumerate(zip(original, after)):
            if isinstance(original, list) and not isinstance(o, (np.ndarray, dict, list, tuple)):
                original[k] = a
            else:
                _sync(o, a)


class RemoteFunction:
    """Stands for a student's function: called in the grader, runs in the student's kernel."""

    def __init__(self, executor, name, cell):
        self.executor, self.name, self.cell, self.__name__ = executor, name, cell, name

    def __call__(self, *args, **kwargs):
        memo = {}
        request = {"args": wire.encode(list(args), memo), "kwargs": wire.encode(kwargs, memo)}
        reply = self.executor.call_in_kernel(self.name, request, self.cell)
        if reply is None:
            raise RuntimeError(f"{self.name} could not be run in the grading kernel")
        for original, after, replaced in zip(args, wire.decode(reply["args_after"], {}), reply["replaced"]):
            _sync(original, after, set(replaced))
        if "raised" in reply:
            where = f"\n  in your code: {reply['where'][0]}" if reply.get("where") else ""
            raise wire.error_class(reply["raised"])(f"{reply['message']}{where}")
        return _result(self.executor, reply["result"], self.cell)


def _result(executor, value, cell):
    """A decoded result, or a RemoteObject for a handle to an object that stayed in the kernel."""
    if isinstance(value, dict) and set(value) == {"handle"}:
        return RemoteObject(executor, f"@{int(value['handle'])}", cell)
    if isinstance(value, dict) and set(value) == {"handle", "iterator"}:
        return RemoteIterator(executor, f"@{int(value['handle'])}", cell)
    return wire.decode(value, {})


class RemoteObject:
    """Stands for an object the student's code made (e.g. an instance of the class an exercise asks
    for): it stays in the kernel; reading an attribute fetches its value, a method runs there."""

    def __init__(self, executor, name, cell):
        self.__dict__.update(executor=executor, name=name, cell=cell)

    def __getattr__(self, attr):
        if attr.startswith("_"):            # no dunder probing (copy, numpy, IPython) goes to the kernel
            raise AttributeError(attr)
        path = f"{self.name}.{attr}"
        request = {"args": wire.encode([], {}), "kwargs": wire.encode({}, {}), "get": True}
        reply = self.executor.call_in_kernel(path, request, self.cell)
        if reply is None:
            raise RuntimeError(f"{path} could not be read in the grading kernel")
        if "raised" in reply:
            raise wire.error_class(reply["raised"])(reply["message"])
        if reply.get("callable"):
            return RemoteFunction(self.executor, path, self.cell)
        value = _result(self.executor, reply["result"], self.cell)
        return KernelDict(value, reply["identities"]) if "identities" in reply else value


class KernelDict(dict):
    """A copy of a dict attribute of an object in the kernel, with the kernel-side identity of each
    value (rnnlib.grading.core.identities reads it): whether a method put a new array into the dict
    or wrote into the one there cannot be seen from copies."""

    def __init__(self, items, identities):
        super().__init__(items)
        self.identities = identities


class RemoteIterator(RemoteObject):
    """Stands for a generator the student's function returned: it stays in the kernel, and each
    next() runs there, so a check takes only the items it needs, even from one that never ends."""

    def __iter__(self):
        return self

    def __next__(self):
        return RemoteFunction(self.executor, f"{self.name}.__next__", self.cell)()
