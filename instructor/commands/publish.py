"""The student edition: the tree a hub's image, a public repository or a zip is built from.

    ./course publish DIR [--through ASSIGNMENT]

DIR gets what a student needs to run and Validate the lessons up to ASSIGNMENT (default: all):

    notebooks/<assignment>/   the released notebooks (no solutions, no hidden tests)
    rnnlib/                   the package, in which every function that answers an exercise of a
                              later lesson (its LESSON.references) keeps its signature and
                              docstring but raises "comes with lesson ..." instead of computing;
                              rnnlib.grading holds the checks of the published lessons only (a
                              later lesson's checks hold its known mistakes, near-answers)
    pyproject.toml            installs rnnlib with numpy, matplotlib, JupyterLab, nbgrader, ipywidgets,
                              and the course's lab extension where JupyterLab finds it
    share/jupyter/labextensions/rnns-feedback-opener/
                              that extension (Validate's dialog wraps long lines)
    nbgrader_config.py        what Validate needs of the course's configuration (it is read where
                              JupyterLab or nbgrader validate starts: the README starts it there)
    README.md                 how to start, and the lessons in this edition

and nothing else of the course: no solutions/, no instructor/, no tests/, no gradebook. Run it
again with a later --through as lessons are released; DIR is replaced.
"""
import hashlib
import json
import pickle
import shutil
from pathlib import Path

from rnnlib import grading, recorded

from ..model.layout import Layout, course_config
from ..pipeline.strip import strip_module

COMING = "rnnlib.%s.{} comes with lesson %s, which is not released yet (you will write it there)"
OPEN = ("rnnlib.%s.{} is an answer of lesson %s, which is open: its code comes with the course once the "
        "lesson closes (write your own in the notebook)")
KEEP_OUT = ("__pycache__", "*.pyc")
# The instructor packages in pyproject.toml's package list, as written there: the edition leaves them out.
INSTRUCTOR_PACKAGES = ', "instructor", "instructor.commands", "instructor.model", "instructor.pipeline"'
# The course's prebuilt JupyterLab extension (nothing to build): the Assignments tab's "(view
# feedback)" opens the page it goes to, and Validate's dialog wraps long lines. JupyterLab finds it
# below an environment's prefix, where pip puts nbgrader's: the hub and ./course lab copy it there,
# the edition's pip install puts it there.
FEEDBACK_OPENER = Path(__file__).with_name("labextensions") / "rnns-feedback-opener"
OPENER_IN_PREFIX = Path("share", "jupyter", "labextensions", FEEDBACK_OPENER.name)


def _by_module(lessons, what, checks=False):
    """{module file: {lesson assignment: {qualnames}}} of what (a Lesson -> "module:qualname"s) the
    lessons hold (in rnnlib.grading too when checks, e.g. lesson 05's adder_train_step)."""
    by_module = {}
    for lesson in lessons:
        for ref in what(lesson):
            module, qualname = ref.split(":")
            if checks or not module.startswith("grading."):
                by_module.setdefault(module, {}).setdefault(lesson.assignment, set()).add(qualname)
    return by_module


def later_references(published):
    """{module: {lesson assignment: {qualnames}}} of the lessons after the published ones."""
    # (their checks are left out whole)
    return _by_module([x for x in grading.LESSONS if x.assignment not in published], lambda x: x.unpublished)


def open_references(open_lessons):
    """The same for the references of the lessons handed out and not closed."""
    return _by_module([x for x in grading.LESSONS if x.assignment in open_lessons], lambda x: x.references, True)


def write_rnnlib(target, published, open_lessons=(), table=None):
    """Copy rnnlib to target: later lessons' answers and material stubbed and their checks left out;
    the open lessons' answers stubbed to look their results up in table (instructor/pipeline/record.py)."""
    package = Path(grading.__file__).resolve().parents[1]
    shutil.copytree(package, target, ignore=shutil.ignore_patterns(*KEEP_OUT, recorded.TABLE.name))
    for module in grading.MODULES:
        if module.LESSON.assignment not in published:
            (target / "grading" / f"{module.__name__.rsplit('.', 1)[1]}.py").unlink()
    for stubs, message, replay in ((later_references(published), COMING, False),
                                   (open_references(open_lessons), OPEN, True)):
        for module, lessons in stubs.items():
            path = target / f"{module.replace('.', '/')}.py"
            source = path.read_text()
            for assignment, qualnames in sorted(lessons.items()):
                source = strip_module(source, qualnames, message % (module, assignment), replay and module)
            path.write_text(source)
    if open_lessons:
        exercises = {ref: exercise for a in open_lessons for exercise, ref in grading.lesson(a).exercises.items()}
        (target / recorded.TABLE.name).write_bytes(pickle.dumps({"results": table or {}, "exercises": exercises}))


def write_pyproject(target):
    """rnnlib's pyproject.toml, installing rnnlib (the instructor tools stay behind) and the lab
    extension that is in target (its files, each to the same folder below the prefix)."""
    text = (Path(grading.__file__).resolve().parents[2] / "pyproject.toml").read_text()
    if INSTRUCTOR_PACKAGES not in text:
        raise ValueError(f"pyproject.toml: expected {INSTRUCTOR_PACKAGES!r} (publish removes instructor from it)")
    files = {}
    for path in sorted((target / OPENER_IN_PREFIX).rglob("*")):
        if path.is_file():
            files.setdefault(path.parent.relative_to(target).as_posix(), []).append(path.relative_to(target).as_posix())
    data_files = "".join(f"{json.dumps(folder)} = {json.dumps(names)}\n" for folder, names in files.items())
    (target / "pyproject.toml").write_text(text.replace(INSTRUCTOR_PACKAGES, "")
                                           + f"\n[tool.setuptools.data-files]\n{data_files}")


def validate_settings(course):
    """The lines of course's nbgrader configuration that a student's Validate needs: its width,
    so that no line of a failed test's message is cut (the course's nbgrader_config.py says why)."""
    return f"c.Validator.width = {course_config(course).Validator.width}\n"


def write_nbgrader_config(layout, target):
    """target/nbgrader_config.py: what nbgrader run in target (Validate, nbgrader validate) needs."""
    (target / "nbgrader_config.py").write_text(
        '"""nbgrader\'s configuration for the lessons: Validate and nbgrader validate started here read it."""\n'
        "c = get_config()  # noqa: F821\n" + validate_settings(layout.root))


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


def publish(course, destination, through=None, open_lessons=()):
    """Write the student edition of course to destination (replaced), up to assignment through, with
    the lessons in open_lessons (handed out, not closed) holding their answers' results, not code."""
    layout = Layout(course)
    assignments = layout.assignments()
    through = through or assignments[-1]
    if through not in assignments:
        raise ValueError(f"--through: no assignment {through!r}; the course has {', '.join(assignments)}")
    published = assignments[:assignments.index(through) + 1]
    edition(layout, destination, published, [a for a in published if a in open_lessons])
    return published


def edition(layout, destination, published, open_lessons):
    """Write the edition holding the lessons published (none: rnnlib with every answer a stub)."""
    destination = Path(destination)
    if destination.resolve() == layout.root or layout.root.is_relative_to(destination.resolve()):
        raise ValueError(f"{destination}: the edition must go to a folder of its own, not the course's")
    table = recorded_answers(layout, published, open_lessons) if open_lessons else None
    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    for a in published:
        shutil.copytree(layout.release / a, destination / "notebooks" / a, ignore=shutil.ignore_patterns(*KEEP_OUT))
    write_rnnlib(destination / "rnnlib", published, open_lessons, table)
    shutil.copytree(FEEDBACK_OPENER, destination / OPENER_IN_PREFIX)
    write_pyproject(destination)
    write_nbgrader_config(layout, destination)
    lessons = "\n".join(f"- `notebooks/{a}/{layout.release_notebook(a).name}`" for a in published)
    (destination / "README.md").write_text(README.format(lessons=lessons or "(none yet)"))


def recorded_answers(layout, published, open_lessons):
    """The results the open lessons' stubs hand out (instructor/pipeline/record.py), recorded once per content
    of the lessons and of rnnlib, and kept in the course's grading folder."""
    from ..pipeline import record
    functions = [ref for a in open_lessons for ref in grading.lesson(a).references]
    digest = hashlib.sha256(repr((published, functions)).encode())
    package = Path(grading.__file__).resolve().parents[1]
    for path in sorted([*package.rglob("*.py"), Path(record.__file__), *(layout.release / a for a in published),
                        *(layout.source / a for a in published)]):
        for file in sorted(path.rglob("*.ipynb")) if path.is_dir() else [path]:
            digest.update(file.read_bytes())
    cache = layout.canary.parent / "recorded" / f"{digest.hexdigest()[:24]}.pickle"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    table = {}
    for a in published[published.index(open_lessons[0]):]:   # an earlier lesson's checks call none of them
        table.update(record.record(layout.root, a, functions, nudged=a in open_lessons))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.with_suffix(".new").write_bytes(pickle.dumps(table))
    cache.with_suffix(".new").replace(cache)
    return table
