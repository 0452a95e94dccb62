"""Red team: hostile and broken submissions, graded end to end by nbgrader in a temporary course.

Each attacker's answer cell holds the correct function plus one attack, wrapped so that the cell
prints ATTACK SUCCEEDED or ATTACK BLOCKED; the tests assert every attack was blocked, the scores
each submission earns, and that honest submissions graded in the same run keep their marks.
"""
import json
import socket

import nbformat
import pytest

from instructor.commands.demo import submit
from instructor.model.gradebook import grades
from instructor.model.layout import Layout, notebook_path
from instructor.pipeline import sandbox
from instructor.pipeline.grade import autograde, make_course
from instructor.pipeline.submissions import make_submission, solution_answers

A = "01_forward_pass"
TIMEOUT = 8         # per cell, for this test's course (the real one uses 60 s)
SECRET = "gradebook-password-1234"
FULL, STEP, SEQ, AFFINE = 8.0, "test_rnn_step_forward", "test_rnn_forward", "test_temporal_affine_forward"

pytestmark = [
    pytest.mark.skipif(sandbox.problem() is not None, reason=f"no grading sandbox here: {sandbox.problem()}"),
    # nbformat warns when it reads the submission with a duplicated cell, which is the point of it.
    pytest.mark.filterwarnings("ignore::nbformat.warnings.DuplicateCellId"),
    pytest.mark.e2e,
    pytest.mark.xdist_group("redteam"),     # one worker: one grading run for every test
]


def attack(function, code):
    """An answer cell: the reference solution of `function` (filled in later), then the attack."""
    body = "\n".join("    " + line for line in code.strip().splitlines())
    return (function, f"try:\n{body}\n    print('ATTACK SUCCEEDED')\nexcept Exception as e:\n"
                      f"    print('ATTACK BLOCKED', type(e).__name__, e)\n")


ATTACKS = {
    # peeking
    "peek_solutions": attack("rnn_step_forward", "print(open('../../../../solutions/01_forward_pass/forward_pass.ipynb').read()[:100])"),
    # the notebook being graded has its hidden tests restored: printing them would put them in the feedback
    "peek_hidden_tests": attack("rnn_step_forward", "import glob, os, rnnlib\n"
                                "roots = ['.', '..', '/tmp', os.path.dirname(os.path.dirname(rnnlib.__file__))]\n"
                                "found = [p for r in roots for p in glob.glob(r + '/**/*.ipynb', recursive=True)\n"
                                "         if 'BEGIN HIDDEN' in open(p, errors='ignore').read()]\n"
                                "assert found, 'none found'"),
    "peek_classmates": attack("rnn_forward", "print(open('../../../submitted/alice/01_forward_pass/forward_pass.ipynb').read()[:100])"),
    "peek_gradebook": attack("rnn_forward", "print(open('../../../gradebook.db', 'rb').read(100))"),
    "peek_environment": attack("rnn_forward", f"import os\nassert '{SECRET}' in str(os.environ), 'no secret'"),
    # tampering
    "write_gradebook": attack("temporal_affine_forward", "import sqlite3\ndb = sqlite3.connect('../../../gradebook.db')\n"
                                                          "db.execute('UPDATE grade SET manual_score = 100')\ndb.commit()"),
    "write_solutions": attack("temporal_affine_forward", "open('../../../../solutions/01_forward_pass/x.txt', 'w').write('x')"),
    "network": attack("temporal_affine_forward", "import socket\nsocket.create_connection(('127.0.0.1', PORT), timeout=2)"),
    # resources
    "memory_bomb": attack("rnn_forward", "blob = bytearray(40 << 30)"),
    "fork_bomb": attack("rnn_forward", "import os, time\nfor _ in range(2000):\n    if os.fork() == 0:\n"
                                       "        time.sleep(60)\n        os._exit(0)"),
}
# Broken submissions: the cell rnn_forward is replaced by code that takes the kernel down.
KILLERS = {
    "kernel_exit": ("import os\nos._exit(3)\n", "KernelDied"),
    "segfault": ("import ctypes\nctypes.string_at(0)\n", "KernelDied"),
    "hang_ignoring_interrupt": ("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n",
                                "KernelHung"),
}


def _edit(change):
    """A spoiler: load the submitted notebook as JSON, change it, write it back."""
    def spoil(path):
        nb = json.loads(path.read_text())
        change(nb)
        path.write_text(json.dumps(nb))
    return spoil


def _cells(nb, gid):
    return [c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid]


# Broken files: (how the submitted file is spoiled, the score it must get, words of the reason).
BROKEN = {
    "not_json": (lambda p: p.write_text('{"cells": [oops'), 0.0, "not valid JSON"),
    "not_a_notebook": (lambda p: p.write_text('{"hello": "world"}'), 0.0, "its nbformat is None"),
    "invalid_notebook": (_edit(lambda nb: nb["cells"][0].update(cell_type="bogus")), 0.0, "not valid"),
    "old_format": (_edit(lambda nb: nb.update(nbformat=3)), 0.0, "its nbformat is 3"),
    "deleted_test_cell": (_edit(lambda nb: nb["cells"].remove(_cells(nb, SEQ)[0])), 8.0, "was missing"),
    "deleted_answer_cell": (_edit(lambda nb: nb["cells"].remove(_cells(nb, "rnn_forward")[0])), 5.0, "answer is blank"),
    "duplicated_cell": (_edit(lambda nb: nb["cells"].append(_cells(nb, "rnn_step_forward")[0])), 8.0, "more than once"),
    # the answer cell loses its settings, the released one is put back, and the student's code still runs
    "garbled_grading_settings": (_edit(lambda nb: _cells(nb, "rnn_forward")[0]["metadata"].update(nbgrader="x")), 8.0,
                                 "not readable"),
    "flipped_grade_flag": (_edit(lambda nb: _cells(nb, SEQ)[0]["metadata"]["nbgrader"].update(grade=False)), 8.0,
                           "were restored"),
}
BROKEN_FILES = {name: spoil for name, (spoil, _, _) in BROKEN.items()}
# Fakers: a wrong or missing rnn_forward plus a trick to pass its test anyway. Each must score 0 there.
WRONG = "def rnn_forward(x, h0, Wx, Wh, b):\n    return np.zeros((x.shape[0], x.shape[1], h0.shape[1])), []\n"
FAKERS = {
    "delegate_reference": "from rnnlib import rnn_forward\n",
    "delegate_private_core": ("import rnnlib.rnn as R\ndef rnn_forward(x, h0, Wx, Wh, b):\n    h, cache, prev = [], [], h0\n"
                              "    for t in range(x.shape[1]):\n        prev, c = R.step_forward(x[:, t], prev, Wx, Wh, b)\n"
                              "        h.append(prev)\n        cache.append(c)\n    return np.stack(h, 1), cache\n"),
    "delegate_without_profiler": ("import sys\nfrom rnnlib.rnn import rnn_forward as _reference\n"
                                  "def rnn_forward(*args):\n    sys.setprofile(None)\n    return _reference(*args)\n"),
    "patch_checker": WRONG + ("import rnnlib.grading as g\n"
                              "g.check_rnn_forward = lambda *a, **k: print('rnn_forward: all checks passed')\n"
                              "check_rnn_forward = g.check_rnn_forward\n"),
    "patch_comparisons": WRONG + ("import rnnlib.gradcheck as gc\nnp.allclose = lambda *a, **k: True\n"
                                  "np.testing.assert_allclose = lambda *a, **k: None\ngc.rel_error = lambda a, b: 0.0\n"),
    "rewrite_test_cell": WRONG + ("get_ipython().input_transformers_post.append(lambda lines: "
                                  "['print(\"rnn_forward: all checks passed\")\\n'] "
                                  "if any('check_rnn_forward' in l for l in lines) else lines)\n"),
    "read_caller_frames": ("import sys\ndef rnn_forward(*args):\n    f = sys._getframe(1)\n    while f is not None:\n"
                           "        if 'expected' in f.f_locals:\n            return f.f_locals['expected'], []\n"
                           "        f = f.f_back\n    raise LookupError('no expected values here')\n"),
    "always_equal": ("class Anything(np.ndarray):\n    def __eq__(self, other):\n        return True\n"
                     "def rnn_forward(x, h0, Wx, Wh, b):\n    return np.zeros((1,)).view(Anything), []\n"),
}
VICTIM_BUG = "def rnn_forward(x, h0, Wx, Wh, b):\n    return np.zeros((x.shape[0], x.shape[1], h0.shape[1])), []\n"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade honest, buggy, hostile and broken submissions in one nbgrader run."""
    course = make_course(tmp_path_factory.mktemp("redteam"), [A])
    layout = Layout(course)
    release = nbformat.read(layout.release_notebook(A), as_version=4)
    solution = nbformat.read(notebook_path(layout.source, A), as_version=4)
    answers = solution_answers(solution)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0)
    port = listener.getsockname()[1]
    students = {"aaa_victim": {"rnn_forward": VICTIM_BUG}, "alice": {}, "zzz_honest": {}}
    for name, (fn, code) in ATTACKS.items():
        students[name] = {fn: answers[fn] + "\n\n" + code.replace("PORT", str(port))}
    for name, (code, _) in KILLERS.items():
        students[name] = {"rnn_forward": code}
    for name, code in FAKERS.items():
        students[name] = {"rnn_forward": code}
    for student, replace in students.items():
        submit(course, student, A, make_submission(release, solution, "correct", replace))
    for student, spoil in BROKEN_FILES.items():
        nb = make_submission(release, solution, "correct")
        submit(course, student, A, nb)
        spoil(layout.submitted_notebook(student, A))
    # Other tests grade meanwhile: each kernel's process quota is its own, the fork bomb's too.
    result, repairs = autograde(course, A, "--force", f"--Execute.timeout={TIMEOUT}", env={"RNN_SECRET": SECRET})
    try:
        listener.accept()
        connected = True
    except BlockingIOError:
        connected = False
    listener.close()
    return course, result, scores(course), connected, repairs


def scores(course):
    """{student: {cell: score}}"""
    return {student: g.cells for (student, _), g in grades(Layout(course), A).items()}


def outputs(course, student):
    nb = nbformat.read(Layout(course).autograded_notebook(student, A), as_version=4)
    return {c.metadata.get("nbgrader", {}).get("grade_id"): "".join(o.get("text", "") + o.get("ename", "") + o.get("evalue", "")
                                                                     for o in c.get("outputs", []))
            for c in nb.cells if c.cell_type == "code"}


def auto_total(table, student):
    return sum(v for k, v in table[student].items() if k.startswith("test_"))


def test_honest_and_buggy_students_keep_their_marks(graded):
    course, result, table, _, repairs = graded
    assert not {"alice", "zzz_honest", "aaa_victim"} & set(repairs)
    assert auto_total(table, "alice") == auto_total(table, "zzz_honest") == FULL
    assert table["aaa_victim"][SEQ] == 0 and auto_total(table, "aaa_victim") == FULL - 3


@pytest.mark.parametrize("student", list(ATTACKS))
def test_attack_is_blocked_and_the_correct_code_still_scores(graded, student):
    course, _, table, connected, _ = graded
    out = outputs(course, student)[ATTACKS[student][0]]
    assert "ATTACK BLOCKED" in out and "ATTACK SUCCEEDED" not in out, out
    if student == "fork_bomb":
        # Its sleeping children hold the process quota for a while, so the test cell right after
        # the bomb cannot start a thread: the bomb costs its author, nobody else.
        assert auto_total(table, student) >= FULL - 3
    else:
        assert auto_total(table, student) == FULL
    if student == "network":
        assert not connected


@pytest.mark.parametrize("student", list(KILLERS))
def test_a_dead_or_hung_kernel_costs_only_its_cell(graded, student):
    course, result, table, _, _ = graded
    assert table[student][STEP] == 3 and table[student][SEQ] == 0 and table[student][AFFINE] == 2
    assert KILLERS[student][1] in outputs(course, student)["rnn_forward"]
    assert KILLERS[student][1] in result.stderr


@pytest.mark.parametrize("student", list(BROKEN))
def test_a_broken_file_is_graded_repaired_and_explained(graded, student):
    course, result, table, _, repairs = graded
    _, score, reason = BROKEN[student]
    assert auto_total(table, student) == score
    assert any(reason in p for p in repairs[student]), repairs[student]
    layout = Layout(course)
    graded_nb = nbformat.read(layout.autograded_notebook(student, A), as_version=4)
    assert reason in graded_nb.cells[0].source                 # the note the feedback shows
    assert layout.original_notebook(student, A).is_file()     # the original file is not lost


@pytest.mark.parametrize("student", list(FAKERS))
def test_a_faked_answer_earns_nothing(graded, student):
    course, result, table, _, _ = graded
    assert table[student][SEQ] == 0 and table[student][STEP] == 3 and table[student][AFFINE] == 2
    if student.startswith("delegate"):
        assert "earns no points" in outputs(course, student)[SEQ]
