"""rnnlib.gradcheck: the checker's own hygiene, since every grade depends on it."""
import numpy as np
import pytest

from rnnlib.gradcheck import check_gradients, numerical_gradient, numerical_gradient_array, rel_error, tolerance
from rnnlib.rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward

NAMES = ("dx", "dh0", "dWx", "dWh", "db")


def rnn_args(N=2, T=4, D=3, H=4, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((D, H)) / np.sqrt(D),
            rng.standard_normal((H, H)) / np.sqrt(H), 0.1 * rng.standard_normal(H))


def test_rel_error_is_cs231n_definition():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    assert rel_error(np.array([0.0]), np.array([1e-9])) == pytest.approx(0.1)   # floor 1e-8
    with pytest.raises(ValueError, match="b: expected the shape of a"):
        rel_error(np.zeros(2), np.zeros(3))


def test_numerical_gradient_of_quadratic_and_restores_x():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    g = numerical_gradient(lambda: np.sum(x ** 2), x)
    np.testing.assert_allclose(g, 2 * before, rtol=1e-9)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_array_of_elementwise_function():
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    df = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(numerical_gradient_array(np.tanh, x, df), df * (1 - np.tanh(x) ** 2), rtol=1e-9)


def test_float32_is_refused_with_the_reason():
    x = np.ones(3, dtype=np.float32)
    with pytest.raises(ValueError, match="x: numerical gradients need float64"):
        numerical_gradient(lambda: float(np.sum(x)), x)


def test_float32_really_is_useless_at_h_1e5():
    """The reason for refusing it: a correct float32 step backward fails by orders of magnitude."""
    args32 = [a.astype(np.float32) for a in rnn_args(T=1)]
    x, h0, Wx, Wh, b = args32
    out, cache = rnn_step_forward(x[:, 0], h0, Wx, Wh, b)
    dout = np.ones_like(out)
    old = Wh[0, 0]
    Wh[0, 0] = old + np.float32(1e-5)
    plus = np.sum(rnn_step_forward(x[:, 0], h0, Wx, Wh, b)[0] * dout)
    Wh[0, 0] = old - np.float32(1e-5)
    minus = np.sum(rnn_step_forward(x[:, 0], h0, Wx, Wh, b)[0] * dout)
    Wh[0, 0] = old
    num = (plus - minus) / np.float32(2e-5)
    assert rel_error(num, rnn_step_backward(dout, cache)[3][0, 0]) > 1e-4


def test_correct_backward_passes_and_report_names_every_gradient():
    report = check_gradients(rnn_forward, rnn_backward, rnn_args(), NAMES)
    assert report.ok and list(report.checks) == list(NAMES) and report.mutated == []
    assert all(c.rel_error < 1e-8 for c in report.checks.values())
    assert "dWh" in str(report)


def test_report_is_deterministic():
    def last_step_only(dh, cache):   # a classic mistake, so the report has non-zero numbers
        dx, dh0, dWx, dWh, db = rnn_backward(dh, cache)
        return dx, dh0, dWx, rnn_step_backward(dh[:, -1], cache[-1])[3], db
    first = check_gradients(rnn_forward, last_step_only, rnn_args(), NAMES)
    again = check_gradients(rnn_forward, last_step_only, rnn_args(), NAMES)
    assert first.checks == again.checks and first.mutated == again.mutated
    assert not first.ok and [c.name for c in first.checks.values() if not c.ok] == ["dWh"]


def test_report_points_at_the_worst_entry_with_both_values():
    def wrong_db(dh, cache):
        grads = list(rnn_backward(dh, cache))
        grads[4] = grads[4].copy()
        grads[4][2] += 1.0
        return tuple(grads)
    report = check_gradients(rnn_forward, wrong_db, rnn_args(), NAMES)
    db = report["db"]
    assert not db.ok and db.worst_index == (2,)
    assert db.analytic == pytest.approx(db.numerical + 1.0, abs=1e-6)
    assert "FAIL db" in str(report) and "worst at (2,)" in str(report)


def test_wrong_shape_is_reported_not_crashed():
    def transposed_dWx(dh, cache):
        dx, dh0, dWx, dWh, db = rnn_backward(dh, cache)
        return dx, dh0, dWx.T, dWh, db
    report = check_gradients(rnn_forward, transposed_dWx, rnn_args(D=3, H=4), NAMES)
    assert not report["dWx"].ok and not report["dWx"].shape_ok and report["dWh"].ok


def test_backward_that_mutates_cache_or_upstream_is_reported():
    def scribbling(dh, cache):
        out = rnn_backward(dh, cache)
        dh *= 0.0
        cache[1].prev_h[...] = 0.0
        return out
    report = check_gradients(rnn_forward, scribbling, rnn_args(), NAMES)
    assert not report.ok
    # step 0's next_h is step 1's prev_h (one array), so both paths are named
    assert report.mutated == ["dout[0]", "cache[0].next_h", "cache[1].prev_h"]
    assert "FAIL backward modified its input dout[0]" in str(report)


def test_numerical_gradient_is_taken_before_the_backward_runs():
    """A backward that changes the weights it was given must not change the reference."""
    args = rnn_args()

    def poisoning(dh, cache):
        out = rnn_backward(dh, cache)
        args[3][...] = 0.0          # Wh, shared with the forward's inputs
        return out
    clean = check_gradients(rnn_forward, rnn_backward, rnn_args(), NAMES)
    poisoned = check_gradients(rnn_forward, poisoning, args, NAMES)
    assert poisoned["dWh"].numerical == clean["dWh"].numerical


@pytest.mark.parametrize("T", [1, 10, 40, 100])
def test_tolerance_grows_with_length_and_covers_correct_code(T):
    assert tolerance(T) == pytest.approx(1e-7 * max(1, T / 10))
    worst = max(max(c.rel_error for c in check_gradients(rnn_forward, rnn_backward, rnn_args(N=1, T=T, seed=s), NAMES).checks.values())
                for s in range(2))
    assert worst < tolerance(T) / 3
