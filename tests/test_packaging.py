"""The front door: packaging, the conda environment, the course config, the README's commands."""
import ast
import html
import json
import os
import re
import subprocess
import sys
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest
import yaml

from conftest import ROOT, course_copy, free_port, jupyter_server, without_venv


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda = {d for d in env if isinstance(d, str) and not d.startswith(("python=", "pip"))}
    assert conda == set(project["dependencies"])
    assert "python=3.11" in env
    assert {"pip": ["-e ."]} in env


def test_nbgrader_config_uses_solutions_and_notebooks_anchored_at_the_repo():
    from instructor.model.layout import Layout, course_config
    layout = Layout(ROOT)
    assert (layout.root, layout.source, layout.release) == (ROOT, ROOT / "solutions", ROOT / "notebooks")
    grading = ROOT / "grading"           # one git-ignored folder holds every grading artefact
    assert {layout.submitted.parent, layout.autograded.parent, layout.feedback.parent, layout.originals.parent,
            layout.downloaded.parent} == {grading}
    assert layout.db_url == f"sqlite:///{grading / 'gradebook.db'}"
    assert 0 < course_config(ROOT).Execute.timeout <= 120


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "./course lab" in readme and "./course test" in readme
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert ci == ["./course test"]


@pytest.mark.e2e
def test_course_script_prints_usage():
    out = subprocess.run([str(ROOT / "course"), "help"], capture_output=True, text=True, check=True).stdout
    assert re.search(r"\./course lab", out) and re.search(r"\./course test", out)


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
def test_no_source_file_is_git_ignored():
    """A clone must get every module and notebook (a pattern like grading/ once hid rnnlib/grading/)."""
    sources = [str(p.relative_to(ROOT)) for folder in ("rnnlib", "instructor", "solutions", "notebooks", "tests")
               for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".ipynb", ".txt") and "__pycache__" not in p.parts
               and ".ipynb_checkpoints" not in p.parts]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *sources], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert sources and not ignored


INSTRUCTOR_MODULES = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts)
                            for p in (ROOT / "instructor").rglob("*.py"))
# Each place of instructor/ imports only itself and the places below it (instructor/__init__.py).
BELOW = {"commands": {"commands", "pipeline", "model"}, "pipeline": {"pipeline", "model"}, "model": {"model"}}


# One Python loads the libraries instructor/ builds on, then forks a child per module, which imports
# that module first: as a fresh interpreter would for instructor/ and rnnlib (neither is loaded
# before the fork), without each child paying seconds for nbgrader, Dask and Jupyter again.
IMPORT_EACH_FIRST = """
import os, sys, traceback
import distributed, nbconvert, nbformat, nbgrader.apps, numpy, traitlets
assert not [m for m in sys.modules if m.split(".")[0] in ("instructor", "rnnlib")]
for module in sys.argv[1:]:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)      # what the module prints is not this list
        sys.argv = ["-c"]                                 # as python -c "import module" has it
        try:
            __import__(module)
            os._exit(0)
        except SystemExit as stop:                       # instructor.__main__ runs the command line
            os._exit(0 if stop.code in (0, None) else 1)
        except BaseException:
            os.write(write, traceback.format_exc().encode())
            os._exit(1)
    os.close(write)
    with os.fdopen(read) as error:
        print(module, repr(error.read()), os.waitpid(child, 0)[1], sep="\\t")
"""


@pytest.fixture(scope="module")
def imported_first():
    """{module of instructor/: (its import's traceback, the child's wait status)}, each imported first."""
    result = subprocess.run([sys.executable, "-c", IMPORT_EACH_FIRST, *INSTRUCTOR_MODULES], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-1500:]
    rows = (line.split("\t") for line in result.stdout.splitlines())
    return {module: (ast.literal_eval(error), int(status)) for module, error, status in rows}


@pytest.mark.parametrize("module", INSTRUCTOR_MODULES)
def test_each_instructor_module_imports_first(imported_first, module):
    """No import cycle: whichever module a command or a test imports first loads."""
    error, status = imported_first[module]
    assert status == 0 and not error, error[-1500:]


def imported_places(path):
    """The places of instructor/ (commands, pipeline, model) that the module at path imports, at its top or in a function."""
    package = path.relative_to(ROOT).parent.parts
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = [*package[:len(package) - node.level + 1], *(node.module or "").split(".")] if node.level \
                else node.module.split(".")
            names += [".".join(filter(None, [*base, alias.name])) for alias in node.names]
    return {name.split(".")[1] for name in names if name.startswith("instructor.") and name.split(".")[1] in BELOW}


@pytest.mark.parametrize("place", sorted(BELOW))
def test_instructor_places_import_only_downwards(place):
    """The pipeline never imports a command, the course model neither of the two."""
    upwards = {str(p.relative_to(ROOT)): sorted(imported_places(p) - BELOW[place])
               for p in (ROOT / "instructor" / place).glob("*.py")}
    assert not {path: places for path, places in upwards.items() if places}


def test_pyproject_installs_every_instructor_package():
    """pip install . takes the packages that pyproject.toml names, so each folder of instructor/ must be one of them."""
    from setuptools import find_packages
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert set(find_packages(ROOT, include=["instructor*"])) - set(listed) == set()


GROUPED = """import pytest
pytestmark = pytest.mark.xdist_group("one")

@pytest.mark.parametrize("i", range(4))
def test_grouped(i):
    pass
"""


def test_xdist_keeps_a_group_on_one_worker(tmp_path):
    """./course test counts on it: the tests of one hub, one JupyterLab or one module's grading
    run on one worker (a pytest that xdist cannot group under would spread them)."""
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_alone.py").write_text("def test_a():\n    pass\n\n\ndef test_b():\n    pass\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "xdist", "-n", "2", "--dist", "loadgroup", "-v",
                             "-p", "no:cacheprovider"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})   # xdist alone: quicker
    assert result.returncode == 0, result.stdout[-2000:]
    workers = re.findall(r"^\[(gw\d)\] .*PASSED test_grouped.py", result.stdout, re.M)
    assert len(workers) == 4 and len(set(workers)) == 1, result.stdout[-2000:]


def test_package_is_installed_from_this_checkout():
    import rnnlib
    assert Path(rnnlib.__file__).resolve().parent == ROOT / "rnnlib"
    assert Path(sys.executable).parent.parent.name == ".venv" or "VIRTUAL_ENV" not in os.environ


def request(port, path, data=None, token="front-door"):
    """(status, body) of a GET, or of a form POST when data is given."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"token {token}"},
                                 data=None if data is None else urllib.parse.urlencode(data).encode())
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory):
    """./course lab as a student runs it (venv not activated), in a copy of the course that holds two
    filled-in copies of lesson 03: one correct, one with a known BPTT mistake. Yields the port and
    the server's log."""
    from instructor.commands.demo import BUGGY_RNN_BACKWARD
    from instructor.model.layout import notebook_path
    from instructor.pipeline.submissions import make_submission
    course = course_copy(tmp_path_factory.mktemp("course"), "notebooks")
    release = nbformat.read(notebook_path(ROOT / "notebooks", "03_bptt"), as_version=4)
    solution = nbformat.read(notebook_path(ROOT / "solutions", "03_bptt"), as_version=4)
    nbformat.write(make_submission(release, solution), course / "notebooks" / "03_bptt" / "mine_correct.ipynb")
    nbformat.write(make_submission(release, solution, replace={"rnn_backward": BUGGY_RNN_BACKWARD}),
                   course / "notebooks" / "03_bptt" / "mine_buggy.ipynb")
    port = free_port()
    # RNN_SANDBOX=off: like a student's laptop without bubblewrap, where the course config (loaded
    # by Validate) would have grading run unsandboxed; it must not warn the student about grading.
    env = {**without_venv(), "JUPYTER_RUNTIME_DIR": str(course / ".runtime"), "RNN_SANDBOX": "off"}
    argv = [str(course / "course"), "lab", "--no-browser", f"--port={port}", "--IdentityProvider.token=front-door"]
    with jupyter_server(argv, course, env, f"http://127.0.0.1:{port}/api/status?token=front-door", course / "lab.log"):
        yield port, course / "lab.log"


@pytest.mark.e2e
@pytest.mark.xdist_group("student-lab")   # one worker: one ./course lab for both
def test_course_lab_serves_the_lessons_without_the_instructor_tools(student_lab):
    port, _ = student_lab
    """JupyterLab at notebooks/, with nbgrader's Validate button but without the formgrader, the
    exchange lists or Create Assignment; no grading kernel on offer."""
    status, listing = request(port, "/api/contents")
    assert status == 200
    lessons = {item["name"] for item in json.loads(listing)["content"]}
    assert lessons == {p.name for p in (ROOT / "notebooks").iterdir() if p.is_dir()}
    status, page = request(port, "/lab")
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))
    disabled = set(config["disabledExtensions"])
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
            "@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:course-list"} <= disabled
    assert "@jupyter/nbgrader:validate-assignment" not in disabled
    assert request(port, "/formgrader")[0] == 404


@pytest.mark.e2e
@pytest.mark.xdist_group("student-lab")
def test_validate_button_runs_the_real_tests(student_lab):
    """The Validate button (nbgrader's validate handler, which loads the course's nbgrader_config.py)
    runs the notebook in the student's own kernel with the real checks: not in the grading
    sandbox, whose checks live in the grader."""
    port, log = student_lab

    def validate(name):
        status, body = request(port, "/assignments/validate", {"path": f"03_bptt/{name}.ipynb"})
        assert status == 200
        return json.loads(body)

    correct, buggy = validate("mine_correct"), validate("mine_buggy")
    assert correct == {"success": True, "value": {}}
    failed = buggy["value"]["failed"]
    # rnn_backward's test names the mistake; TimeRNN, built on the student's rnn_backward, fails too
    # and sends the student back to it.
    assert [f["source"].split("(")[0] for f in failed] == ["check_rnn_backward", "check_TimeRNN"]
    assert "overwritten at every step" in failed[0]["error"]
    assert "if rnn_backward's test fails, fix that first" in html.unescape(failed[1]["error"])
    specs = json.loads(request(port, "/api/kernelspecs")[1])["kernelspecs"]
    assert "rnn-sandbox" not in specs
    assert "WITHOUT a sandbox" not in log.read_text()   # no grading warning in the student's terminal
