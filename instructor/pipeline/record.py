"""Record what an open lesson's visible tests need of its answers (rnnlib/recorded.py).

An edition with a lesson open holds that lesson's references as stubs that look their results
up in a table. The table is made here: the released notebook, answered with the solution, runs
in a kernel whose rnnlib records every call the checks make of those functions (arguments in,
result and in-place changes out); then twice more with every exercise's results, or the arrays it
changes in place, nudged wrong before each test cell, so that the checks also take their failure
paths (their hints call the references on the same seeded inputs). Only the released notebook's
visible tests run: hidden tests leave no trace.

    record(course, assignment, functions)  ->  {(name, fingerprint of the arguments): (result, changes)}
"""
import copy
import functools
import importlib
import inspect
import operator
import pickle
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from rnnlib import grading, recorded

from ..model.layout import Layout, notebook_path
from .submissions import make_submission

# Runs first in the recording kernel: wraps every function to record, wherever rnnlib holds it.
PROLOGUE = """
import pickle as _rnns_pickle
from instructor.pipeline.record import install as _rnns_install
_rnns_table = _rnns_install({functions!r}, {from_cells!r})
"""
EPILOGUE = "_rnns_pickle.dump(_rnns_table, open({path!r}, 'wb'))"
NUDGE = ("_rnns_saved = __import__('instructor.pipeline.record', fromlist=['nudge'])"
         ".nudge(globals(), {names!r}, {in_place!r})")
UNNUDGE = "globals().update(_rnns_saved)"


CALLS_FROM_CELLS = 20


def _recording(name, fn, table, busy, from_cells):
    signature = inspect.signature(fn)
    calls = []

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # busy: inside a recorded call, whose result covers this one. A cell's own call of an
        # exercise's reference (lesson 06 samples from an untrained model before the student's
        # sample exists) is recorded too, a few times: the same cell in the student's notebook
        # makes the same call; a training loop's thousands are not worth a table.
        # Only what the checks call is recorded: a notebook's own cells call rnnlib with whatever a
        # student chooses, which no table could hold.
        if busy or not (recorded.called_by_a_check() or (name in from_cells and len(calls) < CALLS_FROM_CELLS)):
            return fn(*args, **kwargs)
        calls.append(name)
        busy.append(name)
        try:
            return _record(name, fn, signature, table, args, kwargs)
        finally:
            busy.pop()
    return wrapper


def _record(name, fn, signature, table, args, kwargs):
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    try:
        key, before = (name, recorded.fingerprint(arguments)), {
            p: recorded.fingerprint(v) for p, v in arguments.items()}
    except TypeError:                       # not an input a stub could look up: nothing to record
        return fn(*args, **kwargs)
    result = fn(*args, **kwargs)
    if inspect.isgenerator(result):
        result = recorded.Generated(list(result))
        returned = iter(copy.deepcopy(result.items))
    else:
        returned = result
    changed = {p: recorded.mutable(v) for p, v in arguments.items()
               if recorded.mutable(v) is not None and recorded.fingerprint(v) != before[p]}
    table.setdefault(key, (copy.deepcopy(result), changed))
    return returned


def install(functions, from_cells=()):
    """Wrap each "module:qualname" of rnnlib so its calls are recorded; returns the table they fill.

    Every rnnlib module's name bound to the original (a `from .rnn import forward_steps`) is
    rebound too: in the edition the stub replaces the code itself, so every caller reaches it."""
    table, busy = {}, []
    for name in functions:
        module, qualname = name.split(":")
        owner_path, _, attribute = qualname.rpartition(".")
        owner = importlib.import_module(f"rnnlib.{module}")
        if owner_path:
            owner = operator.attrgetter(owner_path)(owner)
        original = getattr(owner, attribute)
        wrapper = _recording(name, original, table, busy, from_cells)
        setattr(owner, attribute, wrapper)
        for loaded in [m for n, m in sys.modules.items() if n == "rnnlib" or n.startswith("rnnlib.")]:
            for key, value in list(vars(loaded).items()):
                if value is original:
                    setattr(loaded, key, wrapper)
    return table


def _nudged(value):
    """value wrong but well formed, as a check receives from a mistaken answer: every float array
    moved by 0.5, every integer (a sampled id) by 1."""
    if hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f":
        return value + 0.5
    if isinstance(value, int) and not isinstance(value, bool):
        return value + 1
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_nudged(v) for v in value)
    if isinstance(value, list):
        return [_nudged(v) for v in value]
    if isinstance(value, dict):
        return {k: _nudged(v) for k, v in value.items()}
    return value


def nudge(namespace, names, in_place=False):
    """Replace the notebook's exercise functions named in names by versions whose float results are
    off, or (in_place) whose dicts of arrays are moved after the call (an optimiser's parameters);
    returns what to put back."""
    saved = {n: namespace[n] for n in names if inspect.isfunction(namespace.get(n))}

    def off(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            result = fn(*args, **kwargs)
            if not in_place:
                return _nudged(result)
            for argument in [*args, *kwargs.values()]:
                for array in (argument.values() if isinstance(argument, dict) else []):
                    if hasattr(array, "dtype") and array.dtype.kind == "f":
                        array += 0.5
            return result
        return wrapper
    namespace.update({n: off(fn) for n, fn in saved.items()})
    return saved


def _answered(layout, assignment, nudged, functions, table_path):
    """The released notebook answered with the solution, recording; nudged: None, "results" or "in place"."""
    release = nbformat.read(layout.release_notebook(assignment), as_version=4)
    solution = nbformat.read(notebook_path(layout.source, assignment), as_version=4)
    nb = make_submission(release, solution, "correct")
    exercises = list(grading.lesson(assignment).exercises)
    from_cells = [ref for lesson in grading.LESSONS for ref in lesson.exercises.values() if ref in functions]
    cells = [nbformat.v4.new_code_cell(PROLOGUE.format(functions=list(functions), from_cells=from_cells))]
    for cell in nb.cells:
        test = cell.metadata.get("nbgrader", {}).get("grade") and not cell.metadata.nbgrader.get("solution")
        if nudged and test:
            cells.append(nbformat.v4.new_code_cell(NUDGE.format(names=exercises, in_place=nudged == "in place")))
        cells.append(cell)
        if nudged and test:
            cells.append(nbformat.v4.new_code_cell(UNNUDGE))
    cells.append(nbformat.v4.new_code_cell(EPILOGUE.format(path=str(table_path))))
    nb.cells = cells
    return nb


def record(course, assignment, functions, nudged=True, timeout=600):
    """The table of every call of functions ("module:qualname") that assignment's notebook makes,
    answered right, and (nudged) answered wrong before each visible test."""
    layout, table = Layout(course), {}
    with tempfile.TemporaryDirectory() as tmp:
        for how in (None, "results", "in place")[:1 + 2 * nudged]:
            path = Path(tmp) / f"table-{how}.pickle"
            nb = _answered(layout, assignment, how, functions, path)
            NotebookClient(nb, timeout=timeout, allow_errors=bool(how), kernel_name="python3",
                           resources={"metadata": {"path": str(layout.release / assignment)}}).execute()
            for key, value in pickle.loads(path.read_bytes()).items():
                table.setdefault(key, value)
    return table
