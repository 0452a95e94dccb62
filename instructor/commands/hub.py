"""./course hub: the course's JupyterHub on one machine, for a class.

    ./course hub [--check]          (as root)

Reads hub/settings.toml, checks what the hub needs and refuses with one line per thing missing
(not root, no Node.js or proxy, a port taken, no students' group, LTI settings left empty, a
course folder students could read, an exchange with the wrong permissions), makes the students'
homes private, builds the student environment, then runs JupyterHub with hub/jupyterhub_config.py.
--check only reports, all at once, and changes and installs nothing.

The student environment is a venv of Debian's python3 in <state>/student-env (students' accounts
cannot read a Python under /root) with rnnlib's dependencies, JupyterLab, nbgrader and
jupyterhub-singleuser (rebuilt only when those change), and a Jupyter configuration that turns on
nbgrader's Assignments tab and turns off its instructor tools; with the course's exchange classes
(instructor/pipeline/student_exchange.py) and its lab extension (instructor/commands/labextensions/), the tab's
"(view feedback)" opens the feedback page, and Validate's dialog wraps a failed test's long lines.
Its rnnlib is the student edition (instructor/commands/publish.py) in <state>/edition/current: the lessons
handed out, with answers only for those closed (instructor/model/answers.py). refresh_edition swaps it
in one rename when the term moves on, so no server or kernel stops; the next kernel a student
starts imports the new one.
"""
import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

from ..model.answers import describe, plan
from ..model.layout import ROOT, Layout, exchange
from ..pipeline import student_exchange
from .publish import FEEDBACK_OPENER, OPENER_IN_PREFIX, edition, validate_settings

SETTINGS = Path("hub") / "settings.toml"
PROXY = Path("hub") / "node_modules" / ".bin" / "configurable-http-proxy"
STUDENT_PYTHON = "/usr/bin/python3"
STUDENT_EXCHANGE = "rnns_student_exchange"     # instructor/pipeline/student_exchange.py, in the student environment
UNIX_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# What students do not get: the formgrader, the course list and the assignment-creation panel.
STUDENT_SERVER = {"ServerApp": {"jpserver_extensions": {
    "nbgrader.server_extensions.formgrader": False, "nbgrader.server_extensions.course_list": False,
    "nbgrader.server_extensions.assignment_list": True, "nbgrader.server_extensions.validate_assignment": True}}}
STUDENT_LAB = {"disabledExtensions": {"@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:course-list": True,
                                      "@jupyter/nbgrader:create-assignment": True}}


# No pop-up asking students whether JupyterLab may fetch news from the internet.
STUDENT_SETTINGS = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def read_settings(course):
    with open(Path(course) / SETTINGS, "rb") as f:
        return tomllib.load(f)


def student_env(state):
    return Path(state) / "student-env"


def ensure_account(name, group):
    """A Unix account for an LMS user at their first launch (in group, with a private home)."""
    if not UNIX_NAME.fullmatch(name):
        raise ValueError(f"{name!r} cannot be a Unix account name: set [lti13] username_key to a login id")
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--key", "HOME_MODE=0700", "--groups", group, name], check=True)


def private_home(name):
    """Other students must not read this one's work: their home is theirs alone."""
    os.chmod(pwd.getpwnam(name).pw_dir, 0o700)


def port_taken(ip, port):
    with socket.socket() as s:
        try:
            s.bind((ip or "0.0.0.0", port))
        except OSError:
            return True
    return False


def problems(course, settings, euid=None, path=None):
    """Every reason the hub cannot start, one line each ([] when it can). Changes nothing."""
    euid = os.geteuid() if euid is None else euid
    found = []
    if euid != 0:
        found.append("must run as root: it starts each student's JupyterLab as that student's own Unix account "
                     "(run: sudo ./course hub)")
    if not shutil.which("node", path=path):
        found.append("needs Node.js for its proxy: install Debian's nodejs and npm (sudo apt-get install nodejs npm)")
    if not (Path(course) / PROXY).exists():
        found.append("the proxy is not installed: run npm ci --prefix hub (./course hub does it)")
    if not Path(STUDENT_PYTHON).exists():
        found.append(f"needs Debian's python3 for the student environment ({STUDENT_PYTHON}): "
                     f"apt-get install python3-venv")
    found += login_problems(settings)
    mode = stat.S_IMODE(Path(course).stat().st_mode)
    if mode & (stat.S_IROTH | stat.S_IXOTH):
        found.append(f"students could read the course folder {Path(course).resolve()} (mode {mode:o}): its "
                     f"solutions/ and grading/ hold every answer and grade: run chmod o-rwx {Path(course).resolve()}")
    for key in ("port", "hub_port", "proxy_api_port"):
        ip = settings["ip"] if key == "port" else "127.0.0.1"
        if port_taken(ip, settings[key]):
            found.append(f"port {settings[key]} is taken ({SETTINGS} {key}): stop what uses it or choose another port")
    return found + exchange_problems(course)


def login_problems(settings):
    if settings["authenticator"] not in ("pam", "lti13"):
        return [f"{SETTINGS}: authenticator must be \"pam\" or \"lti13\", not {settings['authenticator']!r}"]
    if settings["authenticator"] == "lti13":
        empty = [key for key, value in settings["lti13"].items() if not value]
        return [f"{SETTINGS}: [lti13] {', '.join(empty)} must be set for LTI 1.3 log-in (see README)"] if empty else []
    group = settings["students_group"]
    try:
        grp.getgrnam(group)
    except KeyError:
        return [f"no Unix group {group!r} for the students ({SETTINGS} students_group): create it with groupadd "
                f"{group}, then add each student with useradd -m -K HOME_MODE=0700 -G {group} NAME"]
    homes = {name: Path(pwd.getpwnam(name).pw_dir) for name in members(group)}
    readable = [name for name, home in homes.items() if home.is_dir() and stat.S_IMODE(home.stat().st_mode) & 0o077]
    if readable:
        return [f"the homes of {len(readable)} students can be read by others ({', '.join(readable[:5])}"
                f"{' ...' if len(readable) > 5 else ''}): ./course hub makes them private (mode 700) as it starts"]
    return []


def members(group):
    """The accounts in group: its listed members and those whose primary group it is."""
    entry = grp.getgrnam(group)
    return sorted(set(entry.gr_mem) | {p.pw_name for p in pwd.getpwall() if p.pw_gid == entry.gr_gid})


def exchange_problems(course):
    """The exchange root must be writable by every student and sticky (mode 1777)."""
    root = Path(exchange(course)[1])
    if not root.exists():
        return []                              # ./course hub makes it
    mode = stat.S_IMODE(root.stat().st_mode)
    if mode not in (0o777, 0o1777):            # 777: as nbgrader's release makes it; the hub adds the sticky bit
        return [f"the exchange {root} has mode {mode:o}, not 1777 (every student writes there, nobody deletes "
                f"another's files): run chmod 1777 {root}"]
    return []


def prepare_exchange(course):
    root = Path(exchange(course)[1])
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o1777)


def fingerprint(requirements):
    return hashlib.sha256(json.dumps([jupyterhub_version(), *requirements]).encode()).hexdigest()


def jupyterhub_version():
    from jupyterhub import __version__
    return __version__


def requirements(course):
    """What the student environment installs: rnnlib's dependencies (rnnlib itself is the edition's)."""
    with open(Path(course) / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["dependencies"]


def build_student_env(course, settings):
    """Install rnnlib's dependencies into <state>/student-env (only when they changed), point its
    rnnlib at the edition students may have now (refresh_edition), and write the students' Jupyter
    configuration. Everything there is readable by students and writable by root alone."""
    state = Path(settings["state"])
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)
    (state / "hub").mkdir(mode=0o700, exist_ok=True)
    env, wanted = student_env(state), fingerprint(requirements(course))
    stamp = env / ".fingerprint"
    if not stamp.exists() or stamp.read_text() != wanted:
        install_student_env(requirements(course), env)
        readable_by_students(env)
        stamp.write_text(wanted)
    site = Path(subprocess.run([str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "rnns-edition.pth").write_text(f"{edition_link(state)}\n")   # rnnlib: the edition's, not pip's
    shutil.copy(student_exchange.__file__, site / f"{STUDENT_EXCHANGE}.py")
    install_feedback_opener(env)
    refresh_edition(course, settings)
    write_student_config(course, env / "etc" / "jupyter")
    for folder in (env / "etc" / "jupyter", env / "share" / "jupyter" / "lab" / "settings"):
        readable_by_students(folder)
    for name in ("rnns-edition.pth", f"{STUDENT_EXCHANGE}.py"):
        (site / name).chmod(0o644)
    return env


def install_feedback_opener(env):
    """Put the feedback opener among env's JupyterLab extensions (<env>/share/jupyter/labextensions,
    where pip puts nbgrader's), replacing any earlier copy; the next JupyterLab page loads it."""
    target = Path(env) / OPENER_IN_PREFIX
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(FEEDBACK_OPENER, target)
    readable_by_students(target)
    return target


def edition_link(state):
    """The folder whose rnnlib students import: a link to the current edition, swapped in one step."""
    return Path(state) / "edition" / "current"


def refresh_edition(course, settings=None):
    """Make the students' rnnlib the edition the term allows now (instructor/model/answers.py), if it is not
    already. The link is replaced in one rename, so running servers and kernels go on; the next
    kernel imports the new edition. Returns a line saying what changed, or None when nothing did
    (or this machine has no student environment)."""
    if settings is None and not (Path(course) / SETTINGS).exists():     # a course without a hub
        return None
    settings = settings or read_settings(course)
    link, layout = edition_link(settings["state"]), Layout(course)
    if not student_env(settings["state"]).exists() and not link.parent.exists():
        return None
    published, open_lessons = plan(layout)
    wanted = hashlib.sha256(json.dumps([published, open_lessons, fingerprint_course(layout)]).encode()).hexdigest()[:16]
    folder = link.parent / wanted
    if link.is_symlink() and link.resolve() == folder.resolve():
        return None
    if not folder.exists():
        partial = link.parent / f"{wanted}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        edition(layout, partial, published, open_lessons)
        readable_by_students(partial)
        partial.rename(folder)
    new = link.parent / f"current.{wanted}"
    new.unlink(missing_ok=True)
    new.symlink_to(folder.name)
    new.replace(link)
    for old in link.parent.iterdir():       # earlier editions: no new kernel reaches them any more
        if old.is_dir() and not old.is_symlink() and old.name != wanted:
            shutil.rmtree(old, ignore_errors=True)
    return f"the students' edition is now: {describe(layout)}"


def fingerprint_course(layout):
    digest = hashlib.sha256()
    for path in sorted([*Path(layout.release).rglob("*.ipynb"), *(ROOT / "rnnlib").rglob("*.py")]):
        digest.update(str(path.name).encode() + path.read_bytes())
    return digest.hexdigest()


def install_student_env(packages, env):
    shutil.rmtree(env, ignore_errors=True)
    print(f"Building the student environment in {env} (first time: a few minutes) ...", flush=True)
    subprocess.run([STUDENT_PYTHON, "-m", "venv", str(env)], check=True)
    pip = [str(env / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *packages, f"jupyterhub=={jupyterhub_version()}"], check=True)


def readable_by_students(env):
    """A umask of 027 (some Debian setups) would leave the environment unreadable to students."""
    for path in [env, *env.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() or mode & stat.S_IXUSR else 0))


def write_student_config(course, etc):
    course_id, root = exchange(course)
    (etc / "jupyter_server_config.d").mkdir(parents=True, exist_ok=True)
    (etc / "labconfig").mkdir(exist_ok=True)
    (etc / "nbgrader_config.py").write_text(
        f"c = get_config()  # noqa: F821\nc.CourseDirectory.course_id = {course_id!r}\nc.Exchange.root = {str(root)!r}\n"
        # the Assignments tab and Fetch Feedback say when no feedback has been returned yet
        f"c.ExchangeFactory.list = '{STUDENT_EXCHANGE}.ListSayingWhenNoFeedback'\n"
        f"c.ExchangeFactory.fetch_feedback = '{STUDENT_EXCHANGE}.FetchFeedbackSayingWhy'\n"
        + validate_settings(course))
    # Loaded after nbgrader's own nbgrader.json (alphabetical), so these switches win.
    (etc / "jupyter_server_config.d" / "zz-rnns-student.json").write_text(json.dumps(STUDENT_SERVER, indent=1))
    (etc / "labconfig" / "page_config.json").write_text(json.dumps(STUDENT_LAB, indent=1))
    lab_settings = etc.parent.parent / "share" / "jupyter" / "lab" / "settings"
    lab_settings.mkdir(parents=True, exist_ok=True)
    (lab_settings / "overrides.json").write_text(json.dumps(STUDENT_SETTINGS, indent=1))


def serve(course, check_only=False):
    """./course hub [--check]: refuse with one line per problem, or run JupyterHub (it never returns)."""
    settings = read_settings(course)
    found = problems(course, settings)
    homes = [p for p in found if p.startswith("the homes of ")]    # fixed below, as the hub starts
    if check_only or len(found) > len(homes):
        for problem in found:
            print(f"./course hub: {problem}", file=sys.stderr)
        if found:
            return 2
        print(f"./course hub: ready to serve on port {settings['port']}")
        return 0
    prepare_exchange(course)
    if settings["authenticator"] == "pam":
        for name in members(settings["students_group"]):
            if Path(pwd.getpwnam(name).pw_dir).is_dir():
                private_home(name)
    build_student_env(course, settings)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    os.chdir(Path(settings["state"]) / "hub")
    os.execve(sys.executable, [sys.executable, "-m", "jupyterhub", "-f", str(course / "hub" / "jupyterhub_config.py")],
              env)
