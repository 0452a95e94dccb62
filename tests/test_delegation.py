"""One definition of delegation: Validate (the student's kernel) and the autograder give the same verdict.

For every lesson, a notebook of the lesson's given cells, answers and test cells is run twice:
as nbgrader's Validate runs it (every cell in one ordinary kernel, the real rnnlib, the checks in
that kernel) and as the autograder runs it (instructor.pipeline.execute.ResilientExecute: the checks in the
grader, the student's functions in the sandboxed kernel whose rnnlib is stripped). Each test cell
must pass in both or fail in both, with the same first line of the message. The answers: the
solution; for each exercise, an answer that only calls its rnnlib reference (Lesson's
delegating_answer); answers that compute it with one of rnnlib's unchecked cores (refused too); and
answers that call rnnlib helpers the lesson allows.
"""
import nbformat
import pytest
from nbclient import NotebookClient
from traitlets.config import Config

from conftest import ROOT
from instructor.model.layout import notebook_path
from instructor.pipeline import sandbox
from instructor.pipeline.execute import ResilientExecute
from instructor.pipeline.submissions import solution_answers
from rnnlib.grading import LESSONS

# Answers that call an rnnlib function which is not one of the lesson's references: allowed in both.
# Every lesson: the solution, wrapped in a call to rnnlib's rel_error (lesson 03's checker helper).
WRAPPED = '''_solution_{f} = {f}
def {f}(*args, **kwargs):
    from rnnlib.gradcheck import rel_error
    assert rel_error(np.ones(2), np.ones(2)) == 0
    return _solution_{f}(*args, **kwargs)
'''
HELPERS = {
    "06_char_rnn": {"sample": '''def sample(model, seed_ids, n, temperature=1.0, rng=None):
    from rnnlib.losses import softmax          # lesson 02's: allowed in lesson 06
    rng = np.random.default_rng() if rng is None else rng
    state = None
    for token in seed_ids[:-1]:
        _, state = model.step(int(token), state)
    out, token = [], int(seed_ids[-1])
    for _ in range(n):
        scores, state = model.step(token, state)
        token = int(rng.choice(len(scores), p=softmax(scores / temperature)))
        out.append(token)
    return out
'''},
    "07_lstm": {"lstm_step_forward": '''def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    from rnnlib.lstm import sigmoid            # a helper, not the answer
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o, g = sigmoid(a[:, :H]), sigmoid(a[:, H:2*H]), sigmoid(a[:, 2*H:3*H]), np.tanh(a[:, 3*H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, np.tanh(next_c))
''', "gru_step_forward": '''def gru_step_forward(x, prev_h, Wx, Wh, b):
    from rnnlib.lstm import sigmoid            # the LSTM's helper serves the GRU too
    H = prev_h.shape[1]
    a, ah = x @ Wx + b, prev_h @ Wh
    r, z = sigmoid(a[:, :H] + ah[:, :H]), sigmoid(a[:, H:2*H] + ah[:, H:2*H])
    n = np.tanh(a[:, 2*H:] + r * ah[:, 2*H:])
    return (1 - z) * n + z * prev_h, (x, prev_h, Wx, Wh, r, z, n, ah[:, 2*H:])
'''},
}


# Answers that compute the exercise with one of rnnlib's unchecked cores (the fast time-major steps
# the models call): refused as delegation in both, like a call of the reference itself.
CORES = {
    "01_forward_pass": {"rnn_forward": '''def rnn_forward(x, h0, Wx, Wh, b):
    import rnnlib.rnn as R
    N, T, D = x.shape
    hs = np.empty((T + 1, N, Wh.shape[0]))
    hs[0], hs[1:] = h0, x.transpose(1, 0, 2) @ Wx + b
    R.forward_steps(hs, Wh)
    return hs[1:].transpose(1, 0, 2).copy(), [(x[:, t], hs[t], Wx, Wh, b, hs[t + 1]) for t in range(T)]
'''},
    "02_softmax_stability": {"temporal_softmax_loss": '''def temporal_softmax_loss(x, y, mask=None):
    from rnnlib.losses import softmax_cross_entropy
    N, T, V = x.shape
    weight = 1.0 / N if mask is None else mask.reshape(-1, 1) / N
    loss, dx = softmax_cross_entropy(x.reshape(N * T, V).copy(), y.reshape(-1), weight)
    return loss, dx.reshape(N, T, V)
'''},
    "03_bptt": {"rnn_backward": '''def rnn_backward(dh, cache):
    import rnnlib.rnn as R
    T, (_, h0, Wx, Wh, _, _) = len(cache), cache[0]
    hs = np.stack([h0] + [c[5] for c in cache])
    da, dh0 = R.backward_steps(dh.transpose(1, 0, 2).copy(), hs, Wh)
    flat = da.reshape(-1, da.shape[-1])
    dx = (flat @ Wx.T).reshape(T, -1, Wx.shape[0]).transpose(1, 0, 2)
    dWx = np.concatenate([c[0] for c in cache]).T @ flat
    return dx, dh0, dWx, hs[:-1].reshape(flat.shape).T @ flat, flat.sum(axis=0)
'''},
    "07_lstm": {"lstm_forward": '''def lstm_forward(x, h0, Wx, Wh, b, c0=None):
    import rnnlib.lstm as L
    N, T, D = x.shape
    H = h0.shape[1]
    gates = x.transpose(1, 0, 2) @ Wx + b
    hs, cs = np.empty((T + 1, N, H)), np.empty((T + 1, N, H))
    hs[0], cs[0] = h0, np.zeros_like(h0) if c0 is None else c0
    tanh_cs = L.forward_steps(gates, hs, cs, Wh)
    i, f, o, g = (gates[:, :, k * H:(k + 1) * H] for k in range(4))
    return hs[1:].transpose(1, 0, 2).copy(), [(x[:, t], hs[t], cs[t], Wx, Wh, i[t], f[t], o[t], g[t], tanh_cs[t])
                                              for t in range(T)]
''', "lstm_backward": '''def lstm_backward(dh, cache):
    import rnnlib.lstm as L
    T, (_, _, _, Wx, Wh, *_) = len(cache), cache[0]
    gates = np.stack([np.concatenate(c[5:9], axis=1) for c in cache])
    prev_cs, tanh_cs = np.stack([c[2] for c in cache]), np.stack([c[9] for c in cache])
    da, dh0 = L.backward_steps(dh.transpose(1, 0, 2).copy(), gates, prev_cs, tanh_cs, Wh)
    flat = da.reshape(-1, da.shape[-1])
    dx = (flat @ Wx.T).reshape(T, -1, Wx.shape[0]).transpose(1, 0, 2)
    dWx = np.concatenate([c[0] for c in cache]).T @ flat
    dWh = np.concatenate([c[1] for c in cache]).T @ flat
    return dx, dh0, dWx, dWh, flat.sum(axis=0)
''', "gru_step_forward": '''def gru_step_forward(x, prev_h, Wx, Wh, b):
    import rnnlib.gru as G
    H = prev_h.shape[1]
    gates = (x @ Wx + b)[None]
    hs = np.empty((2,) + prev_h.shape)
    hs[0] = prev_h
    hns = G.forward_steps(gates, hs, Wh)
    return hs[1], (x, prev_h, Wx, Wh, gates[0, :, :H], gates[0, :, H:2*H], gates[0, :, 2*H:], hns[0])
'''},
}


def _code(source, grade_id=None):
    cell = nbformat.v4.new_code_cell(source)
    if grade_id:   # a test cell, as the autograder recognises it
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": grade_id,
                                     "points": 1, "schema_version": 3}
    return cell


def cases(lesson):
    """[(case, exercise, answer source)] for the lesson."""
    found = []
    for exercise in lesson.exercises:
        found.append(("delegating", exercise, lesson.delegating_answer(exercise)))
        found.append(("rel_error helper", exercise, WRAPPED.format(f=exercise)))
    found += [("helper", exercise, source) for exercise, source in HELPERS.get(lesson.assignment, {}).items()]
    found += [("core", exercise, source) for exercise, source in CORES.get(lesson.assignment, {}).items()]
    return found


def verdict_notebook(lesson):
    """The given cells and the solution with its test cells, then each case: answer, test, the solution again.
    Returns (notebook, {test cell id: (case, exercise)})."""
    solution = nbformat.read(notebook_path(ROOT / "solutions", lesson.assignment), as_version=4)
    answers, tests, cells = solution_answers(solution), {}, []
    for cell in solution.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not (meta.get("locked") or meta.get("solution")):
            continue
        gid = meta.get("grade_id")
        cells.append(_code(answers[gid] if meta.get("solution") else cell.source,
                           gid if meta.get("grade") and not meta.get("solution") else None))
        if meta.get("grade") and not meta.get("solution"):
            tests[gid] = cell.source
    table = {gid: ("solution", gid.removeprefix("test_")) for gid in tests}
    for k, (case, exercise, source) in enumerate(cases(lesson)):
        cells += [_code(source), _code(tests[f"test_{exercise}"], f"case{k}_{exercise}"),
                  _code(answers[exercise])]
        table[f"case{k}_{exercise}"] = (case, exercise)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb, table


def first_error_line(cell):
    errors = [o for o in cell.outputs if o.output_type == "error"]
    return (errors[0].evalue.splitlines() or [""])[0] if errors else None


def verdicts(nb):
    return {c.metadata["nbgrader"]["grade_id"]: first_error_line(c) for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


@pytest.fixture(scope="module")
def grading_config():
    config = Config()
    sandbox.configure(config)
    return config


@pytest.mark.e2e
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: x.assignment)
def test_validate_and_autograder_agree(lesson, grading_config, tmp_path):
    nb, table = verdict_notebook(lesson)
    validate = nbformat.from_dict(nb)
    NotebookClient(validate, timeout=120, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    workdir = tmp_path / lesson.assignment       # the sandbox strips by the folder's name
    workdir.mkdir()
    graded = nbformat.from_dict(nb)
    ResilientExecute(config=grading_config).preprocess(graded, {"metadata": {"path": str(workdir)}})

    in_kernel, in_grader = verdicts(validate), verdicts(graded)
    for gid, (case, exercise) in table.items():
        assert in_kernel[gid] == in_grader[gid], f"{case} {exercise}: Validate and the autograder disagree"
        if case in ("delegating", "core"):
            assert "runs rnnlib's reference implementation" in in_kernel[gid], f"{exercise} delegated ({case}) and passed"
        else:
            assert in_kernel[gid] is None, f"{case} {exercise} failed: {in_kernel[gid]}"
