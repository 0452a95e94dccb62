"""Interactive widgets (ipywidgets + matplotlib) that make gradient flow visible.

Each widget is a thin layer over a pure function of rnnlib.gradflow: controls change values, the
function recomputes, and one persistent figure is rendered to a PNG that an ipywidgets Image shows
(no ipympl needed, so it works in JupyterLab, Notebook 7, Voilà and under nbclient alike).

Why an Image and not an Output widget that the figure is displayed into: a headless client
(nbclient, and so nbgrader) mirrors an Output widget itself and answers every output captured in
it with a comm message to the kernel, on the shell channel, while the cell is still running. Under
CPU load such runs stalled at a widget cell: the kernel idle, the client still waiting for the
cell's reply, until the cell timed out. An Image's PNG only travels from the kernel to the
frontend, so the client sends the kernel nothing during the cell (benchmarks/headless_load.py
runs every lesson under load and reports the worst cell). In a notebook, build the widget
always and display it only outside grading:

    explorer = GradientFlowExplorer()
    if os.environ.get("NBGRADER_EXECUTION") not in ("autograde", "validate"):
        display(explorer)
"""
import html
import io

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from .gradflow import ACTIVATIONS, bptt_trace, gradient_flow, lstm_gradient_flow, softmax_overflow
from .recorded import NotRecorded


class _FigureWidget:
    """One figure, redrawn into an Output on every update; a status line; a CSS class for tests."""

    css_class = "rnnlib-widget"

    def _setup_figure(self, ncols, figsize, width_ratios=None, left=0.07, wspace=0.3):
        # A fixed layout and artists that are updated, not re-created, keep each redraw fast. The
        # margins are fixed too, so they must leave room for the longest tick and axis labels
        # (tests/test_widgets.py checks that nothing is cut off).
        with plt.ioff():
            self.fig, self.axes = plt.subplots(1, ncols, figsize=figsize, dpi=80, width_ratios=width_ratios,
                                               gridspec_kw=dict(left=left, right=0.98, bottom=0.17, top=0.87,
                                                                wspace=wspace))
        plt.close(self.fig)        # we display it ourselves; keeps the inline backend from a second copy
        # Our own Agg canvas: without one, every savefig builds a temporary canvas and renderer
        # (about half of each update's time).
        FigureCanvasAgg(self.fig)
        self.plot, self.status, self.n_updates = W.Image(format="png"), W.HTML(), 0

    def _finish(self, *rows):
        self.widget = W.VBox([*rows, self.status, self.plot])
        self.widget.add_class("rnnlib-widget")
        self.widget.add_class(self.css_class)
        self.update()

    def _redraw(self):
        self.n_updates += 1
        self.fig.canvas.draw()
        rgba = self.fig.canvas.buffer_rgba()
        png = io.BytesIO()
        Image.frombuffer("RGBA", rgba.shape[1::-1], rgba, "raw", "RGBA", 0, 1).save(
            png, format="png", compress_level=1)   # fast to encode, still small
        self.plot.value = png.getvalue()

    def _ipython_display_(self):
        display(self.widget)


class GradientFlowExplorer(_FigureWidget):
    """log ||∂L/∂h_t|| over t and |∂L/∂h_t| per unit, for a random RNN you configure (lesson 04).

    With cell "lstm" (lesson 07) it shows ||∂L/∂c_t|| and ||∂L/∂h_t|| of an LSTM on the same inputs,
    and the forget-gate bias decides how much of the gradient the cell state carries back.
    """

    css_class = "gradient-flow-explorer"
    DEFAULTS = {"cell": "rnn", "radius": 0.9, "T": 40, "activation": "tanh", "H": 32, "seed": 0,
                "clip_on": False, "clip": 10.0, "forget_bias": 1.0}
    PRESETS = {"vanishing": {"cell": "rnn", "radius": 0.5, "activation": "tanh", "clip_on": False},
               "exploding": {"cell": "rnn", "radius": 1.2, "activation": "linear", "clip_on": False},
               "edge of chaos": {"cell": "rnn", "radius": 2.0, "activation": "tanh", "clip_on": False},
               "LSTM highway": {"cell": "lstm", "radius": 0.9, "forget_bias": 3.0}}

    def __init__(self, **values):
        v = {**self.DEFAULTS, **values}
        self.controls = {
            "cell": W.ToggleButtons(options=["rnn", "lstm"], value=v["cell"], description="cell",
                                    style={"button_width": "60px"}),
            "radius": W.FloatSlider(value=v["radius"], min=0.5, max=3.0, step=0.05, description="spectral ρ",
                                    continuous_update=False, readout_format=".2f"),
            "T": W.IntSlider(value=v["T"], min=5, max=150, description="length T", continuous_update=False),
            "activation": W.Dropdown(options=list(ACTIVATIONS), value=v["activation"], description="activation"),
            "H": W.IntSlider(value=v["H"], min=4, max=128, step=4, description="hidden H", continuous_update=False),
            "seed": W.IntSlider(value=v["seed"], min=0, max=20, description="seed", continuous_update=False),
            "clip_on": W.Checkbox(value=v["clip_on"], description="clip the gradient at"),
            "clip": W.FloatLogSlider(value=v["clip"], base=10, min=-1, max=3, step=0.1, description="max norm",
                                     continuous_update=False),
            "forget_bias": W.FloatSlider(value=v["forget_bias"], min=-3.0, max=5.0, step=0.25,
                                         description="forget bias", continuous_update=False),
        }
        self._holding = False
        for c in self.controls.values():
            c.observe(self.update, names="value")
        buttons = [W.Button(description=name) for name in self.PRESETS] + [W.Button(description="reset")]
        for button in buttons:
            button.on_click(self._on_button)
        self._setup_figure(2, (10, 3.3), width_ratios=[1, 1.2], left=0.09, wspace=0.35)
        c = self.controls
        self._finish(W.HBox([c["radius"], c["activation"], c["T"]]), W.HBox([c["H"], c["seed"]]),
                     W.HBox([c["cell"], c["forget_bias"]]), W.HBox([c["clip_on"], c["clip"]]),
                     W.HBox([W.Label("presets:"), *buttons]))

    def _on_button(self, button):
        self.set(**(self.DEFAULTS if button.description == "reset" else self.PRESETS[button.description]))

    def set(self, **values):
        """Set several controls at once with a single redraw (what the preset buttons do)."""
        self._holding = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._holding = False
        self.update()

    def update(self, change=None):
        if self._holding:
            return
        v = {k: c.value for k, c in self.controls.items()}
        lstm = v["cell"] == "lstm"
        for name in ("activation", "clip_on", "clip"):         # what an LSTM here does not use
            self.controls[name].disabled = lstm
        self.controls["forget_bias"].disabled = not lstm
        if lstm:
            self.data = lstm_gradient_flow(v["radius"], v["T"], v["H"], v["seed"], v["forget_bias"])
            norms, second = self.data["norms_c"], self.data["norms_h"]
        else:
            self.data = gradient_flow(v["radius"], v["T"], v["activation"], v["H"], v["seed"],
                                      clip=v["clip"] if v["clip_on"] else None)
            norms, second = self.data["norms"], np.full(v["T"], np.nan)
        T, ax, hm = v["T"], *self.axes
        self.log_norms = np.log10(np.maximum(norms, 1e-300))
        self.image = np.log10(self.data["per_unit"].T + 1e-300)
        if not hasattr(self, "line"):
            (self.line,) = ax.plot([], [], "o-", ms=3, label="cell state c_t")
            (self.line_h,) = ax.plot([], [], "s--", ms=2, color="#999", label="hidden state h_t")
            ax.set_xlabel("time step t")
            self.heat = hm.imshow(self.image, aspect="auto", cmap="magma")
            hm.set_xlabel("time step t"), hm.set_ylabel("hidden unit")
        self.line.set_data(np.arange(1, T + 1), self.log_norms)
        self.line_h.set_data(np.arange(1, T + 1), np.log10(np.maximum(second, 1e-300)))
        self.line_h.set_visible(lstm)
        ax.set_ylabel(r"$\log_{10} \|\partial L / \partial c_t\|$" if lstm else r"$\log_{10} \|\partial L / \partial h_t\|$")
        legend = ax.get_legend()
        if lstm and legend is None:
            ax.legend(loc="lower right", fontsize=8)
        elif not lstm and legend is not None:
            legend.remove()
        ax.relim(), ax.autoscale_view()
        cell = f"LSTM, forget bias {v['forget_bias']:g}" if lstm else v["activation"]
        ax.set_title(f"ρ = {v['radius']:.2f}, {cell}, T = {T}")
        top = self.image.max()
        self.heat.set_data(self.image)
        self.heat.set_extent((0.5, T + 0.5, v["H"] - 0.5, -0.5))
        self.heat.set_clim(top - 8, top)
        what = "c" if lstm else "h"
        hm.set_title(f"log10 |∂L/∂{what}_t| per unit (dark: < 1e{top - 8:.0f})")
        ratio = norms[0] / norms[-1]
        verdict = "vanishing" if ratio < 1e-2 else "exploding" if ratio > 1e2 else "stable"
        self.status.value = f"<code>‖∂L/∂{what}_1‖ / ‖∂L/∂{what}_T‖ = {ratio:.3e}</code> ({verdict}) · " + (
            self._lstm_note() if lstm else self._rnn_note(v))
        self._redraw()

    def _lstm_note(self):
        f = self.data["forget"].mean()
        return (f"mean forget gate f = {f:.2f}: back along the cell state each step multiplies by f, "
                f"so over the whole sequence about {f:.2f}<sup>T</sup>")

    def _rnn_note(self, v):
        """What Pascanu et al. say about these settings, and how ρ and σ_max differ."""
        d = self.data
        clip = (f" · clipped: total norm {d['total_norm']:.3g} → {d['clipped_norm']:.3g}" if v["clip_on"] else "")
        sigma = f"σ<sub>max</sub>(W<sub>h</sub>) = {d['sigma_max']:.2f}"
        if v["activation"] == "linear":      # a linear RNN is judged by its spectral radius exactly
            theory = (f"linear: ρ(W<sub>h</sub>) = {d['rho']:.2f} " +
                      ("&lt; 1: must vanish" if d["must_vanish"] else "≥ 1: can explode"))
        elif d["must_vanish"]:
            theory = f"{sigma} &lt; 1/γ = {d['threshold']:g}: must vanish"
        else:                                 # the bound no longer forces vanishing; it does not force growth
            theory = (f"{sigma} ≥ 1/γ = {d['threshold']:g}: vanishing is no longer guaranteed, "
                      f"exploding is possible but not certain (saturated units shrink the gradient)")
        why = (f"<br><small>The slider sets ρ, the spectral radius (largest |eigenvalue|) of W<sub>h</sub>: "
               f"the long-run growth per step of a linear RNN. One step can stretch a gradient by up to σ<sub>max</sub>, "
               f"the largest singular value, here {d['sigma_max']:.2f} ≥ ρ = {d['rho']:.2f}; with tanh or sigmoid "
               f"each step also multiplies by f′ ≤ γ, so only σ<sub>max</sub>·γ &lt; 1 guarantees vanishing.</small>")
        return theory + clip + why


class BPTTStepper(_FigureWidget):
    """Step backward through an unrolled RNN: edges drawn by the size of the gradient they carry."""

    css_class = "bptt-stepper"

    def __init__(self, T=5, seed=0):
        self.steps, _ = bptt_trace(T=T, seed=seed)
        self.T = T
        self.play = W.Play(value=0, min=0, max=T, interval=900, description="play")
        self.slider = W.IntSlider(value=0, min=0, max=T, description="steps back", continuous_update=True)
        W.jslink((self.play, "value"), (self.slider, "value"))
        self.slider.observe(self.update, names="value")
        step, reset = W.Button(description="step ◀"), W.Button(description="reset")
        step.on_click(lambda _: setattr(self.slider, "value", min(self.slider.value + 1, T)))
        reset.on_click(lambda _: setattr(self.slider, "value", 0))
        self._setup_figure(3, (11, 3.0), width_ratios=[2.4, 1, 1])
        self.edge_scale = max(max(s["out_edge"], s["rec_edge"], s["in_edge"]) for s in self.steps)
        self._finish(W.HBox([self.play, self.slider, step, reset]))

    def update(self, change=None):
        k = self.slider.value                     # number of backward steps done
        done = {s["t"]: s for s in self.steps[:k]}
        ax, axh, axx = self.axes
        if not hasattr(self, "edges"):
            self._draw_graph(ax, axh, axx)
        cmap = plt.get_cmap("plasma")
        for t in range(self.T):
            s = done.get(t)
            self.nodes[t].get_bbox_patch().set_facecolor("#fde" if s else "#eef3fb")
            for key, arrow in zip(("out_edge", "in_edge", "rec_edge"), self.edges[t]):
                value = s[key] if s else None
                arrow.arrow_patch.set_linewidth(0.5 + 6 * value / self.edge_scale if s else 0.8)
                arrow.arrow_patch.set_color(cmap(0.15 + 0.7 * value / self.edge_scale) if s else "#ccc")
        ax.set_title(f"BPTT, {k} of {self.T} steps back: edge width = gradient size")
        last = self.steps[k - 1] if k else None
        self.running = {key: (last[key] if last else 0 * self.steps[0][key]) for key in ("dWh", "dWx")}
        for key, image in self.images.items():
            image.set_data(self.running[key])
        self.status.value = ("<code>press play or step ◀ to backpropagate one step</code>" if not last else
                             f"<code>t = {last['t'] + 1}: ‖dh_t‖ = {last['dh_norm']:.3f} (output {last['out_edge']:.3f}"
                             f" + from step t+1) · ‖running dWh‖ = {np.linalg.norm(last['dWh']):.3f}</code>")
        self._redraw()

    def _draw_graph(self, ax, axh, axx):
        """The unrolled graph and the two running-sum panels, drawn once; update() restyles them."""
        self.nodes, self.edges = [], []
        for t in range(self.T):
            self.nodes.append(ax.text(t, 1, f"h{t + 1}", ha="center", va="center", fontsize=12,
                                      bbox=dict(boxstyle="round", fc="#eef3fb", ec="#3a6ea5")))
            ax.text(t, 2, f"L{t + 1}", ha="center", va="center")   # plain text: mathtext is slow to redraw
            ax.text(t, 0, f"x{t + 1}", ha="center", va="center")
            ends = [((t, 1.8), (t, 1.2)), ((t, 0.8), (t, 0.2)),
                    ((t - 0.2, 1), (t - 0.8, 1)) if t else ((-0.6, 1), (-0.95, 1))]
            self.edges.append([ax.annotate("", q, p, arrowprops=dict(arrowstyle="->", lw=0.8, color="#ccc"))
                               for p, q in ends])
        ax.text(-1, 1, "h0", ha="center", va="center")
        ax.set_xlim(-1.3, self.T - 0.5), ax.set_ylim(-0.4, 2.4), ax.axis("off")
        self.images = {}
        for a, key in ((axh, "dWh"), (axx, "dWx")):
            top = np.abs(self.steps[-1][key]).max()
            self.images[key] = a.imshow(np.zeros_like(self.steps[0][key]), cmap="RdBu_r", vmin=-top, vmax=top)
            a.set_title(f"running sum {key}"), a.set_xticks([]), a.set_yticks([])


class SoftmaxOverflowExplorer(_FigureWidget):
    """Scale the logits and watch the naive softmax turn into nan where the stable one does not."""

    css_class = "softmax-overflow-explorer"

    def __init__(self, scale=1.0):
        self.scale = W.FloatLogSlider(value=scale, base=10, min=0, max=4, step=0.1, description="logit scale",
                                      continuous_update=False, readout_format=".3g")
        self.scale.observe(self.update, names="value")
        self._setup_figure(2, (9, 3))
        self._finish(self.scale)

    def update(self, change=None):
        try:
            self.naive, self.stable, self.failed = softmax_overflow(self.scale.value)
        except NotRecorded as e:       # a student edition while lesson 02 is open (rnnlib/recorded.py)
            self.status.value = f"<span style='color:#c0392b'>{html.escape(str(e))}</span>"
            return
        if not hasattr(self, "bars"):
            self.bars, self.nan_labels = [], []
            for ax, title in zip(self.axes, ("naive: exp(z) / Σ exp(z)", "stable: subtract max first")):
                self.bars.append(ax.bar(np.arange(len(self.naive)), np.zeros(len(self.naive))))
                self.nan_labels.append([ax.text(i, 0.5, "nan", color="#c0392b", ha="center", fontweight="bold")
                                        for i in range(len(self.naive))])
                ax.set_ylim(0, 1.05), ax.set_title(title), ax.set_xlabel("class")
        for bars, labels, p in zip(self.bars, self.nan_labels, (self.naive, self.stable)):
            for bar, label, value in zip(bars, labels, p):
                ok = bool(np.isfinite(value))
                bar.set_height(value if ok else 0)
                bar.set_color("#3a6ea5" if ok else "#c0392b")
                label.set_visible(not ok)
        zmax = self.scale.value
        nan, zero = int(np.isnan(self.naive).sum()), int((self.naive == 0).sum())
        self.status.value = (f"<span style='color:#c0392b'>largest logit {zmax:.4g} &gt; 709.78: exp overflows to inf, "
                             f"so does the sum; inf / inf = nan for the {nan} class{'es' if nan > 1 else ''} whose exp "
                             f"is inf, finite / inf = 0 for the other {zero}</span>" if self.failed else
                             f"<span style='color:#2a7'>largest logit {zmax:.4g}: both agree</span>")
        self._redraw()


class AdderPlayground(_FigureWidget):
    """Type two numbers, see their bits, the trained adder's hidden states and its answer (lesson 05).

    model: an object with hidden_states(x) -> (N, T, H) and predict(x) -> (N, T) bits, such as
    rnnlib.models.BinaryAdder; width: the number of bits fed (least-significant first).
    """

    css_class = "adder-playground"

    def __init__(self, model, width=8, a=45, b=27):
        from .data import binary_addition_batch
        self._batch, self.model, self.width = binary_addition_batch, model, width
        # a + b must fit in the `width` bits fed, so each number may have width - 1 bits. A number
        # out of range is not clamped silently (as a BoundedIntText would): the status says why.
        self.top = 2 ** (width - 1) - 1
        self.a = W.IntText(value=a, description="a")
        self.b = W.IntText(value=b, description="b")
        for box in (self.a, self.b):
            box.observe(self.update, names="value")
        self._setup_figure(2, (10, 3.2), width_ratios=[1, 1.3], left=0.1)
        self._finish(W.HBox([self.a, self.b, W.Label(f"0 to {self.top}: the sum must fit in {width} bits")]))

    def update(self, change=None):
        outside = [f"{name} = {box.value}" for name, box in (("a", self.a), ("b", self.b))
                   if not 0 <= box.value <= self.top]
        if outside:
            self.status.value = (f"<code>{' and '.join(outside)}: the adder reads {self.width} bits, so a and b must "
                                 f"be from 0 to {self.top} (then a + b &lt; 2<sup>{self.width}</sup>)</code>")
            return
        x, y = self._batch(np.array([self.a.value]), np.array([self.b.value]), self.width)
        self.hidden = self.model.hidden_states(x)[0]                     # (T, H)
        self.bits = self.model.predict(x)[0]                             # (T,)
        rows = np.vstack([x[0, :, 0], x[0, :, 1], y[0, :, 0], self.bits])
        ax, hm = self.axes
        if not hasattr(self, "grid"):
            self.grid = ax.imshow(rows, cmap="Greys", vmin=0, vmax=1)
            ax.set_yticks(range(4), ["a", "b", "a + b", "predicted"])
            ax.set_xlabel("bit (least significant first)")
            self.heat = hm.imshow(self.hidden.T, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
            hm.set_xlabel("time step = bit position"), hm.set_ylabel("hidden unit")
            hm.set_title("hidden state while adding")
        self.grid.set_data(rows)
        self.heat.set_data(self.hidden.T)
        predicted = int((self.bits << np.arange(self.width)).sum())
        truth = self.a.value + self.b.value
        ax.set_title(f"{self.a.value} + {self.b.value} = {predicted}")
        self.status.value = (f"<code>{self.a.value} + {self.b.value}: the network says {predicted}, "
                             f"{'correct' if predicted == truth else f'wrong (it is {truth})'}</code>")
        self._redraw()


def _escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SamplingPlayground:
    """Sample text from a character model: a prompt box, a temperature slider, a length (lesson 06).

    sample_fn(model, seed_ids, n, temperature, rng) -> list of ids (the lesson's exercise, or a
    wrapper of model.sample). The same seed gives the same text, so temperatures can be compared.
    """

    def __init__(self, model, vocab, sample_fn, prompt="def ", temperature=0.8, length=200, seed=0):
        self.model, self.vocab, self.sample_fn, self.seed = model, vocab, sample_fn, seed
        self.prompt = W.Text(value=prompt, description="prompt")
        self.temperature = W.FloatLogSlider(value=temperature, base=10, min=-1.5, max=0.7, step=0.05,
                                            description="temperature", continuous_update=False, readout_format=".2f")
        self.length = W.IntSlider(value=length, min=20, max=600, step=20, description="length",
                                  continuous_update=False)
        self.text, self.n_updates = W.HTML(), 0
        for control in (self.prompt, self.temperature, self.length):
            control.observe(self.update, names="value")
        self.widget = W.VBox([W.HBox([self.prompt, self.temperature, self.length]), self.text])
        self.widget.add_class("rnnlib-widget")
        self.widget.add_class("sampling-playground")
        self.update()

    def update(self, change=None):
        prompt = self.prompt.value
        known = "".join(ch for ch in prompt if ch in self.vocab.stoi)
        unknown = sorted(set(prompt) - set(known))
        note = ""
        if unknown:      # the model has no id for them: say so instead of changing the prompt silently
            note = f"not in the model's vocabulary, left out of the prompt: {', '.join(map(repr, unknown))}. "
        if not known:
            known = self.vocab.itos[0]
            note += f"The prompt has no character the model knows, so sampling starts from {known!r}."
        ids = self.sample_fn(self.model, list(self.vocab.encode(known)), self.length.value,
                             temperature=self.temperature.value, rng=np.random.default_rng(self.seed))
        self.sample = known + self.vocab.decode(ids)
        self.note = note
        note_html = f"<div style='color:#c0392b'>{_escape(note)}</div>" if note else ""
        self.text.value = (f"{note_html}<pre style='white-space: pre-wrap'><b>{_escape(known)}</b>"
                           f"{_escape(self.sample[len(known):])}</pre>")
        self.n_updates += 1

    def _ipython_display_(self):
        display(self.widget)


class AttentionHeatmap(_FigureWidget):
    """Pick a source, see where the decoder looks at every output step (lesson 08).

    model: a trained rnnlib.seq2seq.Seq2Seq with attention; sources: a list of 1-D int arrays (the
    examples to pick from); bos, eos, max_len: for greedy decoding. The heatmap's row t is the
    attention weights of output step t over the source's steps: the alignment.
    """

    css_class = "attention-heatmap"

    def __init__(self, model, sources, bos, eos, max_len, index=0):
        from .seq2seq import Seq2Seq
        if not isinstance(model, Seq2Seq) or not model.attention:
            raise ValueError("model: expected a Seq2Seq with attention=True")
        self.model, self.sources, self.bos, self.eos, self.max_len = model, list(sources), bos, eos, max_len
        self.example = W.IntSlider(value=index, min=0, max=len(self.sources) - 1, description="example",
                                   continuous_update=False)
        self.example.observe(self.update, names="value")
        self._setup_figure(2, (6.4, 4.2), width_ratios=[1, 0.04], left=0.16, wspace=0.2)
        self._finish(self.example)

    def update(self, change=None):
        src = np.asarray(self.sources[self.example.value])
        tokens, _ = self.model.translate(src, self.bos, self.eos, self.max_len)
        tgt_in = np.array([[self.bos, *tokens[:-1]]])
        self.weights = self.model.alignment(src[None, :], None, tgt_in)[0]        # (T, S)
        ax, bar = self.axes
        if not hasattr(self, "image"):
            self.image = ax.imshow(self.weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
            ax.set_xlabel("source step (what the encoder read)")
            ax.set_ylabel("output step")
            self.fig.colorbar(self.image, cax=bar)             # the weights, 0 to 1, ticks on the left
            bar.yaxis.set_ticks_position("left")
        self.image.set_data(self.weights)
        self.image.set_extent((-0.5, self.weights.shape[1] - 0.5, self.weights.shape[0] - 0.5, -0.5))
        words = [("eos" if t == self.eos else str(t)) for t in tokens]
        ax.set_xticks(range(len(src)), [str(t) for t in src])
        ax.set_yticks(range(len(tokens)), words)
        ax.set_title(f"attention weights: {' '.join(map(str, src))}  ->  {' '.join(words)}")
        peak = self.weights.argmax(axis=1)
        self.status.value = (f"<code>{len(tokens)} output steps over {len(src)} source steps; each output step's "
                             f"largest weight sits at source step {', '.join(map(str, peak))}</code>")
        self._redraw()
