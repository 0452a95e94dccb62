"""The front door: packaging, the conda environment, the course config, the README's commands."""
import json
import os
import re
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from conftest import ROOT, free_port, jupyter_server


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda = {d for d in env if isinstance(d, str) and not d.startswith(("python=", "pip"))}
    assert conda == set(project["dependencies"])
    assert "python=3.11" in env
    assert {"pip": ["-e ."]} in env


def test_nbgrader_config_uses_solutions_and_notebooks_anchored_at_the_repo():
    from traitlets.config import Config
    c = Config()
    code = (ROOT / "nbgrader_config.py").read_text()
    exec(compile(code, str(ROOT / "nbgrader_config.py"), "exec"),
         {"get_config": lambda: c, "__file__": str(ROOT / "nbgrader_config.py")})
    assert c.CourseDirectory.source_directory == "solutions"
    assert c.CourseDirectory.release_directory == "notebooks"
    assert c.CourseDirectory.root == str(ROOT)
    assert c.CourseDirectory.db_url.startswith(f"sqlite:///{ROOT}/grading/")
    assert 0 < c.Execute.timeout <= 120


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "./course lab" in readme and "./course test" in readme
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert ci == ["./course test"]


def test_course_script_prints_usage():
    out = subprocess.run([str(ROOT / "course"), "help"], capture_output=True, text=True, check=True).stdout
    assert re.search(r"\./course lab", out) and re.search(r"\./course test", out)


def test_package_is_installed_from_this_checkout():
    import rnnlib
    assert Path(rnnlib.__file__).resolve().parent == ROOT / "rnnlib"
    assert Path(sys.executable).parent.parent.name == ".venv" or "VIRTUAL_ENV" not in __import__("os").environ


def get(port, path, token="front-door"):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


def test_course_lab_serves_the_lessons_without_the_instructor_tools(tmp_path):
    """./course lab, as a student runs it (venv not activated): JupyterLab at notebooks/, with
    nbgrader's Validate button but without the formgrader, the exchange lists or Create Assignment."""
    port = free_port()
    env = {**os.environ, "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    argv = [str(ROOT / "course"), "lab", "--no-browser", f"--port={port}", "--IdentityProvider.token=front-door"]
    with jupyter_server(argv, ROOT, env, f"http://127.0.0.1:{port}/api/status?token=front-door", tmp_path / "lab.log"):
        status, listing = get(port, "/api/contents")
        assert status == 200
        lessons = {item["name"] for item in json.loads(listing)["content"]}
        assert lessons == {p.name for p in (ROOT / "notebooks").iterdir() if p.is_dir()}
        status, page = get(port, "/lab")
        config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                      page, re.S).group(1))
        disabled = set(config["disabledExtensions"])
        assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                "@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:course-list"} <= disabled
        assert "@jupyter/nbgrader:validate-assignment" not in disabled
        assert get(port, "/formgrader")[0] == 404
