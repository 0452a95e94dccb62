"""How well the test cells diagnose wrong answers, measured on three sources of them.

For every exercise that a lesson declares (rnnlib.grading's LESSONS), the reference answer cell is
read from solutions/, and the wrong answers come from one of three sources:

    ours     a small AST mutator's single edits of the solution region: drop a term, transpose, wrong
             axis, `=` for `+=`, off-by-one range, reversed loop, sum <-> mean, swapped variables
             (prev_h <-> next_h), a wrong derivative, a float32 cast, an in-place edit of an input, a
             flipped sign
    tool     cosmic-ray's mutation operators (arithmetic and comparison operators, numbers, booleans,
             loops that never run, ...), each applied where it can be in the solution region
    corpus   hand-written mistakes, benchmarks/mistakes/<assignment>.toml: each one's answer replaces
             the whole answer cell

Each wrong answer knows the categories of cause a right hint may name (CATEGORIES: ACCEPT for our
edits, tool_causes for cosmic-ray's operators, a mistake's own causes). It runs through the check
calls of the exercise's test cell (its visible lines, then the hidden ones between ### BEGIN/END
HIDDEN TESTS), in-process, in a namespace like the notebook's, each call with a time limit. Per
lesson and source we report:

    items        wrong answers made
    caught       failed by the test cell, visible or hidden (a time-out is caught, as a hang)
    visible      caught by a visible test (what Validate shows a student)
    named        the message names the wrong output, or shows where the code crashed or hung
    right cause  a hint line names a category of the answer's causes (a hint that only says where the
                 result is wrong does not count); crashes are judged only when they carry a hint
    wrong cause  a hint line names categories of cause, none of them the answer's

    .venv/bin/python benchmarks/feedback_mutants.py                 # every source, lesson, wrong answer
    .venv/bin/python benchmarks/feedback_mutants.py --source tool --lessons 02 03 --sample 40 --seed 0
    .venv/bin/python benchmarks/feedback_mutants.py --source corpus --lessons 07 --show   # messages, verdicts
"""
import argparse
import ast
import copy
import io
import json
import random
import re
import signal
import sys
import time
import tomllib
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rnnlib import grading  # noqa: E402

SOLUTION = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)
SECONDS_PER_CHECK = 20


# --- reading the notebooks ---------------------------------------------------------------------

@dataclass
class Exercise:
    lesson: str
    name: str
    source: str            # the answer cell, solution included
    region: tuple          # first and last line (1-based) of the solution region in source
    visible: list          # the test cell's check calls, as source lines
    hidden: list
    setup: list            # imports, given functions and the other answer cells of the notebook


def _cells(assignment):
    notebook = next((ROOT / "solutions" / assignment).glob("*.ipynb"))
    return json.loads(notebook.read_text())["cells"]


def _calls(text):
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def _given(source):
    """The top-level imports and definitions of a notebook code cell (no demos, no training)."""
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    keep = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    return [ast.unparse(node) for node in tree.body if isinstance(node, keep)]


def _graded(cell):
    meta = cell["metadata"].get("nbgrader", {})
    return meta.get("solution") or meta.get("grade")


def exercises(lessons=None):
    """Every declared exercise of the chosen lessons ("02", "03_bptt", ...), in course order."""
    found = []
    for lesson in grading.LESSONS:
        if lessons and not any(lesson.assignment.startswith(x) for x in lessons):
            continue
        cells = _cells(lesson.assignment)
        by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"]) for c in cells}
        given = [part for c in cells if c["cell_type"] == "code" and not _graded(c) for part in _given("".join(c["source"]))]
        answers = [by_id[name] for name in lesson.exercises if name in by_id]
        for name in lesson.exercises:
            if name not in by_id or f"test_{name}" not in by_id:
                continue
            source, test = by_id[name], by_id[f"test_{name}"]
            start = source[:SOLUTION.search(source).start()].count("\n") + 1
            end = start + SOLUTION.search(source).group(0).count("\n")
            hidden = HIDDEN.search(test)
            visible = HIDDEN.sub("", test)
            found.append(Exercise(lesson.assignment, name, source, (start, end), _calls(visible),
                                  _calls(hidden.group(1)) if hidden else [], given + answers))
    return found


# --- the mutator --------------------------------------------------------------------------------

# Variables a student confuses with one another (only swapped when both exist in the function).
CONFUSABLE = [("prev_h", "next_h"), ("prev_c", "next_c"), ("x", "h"), ("i", "f"), ("f", "o"), ("o", "g"),
              ("i", "g"), ("dc", "dnext_c"), ("dc", "dnext_h"), ("Wx", "Wh"), ("tanh_c", "next_c"),
              ("hs", "ys"), ("dy", "da"), ("prev_h", "h0"), ("grads", "cache"), ("plus", "minus"),
              ("x", "prev_h"), ("e", "z"), ("picked", "logp")]
REDUCTIONS = {"sum": "mean", "mean": "sum", "max": "min"}


# Which categories a hint may name and be right, for each kind of edit.
ACCEPT = {
    "drop_right": {"missing", "derivative", "factor", "time", "zeros", "stability", "mask", "accumulate", "swap"},
    "drop_left": {"missing", "derivative", "factor", "time", "zeros", "stability", "mask", "accumulate", "swap"},
    "flip_op": {"factor", "missing", "derivative", "swap", "stability", "time"},
    "drop_pow": {"derivative", "missing", "factor"},
    "drop_neg": {"factor", "axis", "time"},     # -1 is also an axis and the last time step
    "transpose_left": {"transpose", "shape"}, "transpose_right": {"transpose", "shape"},
    "swap_operands": {"transpose", "shape"}, "drop_T": {"transpose", "shape"},
    "assign_for_aug": {"accumulate", "time", "inplace", "missing"},
    "flip_aug": {"factor", "accumulate", "missing"},
    "axis": {"axis", "shape", "accumulate", "factor", "stability"},
    "reduction": {"factor", "accumulate", "stability", "axis"},
    "range_start": {"time", "missing", "zeros"}, "range_stop": {"time", "missing", "zeros"},
    "unreverse": {"time"},
    "float32": {"precision"},
    "activation": {"derivative"},
    "swap": {"swap", "derivative", "time", "transpose", "missing", "order"},
    "inplace_input": {"inplace"},
    "off_by_one": {"time", "factor", "missing", "derivative", "shape", "swap", "axis"},
}


@dataclass
class Mutant:
    """A wrong answer: its kind (our edit, the tool's operator, or "mistake"), a readable label, the
    whole answer cell's source, and the categories of cause a right hint may name."""
    kind: str
    label: str
    source: str
    causes: set
    detail: dict = field(default_factory=dict)


class _Sites(ast.NodeVisitor):
    """Collects (node path, kind) pairs of every place a mutation applies."""

    def __init__(self, region, names):
        self.region, self.names, self.sites = region, names, []

    def inside(self, node):
        return hasattr(node, "lineno") and self.region[0] <= node.lineno <= self.region[1]

    def generic_visit(self, node):
        if self.inside(node):
            for kind in _kinds(node, self.names):
                self.sites.append((node, kind))
        super().generic_visit(node)


def _is_name(node, *names):
    return isinstance(node, ast.Name) and (not names or node.id in names)


def _kinds(node, names):
    kinds = []
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, (ast.Add, ast.Sub)):
            kinds += ["drop_right", "drop_left"] + (["flip_op"])
        if isinstance(node.op, (ast.Mult, ast.Div)):
            kinds += ["drop_right", "drop_left"]
        if isinstance(node.op, ast.MatMult):
            kinds += ["transpose_left", "transpose_right", "swap_operands"]
        if isinstance(node.op, ast.Pow):
            kinds += ["drop_pow"]
    if isinstance(node, ast.Attribute) and node.attr == "T":
        kinds.append("drop_T")
    if isinstance(node, ast.AugAssign):
        kinds += ["assign_for_aug"] + (["flip_aug"] if isinstance(node.op, (ast.Add, ast.Sub)) else [])
    if isinstance(node, ast.keyword) and node.arg == "axis":
        kinds.append("axis")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in REDUCTIONS:
        kinds.append("reduction")
    if isinstance(node, ast.Call) and _is_name(node.func, "range"):
        kinds += ["range_start", "range_stop"]
    if isinstance(node, ast.Call) and _is_name(node.func, "reversed"):
        kinds.append("unreverse")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("zeros", "zeros_like",
                                                                                                 "ones", "empty"):
        kinds.append("float32")
    if isinstance(node, ast.Call) and _is_name(node.func, "sigmoid") or (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "tanh"):
        kinds.append("activation")
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        kinds += [f"swap:{b}" for a, b in CONFUSABLE + [(b, a) for a, b in CONFUSABLE]
                  if node.id == a and b in names]
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.BinOp) and _is_name(node.value.left) \
            and node.value.left.id in names.get("__params__", ()) and len(node.targets) == 1:
        kinds.append("inplace_input")
    if isinstance(node, ast.Constant) and type(node.value) is int and node.value in (0, 1, 2):
        kinds.append("off_by_one")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        kinds.append("drop_neg")
    return kinds


def _transpose(node):
    return ast.Attribute(value=node, attr="T", ctx=ast.Load())


def _apply(node, kind):
    """A mutated copy of node (the site), or None when the edit makes no sense there."""
    n = copy.deepcopy(node)
    if kind == "drop_right":
        return n.left
    if kind == "drop_left":
        return ast.UnaryOp(ast.USub(), n.right) if isinstance(n.op, ast.Sub) else n.right
    if kind == "flip_op":
        n.op = ast.Sub() if isinstance(n.op, ast.Add) else ast.Add()
        return n
    if kind == "transpose_left":
        n.left = n.left.value if isinstance(n.left, ast.Attribute) and n.left.attr == "T" else _transpose(n.left)
        return n
    if kind == "transpose_right":
        n.right = n.right.value if isinstance(n.right, ast.Attribute) and n.right.attr == "T" else _transpose(n.right)
        return n
    if kind == "swap_operands":
        n.left, n.right = n.right, n.left
        return n
    if kind == "drop_pow":
        return n.left
    if kind == "drop_T":
        return n.value
    if kind == "assign_for_aug":
        return ast.Assign(targets=[n.target], value=n.value, lineno=n.lineno)
    if kind == "flip_aug":
        n.op = ast.Sub() if isinstance(n.op, ast.Add) else ast.Add()
        return n
    if kind == "axis":
        value = n.value
        if isinstance(value, ast.Constant) and isinstance(value.value, int):
            n.value = ast.Constant(0 if value.value != 0 else -1)
        elif isinstance(value, ast.UnaryOp):
            n.value = ast.Constant(0)
        elif isinstance(value, ast.Tuple):
            n.value = value.elts[0]
        else:
            n.value = ast.Constant(0)
        return n
    if kind == "reduction":
        n.func.attr = REDUCTIONS[n.func.attr]
        return n
    if kind == "range_start":
        if len(n.args) == 1:
            n.args = [ast.Constant(1), n.args[0]]
            return n
        return None
    if kind == "range_stop":
        if len(n.args) == 1:
            n.args = [ast.BinOp(n.args[0], ast.Sub(), ast.Constant(1))]
            return n
        return None
    if kind == "unreverse":
        return n.args[0]
    if kind == "float32":
        n.keywords = [k for k in n.keywords if k.arg != "dtype"] + [
            ast.keyword("dtype", ast.Attribute(ast.Name("np", ast.Load()), "float32", ast.Load()))]
        return n
    if kind == "activation":
        if _is_name(n.func, "sigmoid"):
            n.func = ast.Attribute(ast.Name("np", ast.Load()), "tanh", ast.Load())
        else:
            return ast.BinOp(ast.Constant(1), ast.Div(), ast.BinOp(ast.Constant(1), ast.Add(), ast.Call(
                ast.Attribute(ast.Name("np", ast.Load()), "exp", ast.Load()),
                [ast.UnaryOp(ast.USub(), n.args[0])], [])))
        return n
    if kind.startswith("swap:"):
        n.id = kind.split(":")[1]
        return n
    if kind == "inplace_input":
        target, value = n.targets[0], n.value
        return [ast.AugAssign(target=ast.Name(value.left.id, ast.Store()), op=value.op, value=value.right,
                              lineno=n.lineno),
                ast.Assign(targets=[target], value=ast.Name(value.left.id, ast.Load()), lineno=n.lineno)]
    if kind == "off_by_one":
        n.value = n.value + 1 if n.value != 2 else 1
        return n
    if kind == "drop_neg":
        return n.operand
    raise ValueError(kind)


class _Replace(ast.NodeTransformer):
    def __init__(self, target, replacement):
        self.target, self.replacement = target, replacement

    def visit(self, node):
        if node is self.target:
            return self.replacement
        return super().visit(node)


def _names(tree):
    """Names that exist in the answer function: parameters, assigned names (for swaps)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names[node.id] = True
        if isinstance(node, ast.arg):
            names[node.arg] = True
    names["__params__"] = {a.arg for fn in _functions(tree) for a in fn.args.args} - {"self"}
    return names


def _functions(tree):
    """The answer's function, or the methods of its class (an exercise may be a class)."""
    top = next(n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)))
    return [top] if isinstance(top, ast.FunctionDef) else [n for n in top.body if isinstance(n, ast.FunctionDef)]


def mutants(exercise):
    """Every single-edit mutant of the exercise's solution region, with a readable label."""
    tree = ast.parse(exercise.source)
    names = _names(tree)
    sites = _Sites(exercise.region, names)
    sites.visit(tree)
    out, seen = [], {ast.unparse(tree)}
    for node, kind in sites.sites:
        clone = copy.deepcopy(tree)
        target = _locate(clone, tree, node)
        new = _apply(target, kind)
        if new is None:
            continue
        mutated = ast.fix_missing_locations(_Replace(target, new).visit(clone))
        try:
            source = ast.unparse(mutated)
        except ValueError:
            continue
        if source in seen or not _compiles(source, exercise.name):
            continue
        seen.add(source)
        before = ast.unparse(node)
        after = ast.unparse(new) if not isinstance(new, list) else "; ".join(ast.unparse(s) for s in new)
        out.append(Mutant(kind.split(":")[0], f"line {node.lineno}: {before}  ->  {after}", source,
                          ACCEPT[kind.split(":")[0]], {"before": before, "after": after, "kind": kind}))
    return out


def _locate(clone, tree, node):
    """The node of clone at the same place as node in tree."""
    for a, b in zip(ast.walk(tree), ast.walk(clone)):
        if a is node:
            return b
    raise LookupError(node)


# --- the tool's mutants: cosmic-ray's operators --------------------------------------------------

# What a right hint may name when cosmic-ray's operator changed the answer. A binary operator's
# replacement is judged by what either of its two operators does in these formulas (t - 1 is a time
# step, 4 * H a gate block's edge, x - max the stable softmax, 1 - h ** 2 a derivative).
BINARY_CAUSES = {
    "Add": {"missing", "factor", "accumulate", "time", "swap", "shape"},
    "Sub": {"missing", "factor", "time", "stability", "derivative"},
    "Mul": {"factor", "missing", "derivative", "time", "swap", "shape"},
    "Div": {"factor", "stability"},
    "Pow": {"derivative", "factor", "stability"},
    "FloorDiv": {"factor", "time", "type", "precision"},
    "Mod": {"factor", "time", "type"},
}
# RShift, LShift, BitOr, BitAnd, BitXor: integer arithmetic; & 1 is a bit's mask, which a replacement loses
BITWISE_CAUSES = {"factor", "time", "type", "missing"}
# -1 is also an axis and the last time step
UNARY_CAUSES = {"USub": {"factor", "axis", "time"}, "UAdd": {"factor"}, "Invert": {"factor", "type", "mask"},
                "Not": {"mask", "type", "missing"}, "Delete": set()}
TOOL_CAUSES = {
    "ReplaceComparisonOperator": {"mask", "time", "derivative", "missing", "sampling", "stability", "hang", "zeros",
                                  "condition"},
    "AddNot": {"mask", "time", "missing", "hang", "zeros", "sampling", "condition"},
    "ReplaceTrueWithFalse": {"shape", "axis", "missing", "sampling", "state", "type", "mask"},
    "ReplaceFalseWithTrue": {"shape", "axis", "missing", "sampling", "state", "type", "mask"},
    "ReplaceAndWithOr": {"mask", "time", "missing", "hang"},
    "ReplaceOrWithAnd": {"mask", "time", "missing", "hang"},
    "ReplaceBreakWithContinue": {"time", "missing", "hang"},
    "ReplaceContinueWithBreak": {"time", "missing"},
    "ExceptionReplacer": {"type", "missing"},
    "NumberReplacer": {"factor", "time", "missing", "derivative", "shape", "axis", "swap", "stability", "zeros",
                       "sampling"},
    "RemoveDecorator": {"missing", "type"},
    "ZeroIterationForLoop": {"zeros", "time", "missing"},
}


def tool_causes(operator):
    """The categories a right hint may name for a mutant of cosmic-ray's operator ("core/AddNot", ...)."""
    family, *ops = operator.split("/")[-1].split("_")
    if family == "ReplaceBinaryOperator":
        return set().union(*(BINARY_CAUSES.get(op, BITWISE_CAUSES) for op in ops))
    if family == "ReplaceUnaryOperator":
        return set().union(*(UNARY_CAUSES[op] for op in ops))
    return TOOL_CAUSES[family]


def _tool_operators():
    """cosmic-ray's operators that need no arguments (VariableReplacer and VariableInserter take the
    variable to replace, and put a random number in its place: no student mistake)."""
    from cosmic_ray.plugins import get_operator, operator_names
    operators = {name: get_operator(name) for name in operator_names()}
    return {name: cls() for name, cls in operators.items() if not cls.arguments()}


def tool_mutants(exercise):
    """Every mutant cosmic-ray's operators make of the exercise's solution region (the answer cell
    stays whole: only a mutation that starts on a line of the region is kept)."""
    from cosmic_ray.ast import ast_nodes, get_ast
    from cosmic_ray.mutating import mutate_code
    nodes = list(ast_nodes(get_ast(exercise.source)))
    before = exercise.source.splitlines()
    out, seen = [], {exercise.source}
    for name, operator in _tool_operators().items():
        # cosmic-ray numbers an operator's mutations in the order it walks the tree, as ast_nodes does
        positions = [start for node in nodes for start, _ in operator.mutation_positions(node)]
        for occurrence, (line, _) in enumerate(positions):
            if not exercise.region[0] <= line <= exercise.region[1]:
                continue
            source = mutate_code(exercise.source, operator, occurrence)
            if source is None or source in seen or not _compiles(source, exercise.name):
                continue
            seen.add(source)
            after = source.splitlines()
            changed = next((i for i, (a, b) in enumerate(zip(before, after)) if a != b), line - 1)
            label = (f"line {changed + 1}: {before[changed].strip()}  ->  "
                     f"{after[changed].strip() if changed < len(after) else '(removed)'}")
            out.append(Mutant(name.split("/")[-1], label, source, tool_causes(name)))
    return out


def _compiles(source, name):
    try:
        compile(source, name, "exec")
        return True
    except (SyntaxError, ValueError):
        return False


# --- the corpus: hand-written mistakes -----------------------------------------------------------

MISTAKES = ROOT / "benchmarks" / "mistakes"


def corpus_mistakes(exercise):
    """The hand-written mistakes of benchmarks/mistakes/<assignment>.toml for this exercise: each
    answer replaces the whole answer cell, and its causes are the categories a right hint may name."""
    path = MISTAKES / f"{exercise.lesson}.toml"
    if not path.exists():
        return []
    entries = tomllib.loads(path.read_text())["mistake"]
    return [Mutant("mistake", entry["what"], entry["answer"], set(entry["causes"]))
            for entry in entries if entry["exercise"] == exercise.name]


SOURCES = {"ours": mutants, "tool": tool_mutants, "corpus": corpus_mistakes}


# --- running the test cell on a mutant ------------------------------------------------------------

class _Timeout(BaseException):
    """Not an Exception, so the checks' own handlers of a student's errors let it through."""


def _alarm(signum, frame):
    raise _Timeout()


def run_calls(exercise, source, calls):
    """The first failing call's message (None if every call passes), running source as the answer."""
    ns = {}
    with redirect_stdout(io.StringIO()):
        for part in exercise.setup:
            try:
                exec(compile(part, f"<{exercise.lesson} setup>", "exec"), ns)
            except Exception:   # a helper whose defaults need the notebook's data: not needed here
                pass
        try:
            exec(compile(source, "<answer>", "exec"), ns)
        except Exception as e:   # a mutant that fails at definition time (rare)
            return f"{exercise.name}: the cell raised {type(e).__name__}: {e}"
        for call in calls:
            signal.signal(signal.SIGALRM, _alarm)
            signal.alarm(SECONDS_PER_CHECK)
            try:
                with np.errstate(all="ignore"):
                    exec(call, ns)
            except _Timeout:
                return f"{exercise.name}: TIMEOUT"
            except grading.GradingFailure as e:
                return str(e)
            except Exception as e:   # a check that crashed: a bug of ours, reported as such
                return f"CHECK CRASHED {type(e).__name__}: {e}"
            finally:
                # the next item starts as a notebook does: no alarm pending, no handler of ours
                signal.alarm(0)
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
    return None


# --- judging a message --------------------------------------------------------------------------

# What a hint talks about, recognised by its words.
CATEGORIES = {
    "transpose": r"transpos|wrong order: a transpose|row.vectors?|column form|order of a product.s factors",
    "factor": r"times the|scaled by|scale factor|twice|half|divided by|averaged|average|/ ?N\b|1/N|1/T|sign|negative|factor|summed over the batch|not divided|scale is missing|divide \w+( \w+)? by",
    "zeros": r"all zeros|zero everywhere|never",
    "precision": r"float32|precision|digits",
    "time": r"time step|t = |steps? t|skip|loop|last step|first step|from t|shifted|wrong way|carried|carry|flowing back|t\+1|before\* step|every step reads|previous (hidden )?state|previous step",
    "axis": r"\bax[ie]s\b",
    "derivative": r"derivativ|tanh|sigmoid|σ'|1 - |nonlinearit|pass through",
    "accumulate": r"accumulat|overwrit|\+=|add each|adds? up|added up|sums? over|shared",
    "missing": r"missing|\bextra\b|is ignored|not subtracted|not applied|must also|never|dropped|\balso (gets|reaches|enters?)",
    "inplace": r"in place|modified its input|must not write|replaced",
    "swap": r"gate order|swapped|wrong array|but it holds (?!something)|instead of|uses? this step|not 1 - prev|must hold|wrong variable|mixed up|not from \w+|not with the step's own|pairs",
    "stability": r"overflow|underflow|\bmax\b|largest|\bfinite|\bnan\b|log ?0|log-sum-exp|logsumexp",
    "mask": r"mask",
    "shape": r"shape",
    "order": r"return(s|ed)? [^.;]*(in the wrong order|swapped|in the order)|outputs? [^.;]*(wrong order|swapped)|"
             r"order of the (outputs|results|returned)|but it holds (?!something)",   # a field holds another
    "type": r"python (list|int|float|tuple|scalar)|a list (of|instead)|not a (numpy )?array|a numpy array|"
            r"wrong type|an? (python )?(int|integer|float) (where|instead)|integer ids|dtype=int|\bint64",
    "state": r"across calls|between calls|from one call to the next|previous call|reset_state|stateful|"
             r"(kept|carried|accumulated) (over|across) (calls|blocks)",
    "sampling": r"argmax|temperature|sampl(e|ed|ing) (from|with)|drawn? from|frequenc|greedy|\brng\b",
    "hang": r"endless|infinite loop|never (returns|ends|stops)|did not return|timed out",
    # a test that decides whether something happens (cosmic-ray's comparison mutants): no corpus label
    "condition": r"\bonly when\b|\bcondition\b|although (its|the)",
    # where the result goes wrong, measured (which gate's columns, time steps, input terms, ids): a pointer
    # to where to look, never a cause; categories() takes these phrases out before it looks for causes
    "location": "|".join([
        r"only the columns", r"only these terms", r"wrong only at", r"wrong at time steps?( t = [\d, ]+)?",
        r"wrong at \d+ of the \d+ time steps( \(from t = \d+ to \d+\))?", r"zero at time steps?( t = [\d, ]+)?",
        r"the other steps are right", r"right and id \d+ differs", r"the same at every time step",
        r"first new id already differs", r"check (\w+|those|these) first", r"sums? to 1 along( axis -?\d+)?",
        r"loss is already wrong", r"updates are wrong: look", r"update is right", r"update of \S+ is wrong",
        r"cache is right", r"cache is wrong", r"positions too", r"consecutive positions", r"how many batches",
        r"is right, so the", r"are right, so the", r"neither 0 nor 1"]),
}
LOCATION = "location"

def categories(text):
    """The categories a hint names: where it says the result is wrong (location), and the causes it
    names in the rest of its words."""
    where = re.compile(CATEGORIES[LOCATION], re.I)
    rest = where.sub(" ", text)
    causes = {name for name, pattern in CATEGORIES.items() if name != LOCATION and re.search(pattern, rest, re.I)}
    return causes | ({LOCATION} if where.search(text) else set())


def hint_lines(message):
    """The message's hints: its "Likely cause" lines, a shape's explanation, or the advice of a one-line verdict."""
    lines = [line.split("Likely cause:", 1)[1] for line in message.splitlines() if "Likely cause:" in line]
    lines += [line.split(").", 1)[1] for line in message.splitlines()
              if "has shape" in line and line.split(").", 1)[-1].strip()]
    if not lines and "problem" not in message.splitlines()[0] and "relative error" not in message:
        head = message.split("\n")[0]
        advice = head.split(". ", 1)[1] if ". " in head else ""
        lines = [advice] if advice else []
        if "but it holds" in head:       # a cache field that holds another array: which one is the hint
            lines.append(head.split("but it holds", 1)[1].join(["but it holds", ""]))
    return lines


def output_names(exercise):
    """Words by which a message names one of the exercise's outputs."""
    functions = _functions(ast.parse(exercise.source))
    words = {exercise.name + "("}
    for node in (node for fn in functions for node in ast.walk(fn)):
        if isinstance(node, ast.Return) and node.value is not None:
            elts = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            words |= {e.id for e in elts if isinstance(e, ast.Name)}
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            words |= {"batch"}
    for p in (p for fn in functions for p in fn.args.args):   # what is updated in place is an output too
        words |= {f"{p.arg}[", f"{p.arg} ", f"{p.arg}."}
    return words | {"norm", "expected"}


def judge(exercise, mutant, message):
    """The verdict on one caught wrong answer.

    named: the message names a wrong output, or shows where the code crashed or hung.
    right: a hint names a category of cause the wrong answer has (a hint that only says where the
    result is wrong, the category location, is no cause). wrong: a hint names categories of cause,
    none of them the wrong answer's. A crash or a hang is judged for cause only when it has a hint;
    a time-out, the check's own (rnnlib.grading.core.TIME_LIMIT) or this harness's, is the cause hang."""
    head = message.split("\n")[0]
    timeout = head.endswith(": TIMEOUT") or " did not return within " in head
    crashed = " raised " in head
    named = crashed or timeout or any(re.search(rf"(^|[\s(:'\"]){re.escape(w)}", message) for w in output_names(exercise))
    causes = [{"hang"}] if timeout else [categories(h) - {LOCATION} for h in hint_lines(message)]
    causes = [c for c in causes if c]
    return {"named": named, "judged": bool(causes) or not (crashed or timeout),
            "right": any(c & mutant.causes for c in causes),
            "wrong": any(not c & mutant.causes for c in causes)}


# --- the tables ---------------------------------------------------------------------------------

def evaluate(exercise, mutant):
    """The verdict on a wrong answer, None when the whole test cell passes it."""
    visible = run_calls(exercise, mutant.source, exercise.visible)
    if visible is None:
        hidden = run_calls(exercise, mutant.source, exercise.hidden)
        if hidden is None:
            return None
        return {"visible": False, "message": hidden, **judge(exercise, mutant, hidden)}
    return {"visible": True, "message": visible, **judge(exercise, mutant, visible)}


COUNTS = ("items", "caught", "visible", "named", "judged", "right", "wrong")


def measure(source="ours", lessons=None, sample=None, seed=0, show=False, out=sys.stdout):
    """Per lesson, the wrong answers of one source (ours, tool, corpus) and their verdicts' counts.

    sample: at most this many wrong answers per exercise, drawn with seed."""
    rng = random.Random(seed)
    rows = {}
    for exercise in exercises(lessons):
        row = rows.setdefault(exercise.lesson, dict.fromkeys(COUNTS, 0) | {"skipped": []})
        reference = run_calls(exercise, exercise.source, exercise.visible + exercise.hidden)
        if reference is not None:     # nothing to measure against: say so, measure the others
            print(f"{exercise.name}: the reference answer fails its own test cell, skipped:\n  {reference}", file=out)
            row["skipped"].append(exercise.name)
            continue
        found = SOURCES[source](exercise)
        if sample is not None and len(found) > sample:
            found = rng.sample(found, sample)
        for mutant in found:
            row["items"] += 1
            verdict = evaluate(exercise, mutant)
            if show:
                _show(exercise, mutant, verdict, out)
            if verdict is not None:
                row["caught"] += 1
                for key in COUNTS[2:]:
                    row[key] += verdict[key]
    return rows


def _show(exercise, mutant, verdict, out):
    flags = "not caught" if verdict is None else " ".join(
        k for k in ("visible", "named", "right", "wrong") if verdict[k]) or "caught"
    print(f"\n[{exercise.name}] {mutant.kind}: {mutant.label}\n  accepted causes: {sorted(mutant.causes)}"
          f"\n  ({flags})", file=out)
    if verdict is not None:
        print("  " + verdict["message"].replace("\n", "\n  "), file=out)


def rates(row):
    """caught as a share of the items; visible, named, wrong as a share of the caught; right cause as
    a share of the judged (the caught, less crashes and hangs with no hint)."""
    caught = max(row["caught"], 1)
    return {"caught": row["caught"] / max(row["items"], 1), "visible": row["visible"] / caught,
            "named": row["named"] / caught, "right": row["right"] / max(row["judged"], 1),
            "wrong": row["wrong"] / caught}


def table(rows):
    lines = ["| lesson | items | caught | visible | named | right cause | wrong cause |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    total = dict.fromkeys(COUNTS, 0)
    for lesson, row in [*((lesson, row) for lesson, row in rows.items() if row["items"]), ("all", total)]:
        if lesson != "all":
            for k in COUNTS:
                total[k] += row[k]
        r = rates(row)
        lines.append(f"| {lesson} | {row['items']} | {row['caught']} ({100 * r['caught']:.0f}%) | "
                     f"{100 * r['visible']:.0f}% | {100 * r['named']:.0f}% | {100 * r['right']:.0f}% | "
                     f"{row['wrong']} ({100 * r['wrong']:.0f}%) |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", choices=[*SOURCES, "all"], default="all")
    parser.add_argument("--lessons", nargs="*", help="lesson prefixes, e.g. 02 07 (default: all)")
    parser.add_argument("--sample", type=int, help="at most this many wrong answers per exercise (seeded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", action="store_true", help="print every wrong answer's message and verdict")
    args = parser.parse_args(argv)
    for source in SOURCES if args.source == "all" else [args.source]:
        start = time.perf_counter()
        rows = measure(source, args.lessons, args.sample, args.seed, args.show)
        print(f"\n### {source}\n\n{table(rows)}\n\n{sum(r['items'] for r in rows.values())} wrong answers "
              f"in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
