"""The rnnlib a grading kernel gets: without the reference answers to the exercises it grades.

rnnlib holds a reference implementation of every exercise, and an answer that only calls it must
earn nothing. Watching calls from inside the student's kernel can be switched off by the student;
here the references are simply not there. The sandbox (instructor/sandbox.py) mounts a copy of
rnnlib in which the functions that implement the graded assignment's exercises raise instead of
computing, and rnnlib.grading (whose deliberately wrong variants are answers too) is replaced by
stubs: the checks themselves run in the grader's own process (instructor/execute.py).
"""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rnnlib"

# assignment -> the rnnlib functions ("module:qualname") that compute its exercises' answers,
# including the private cores the public functions call.
REFERENCES = {
    "01_forward_pass": ["rnn:rnn_step_forward", "rnn:rnn_forward", "rnn:_step_forward",
                        "layers:temporal_affine_forward"],
    "02_softmax_stability": ["losses:softmax", "losses:log_softmax", "losses:logsumexp",
                             "losses:temporal_softmax_loss", "gradflow:softmax_overflow"],
    "03_bptt": ["gradcheck:numerical_gradient", "gradcheck:numerical_gradient_array", "rnn:rnn_step_backward",
                "rnn:rnn_backward", "rnn:_step_backward", "layers:temporal_affine_backward"],
    "04_vanishing_gradients": ["gradflow:jacobian_norms", "optim:clip_grad_norm"],
    "05_binary_addition": ["data:int_to_bits", "data:bits_to_int"],
    "06_char_rnn": ["data:tbptt_batches", "data:_tbptt_batches", "optim:adagrad_update", "optim:_adagrad",
                    "models:CharRNN.sample"],
    "07_lstm": ["lstm:lstm_step_forward", "lstm:lstm_forward", "lstm:lstm_step_backward", "lstm:lstm_backward",
                "lstm:_step_forward", "lstm:_step_backward"],
}

GRADING_STUB = '''"""rnnlib.grading while a submission is graded: the checks run in the grader, not in this kernel."""


class GradingFailure(AssertionError):
    pass


def _checked_by_the_grader(*args, **kwargs):
    print("(this test runs in the grader)")


'''


def _stub(node, qualname):
    message = (f"rnnlib's reference {qualname} is not available while this assignment is graded. This exercise "
               f"is for writing it yourself with numpy: calling rnnlib's implementation earns no points")
    node.body = [ast.parse(f"raise RuntimeError({message!r})").body[0]]


def strip_module(source, qualnames):
    """source with the bodies of the functions or methods named in qualnames replaced by a raise."""
    tree = ast.parse(source)
    found = set()

    def visit(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and prefix + node.name in qualnames:
                _stub(node, prefix + node.name)
                found.add(prefix + node.name)
            elif isinstance(node, ast.ClassDef):
                visit(node.body, prefix + node.name + ".")
    visit(tree.body, "")
    missing = set(qualnames) - found
    if missing:
        raise ValueError(f"not found in the module: {sorted(missing)}")
    return ast.unparse(tree)


def grading_stub(source):
    """Stubs for every check_* of rnnlib/grading.py's source."""
    names = [n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name.startswith("check_")]
    return GRADING_STUB + "".join(f"{name} = _checked_by_the_grader\n" for name in names)


def build(assignment, destination):
    """Write the stripped copy of rnnlib for assignment to destination/rnnlib; returns that folder."""
    target = Path(destination) / "rnnlib"
    if target.exists():
        return target
    work = Path(destination) / "rnnlib.partial"
    by_module = {}
    for ref in REFERENCES.get(assignment, []):
        module, qualname = ref.split(":")
        by_module.setdefault(module + ".py", set()).add(qualname)
    for path in PACKAGE.rglob("*"):
        if "__pycache__" in path.parts or path.is_dir():
            continue
        out = work / path.relative_to(PACKAGE)
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.parent == PACKAGE and path.name == "grading.py":
            out.write_text(grading_stub(path.read_text()))
        elif path.parent == PACKAGE and path.name in by_module:
            out.write_text(strip_module(path.read_text(), by_module[path.name]))
        else:
            out.write_bytes(path.read_bytes())
    work.rename(target)
    return target
