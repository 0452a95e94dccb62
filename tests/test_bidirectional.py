"""rnnlib.bidirectional: two RNNs, one per direction, checked against numerical gradients."""
import numpy as np
import pytest

from rnnlib.bidirectional import bidirectional_backward, bidirectional_forward
from rnnlib.gradcheck import check_gradients
from rnnlib.lstm import lstm_forward
from rnnlib.rnn import rnn_forward

NAMES = ("dx", "dh0_f", "dh0_b", "dWx_f", "dWh_f", "db_f", "dWx_b", "dWh_b", "db_b")


def inputs(cell, N=2, T=5, D=3, H=4, seed=0):
    rng = np.random.default_rng(seed)
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell] * H
    params = [a for _ in range(2) for a in (rng.standard_normal((D, G)) / np.sqrt(D),
                                            rng.standard_normal((H, G)) / np.sqrt(H), 0.3 * rng.standard_normal(G))]
    return (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H)), *params)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("T", [1, 5])
def test_gradients_match_numerical(cell, T):
    report = check_gradients(lambda *a: bidirectional_forward(*a, cell=cell), bidirectional_backward,
                             inputs(cell, T=T), NAMES)
    assert report.ok, report
    assert not report.mutated


@pytest.mark.parametrize("cell, forward", [("rnn", rnn_forward), ("lstm", lstm_forward)])
def test_halves_are_a_forward_rnn_and_a_reversed_one(cell, forward):
    x, h0_f, h0_b, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b = inputs(cell)
    h, _ = bidirectional_forward(x, h0_f, h0_b, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b, cell=cell)
    H = h0_f.shape[1]
    np.testing.assert_allclose(h[..., :H], forward(x, h0_f, Wx_f, Wh_f, b_f)[0])
    np.testing.assert_allclose(h[..., H:], forward(x[:, ::-1], h0_b, Wx_b, Wh_b, b_b)[0][:, ::-1])
    # The backward half at step 0 has read the whole sequence: changing the last input changes it.
    x2 = x.copy()
    x2[:, -1] += 1.0
    h2, _ = bidirectional_forward(x2, h0_f, h0_b, Wx_f, Wh_f, b_f, Wx_b, Wh_b, b_b, cell=cell)
    assert not np.allclose(h2[:, 0, H:], h[:, 0, H:]) and np.allclose(h2[:, 0, :H], h[:, 0, :H])


def test_bad_input_is_named():
    args = inputs("rnn")
    with pytest.raises(ValueError, match="cell"):
        bidirectional_forward(*args, cell="transformer")
    _, cache = bidirectional_forward(*args)
    with pytest.raises(ValueError, match=r"dh: expected shape \(2, 5, 8\)"):
        bidirectional_backward(np.zeros((2, 5, 4)), cache)
