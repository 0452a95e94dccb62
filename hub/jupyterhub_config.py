"""The course's JupyterHub: ./course hub starts it (as root) with this file.

Everything a deployment changes lives in hub/settings.toml; this file turns those settings into
JupyterHub's. Each student logs in (PAM: their Unix account; or LTI 1.3 from the LMS), and their
JupyterLab runs as their own Unix account (LocalProcessSpawner) from the student environment:
rnnlib from the student edition (no answers of lessons not yet released), nbgrader's Assignments
tab (Fetch, Validate, Submit, Fetch feedback) and none of the instructor's tools.
"""
import sys
from pathlib import Path

COURSE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(COURSE))
from instructor.commands.hub import ensure_account, private_home, read_settings, student_env  # noqa: E402

settings = read_settings(COURSE)
state = Path(settings["state"])
c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

# Network: students reach the proxy; the hub and the proxy's API stay on loopback.
c.JupyterHub.ip = settings["ip"]
c.JupyterHub.port = settings["port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.ConfigurableHTTPProxy.command = [str(COURSE / "hub" / "node_modules" / ".bin" / "configurable-http-proxy")]

# The hub's own state, readable by root only.
c.JupyterHub.db_url = f"sqlite:///{state / 'hub' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "hub" / "cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(state / "hub" / "proxy.pid")

# Log-in.
c.Authenticator.admin_users = set(settings["admins"])
if settings["authenticator"] == "lti13":
    c.JupyterHub.authenticator_class = "ltiauthenticator.lti13.auth.LTI13Authenticator"
    lti = settings["lti13"]
    c.LTI13Authenticator.issuer = lti["issuer"]
    c.LTI13Authenticator.client_id = {lti["client_id"]}
    c.LTI13Authenticator.authorize_url = lti["authorize_url"]
    c.LTI13Authenticator.jwks_endpoint = lti["jwks_endpoint"]
    c.LTI13Authenticator.username_key = lti["username_key"]
    c.Authenticator.allow_all = True          # whoever the LMS launches is enrolled
else:
    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.allowed_groups = {settings["students_group"]}
    c.PAMAuthenticator.open_sessions = False  # no login session bookkeeping: servers are plain processes

# Each student's JupyterLab: their own Unix account, their home (private), the student environment.
env = student_env(state)
c.Spawner.cmd = [str(env / "bin" / "jupyterhub-singleuser")]
c.Spawner.environment = {"PATH": f"{env / 'bin'}:/usr/local/bin:/usr/bin:/bin"}
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab"


def before_spawn(spawner):
    if settings["authenticator"] == "lti13":   # an LMS user gets a Unix account at first launch
        ensure_account(spawner.user.name, settings["students_group"])
    private_home(spawner.user.name)


c.Spawner.pre_spawn_hook = before_spawn
