"""No rnnlib module reaches into another's private names, so a list of "the rnnlib functions that
answer an exercise" (each lesson's LESSON) needs public names only."""
import ast
from pathlib import Path

import pytest


PACKAGE = Path(__file__).resolve().parents[1] / "rnnlib"
SHARED_PRIVATE = {"rnnlib._checks"}    # the input-check helpers every module shares


def _is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_module(dotted):
    """Whether 'rnnlib.x.y' names a module or package of rnnlib (rather than a function or class)."""
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _absolute(node, package):
    """The dotted module an ImportFrom names, e.g. 'rnnlib.lstm' for `from .lstm import ...` in rnnlib."""
    if node.level == 0:
        return node.module or ""
    base = package[:len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _dotted(node):
    """'a.b.c' for the expression a.b.c, None for anything that is not a plain dotted name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return head and f"{head}.{node.attr}"
    return None


def _imports(tree, package):
    """(violations, modules): private names imported from rnnlib modules, and the local names
    bound to rnnlib modules (local name -> dotted module)."""
    found, modules = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            if module.split(".")[0] != "rnnlib":
                continue
            for alias in node.names:
                full = f"{module}.{alias.name}"
                if _is_private(alias.name) and module not in SHARED_PRIVATE and full not in SHARED_PRIVATE:
                    found.append(f"line {node.lineno}: from {module} import {alias.name}")
                elif _is_module(full):
                    modules[alias.asname or alias.name] = full
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "rnnlib":
                    continue
                if _is_private(alias.name.split(".")[-1]) and alias.name not in SHARED_PRIVATE:
                    found.append(f"line {node.lineno}: import {alias.name}")
                # `import rnnlib.x` binds rnnlib; `import rnnlib.x as m` binds m to rnnlib.x.
                modules[alias.asname or "rnnlib"] = alias.name if alias.asname else "rnnlib"
    return found, modules


def private_reaches(source, package=("rnnlib",)):
    """Every private name that `source` (a module of `package`) takes from another rnnlib module:
    `from .x import _y`, `from rnnlib.x import _y`, `from . import _x`, and `mod._y` where mod is
    an rnnlib module bound by an import. Private names of SHARED_PRIVATE modules are allowed."""
    tree = ast.parse(source)
    found, modules = _imports(tree, list(package))
    for node in ast.walk(tree):
        head = _dotted(node.value) if isinstance(node, ast.Attribute) and _is_private(node.attr) else None
        if head is None or head.split(".")[0] not in modules:
            continue
        module = ".".join([modules[head.split(".")[0]], *head.split(".")[1:]])
        # Only a module's own private names: lstm.LSTMStepCache._fields is a namedtuple's public API.
        if _is_module(module) and module not in SHARED_PRIVATE:
            found.append(f"line {node.lineno}: {head}.{node.attr}")
    return found


def test_the_private_reach_finder_finds_each_form():
    source = ("from .lstm import _step_forward, sigmoid\nfrom rnnlib.rnn import _step_backward as sb, StepCache\n"
              "from . import _secret, lstm\nimport rnnlib.optim as O\nimport rnnlib.data\n"
              "from ._checks import check_array, _fmt\nfrom . import _checks\n"
              "lstm._cache; O._adagrad; rnnlib.data._tbptt_batches; _checks._fmt\n"
              "lstm.__name__; self._x; StepCache._fields; lstm.LSTMStepCache._fields; sigmoid._y\n")
    found = sorted(f.split(": ", 1)[1] for f in private_reaches(source))
    assert found == ["O._adagrad", "from rnnlib import _secret", "from rnnlib.lstm import _step_forward",
                     "from rnnlib.rnn import _step_backward", "lstm._cache", "rnnlib.data._tbptt_batches"]


def rnnlib_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        # A module's package: where `from .x` looks (for an __init__, its own directory).
        yield pytest.param(relative, ["rnnlib", *relative.parts[:-1]], id=str(relative))


@pytest.mark.parametrize("relative,package", list(rnnlib_modules()))
def test_no_rnnlib_module_takes_a_private_name_from_another(relative, package):
    """A list of "the rnnlib functions that answer an exercise" then only needs public names."""
    found = private_reaches((PACKAGE / relative).read_text(encoding="utf-8"), package)
    assert not found, f"rnnlib/{relative} reaches into private names:\n" + "\n".join(found)
