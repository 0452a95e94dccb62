"""rnnlib.widgets without a kernel (setting a control fires observe as a drag would), and in a kernel."""
import nbformat
import numpy as np
from nbclient import NotebookClient

from rnnlib.widgets import BPTTStepper, GradientFlowExplorer, SoftmaxOverflowExplorer


def test_explorer_shows_decay_then_growth_when_rho_moves():
    ex = GradientFlowExplorer(radius=0.8, activation="linear", T=30)
    logs = ex.line.get_ydata()
    assert logs[0] - logs[-1] < -2 and "vanishing" in ex.status.value
    n = ex.n_updates
    ex.controls["radius"].value = 1.2
    logs = ex.line.get_ydata()
    assert ex.n_updates == n + 1
    assert logs[0] - logs[-1] > 2 and "exploding" in ex.status.value
    assert "ρ = 1.20" in ex.axes[0].get_title()
    ex.controls["T"].value = 50
    assert len(ex.line.get_xdata()) == 50 and ex.heat.get_array().shape == (32, 50)


def test_clipping_caps_the_norm_in_the_readout():
    ex = GradientFlowExplorer(radius=1.3, activation="linear")
    ex.controls["clip"].value = 1.0
    ex.controls["clip_on"].value = True
    assert abs(ex.data["clipped_norm"] - 1.0) < 1e-9 and "clipped" in ex.status.value


def test_presets_update_once_and_reset_restores():
    ex = GradientFlowExplorer()
    n = ex.n_updates
    ex.set(**ex.PRESETS["exploding"])
    assert ex.n_updates == n + 1 and ex.controls["activation"].value == "linear"
    ex._on_button(type("B", (), {"description": "reset"})())
    assert {k: c.value for k, c in ex.controls.items()} == ex.DEFAULTS


def test_stepper_steps_backward_and_sums_match():
    st = BPTTStepper(T=4)
    assert "press play" in st.status.value
    st.slider.value = 2
    assert "t = 3" in st.status.value
    np.testing.assert_allclose(st.running["dWh"], st.steps[1]["dWh"])
    st.slider.value = 4
    np.testing.assert_allclose(st.running["dWh"], st.steps[-1]["dWh"])


def test_softmax_explorer_reports_nan_only_past_overflow():
    sx = SoftmaxOverflowExplorer(scale=100.0)
    assert not sx.failed and "agree" in sx.status.value
    sx.scale.value = 1000.0
    assert sx.failed and "nan" in sx.status.value and np.isfinite(sx.stable).all()


def test_widget_in_a_real_kernel(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from rnnlib.widgets import GradientFlowExplorer\n"
                                          "ex = GradientFlowExplorer(radius=0.8, activation='linear')\nex"),
                nbformat.v4.new_code_cell("ex.controls['radius'].value = 1.2\n"
                                          "assert ex.n_updates == 2, ex.n_updates\n"
                                          "print('OK', ex.line.get_ydata()[0] > 0)")]
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert "application/vnd.jupyter.widget-view+json" in nb.cells[0].outputs[0]["data"]
    assert "OK True" in nb.cells[1].outputs[0]["text"]
    # No Output widget: nbclient mirrors those and writes to the kernel during the cell (see rnnlib.widgets).
    models = {m["model_name"] for m in nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"].values()}
    assert "ImageModel" in models and "OutputModel" not in models


def test_lesson_04_explorer_reacts_in_its_kernel():
    """Run lesson 04 as a student would, then move the explorer's slider in the same kernel."""
    from conftest import ROOT
    from instructor.model.layout import notebook_path
    path = notebook_path(ROOT / "solutions", "04_vanishing_gradients")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "n = explorer.n_updates\n"
        "explorer.set(radius=1.2, activation='linear')\n"
        "assert explorer.n_updates == n + 1\n"
        "print('OK', 'exploding' in explorer.status.value)"))
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    shown = [o for c in nb.cells if "explorer = GradientFlowExplorer()" in c.source for o in c.outputs]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in shown)
    assert "OK True" in nb.cells[-1].outputs[0]["text"]


def test_adder_playground_shows_the_models_sum():
    from rnnlib.models import BinaryAdder
    from rnnlib.widgets import AdderPlayground

    class Perfect(BinaryAdder):          # a stand-in that always answers right
        def predict(self, x):
            a = (x[..., 0] * (1 << np.arange(x.shape[1]))).sum(-1).astype(int)
            b = (x[..., 1] * (1 << np.arange(x.shape[1]))).sum(-1).astype(int)
            return ((a + b)[:, None] >> np.arange(x.shape[1])) & 1

    pg = AdderPlayground(Perfect(), a=3, b=4)
    assert "says 7, correct" in pg.status.value and pg.hidden.shape == (8, 16)
    pg.a.value = 100
    assert "100 + 4: the network says 104, correct" in pg.status.value
    assert pg.n_updates == 2
    untrained = AdderPlayground(BinaryAdder(seed=1), a=100, b=27)
    assert "the network says" in untrained.status.value


def test_explorer_lstm_mode_shows_the_cell_state_highway():
    ex = GradientFlowExplorer(T=60)
    rnn_drop = ex.line.get_ydata()[-1] - ex.line.get_ydata()[0]
    ex.set(**ex.PRESETS["LSTM highway"])
    assert ex.controls["activation"].disabled and not ex.controls["forget_bias"].disabled
    assert ex.line_h.get_visible() and "forget gate" in ex.status.value and "∂c" in ex.axes[1].get_title()
    open_drop = ex.line.get_ydata()[-1] - ex.line.get_ydata()[0]
    ex.controls["forget_bias"].value = -2.0
    shut_drop = ex.line.get_ydata()[-1] - ex.line.get_ydata()[0]
    assert open_drop < 2 < rnn_drop < shut_drop          # decades lost from t = T back to t = 1
    ex.controls["cell"].value = "rnn"
    assert not ex.line_h.get_visible() and ex.controls["forget_bias"].disabled


def test_explorer_judges_a_linear_rnn_by_its_spectral_radius():
    # ρ = 0.9 but σ_max > 1: Pascanu et al. say a linear RNN must vanish, and so must the readout.
    ex = GradientFlowExplorer(radius=0.9, activation="linear")
    assert ex.data["sigma_max"] > 1 and "ρ(W<sub>h</sub>) = 0.90 &lt; 1: must vanish" in ex.status.value
    ex.controls["activation"].value = "tanh"
    assert "σ<sub>max</sub>(W<sub>h</sub>) = 1.51 ≥ 1/γ = 1: vanishing is no longer guaranteed" in ex.status.value


def cut_off_axes(widget):
    """Titles of the widget's axes whose labels, tick labels or title reach outside the figure."""
    fig = widget.fig
    fig.canvas.draw()
    renderer, page = fig.canvas.get_renderer(), fig.bbox
    return [ax.get_ylabel() or ax.get_title() for ax in fig.axes
            if not (ax.get_tightbbox(renderer).x0 >= page.x0 - 0.5 and ax.get_tightbbox(renderer).x1 <= page.x1 + 0.5
                    and ax.get_tightbbox(renderer).y0 >= page.y0 - 0.5 and ax.get_tightbbox(renderer).y1 <= page.y1 + 0.5)]


def test_no_label_is_cut_off():
    from rnnlib.models import BinaryAdder
    from rnnlib.widgets import AdderPlayground
    ex = GradientFlowExplorer()
    for preset in ex.PRESETS:            # the LSTM's y-label is the widest
        ex.set(**ex.PRESETS[preset])
        assert not cut_off_axes(ex), preset
    for widget in (AdderPlayground(BinaryAdder(seed=1)), BPTTStepper(), SoftmaxOverflowExplorer(scale=1000.0)):
        assert not cut_off_axes(widget), type(widget).__name__
    assert "predicted" in [t.get_text() for t in AdderPlayground(BinaryAdder(seed=1)).axes[0].get_yticklabels()]


def test_presets_status_agrees_with_what_it_shows():
    ex = GradientFlowExplorer()
    ex.set(**ex.PRESETS["vanishing"])
    assert "(vanishing)" in ex.status.value and "must vanish" in ex.status.value and "explode" not in ex.status.value
    for preset in ("vanishing", "exploding", "edge of chaos"):
        ex.set(**ex.PRESETS[preset])
        # the explorer itself says what the slider's ρ is and why σ_max can differ from it
        assert "spectral radius" in ex.status.value and "largest singular value" in ex.status.value
        assert f"{ex.data['sigma_max']:.2f} ≥ ρ = {ex.data['rho']:.2f}" in ex.status.value


def test_the_sigmoid_task_can_be_done_with_the_slider():
    # Lesson 04 asks for the smallest ρ at which a sigmoid RNN is no longer sure to vanish (σ_max = 1/γ = 4).
    ex = GradientFlowExplorer(activation="sigmoid")
    slider = ex.controls["radius"]

    def no_longer_sure_to_vanish(radius):
        ex.set(radius=float(radius))
        return "must vanish" not in ex.status.value
    found = [r for r in np.arange(slider.min, slider.max + 1e-9, slider.step) if no_longer_sure_to_vanish(r)]
    assert found and slider.min < found[0] < slider.max
    ex.set(radius=float(found[0]))
    assert ex.data["sigma_max"] >= 4 and "no longer guaranteed" in ex.status.value
    ex.set(radius=float(found[0]) - slider.step)
    assert ex.data["sigma_max"] < 4 and "must vanish" in ex.status.value


def test_softmax_explorer_says_which_bars_are_nan_and_which_zero():
    sx = SoftmaxOverflowExplorer(scale=1000.0)
    assert np.isnan(sx.naive[0]) and (sx.naive[1:] == 0).all()
    assert "nan for the 1 class" in sx.status.value and "0 for the other 4" in sx.status.value


def test_adder_playground_refuses_numbers_that_do_not_fit_and_says_why():
    from rnnlib.models import BinaryAdder
    from rnnlib.widgets import AdderPlayground
    pg = AdderPlayground(BinaryAdder(seed=1), a=3, b=4)
    n = pg.n_updates
    pg.a.value = 200
    assert pg.a.value == 200 and pg.n_updates == n        # not clamped silently, and no stale answer drawn
    assert "a = 200" in pg.status.value and "from 0 to 127" in pg.status.value
    pg.a.value = 127
    assert "127 + 4: the network says" in pg.status.value


def test_sampling_playground_says_which_prompt_characters_it_left_out():
    from rnnlib.data import Vocab
    from rnnlib.widgets import SamplingPlayground
    vocab = Vocab("abc \n")

    def sample(model, seed_ids, n, temperature=1.0, rng=None):
        return [int(seed_ids[-1])] * n      # repeats the last prompt character
    pg = SamplingPlayground(None, vocab, sample, prompt="ab", length=20)
    assert pg.note == "" and pg.sample.startswith("ab")
    pg.prompt.value = "aé€b"
    assert pg.sample.startswith("ab") and "'é'" in pg.note and "'€'" in pg.note and "left out" in pg.note
    assert "left out" in pg.text.value
    pg.prompt.value = "é"
    assert "no character the model knows" in pg.note and pg.sample.startswith("\n")


def test_softmax_explorer_says_why_while_lesson_02_is_open(monkeypatch):
    """In a student edition with lesson 02 open, the explorer's stable softmax is a stub without
    the student's: the widget says so instead of stopping the notebook (rnnlib/recorded.py)."""
    from rnnlib import widgets
    from rnnlib.recorded import NotRecorded

    def held_back(scale):
        raise NotRecorded("rnnlib.gradflow.softmax_overflow is an answer of lesson 02_softmax_stability, which is open")
    monkeypatch.setattr(widgets, "softmax_overflow", held_back)
    explorer = widgets.SoftmaxOverflowExplorer(scale=100.0)
    assert "which is open" in explorer.status.value


def trained_reverser(iters=500):
    """A small attention model that has learned to reverse short strings (a few seconds)."""
    from rnnlib import Adam, Seq2Seq, clip_grad_norm, reverse_batch
    model = Seq2Seq(10, 12, 24, seed=0)
    opt, rng = Adam(model.params, lr=0.02), np.random.default_rng(0)
    for _ in range(iters):
        _, grads = model.loss_and_grads(*reverse_batch(32, 1, 4, rng))
        clip_grad_norm(grads, 5.0)
        opt.step(grads)
    return model


def test_attention_heatmap_shows_the_anti_diagonal_of_a_reversal():
    import pytest
    from rnnlib import Seq2Seq
    from rnnlib.widgets import AttentionHeatmap
    model = trained_reverser()
    sources = [np.array([3, 1, 4, 7]), np.array([2, 7]), np.array([5, 9, 2])]
    hm = AttentionHeatmap(model, sources, bos=10, eos=11, max_len=6)
    assert hm.weights.shape == (5, 4) and hm.image.get_array().shape == (5, 4)
    # output steps 0..3 write source digits 3..0: their weights peak on the anti-diagonal
    assert list(hm.weights[:4].argmax(axis=1)) == [3, 2, 1, 0], hm.weights.round(2)
    assert "3 1 4 7  ->  7 4 1 3 eos" in hm.axes[0].get_title() and "source step 3, 2, 1, 0" in hm.status.value
    n = hm.n_updates
    hm.example.value = 1
    assert hm.n_updates == n + 1 and hm.weights.shape == (3, 2) and hm.image.get_array().shape == (3, 2)
    assert not cut_off_axes(hm)
    with pytest.raises(ValueError, match="model: expected a Seq2Seq with attention=True"):
        AttentionHeatmap(Seq2Seq(10, 12, 4, attention=False), sources, 10, 11, 6)
