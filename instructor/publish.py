"""The student edition: the tree a hub's image, a public repository or a zip is built from.

    python -m instructor.publish DIR [--through ASSIGNMENT]      (./course publish ...)

DIR gets what a student needs to run and Validate the lessons up to ASSIGNMENT (default: all):

    notebooks/<assignment>/   the released notebooks (no solutions, no hidden tests)
    rnnlib/                   the package, in which every function that answers an exercise of a
                              later lesson (its LESSON.references) keeps its signature and
                              docstring but raises "comes with lesson ..." instead of computing;
                              rnnlib.grading holds the checks of the published lessons only (a
                              later lesson's checks hold its known mistakes, near-answers)
    pyproject.toml            installs rnnlib with numpy, matplotlib, JupyterLab, nbgrader, ipywidgets
    README.md                 how to start, and the lessons in this edition

and nothing else of the course: no solutions/, no instructor/, no tests/, no gradebook. Run it
again with a later --through as lessons are released; DIR is replaced.
"""
import argparse
import shutil
import sys
from pathlib import Path

from rnnlib import grading

from .layout import Layout
from .strip import strip_module

COMING = "rnnlib.%s.{} comes with lesson %s, which is not released yet (you will write it there)"
KEEP_OUT = ("__pycache__", "*.pyc")


def later_references(published):
    """{module file name: {lesson assignment: {qualnames}}} of the lessons after the published ones."""
    by_module = {}
    for lesson in grading.LESSONS:
        if lesson.assignment in published:
            continue
        for ref in lesson.references:
            module, qualname = ref.split(":")
            if not module.startswith("grading."):           # later lessons' checks are left out whole
                by_module.setdefault(f"{module}.py", {}).setdefault(lesson.assignment, set()).add(qualname)
    return by_module


def write_rnnlib(target, published):
    """Copy rnnlib to target, later lessons' answers stubbed and their checks left out."""
    package = Path(grading.__file__).resolve().parents[1]
    shutil.copytree(package, target, ignore=shutil.ignore_patterns(*KEEP_OUT))
    for module in grading.MODULES:
        if module.LESSON.assignment not in published:
            (target / "grading" / f"{module.__name__.rsplit('.', 1)[1]}.py").unlink()
    for name, lessons in later_references(published).items():
        source = (target / name).read_text()
        for assignment, qualnames in sorted(lessons.items()):
            source = strip_module(source, qualnames, COMING % (name.removesuffix(".py"), assignment))
        (target / name).write_text(source)


def write_pyproject(course, target):
    """The course's pyproject.toml, installing rnnlib only (the instructor tools stay behind)."""
    text = (course / "pyproject.toml").read_text()
    packages = 'packages = ["rnnlib", "rnnlib.corpora", "rnnlib.grading", "instructor"]'
    if packages not in text:
        raise ValueError(f"pyproject.toml: expected the line {packages!r} (publish removes instructor from it)")
    (target / "pyproject.toml").write_text(text.replace(packages, packages.replace(', "instructor"', "")))


README = """# RNNs from scratch

A Jupyter-notebook course that teaches recurrent neural networks by building them with numpy.
This edition holds the lessons released so far:

{lessons}

## Start

With Python 3.11 or newer:

```bash
python3 -m venv .venv && .venv/bin/pip install .
.venv/bin/jupyter lab --notebook-dir=notebooks
```

Open a lesson's notebook, fill in the cells marked `# YOUR CODE HERE` and run the test cell under
each exercise; the *Validate* button runs the notebook from the top and lists any test that still
fails. `rnnlib` is the course's library: later notebooks import what earlier ones taught. Functions
of lessons not released yet are there by name and docstring, and say when they come.
"""


def publish(course, destination, through=None):
    """Write the student edition of course to destination (replaced), up to assignment through."""
    layout, destination = Layout(course), Path(destination)
    assignments = layout.assignments()
    through = through or assignments[-1]
    if through not in assignments:
        raise ValueError(f"--through: no assignment {through!r}; the course has {', '.join(assignments)}")
    published = assignments[:assignments.index(through) + 1]
    if destination.resolve() == layout.root or layout.root.is_relative_to(destination.resolve()):
        raise ValueError(f"{destination}: the edition must go to a folder of its own, not the course's")
    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    for a in published:
        shutil.copytree(layout.release / a, destination / "notebooks" / a, ignore=shutil.ignore_patterns(*KEEP_OUT))
    write_rnnlib(destination / "rnnlib", published)
    write_pyproject(layout.root, destination)
    lessons = "\n".join(f"- `notebooks/{a}/{layout.release_notebook(a).name}`" for a in published)
    (destination / "README.md").write_text(README.format(lessons=lessons))
    return published


def main(argv):
    parser = argparse.ArgumentParser(prog="./course publish", description=__doc__.split("\n")[0])
    parser.add_argument("dir", help="where to write the edition (replaced if it exists)")
    parser.add_argument("--through", metavar="ASSIGNMENT", help="the last lesson to publish (default: all)")
    args = parser.parse_args(argv)
    try:
        published = publish(Path.cwd(), args.dir, args.through)
    except ValueError as e:
        parser.exit(2, f"./course publish: {e}\n")
    print(f"wrote the student edition to {args.dir}: {', '.join(published)}")


if __name__ == "__main__":
    main(sys.argv[1:])
