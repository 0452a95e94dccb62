"""The mistakes students make, written as they would write them: each message says what is wrong and where.

The hints here come from how the result relates to the right one (core.relation) or from the known
mistakes of each lesson; none of these answers is one of the checks' own variants."""
import numpy as np
import pytest

from rnnlib import grading
from rnnlib.grading import core

from conftest import fails
from test_grading import step_backward
from test_grading_06 import sample
from test_grading_07 import lstm_backward, lstm_step_backward, lstm_step_forward, sigmoid


def rnn_step_backward(dnext_h, cache, divide=1, dWh_from="prev_h", transpose_dWh=False):
    x, prev_h, Wx, Wh, b, next_h = cache
    da = dnext_h * (1 - next_h ** 2) / divide
    dWh = (prev_h if dWh_from == "prev_h" else next_h).T @ da
    return da @ Wx.T, da @ Wh.T, x.T @ da, dWh.T if transpose_dWh else dWh, da.sum(axis=0)


def rnn_backward(dh, cache, first=0, average=False, dtype=np.float64):
    N, T, H = dh.shape
    dx = np.zeros((N, T, cache[0][0].shape[1]), dtype=dtype)
    dWx, dWh, db = (np.zeros(np.shape(cache[0][k]), dtype=dtype) for k in (2, 3, 4))
    dprev = np.zeros((N, H), dtype=dtype)
    for t in reversed(range(first, T)):
        dx[:, t], dprev, gx, gh, gb = step_backward((dh[:, t] + dprev).astype(dtype), cache[t])
        dWx += gx
        dWh += gh
        db += gb
    scale = T if average else 1
    return dx, dprev, dWx / scale, dWh / scale, db / scale


def test_dividing_by_n_in_the_step_backward_names_every_gradient_it_scales():
    message = fails(grading.check_rnn_step_backward, lambda d, c: rnn_step_backward(d, c, divide=d.shape[0]))
    assert "Likely cause: dx, dprev_h, dWx, dWh, db: 1/N of the right value (N = 4, the batch size)" in message
    assert "bias gradient is averaged" not in message        # not the db-only mistake
    assert message.count("Likely cause") == 1


def test_next_h_in_dwh_and_a_transposed_dwh():
    message = fails(grading.check_rnn_step_backward, lambda d, c: rnn_step_backward(d, c, dWh_from="next_h"))
    assert "dWh pairs the step's input state with da" in message and "correct: dx, dprev_h, dWx, db" in message
    message = fails(grading.check_rnn_step_backward, lambda d, c: rnn_step_backward(d, c, transpose_dWh=True))
    assert "Likely cause: dWh: transposed" in message


def test_a_time_loop_that_skips_t0():
    message = fails(grading.check_rnn_backward, lambda dh, c: rnn_backward(dh, c, first=1))
    assert "dx: wrong only at the first time step, t = 0 (zero there: is that step computed?)" in message
    assert "dWx, dWh, db: missing the contribution of the first time step, t = 0" in message


def test_gradients_averaged_over_time():
    message = fails(grading.check_rnn_backward, lambda dh, c: rnn_backward(dh, c, average=True))
    assert "dWx, dWh, db: 1/T of the right value (T = 10, the number of time steps)" in message


def test_float32_accumulators_are_called_precision():
    message = fails(grading.check_rnn_backward, lambda dh, c: rnn_backward(dh, c, dtype=np.float32))
    assert "the round-off of float32" in message and "keep everything float64" in message
    assert "times the right value" not in message


def test_lstm_gate_blocks_in_the_wrong_order_name_the_gates():
    def swapped(dnext_h, dnext_c, cache):
        dx, dh, dc, dWx, dWh, db = lstm_step_backward(dnext_h, dnext_c, cache)
        H = dnext_h.shape[1]
        order = np.r_[0:H, H:2 * H, 3 * H:4 * H, 2 * H:3 * H]     # o and g concatenated the other way round
        return dx, dh, dc, dWx[:, order], dWh[:, order], db[order]
    message = fails(grading.check_lstm_step_backward, swapped)
    assert "dWx, dWh, db: the column blocks of gates o and g are swapped (columns 10:15 and 15:20)" in message


def lstm_variant(**mistake):
    def backward(dnext_h, dnext_c, cache):
        x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
        dc = dnext_c + dnext_h * o * (1 if mistake.get("no_tanh_deriv") else 1 - tanh_c ** 2)
        do = (dc if mistake.get("do_from_dc") else dnext_h) * tanh_c
        if mistake.get("sigma_of_output"):
            d = [sigmoid(i) * (1 - sigmoid(i)), sigmoid(f) * (1 - sigmoid(f)), sigmoid(o) * (1 - sigmoid(o)),
                 1 - np.tanh(g) ** 2]
        else:
            d = [i * (1 - i), f * (1 - f), o * (1 - o), 1 - g ** 2]
        da = np.hstack([dc * g * d[0], dc * prev_c * d[1], do * d[2], dc * i * d[3]])
        return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)
    return backward


@pytest.mark.parametrize("mistake,hint", [
    ("no_tanh_deriv", "dc needs the tanh derivative at next_c"),
    ("do_from_dc", "do uses dc instead of dnext_h"),
    ("sigma_of_output", "the gates' derivatives are applied to the gates' outputs again"),
])
def test_lstm_backward_mistakes(mistake, hint):
    message = fails(grading.check_lstm_step_backward, lstm_variant(**{mistake: True}))
    assert hint in message and message.count("Likely cause") == 1


def test_lstm_cell_state_started_from_h0():
    def c0_is_h0(x, h0, Wx, Wh, b):
        h, cache, prev_h, prev_c = np.zeros((*x.shape[:2], h0.shape[1])), [], h0, h0
        for t in range(x.shape[1]):
            prev_h, prev_c, step = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
            h[:, t] = prev_h
            cache.append(step)
        return h, cache
    assert "the cell state starts from h0" in fails(grading.check_lstm_forward, c0_is_h0)


def test_lstm_sequence_backward_that_skips_the_last_step_says_so():
    def skips_last(dh, cache):     # the time loop's range stops one step short
        dx, dh0, dWx, dWh, db = lstm_backward(dh[:, :-1], cache[:-1])
        return np.concatenate([dx, np.zeros_like(dx[:, :1])], axis=1), dh0, dWx, dWh, db
    message = fails(grading.check_lstm_backward, skips_last)
    assert "the last step, t = 5, gets no gradient at all, as if it were skipped: look at the time loop's range" in message


def test_clipping_into_a_new_array_is_named():
    def not_in_place(grads, max_norm):
        total = np.sqrt(sum((g ** 2).sum() for g in grads.values()))
        for g in grads.values():
            g = g * min(1.0, max_norm / total)     # rebinds the name; the dict's array is unchanged
        return float(total)
    message = fails(grading.check_clip_grad_norm, not_in_place)
    assert "the arrays in the dict are unchanged although the global norm is above max_norm" in message


def adder(params, x, y, lr, inside=False, hidden_deriv=True, carry=True, dWh_from_h_t=False):
    """A student's version of the seed's adder step, with one of the seed's classic mistakes."""
    sig = lambda a: 1 / (1 + np.exp(-a))
    Wx, Wh, Wy = params["Wx"], params["Wh"], params["Wy"]
    N, T, _ = x.shape
    hs, ys = [np.zeros((N, Wh.shape[0]))], []
    for t in range(T):
        hs.append(sig(x[:, t] @ Wx + hs[-1] @ Wh))
        ys.append(sig(hs[-1] @ Wy))
    loss = 0.5 * sum(np.sum((ys[t] - y[:, t]) ** 2) for t in range(T)) / N
    updates = {k: np.zeros_like(v) for k, v in params.items()}
    future = np.zeros((N, Wh.shape[0]))
    for t in reversed(range(T)):
        dy = (ys[t] - y[:, t]) / N * ys[t] * (1 - ys[t])
        dh = dy @ Wy.T + (future @ Wh.T if carry else 0)
        da = dh * (hs[t + 1] * (1 - hs[t + 1]) if hidden_deriv else 1)
        step = {"Wy": hs[t + 1].T @ dy, "Wx": x[:, t].T @ da, "Wh": (hs[t + 1] if dWh_from_h_t else hs[t]).T @ da}
        for k in params:
            if inside:
                params[k] -= lr * step[k]
            else:
                updates[k] += step[k]
        future = da
    for k in params:
        params[k] -= lr * updates[k]
    return loss


@pytest.mark.parametrize("mistake,hint", [
    ({"inside": True}, "the weights are updated inside the time loop"),
    ({"hidden_deriv": False}, "the hidden layer's delta needs the sigmoid derivative"),
    ({"carry": False}, "must also receive the delta coming back from step t+1"),
    ({"dWh_from_h_t": True}, "pairs each step's delta with the hidden state of the time step before"),
])
def test_the_seed_adder_mistakes(mistake, hint):
    assert hint in fails(grading.check_train_step, lambda p, x, y, lr: adder(p, x, y, lr, **mistake))


def test_sample_without_temperature_is_told_about_temperature_not_seeding():
    message = fails(grading.check_sample, lambda m, s, n, temperature=1.0, rng=None: sample(m, s, n, 1.0, rng))
    assert "divided by the temperature" in message and "seed id" not in message


def test_sample_whose_softmax_overflows_is_told_to_shift():
    def unshifted(model, seed_ids, n, temperature=1.0, rng=None):
        p, h, out, token = model.params, np.zeros(model.params["Wh"].shape[0]), [], seed_ids[-1]
        for t in seed_ids[:-1]:
            h = np.tanh(p["W_embed"][t] @ p["Wx"] + h @ p["Wh"] + p["b"])
        for _ in range(n):
            h = np.tanh(p["W_embed"][token] @ p["Wx"] + h @ p["Wh"] + p["b"])
            e = np.exp((h @ p["V"] + p["c"]) / temperature)
            token = int(rng.choice(len(e), p=e / e.sum()))
            out.append(token)
        return out
    message = fails(grading.check_sample, unshifted)
    assert "the probabilities contain NaN" in message and "Subtract the largest score before exp" in message


def test_messages_are_clean():
    def forgetful(f, x, h=1e-5):    # leaves x changed
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            x[i] += h
            grad[i] = f() / h
        return grad
    message = fails(grading.check_numerical_gradient, forgetful)
    assert "e.g. x[0] changed" in message and "np.int64" not in message

    def crashes(n, width):
        raise ValueError("no")
    assert "arrays of shapes" not in fails(grading.check_int_to_bits, crashes)


def test_relation_names_a_factor_only_when_it_means_something_for_a_number():
    assert core.relation(np.array([3.0]), np.array([2.0])) is None
    assert core.relation(np.array([1.0]), np.array([4.0]), sizes=[core.batch_size(4)]).startswith("1/N of")


def test_lstm_gates_that_share_a_wrong_dc_point_at_dc():
    def dc_plus_sign(dnext_h, dnext_c, cache):      # tanh' written as 1 + tanh_c**2
        x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
        dc = dnext_c + dnext_h * o * (1 + tanh_c ** 2)
        da = np.hstack([dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dnext_h * tanh_c * o * (1 - o),
                        dc * i * (1 - g ** 2)])
        return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)
    message = fails(grading.check_lstm_step_backward, dc_plus_sign)
    assert "dc, the cell state's total gradient (da's blocks of gates i, f and g and dprev_c are computed from it)" in message
    assert "in the path through next_h: in the factor (1 - tanh_c**2), tanh_c**2 has the wrong sign" in message


def test_a_factor_that_is_also_a_test_size_names_both_causes():
    """With a batch of 2, "twice" and "N times" are the same evidence: the hint must not pick one."""
    text = core.relation(np.array([2.0, 4.0]), np.array([1.0, 2.0]), sizes=[core.batch_size(2)])
    assert "a division by it is missing" in text and "a term is counted twice" in text
    assert "counted twice" not in core.relation(np.array([4.0, 8.0]), np.array([1.0, 2.0]), sizes=[core.batch_size(4)])
