"""Grading a course with nbgrader, the steps every command shares: run nbgrader, make a throwaway
course, prepare the submissions, autograde them.

./course autograde, regrade, watch and demo call these, and so does the grading canary
(instructor/pipeline/canary.py), which grades in a throwaway course exactly as the commands grade.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..model.gradebook import grades, registered
from ..model.layout import CONFIG_FILE, ROOT, Layout
from . import intake


def with_venv_path(env=None):
    """The environment, and env, with the venv's bin/ first on PATH: nbgrader's gradebook
    migration shells out to `alembic`."""
    return dict(os.environ, **(env or {}), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def nbgrader(course, *args, env=None):
    """Run one nbgrader command in a course directory; its output captured."""
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=with_venv_path(env),
                          capture_output=True, text=True)


def make_course(course, which=None, source=ROOT, env=None):
    """Copy the config and solutions of the course in source into course/ and release the
    assignments there. Its gradebook is its own sqlite file, whatever source's config names."""
    course, repo = Path(course), Layout(source)
    shutil.copy(repo.root / CONFIG_FILE, course)
    layout = Layout(course)
    if not layout.db_url.startswith(f"sqlite:///{layout.root}/"):   # a shared server's: the class's grades
        with open(course / CONFIG_FILE, "a") as config:
            config.write(f"\nc.CourseDirectory.db_url = 'sqlite:///{layout.submitted.parent / 'gradebook.db'}'\n")
        layout = Layout(course)
    layout.make_gradebook_folder()
    for a in which or repo.assignments():
        shutil.copytree(repo.source / a, layout.source / a)
        result = nbgrader(course, "generate_assignment", a, "--force", env=env)
        if result.returncode:
            raise RuntimeError(f"generate_assignment {a} failed:\n{result.stderr}")
    return course


def unfinished(layout, assignment):
    """Students whose autograded folder exists but whose grades do not: a run was interrupted.

    nbgrader skips a student whose autograded folder exists, so without this a grader killed in
    the middle of a notebook would leave that student with no scores for good.
    """
    folders = sorted(p.parent.name for p in layout.autograded.glob(f"*/{assignment}"))
    if not folders:
        return []
    graded = grades(layout, assignment)
    return [s for s in folders if (s, assignment) not in graded or graded[s, assignment].missing]


def prepare(layout, assignment):
    """Check and repair every submission of assignment, and clear the way for those whose grading
    was interrupted to be graded again; returns {student: [what was done]}."""
    repairs = intake.prepare(layout, assignment)
    for student in unfinished(layout, assignment):
        shutil.rmtree(layout.autograded / student / assignment)
        repairs.setdefault(student, []).append("its grading had been interrupted; it was graded again.")
    return repairs


def autograde(course, assignment, *args, env=None):
    """Prepare and autograde every submission of assignment; returns (nbgrader's result, repairs).

    Students whose grading was interrupted are graded again; everyone else is graded once (pass
    "--force" to grade everyone again).
    """
    repairs = prepare(Layout(course), assignment)
    return nbgrader(course, "autograde", assignment, *args, env=env), repairs


def register(layout, assignment):
    """Make the gradebook know assignment, which nbgrader learns of only from generate_assignment
    (a fresh clone has notebooks/ released but an empty gradebook): generate it into a throwaway
    release folder, so notebooks/ stays as it is. Returns nbgrader's error, or None."""
    if registered(layout, assignment):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        result = nbgrader(layout.root, "generate_assignment", assignment, f"--CourseDirectory.release_directory={tmp}")
    return None if registered(layout, assignment) else result.stderr.strip()[-500:]
