"""./course hub's settings and its refusals: each reason it cannot start is one line, never a traceback.

The hub itself, with students logging in, is tests/test_hub.py; these need neither root nor Node.js.
"""
import os
import re
import shutil
import socket
import stat
import subprocess
import sys

import pytest
from traitlets.config import PyFileConfigLoader

from conftest import ROOT, course_copy, free_port
from instructor.commands import hub

LTI = {"issuer": "https://canvas.example.edu", "client_id": "10000000000042",
       "authorize_url": "https://canvas.example.edu/api/lti/authorize_redirect",
       "jwks_endpoint": "https://canvas.example.edu/api/lti/security/jwks", "username_key": "custom_username"}


@pytest.fixture
def course(tmp_path):
    course_copy(tmp_path, "hub", "instructor")
    exchange = tmp_path / "exchange"
    exchange.mkdir(mode=0o1777)
    exchange.chmod(0o1777)
    config = tmp_path / "nbgrader_config.py"
    config.write_text(re.sub(r'(?m)^c\.Exchange\.root = .*$', f'c.Exchange.root = "{exchange}"', config.read_text()))
    return tmp_path


def ready(course, **changes):
    """Settings under which every check passes on this machine, with changes applied."""
    settings = hub.read_settings(course)
    settings.update({"ip": "127.0.0.1", "port": free_port(), "hub_port": free_port(),
                     "proxy_api_port": free_port(), "students_group": "root", **changes})
    return settings


def problem(course, settings, euid=0, node=True):
    (course / hub.PROXY).parent.mkdir(parents=True, exist_ok=True)
    (course / hub.PROXY).touch()
    found = hub.problems(course, settings, euid=euid, path=None if node else str(course))
    return "\n".join(found) or None


@pytest.mark.skipif(not shutil.which("node"), reason="Node.js is not installed")
def test_ready_when_nothing_is_missing(course):
    assert problem(course, ready(course)) is None


@pytest.mark.parametrize("change, expected", [
    ({"euid": 1000}, "must run as root"),
    ({"node": False}, "needs Node.js for its proxy: install Debian's nodejs"),
    ({"students_group": "no-such-students"}, "no Unix group 'no-such-students' for the students"),
    ({"authenticator": "github"}, 'authenticator must be "pam" or "lti13", not \'github\''),
    ({"authenticator": "lti13"}, "[lti13] issuer, client_id, authorize_url, jwks_endpoint must be set"),
])
def test_refuses_in_one_line(course, change, expected):
    kwargs = {key: change.pop(key) for key in ("euid", "node") if key in change}
    settings = ready(course, **change)
    if "node" not in kwargs and not shutil.which("node"):
        pytest.skip("Node.js is not installed")
    assert expected in problem(course, settings, **kwargs)


@pytest.mark.skipif(not shutil.which("node"), reason="Node.js is not installed")
def test_refuses_a_taken_port(course):
    settings = ready(course)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", settings["hub_port"]))
        assert problem(course, settings) == (f"port {settings['hub_port']} is taken (hub/settings.toml hub_port): "
                                             "stop what uses it or choose another port")


@pytest.mark.skipif(not shutil.which("node"), reason="Node.js is not installed")
def test_refuses_a_course_folder_students_could_read(course):
    course.chmod(0o755)
    assert problem(course, ready(course)) == (
        f"students could read the course folder {course.resolve()} (mode 755): its solutions/ and grading/ "
        f"hold every answer and grade: run chmod o-rwx {course.resolve()}")


@pytest.mark.skipif(not shutil.which("node"), reason="Node.js is not installed")
def test_refuses_an_exchange_students_cannot_share(course):
    root = hub.exchange(course)[1]
    (course / "exchange").chmod(0o755)
    assert problem(course, ready(course)) == (
        f"the exchange {root} has mode 755, not 1777 (every student writes there, nobody deletes another's "
        f"files): run chmod 1777 {root}")


def test_check_reports_everything_missing_at_once_and_changes_nothing(course):
    settings = ready(course, students_group="no-such-students")
    course.chmod(0o755)
    (course / "exchange").rmdir()
    found = problem(course, settings, euid=1000, node=False).splitlines()
    assert [line.split(":")[0].split(" ")[0] for line in found] == ["must", "needs", "no", "students"], found
    assert not (course / "exchange").exists()                      # nothing made or installed


@pytest.mark.e2e
def test_the_course_script_refuses_in_one_line_with_status_2(course):
    bad = subprocess.run(["./course", "hub", "--port=80"], cwd=course, capture_output=True, text=True)
    assert (bad.returncode, bad.stderr.strip()) == (2, "./course hub: unrecognized arguments: --port=80; "
                                                       "usage: ./course hub [-h] [--check]")
    settings = (course / hub.SETTINGS).read_text()
    (course / hub.SETTINGS).write_text(settings.replace('authenticator = "pam"', 'authenticator = "ldap"'))
    check = subprocess.run(["./course", "hub", "--check"], cwd=course, capture_output=True, text=True)
    lines = check.stderr.strip().splitlines()          # one line per problem, all of them
    assert check.returncode == 2 and all(line.startswith("./course hub: ") for line in lines), check.stderr
    assert any("not 'ldap'" in line for line in lines) and "Traceback" not in check.stderr


def hub_config(course, **settings):
    text = (course / hub.SETTINGS).read_text()
    for key, value in settings.items():
        text = re.sub(rf'(?m)^{key} = [^#\n]*', f'{key} = "{value}"  ', text)
    (course / hub.SETTINGS).write_text(text)
    return PyFileConfigLoader("jupyterhub_config.py", path=str(course / "hub")).load_config()


def test_lti13_log_in_is_configured_from_the_settings(course):
    from ltiauthenticator.lti13.auth import LTI13Authenticator
    config = hub_config(course, authenticator="lti13", **LTI)
    assert config.JupyterHub.authenticator_class == "ltiauthenticator.lti13.auth.LTI13Authenticator"
    lti = LTI13Authenticator(config=config)              # the authenticator itself accepts every value
    assert (lti.issuer, lti.client_id, lti.authorize_url, lti.jwks_endpoint, lti.username_key) == (
        LTI["issuer"], {LTI["client_id"]}, LTI["authorize_url"], LTI["jwks_endpoint"], "custom_username")


def test_pam_log_in_takes_the_students_group_and_students_run_as_themselves(course):
    config = hub_config(course)
    assert config.JupyterHub.authenticator_class == "pam"
    assert config.PAMAuthenticator.allowed_groups == {"rnns-students"}
    assert "spawner_class" not in config.JupyterHub                  # LocalProcessSpawner: own Unix account
    assert config.Spawner.cmd == [str(hub.student_env("/srv/rnns-hub") / "bin" / "jupyterhub-singleuser")]
    assert config.JupyterHub.port == 8000 and config.JupyterHub.hub_ip == "127.0.0.1"


def test_the_student_environment_lists_the_feedback_opener(tmp_path):
    """The course's lab extension goes where pip puts nbgrader's in the student environment, readable
    by students and replacing an earlier copy: JupyterLab there lists it, enabled and OK."""
    env = tmp_path / "student-env"
    earlier = env / "share" / "jupyter" / "labextensions" / "rnns-feedback-opener" / "static" / "remoteEntry.0.js"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("")
    installed = hub.install_feedback_opener(env)
    assert not earlier.exists()
    assert all(path.stat().st_mode & stat.S_IROTH for path in [installed, *installed.rglob("*")])
    listed = subprocess.run([sys.executable, "-m", "jupyterlab.labextensions", "list"], capture_output=True, text=True,
                            env=dict(os.environ, JUPYTER_PATH=str(env / "share" / "jupyter")), timeout=120, check=True)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)       # without its colours
    listing = rf"{re.escape(str(installed.parent))}\n\s+rnns-feedback-opener v0\.1\.0 enabled OK\n"
    assert re.search(listing, plain), plain


def test_the_student_environment_validates_with_the_courses_width(tmp_path):
    """nbgrader in the student environment (Validate, nbgrader validate) reads the configuration the
    hub writes there, with the course's Validator.width: no line of a test's message is cut."""
    etc = tmp_path / "student-env" / "etc" / "jupyter"
    hub.write_student_config(ROOT, etc)
    width = ("from nbgrader.apps import NbGrader; from nbgrader.validator import Validator; app = NbGrader(); "
             "app.load_config_file(); print(Validator(config=app.config).width)")
    loaded = subprocess.run([sys.executable, "-c", width], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, JUPYTER_CONFIG_PATH=str(etc)), check=True)  # as its etc/jupyter is
    course = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert int(loaded.stdout) == course.Validator.width > 90
