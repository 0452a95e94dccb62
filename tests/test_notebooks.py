"""The lessons: solution notebooks run and validate, released notebooks are blank, and notebooks/
is exactly what nbgrader generates from solutions/."""
import json

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert.preprocessors import Preprocessor
from nbgrader.preprocessors import CheckCellMetadata
from nbgrader.validator import Validator

from conftest import EXERCISES, ROOT
from instructor.model.layout import Layout, notebook_path

ASSIGNMENTS = Layout(ROOT).assignments()


def execute(path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


class KeepTheRun(Preprocessor):
    """The Validator's last step: hands the notebook as the Validator ran it to the Validator."""

    def preprocess(self, nb, resources):
        self.parent.ran = nb
        return nb, resources


def validate(path):
    """(nbgrader's Validator's verdict on the notebook at path, the notebook as it ran there)."""
    validator = Validator(preprocessors=[*Validator().preprocessors, KeepTheRun])
    return validator.validate(str(path)), validator.ran


def nbgrader_cells(nb):
    return {c.metadata.nbgrader["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def test_every_spec_assignment_exists():
    assert set(EXERCISES) <= set(ASSIGNMENTS)


@pytest.mark.e2e
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_runs_clean_and_validates(assignment, tmp_path):
    path = notebook_path(ROOT / "solutions", assignment)
    nb = execute(path)
    stderr = [(i, o.text) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.get("name") == "stderr"]
    assert not stderr, f"stderr output would zero a test cell: {stderr[:2]}"
    # nbgrader's Validator's verdict on this run, without running the lesson again: with the widgets
    # off, as the Validator would run it, the solution is graded in tests/test_autograde.py.
    ran = tmp_path / path.name
    nbformat.write(nb, ran)
    assert Validator(preprocessors=[CheckCellMetadata]).validate(str(ran)) == {}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_cell_ids_follow_the_spec(assignment):
    cells = nbgrader_cells(nbformat.read(notebook_path(ROOT / "solutions", assignment), as_version=4))
    answers = [gid for gid, c in cells.items() if c.metadata.nbgrader.get("solution") and c.cell_type == "code"]
    assert answers == EXERCISES.get(assignment, answers)
    for f in answers:
        test = cells[f"test_{f}"].metadata.nbgrader
        assert test["grade"] and test["locked"] and test["points"] > 0
        assert "### BEGIN HIDDEN TESTS" in cells[f"test_{f}"].source
    questions = [gid for gid, c in cells.items() if c.cell_type == "markdown" and c.metadata.nbgrader.get("grade")]
    assert len(questions) >= 2 and all(q.startswith("q_") for q in questions)


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
def test_notebooks_are_stored_without_outputs(folder):
    for path in (ROOT / folder).rglob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            assert not cell.get("outputs") and cell.get("execution_count") is None, path


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_in_sync_with_solutions(assignment, course):
    committed = nbformat.read(notebook_path(ROOT / "notebooks", assignment), as_version=4)
    generated = nbformat.read(Layout(course).release_notebook(assignment), as_version=4)   # nbgrader's, from solutions/
    assert [c.cell_type for c in committed.cells] == [c.cell_type for c in generated.cells]
    for mine, fresh in zip(committed.cells, generated.cells):
        assert mine.source == fresh.source, "notebooks/ is stale: run ./course release"
        assert mine.metadata == fresh.metadata, "notebooks/ is stale: run ./course release"


@pytest.mark.e2e
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_blank_but_runs_up_to_the_first_exercise(assignment):
    path = notebook_path(ROOT / "notebooks", assignment)
    verdict, nb = validate(path)            # the student's Validate button: one run for both checks
    assert verdict.get("failed"), "a blank release must fail validation"
    first_error = next(i for i, c in enumerate(nb.cells)
                       if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs))
    first_test = next(i for i, c in enumerate(nb.cells)
                      if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_"))
    assert first_error >= first_test
    assert "is not written yet" in "".join(o.get("evalue", "") for o in nb.cells[first_error].outputs)
