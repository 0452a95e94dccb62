"""While lesson 07 is open, its demos train on the student's own LSTM and GRU steps.

The student edition holds lesson 07's recurrences (lstm.forward_steps, gru.backward_steps, ...) as
stubs, and CharRNN and SequenceTagger call them with inputs no check uses. Answered right, the
lesson still runs top to bottom against that edition: the stubs run the notebook's step functions
(rnnlib/stepwise.py), and the recurrences' code is not in the edition.
"""
import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from instructor.commands.publish import edition
from instructor.model.layout import Layout, notebook_path
from instructor.pipeline.submissions import make_submission

pytestmark = pytest.mark.e2e      # records lesson 07's answers, then runs the lesson: about 2 minutes

A = "07_lstm"
IN_THE_EDITION = """
import inspect, rnnlib
from rnnlib import gru, lstm
assert rnnlib.__file__.startswith({edition!r}), rnnlib.__file__
for core in (lstm.forward_steps, lstm.backward_steps, gru.forward_steps, gru.backward_steps):
    assert "rnnlib.recorded" in inspect.getsource(core) and "np.tanh" not in inspect.getsource(core), core
"""


def test_the_open_lesson_s_demos_train_on_the_student_s_steps(course, tmp_path, monkeypatch):
    copy = Layout(shutil.copytree(course, tmp_path / "course", symlinks=True))    # the shared course stays as built
    published = sorted(p.name for p in copy.release.iterdir() if p.is_dir() and p.name <= A)   # through the open one
    assert A in published
    folder = tmp_path / "edition"
    edition(copy, folder, published, [A])
    release = nbformat.read(folder / "notebooks" / A / copy.release_notebook(A).name, as_version=4)
    nb = make_submission(release, nbformat.read(notebook_path(copy.source, A), as_version=4))
    nb.cells.append(nbformat.v4.new_code_cell(IN_THE_EDITION.format(edition=str(folder))))
    monkeypatch.setenv("PYTHONPATH", str(folder))
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = {c.get("id"): "".join(o.get("text", "") for o in c.outputs) for c in nb.cells if c.cell_type == "code"}
    assert "training runs in" in printed["longrange"] and "LSTM, forget bias 3" in printed["longrange"]
    assert "one (h, c) state per layer" in printed["deep"]
