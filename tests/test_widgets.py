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


def test_lesson_04_explorer_reacts_in_its_kernel():
    """Run lesson 04 as a student would, then move the explorer's slider in the same kernel."""
    from conftest import ROOT
    from instructor.submissions import notebook_path
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
    assert pg.a.max == 127 and pg.n_updates == 2
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
    assert "σ<sub>max</sub>" in ex.status.value and "may explode" in ex.status.value
