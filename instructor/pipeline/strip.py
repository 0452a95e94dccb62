"""The rnnlib a grading kernel gets: without the reference answers to the exercises it grades.

rnnlib holds a reference implementation of every exercise, and an answer that only calls it must
earn nothing. Watching calls from inside the student's kernel can be switched off by the student;
here the references are simply not there. The sandbox (instructor/pipeline/sandbox.py) mounts, over the
rnnlib that the kernel's Python imports (wherever it is installed: located by that interpreter
itself), a copy in which the functions the graded lesson declares as its answers (its
``LESSON.references``, rnnlib/grading/core.py) raise instead of computing, and rnnlib.grading
(whose deliberately wrong variants are answers too) is replaced by stubs: the checks themselves
run in the grader's own process (instructor/pipeline/execute.py).
"""
import ast
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rnnlib import grading
from rnnlib.grading.core import WITHHELD

GRADING_STUB = f'''"""rnnlib.grading while a submission is graded: the checks run in the grader, not in this kernel."""


class GradingFailure(AssertionError):
    pass


def _checked_by_the_grader(*args, **kwargs):
    print("(this test runs in the grader)")


def __getattr__(name):
    raise RuntimeError({WITHHELD!r}.format(name))


'''
WITHHELD_MODULE = f'''"""Withheld while a submission is graded."""


def __getattr__(name):
    raise RuntimeError({WITHHELD!r}.format(name))
'''


class CannotStrip(Exception):
    """The kernel's rnnlib cannot be stripped (missing, or not the rnnlib these lessons declare)."""


def locate(python=sys.executable):
    """(the rnnlib folder that python imports, python's sys.path), as a kernel started by it sees them.

    Asked of the interpreter itself, in isolated mode (no PYTHONPATH, no user site: a grading
    kernel has neither) from an empty folder, so an editable install from any checkout, a
    site-packages copy or a hub image's all answer truthfully. Raises CannotStrip if there is none.
    """
    probe = ("import importlib.util, json, sys; s = importlib.util.find_spec('rnnlib'); "
             "print(json.dumps([s and list(s.submodule_search_locations or []), sys.path]))")
    with tempfile.TemporaryDirectory() as empty:
        out = subprocess.run([python, "-I", "-c", probe], cwd=empty, capture_output=True, text=True)
    if out.returncode:
        raise CannotStrip(f"{python} could not be asked where rnnlib is: {out.stderr.strip()[-300:]}")
    locations, path = json.loads(out.stdout)
    if not locations:
        raise CannotStrip(f"the grading kernel's Python ({python}) cannot import rnnlib")
    return Path(locations[0]), [p for p in path if p]


def _body_lines(node):
    """(first, last) line of a function's body after its docstring, 1-based, inclusive."""
    body = node.body
    has_docstring = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
        and isinstance(body[0].value.value, str)
    first = body[0].end_lineno + 1 if has_docstring and len(body) > 1 else body[0].lineno
    return first, node.end_lineno


def strip_module(source, qualnames, message=WITHHELD, replay=None):
    """source with the bodies of the functions or methods named in qualnames replaced by a raise
    of RuntimeError(message.format(qualname)); their signatures and docstrings, and every other
    line of source, stay as they are. With replay (the module's name in rnnlib, e.g. "rnn"), a body
    returns instead what rnnlib.recorded holds for its arguments, and raises the message otherwise."""
    found = {}

    def visit(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and prefix + node.name in qualnames:
                found[prefix + node.name] = node
            elif isinstance(node, ast.ClassDef):
                visit(node.body, prefix + node.name + ".")
    visit(ast.parse(source).body, "")
    missing = set(qualnames) - set(found)
    if missing:
        raise CannotStrip(f"not found in the module: {sorted(missing)}")
    lines = source.splitlines(keepends=True)
    for qualname, node in sorted(found.items(), key=lambda item: -item[1].lineno):   # bottom up: line numbers hold
        first, last = _body_lines(node)
        indent = " " * node.body[-1].col_offset
        text = message.format(qualname)
        statement = (f"return __import__('rnnlib.recorded').recorded.recorded({f'{replay}:{qualname}'!r}, {text!r}, "
                     f"locals())" if replay else f"raise RuntimeError({text!r})")
        lines[first - 1:last] = [f"{indent}{statement}\n"]
    return "".join(lines)


def references(assignment):
    """{module file name: {qualnames}} of the assignment's references outside rnnlib.grading."""
    try:
        refs = grading.lesson(assignment).references
    except KeyError:                 # not one of the course's lessons: only the checks are withheld
        refs = ()
    by_module = {}
    for ref in refs:
        module, qualname = ref.split(":")
        if not module.startswith("grading."):     # the grading package is replaced as a whole
            by_module.setdefault(module + ".py", set()).add(qualname)
    return by_module


def write_grading_stub(folder):
    """rnnlib/grading as the kernel gets it: check_* that print, every other name withheld."""
    folder.mkdir()
    checks = sorted(name for name in dir(grading) if name.startswith("check_"))
    (folder / "__init__.py").write_text(GRADING_STUB + "".join(f"{name} = _checked_by_the_grader\n" for name in checks))
    for module in [*grading.MODULES, grading.core]:
        (folder / f"{module.__name__.rsplit('.', 1)[1]}.py").write_text(WITHHELD_MODULE)


def build(assignment, destination, package):
    """Write the copy of the rnnlib folder package stripped for assignment to destination/rnnlib.

    Returns that folder; raises CannotStrip if package lacks a function the lesson declares."""
    target = Path(destination) / "rnnlib"
    if target.exists():
        return target
    work = Path(destination) / "rnnlib.partial"
    shutil.rmtree(work, ignore_errors=True)          # left by a launch that was killed midway
    by_module = references(assignment)
    for path in Path(package).rglob("*"):
        relative = path.relative_to(package)
        if "__pycache__" in path.parts or path.is_dir() or relative.parts[0] in ("grading", "grading.py"):
            continue
        out = work / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        if len(relative.parts) == 1 and path.name in by_module:
            try:
                out.write_text(strip_module(path.read_text(), by_module.pop(path.name)))
            except CannotStrip as e:
                raise CannotStrip(f"{path}: {e}") from None
        else:
            out.write_bytes(path.read_bytes())
    if by_module:
        raise CannotStrip(f"{package} has no {', '.join(sorted(by_module))}, which {assignment} declares")
    write_grading_stub(work / "grading")
    work.rename(target)
    return target
