"""Every call of the student's code from a check has a time limit: code that never returns ends
the check with one message naming the student's line, and an alarm set around the check survives."""
import html
import inspect
import re
import signal
import threading
import time

import nbformat
import numpy as np
import pytest

from conftest import copy_class, fails
from instructor.commands.demo import autograde, grades, submit
from instructor.model.layout import Layout, notebook_path
from instructor.pipeline.grade import nbgrader
from instructor.pipeline.submissions import make_submission
from rnnlib import grading
from rnnlib.grading import core

LIMIT = 0.3      # seconds: the tests' limit, instead of the course's generous one


@pytest.fixture(autouse=True)
def short_limit(monkeypatch):
    monkeypatch.setattr(core, "TIME_LIMIT", LIMIT)


def step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, b, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def looping_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, b, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    while da.any():
        da = da * 1.0
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def looping_backward(dh, cache):
    N, T, H = dh.shape
    dprev, t = np.zeros((N, H)), T - 1
    while t >= 0:
        step_backward(dh[:, t] + dprev, cache[t])       # t -= 1 forgotten
    return None


def endless_batches(data, batch_size, seq_len):
    while True:
        yield data[:batch_size * seq_len].reshape(batch_size, seq_len), data[1:batch_size * seq_len + 1].reshape(
            batch_size, seq_len)


def batches_that_never_yield(data, batch_size, seq_len):
    k = 0
    while k >= 0:
        k += 1
    yield data, data


def message_of(check, fn):
    """The GradingFailure's one line as the notebook shows it (no traceback of the grader's)."""
    with pytest.raises(grading.GradingFailure) as e:
        check(fn)
    (line,) = e.value._render_traceback_()
    return line


def stopped_at(fn, *lines):
    """The end of the message for fn stopped at one of lines (its lines, counted from the def line as 0)."""
    first, source = fn.__code__.co_firstlineno, inspect.getsource(fn).splitlines()
    return "|".join(rf"line {first + k} of {fn.__name__}: `{re.escape(source[k].strip())}`" for k in lines)


def test_an_endless_loop_in_a_step_function_names_its_line():
    started = time.monotonic()
    line = message_of(grading.check_rnn_step_backward, looping_step_backward)
    assert time.monotonic() - started < LIMIT + 2
    assert re.fullmatch(rf"GradingFailure: rnn_step_backward did not return within {LIMIT:g} s: it was stopped at "
                        rf"({stopped_at(looping_step_backward, 3, 4)}) — an endless loop\?", line), line


def test_an_endless_loop_in_a_sequence_backward_names_its_line_or_the_called_function_s():
    line = message_of(grading.check_rnn_backward, looping_backward)
    # stopped as step_backward was being entered, Python reports its def line
    assert re.fullmatch(rf"GradingFailure: rnn_backward did not return within {LIMIT:g} s: it was stopped at "
                        rf"({stopped_at(looping_backward, 3, 4)}|{stopped_at(step_backward, 0, 1, 2, 3)}) "
                        rf"— an endless loop\?", line), line


def test_an_endless_generator_is_read_one_batch_past_the_expected_ones():
    message = fails(grading.check_tbptt_batches, endless_batches)
    assert message.startswith("tbptt_batches: yielded the same batch again and again (it was stopped after 10, one "
                              "more than the 9 expected)")


def test_a_generator_that_never_yields_is_stopped_at_its_line():
    line = message_of(grading.check_tbptt_batches, batches_that_never_yield)
    assert re.fullmatch(rf"GradingFailure: tbptt_batches did not return within {LIMIT:g} s: it was stopped at "
                        rf"({stopped_at(batches_that_never_yield, 2, 3)}) — an endless loop\?", line), line


def test_slow_code_that_finishes_within_the_limit_passes(capsys):
    def slow_step_backward(dnext_h, cache):
        time.sleep(LIMIT / 3)
        return step_backward(dnext_h, cache)

    grading.check_rnn_step_backward(slow_step_backward)
    assert "rnn_step_backward: all checks passed" in capsys.readouterr().out


class Rang(Exception):
    pass


def ring(signum, frame):
    raise Rang()


@pytest.fixture
def alarm_of_the_caller():
    """An alarm set around the checks, as benchmarks/feedback_mutants.py sets one: put back after."""
    previous = signal.signal(signal.SIGALRM, ring)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("fn", [step_backward, looping_step_backward])
def test_the_callers_alarm_and_handler_are_restored_still_counting(alarm_of_the_caller, fn):
    signal.setitimer(signal.ITIMER_REAL, 30)
    started = time.monotonic()
    try:
        grading.check_rnn_step_backward(fn)
    except grading.GradingFailure:
        assert fn is looping_step_backward
    before = time.monotonic()
    left, _ = signal.getitimer(signal.ITIMER_REAL)
    after = time.monotonic()
    assert signal.getsignal(signal.SIGALRM) is ring
    assert 30 - (after - started) - 0.05 <= left <= 30 - (before - started) + 0.01


def spin():
    while True:
        pass


def test_an_alarm_due_before_the_limit_still_rings_on_time(alarm_of_the_caller):
    signal.setitimer(signal.ITIMER_REAL, LIMIT / 3)
    started = time.monotonic()
    with pytest.raises(grading.GradingFailure, match="raised Rang"):      # today's message for a caller's alarm
        core.Lesson("any", {}).call("spin", spin)
    assert time.monotonic() - started < LIMIT
    assert signal.getsignal(signal.SIGALRM) is ring


def test_an_alarm_that_fell_due_during_the_call_rings_right_after_it(alarm_of_the_caller):
    signal.setitimer(signal.ITIMER_REAL, LIMIT + 0.05)
    with pytest.raises(Rang):
        with pytest.raises(grading.GradingFailure, match="spin did not return within"):
            core.Lesson("any", {}).call("spin", spin)
        time.sleep(1)


def test_outside_the_main_thread_there_is_no_limit():
    def slow_step_backward(dnext_h, cache):
        time.sleep(LIMIT * 1.5)
        return step_backward(dnext_h, cache)

    failures = []

    def grade():
        try:
            grading.check_rnn_step_backward(slow_step_backward)
        except BaseException as e:     # noqa: B036 (anything at all would be a failure here)
            failures.append(e)

    worker = threading.Thread(target=grade)
    worker.start()
    worker.join()
    assert failures == []


# --- in the autograder: the looping test cell scores 0, the others and the next student are graded ---

COURSE_LIMIT = core.TIME_LIMIT


def looped(name, inside=""):
    """What the feedback says of name's call, stopped in the rnn_backward below (inside: " of rnn_backward")."""
    return (rf"{re.escape(name)} did not return within {COURSE_LIMIT:g} s: it was stopped at line "
            rf"(3{inside}: `while t >= 0:`|4{inside}: `pass`) — an endless loop\?")


LOOPING = {   # assignment: (exercise, a looping answer, {test cell it fails: what its feedback says})
    "03_bptt": ("rnn_backward", "def rnn_backward(dh, cache):\n    t = dh.shape[1] - 1\n    while t >= 0:\n        pass\n",
                {"test_rnn_backward": looped("rnn_backward"),
                 "test_TimeRNN": looped("TimeRNN.backward", " of rnn_backward")}),   # it runs the student's rnn_backward
    "06_char_rnn": ("tbptt_batches", "def tbptt_batches(data, batch_size, seq_len):\n    while True:\n"
                    "        yield data[:batch_size * seq_len].reshape(batch_size, seq_len), data[1:batch_size * seq_len + 1].reshape(batch_size, seq_len)\n",
                    {"test_tbptt_batches": r"tbptt_batches: yielded the same batch again and again"}),
}


@pytest.fixture(scope="module")
def looping_graded(course, tmp_path_factory):
    """alice's answers are right; bob's rnn_backward loops (03) and his tbptt_batches never ends (06)."""
    course = copy_class(course, tmp_path_factory.mktemp("time_limit"))
    with open(course / "nbgrader_config.py", "a") as config:
        # The lesson's other cells call the looping function too, each until the cell timeout: a
        # shorter one (still well above the checks' TIME_LIMIT) spares the run minutes of spinning.
        config.write(f"\nc.Execute.timeout = c.ExecutePreprocessor.timeout = {2 * COURSE_LIMIT}\n")
    layout = Layout(course)
    feedback = {}
    for a, (exercise, answer, _) in LOOPING.items():
        release = nbformat.read(notebook_path(layout.release, a), as_version=4)
        solution = nbformat.read(notebook_path(layout.source, a), as_version=4)
        submit(course, "alice", a, make_submission(release, solution, "correct"))
        submit(course, "bob", a, make_submission(release, solution, "correct", {exercise: answer}))
        result = autograde(course, a)
        assert result.returncode == 0, result.stderr[-3000:]
        result = nbgrader(course, "generate_feedback", a, "--force")
        assert result.returncode == 0, result.stderr[-3000:]
        feedback[a] = html.unescape(layout.feedback_html("bob", a).read_text())
    return grades(course), feedback


@pytest.mark.e2e
@pytest.mark.parametrize("assignment", list(LOOPING))
def test_a_looping_answer_scores_0_where_it_runs_and_the_feedback_says_why(looping_graded, assignment):
    table, feedback = looping_graded
    _, _, failing = LOOPING[assignment]
    alice, bob = table["alice", assignment], table["bob", assignment]
    assert alice.failed == [] and not alice.missing and not bob.missing
    assert sorted(bob.failed) == sorted(failing)
    assert all(bob.cells[cell] == 0 < alice.cells[cell] for cell in failing)
    assert {k: v for k, v in bob.cells.items() if k not in failing} == {
        k: v for k, v in alice.cells.items() if k not in failing}
    for says in failing.values():      # the check's own limit, not the cell timeout or a dead kernel
        assert re.search(says, feedback[assignment]), feedback[assignment][-3000:]
