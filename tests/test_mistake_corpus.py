"""The corpus of hand-written student mistakes (benchmarks/mistakes/<assignment>.toml) is well formed.

Each file holds [[mistake]] entries: the exercise answered, what the student did, the categories of
cause a right hint may name, and the whole answer cell as the student left it. A benchmark swaps
each answer into its lesson and runs the test cells; these checks only read the files (no answer
runs: some loop forever on purpose).
"""
import ast
import tomllib
from collections import Counter

import pytest

from conftest import EXERCISES, ROOT
from instructor.commands.insights import answer_cells
from instructor.model.layout import notebook_path

CORPUS = ROOT / "benchmarks" / "mistakes"
FILES = sorted(CORPUS.glob("*.toml"))
FIELDS = {"exercise", "what", "causes", "answer"}
CAUSES = {"transpose", "factor", "zeros", "precision", "time", "axis", "derivative", "accumulate", "missing",
          "inplace", "swap", "order", "stability", "mask", "shape", "type", "state", "sampling", "hang"}
# Lessons 01-07 are covered in full: every exercise at least twice.
COVERED = [assignment for assignment in EXERCISES if assignment[:2] <= "07"]


def mistakes(path):
    with open(path, "rb") as f:
        return tomllib.load(f)["mistake"]


def every_mistake():
    return [(path.stem, entry) for path in FILES for entry in mistakes(path)]


def definition(source, name):
    """The top-level def or class called name in source, or None."""
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            return node
    return None


def signature(node):
    """A function's parameters as written, or a class's __init__'s."""
    if isinstance(node, ast.ClassDef):
        node = next(n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    return ast.unparse(node.args)


def reference_signatures(assignment):
    cells = answer_cells(notebook_path(ROOT / "solutions", assignment))
    return {name: signature(definition(cells[name], name)) for name in EXERCISES[assignment]}


def test_every_file_is_a_lesson():
    assert FILES, "no corpus files"
    assert {path.stem for path in FILES} <= set(EXERCISES)
    assert set(COVERED) <= {path.stem for path in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_entries_are_well_formed(path):
    signatures = reference_signatures(path.stem)
    for number, entry in enumerate(mistakes(path)):
        where = f"{path.name} entry {number} ({entry.get('exercise')})"
        assert set(entry) == FIELDS, where
        assert entry["exercise"] in EXERCISES[path.stem], where
        assert isinstance(entry["what"], str) and entry["what"].strip(), where
        assert 1 <= len(entry["causes"]) <= 2 and set(entry["causes"]) <= CAUSES, where
        compile(entry["answer"], where, "exec")
        node = definition(entry["answer"], entry["exercise"])
        assert node is not None, f"{where}: does not define {entry['exercise']}"
        assert signature(node) == signatures[entry["exercise"]], where


def test_size_and_coverage():
    corpus = every_mistake()
    assert len(corpus) >= 120
    counts = Counter((assignment, entry["exercise"]) for assignment, entry in corpus)
    for assignment in COVERED:
        for exercise in EXERCISES[assignment]:
            assert counts[assignment, exercise] >= 2, f"{assignment}: {exercise} has {counts[assignment, exercise]}"


def test_answers_are_all_different():
    """Different as code, not just in spacing or comments."""
    seen = {}
    for assignment, entry in every_mistake():
        code = ast.dump(ast.parse(entry["answer"]))
        assert code not in seen, f"{assignment} {entry['what']!r} repeats {seen[code]!r}"
        seen[code] = entry["what"]


def test_every_cause_is_used():
    """The vocabulary is the one hints are judged by: the corpus exercises all of it."""
    used = {cause for _, entry in every_mistake() for cause in entry["causes"]}
    assert used == CAUSES
