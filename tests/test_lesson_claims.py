"""What a lesson's text claims about its own figures holds for what its code computes.

Each test runs a solution notebook as a student would, then one more cell that reads the figure's
data from the kernel and checks it independently."""
import nbformat
from nbclient import NotebookClient

from conftest import ROOT
from instructor.submissions import notebook_path


def run_with(assignment, check, after):
    """Execute the lesson's solution up to the cell whose id is after, then check (source); returns
    the text check printed."""
    path = notebook_path(ROOT / "solutions", assignment)
    nb = nbformat.read(path, as_version=4)
    nb.cells = nb.cells[:[c.get("id") for c in nb.cells].index(after) + 1]
    nb.cells.append(nbformat.v4.new_code_cell(check))
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return "".join(o.get("text", "") for o in nb.cells[-1].outputs)


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
