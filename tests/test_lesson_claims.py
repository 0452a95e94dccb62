"""What a lesson's text claims about its own figures holds for what its code computes.

Each test runs a solution notebook as a student would, then one more cell that reads the figure's
data from the kernel and checks it independently (two of lesson 07's share one run, each check
right after its figure's cell)."""
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from conftest import ROOT
from instructor.model.layout import notebook_path

pytestmark = pytest.mark.e2e        # each runs a lesson's solution notebook in a kernel


def run_with_checks(assignment, checks):
    """Execute the lesson's solution with each check (source) of checks {cell id: check} right after
    the cell of that id, up to the last of them; returns {cell id: the text its check printed}."""
    path = notebook_path(ROOT / "solutions", assignment)
    nb = nbformat.read(path, as_version=4)
    cells, printed = [], {}
    for cell in nb.cells:
        cells.append(cell)
        if cell.get("id") in checks:
            printed[cell.id] = nbformat.v4.new_code_cell(checks[cell.id])
            cells.append(printed[cell.id])
            if len(printed) == len(checks):
                break
    nb.cells = cells
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return {after: "".join(o.get("text", "") for o in cell.outputs) for after, cell in printed.items()}


def run_with(assignment, check, after):
    """Execute the lesson's solution up to the cell whose id is after, then check (source); returns
    the text check printed."""
    return run_with_checks(assignment, {after: check})[after]


def markdown(assignment):
    nb = nbformat.read(notebook_path(ROOT / "solutions", assignment), as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_01_says_about_half_saturate_as_its_histogram_shows():
    # After the initialisation cell's loop, `saturated` and `slope` hold the 5/sqrt(n) run's figures.
    out = run_with("01_forward_pass", "print(saturated, slope)", after="578cfc55")
    saturated, slope = map(float, out.split())
    text = markdown("01_forward_pass")
    assert "about **half** of all activations **saturate**" in text and "most units" not in text
    assert 0.4 < saturated < 0.6 and "to about 0.2" in text and 0.15 < slope < 0.25


def test_03_gradient_versus_distance_is_plotted_at_the_right_step():
    # After the plot's loop (scale 2.0), grads[k] must be ||dL_T/dh_k|| for h_k = h[:, k]: what a
    # backward through steps k+1..T-1 alone sends to its initial state h_k (rnnlib's rnn_backward as referee).
    out = run_with("03_bptt", """
from rnnlib.rnn import rnn_backward as reference_backward
T = len(grads)
assert abs(grads[-1] - np.linalg.norm(dh[:, -1])) < 1e-12, (grads[-1], "the last step receives dh[:, T-1] only")
for k in (0, T // 2, T - 2):
    expected = np.linalg.norm(reference_backward(dh[:, k + 1:], cache[k + 1:])[1])
    assert abs(grads[k] - expected) <= 1e-9 * expected, (k, grads[k], expected)
print("OK")
""", after="a12daaef")
    assert "OK" in out


def cell_source(assignment, cell_id):
    nb = nbformat.read(notebook_path(ROOT / "solutions", assignment), as_version=4)
    return next(c.source for c in nb.cells if c.get("id") == cell_id)


DUMP_07 = """
import json
print(json.dumps({"memory": [[cell, bias, k, acc] for (cell, bias), results in runs.items() for k, acc in results.items()],
                  "parity": [[layers, H, acc] for (layers, H), acc in parity_runs.items()]}))
"""
ROUND_OFF_07 = """
import json
errors = {h: float(compare('dWx', grads['Wx'], numerical_gradient(loss_of, model.params['Wx'], h=h)).rel_error)
          for h in (1e-6, 1e-5, 1e-4, 1e-3)}
curves = {}
for name, m in taggers.items():
    right = m.predict(x) == y
    curves[name] = [float(right[mask].mean()), right[:, :-2].mean(axis=0).tolist()]
print(json.dumps({"errors": list(errors.values()), "loss": float(loss), "N": ids.shape[0], "T": ids.shape[1] - 1,
                  "curves": curves}))
"""


@pytest.fixture(scope="module")
def lesson_07():
    """What the checks of two of lesson 07's claims printed, each after its cell, in one run of the
    lesson (a long one) up to the later cell: the round-off check changes nothing the depth task reads."""
    return run_with_checks("07_lstm", {"deep_roundoff": ROUND_OFF_07, "depth_task": DUMP_07})


@pytest.mark.xdist_group("lesson_07")         # one worker: one run of the lesson for both claims
def test_07_memory_task_and_depth_task_conclusions_hold(lesson_07):
    import json
    text = markdown("07_lstm")
    out = json.loads(lesson_07["depth_task"])
    memory = {(cell, bias, k): acc for cell, bias, k, acc in out["memory"]}
    success = lambda accs: [a >= 0.95 for a in accs]
    # "Short memories are easy for all three"; LSTM and GRU with bias 3 "succeed at every distance, on every seed".
    for (cell, bias, k), accs in memory.items():
        if bias == 3.0 or k < 50:
            assert all(success(accs)), (cell, bias, k, accs)
    # "At k = 50 the RNN becomes a lottery: some seeds succeed ..., others do not."
    assert "some seeds succeed" in text and 0 < sum(success(memory["rnn", 1.0, 50])) < len(memory["rnn", 1.0, 50])
    # The forget-bias-1 LSTM at k = 50 scores "about 0.5 on each seed": chance.
    assert [k for cell, bias, k in memory if bias == 1.0 and cell == "lstm"] == [50]
    assert "about 0.5 on" in text and all(abs(a - 0.5) < 0.05 for a in memory["lstm", 1.0, 50])
    # Parity: every two-layer run above 95%; one layer, of the same width or size, below it on some seed,
    # the narrow one near chance on the first seed.
    parity = {(layers, H): acc for layers, H, acc in out["parity"]}
    assert "120 batches" in text and all(a > 0.95 for a in parity[2, 16]), parity
    assert min(parity[1, 16]) < 0.95 and min(parity[1, 27]) < 0.95, parity
    assert parity[1, 16][0] < 0.6, parity


def test_07_with_longer_training_every_parity_run_gets_there():
    # "With longer training (BATCHES = 300) ... in six seeds, all six of width 16 and all six of width 27
    # reach 95%, as do all six two-layer runs": the lesson's own cell, with those settings.
    source = cell_source("07_lstm", "depth_task")
    assert "BATCHES = 120" in source and "BATCHES = 300" in markdown("07_lstm")
    check = "SEEDS = range(6)\n" + source.replace("BATCHES = 120", "BATCHES = 300") + DUMP_07.replace(
        '"memory": [[cell, bias, k, acc] for (cell, bias), results in runs.items() for k, acc in results.items()],', "")
    import json
    out = json.loads(run_with("07_lstm", check, after="setup").splitlines()[-1])
    assert len(out["parity"]) == 3
    for layers, H, acc in out["parity"]:
        assert len(acc) == 6 and min(acc) >= 0.95, (layers, H, acc)


DUMP_06 = """
import json
tau07 = sample(best, list(vocab.encode("def ")), 160, temperature=0.7, rng=np.random.default_rng(1))
print(json.dumps({"log_v": float(np.log(len(vocab))), "first": {n: h[0] for n, (_, h) in runs.items()},
                  "steps": {n: len(h) for n, (_, h) in runs.items()},
                  "perplexity": {n: float(perplexity(m, held_out[:20_000])) for n, (m, _) in runs.items()},
                  "before": vocab.decode(untrained), "after": vocab.decode(tau07)}))
"""


def test_06_race_and_samples_say_what_the_text_says():
    import json
    text = markdown("06_char_rnn")
    out = json.loads(run_with("06_char_rnn", DUMP_06, after="02e12ac6").splitlines()[-1])
    # A race by updates: the same number for every optimiser, and every curve starts at log V.
    assert len(set(out["steps"].values())) == 1
    assert all(abs(first - out["log_v"]) < 0.1 for first in out["first"].values()), out["first"]
    # "Adagrad ends ahead of SGD, but by a little (compare the held-out perplexities above)".
    sgd, adagrad = out["perplexity"]["SGD"], out["perplexity"]["Adagrad (yours)"]
    assert "Adagrad ends ahead of SGD, but by a little" in text and 0.8 * sgd < adagrad < sgd, out["perplexity"]
    # "after a couple of hundred updates it has learned which characters are common, that words are separated
    # by spaces, and some short words" (the untrained model writes characters drawn almost uniformly).
    common = {"the", "a", "an", "in", "of", "to", "is", "be", "and", "it", "or", "as", "for"}
    before, after = out["before"], out["after"]
    assert "a couple of hundred updates" in text
    assert before.count(" ") / len(before) < 0.08 < after.count(" ") / len(after), (before, after)
    assert sum(w in common for w in before.split()) == 0 and sum(w in common for w in after.split()) >= 3, after
    letters = lambda s: sum(ch.islower() for ch in s) / len(s)
    assert letters(after) > letters(before) + 0.2, (before, after)


@pytest.mark.xdist_group("lesson_07")
def test_07_round_off_and_look_ahead_figures_are_the_ones_printed(lesson_07):
    import json
    text = markdown("07_lstm")
    out = json.loads(lesson_07["deep_roundoff"].splitlines()[-1])
    e6, e5, e4, e3 = out["errors"]
    # "From h = 1e-6 to 1e-5 ... shrinks about ninefold (3.3e-6 to 3.8e-7) ... twofold, to 1.8e-7 ...
    # by h = 1e-3 truncation ... makes it rise again. No h brings it below 1e-7 here"
    assert f"{e6:.1e}" == "3.3e-06" and f"{e5:.1e}" == "3.8e-07" and f"{e4:.1e}" == "1.8e-07", out["errors"]
    assert 7 < e6 / e5 < 11 and 1.5 < e5 / e4 < 3 and e3 > e4 and min(out["errors"]) > 1e-7
    assert "$3.3 \\times 10^{-6}$" in text and "$1.8 \\times 10^{-7}$" in text and "below $10^{-7}$ at" not in text
    # "L is the batch mean (N = 2) of two sums of 6 cross-entropies, L ≈ 12.6"
    assert (out["N"], out["T"]) == (2, 6) and f"{out['loss']:.1f}" == "12.6" and "sum of 12" not in text
    # The look-ahead plot: positions 0..17, and its "overall" from the same held-out sequences as the curve.
    overall, per_position = out["curves"]["left to right"]
    assert len(per_position) == 18 and abs(overall - np.mean(per_position)) < 1e-12
    assert "In section 6 the left-to-right tagger" in text


def test_04_the_jacobian_plot_shows_a_growing_case():
    import json
    out = json.loads(run_with("04_vanishing_gradients", """
import json
print(json.dumps([[float(line.get_ydata()[0]), float(line.get_ydata()[-1])] for line in ax.get_lines()]))
""", after="b8d4b1b7").splitlines()[-1])
    # every curve starts at distance T-1 (norms[0]) and ends at distance 0 (norms[T-1] = 1)
    growing = [far for far, near in out if far > 1e3 * near]
    shrinking = [far for far, near in out if far < 1e-2 * near]
    assert len(growing) == 1 and len(shrinking) == 4 and 1e7 < growing[0] < 1e8, out
    assert "shrink or grow geometrically" in cell_source("04_vanishing_gradients", "b8d4b1b7")


def test_08_attention_reaches_95_percent_and_the_short_path_holds():
    import json
    out = json.loads(run_with("08_seq2seq_attention", """
import json
result = {name: exact_match(model) for name, model in models.items()}
print(json.dumps({"match": {k: [float(v[0]), [float(x) for x in v[1]]] for k, v in result.items()},
                  "reach": {k: v.tolist() for k, v in reach.items()}}))
""", after="gradient_path").splitlines()[-1])
    text = markdown("08_seq2seq_attention")
    (att, att_by_len), (plain, plain_by_len) = out["match"]["with attention"], out["match"]["without attention"]
    # the goal: >= 95% exact match with attention; without it, worse on long inputs
    assert att >= 0.95 and plain < att - 0.15, out["match"]
    assert min(att_by_len[5:]) > max(plain_by_len[5:]) and plain_by_len[-1] < 0.5
    assert "accuracy falls with the length" in text
    # "about a fiftieth of what reaches s = 7 and hundreds of times smaller than with attention"
    with_att, without = out["reach"]["with attention"], out["reach"]["without attention"]
    assert 1 / 80 < without[0] / without[7] < 1 / 30 and 200 < with_att[0] / without[0] < 1000
    assert with_att[0] >= 0.9 * max(with_att) and "about as strongly as any other" in text
    assert "about a fiftieth" in text and "hundreds of times smaller" in text
