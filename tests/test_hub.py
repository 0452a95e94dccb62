"""A class on the course's JupyterHub, end to end, on this machine (as root, as CI runs).

One hub (./course hub in a copy of the course, free ports on 127.0.0.1, its own exchange) and three
student accounts the test creates: alice answers lesson 03 correctly, bob with a BPTT bug, mallory
tries to read the others' work. Each logs in, fetches, writes answers, validates and submits through
the hub; the instructor hands out, collects, autogrades and returns feedback with ./course; each
student fetches feedback with their own scores. Then: mallory read nothing, students have none of
the instructor's tools and no answers, and the exchange refuses what it must.
"""
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
import requests

from conftest import IN_THE_RUN, ROOT, RUN, free_port
from test_browser import ARGS, ARTIFACTS, CAUSE, CHROMIUM
from instructor.commands import hub
from instructor.commands.demo import BUGGY_RNN_BACKWARD
from instructor.model.layout import notebook_path
from instructor.pipeline.submissions import make_submission

COURSE_ID = "rnns-from-scratch"
GROUP = "rnns-hub-test"
STUDENTS = {"rnt-alice": "correct", "rnt-bob": "buggy", "rnt-mallory": "hostile"}
IN_THE_BROWSER = "rnt-dana"          # answers correctly, clicking through JupyterLab in Chromium
ACCOUNTS = [*STUDENTS, IN_THE_BROWSER]
# Persists between runs on one machine, so the student environment (a venv of Debian's python3
# with the published edition, JupyterLab and nbgrader: about 2 minutes to build) is built once.
STATE = Path("/var/tmp/rnns-hub-test")

pytestmark = [pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("node") or not (ROOT / hub.PROXY).exists() or not CHROMIUM.exists(),
    reason="the hub runs as root with Node.js and its proxy, and a student drives it in Debian's chromium "
           "(./course test installs all three when run as root)"),
    pytest.mark.hub, pytest.mark.browser, pytest.mark.e2e,
    # One worker: one hub, and the accounts, group and STATE are the machine's, fixed by name.
    pytest.mark.xdist_group("hub")]


def run(*args, cwd, check=True, user=None):
    """args run (as user, with that user's home and none of this test run's private folders)."""
    argv = ["runuser", "-u", user, "--", *args] if user else list(args)
    env = None if not user else {**{k: v for k, v in os.environ.items() if k not in (*IN_THE_RUN, RUN)},
                                 "HOME": pwd.getpwnam(user).pw_dir}
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=900, env=env)
    if check and done.returncode:
        pytest.fail(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def password(name):
    return f"pw-{name}-for-the-hub-test"


def make_accounts():
    subprocess.run(["groupadd", "-f", GROUP], check=True)
    for name in ACCOUNTS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--create-home", "--groups", GROUP, name], check=True)
        subprocess.run(["chpasswd"], input=f"{name}:{password(name)}\n", text=True, check=True)


def remove_accounts():
    for name in ACCOUNTS:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)
    subprocess.run(["groupdel", GROUP], check=False)


def hub_course(top):
    """A copy of the course in top/course whose hub and exchange live under top."""
    course = top / "course"
    course.mkdir(mode=0o700)              # the hub refuses a course folder that students could read
    for name in ("course", "pyproject.toml", "nbgrader_config.py"):
        shutil.copy2(ROOT / name, course / name)
    for folder in ("instructor", "solutions", "notebooks"):
        shutil.copytree(ROOT / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "hub", course / "hub", ignore=shutil.ignore_patterns("node_modules"))
    (course / "hub" / "node_modules").symlink_to(ROOT / "hub" / "node_modules")
    (course / ".venv").symlink_to(ROOT / ".venv")
    config = course / "nbgrader_config.py"
    config.write_text(re.sub(r'(?m)^c\.Exchange\.root = .*$', f'c.Exchange.root = "{top / "exchange"}"',
                             config.read_text()))
    settings = (course / hub.SETTINGS).read_text()
    for key, value in {"ip": '"127.0.0.1"', "port": free_port(), "hub_port": free_port(),
                       "proxy_api_port": free_port(), "students_group": f'"{GROUP}"', "state": f'"{STATE}"'}.items():
        settings = re.sub(rf'(?m)^{key} = [^#\n]*', f"{key} = {value}  ", settings)
    (course / hub.SETTINGS).write_text(settings)
    return course


class Student:
    """One student in a browser's shoes: logged in to the hub, with their JupyterLab started."""

    def __init__(self, url, name, secret=None):
        self.url, self.name = url, name
        self.session = requests.Session()
        self.session.get(f"{url}/hub/login", timeout=30)
        xsrf = self.session.cookies.get("_xsrf")
        login = self.session.post(f"{url}/hub/login?next=", allow_redirects=False, timeout=60,
                                  data={"username": name, "password": secret or password(name), "_xsrf": xsrf})
        self.logged_in = login.status_code == 302 and "/hub/login" not in login.headers.get("location", "")
        if not self.logged_in:
            return
        reply = self.session.post(f"{url}/hub/api/users/{name}/tokens", json={"note": "test"}, timeout=30,
                                  headers={"X-XSRFToken": self.session.cookies.get("_xsrf")})
        assert reply.status_code == 201, reply.text
        self.session.headers["Authorization"] = f"token {reply.json()['token']}"

    def start(self):
        self.session.post(f"{self.url}/hub/api/users/{self.name}/server", timeout=60)
        deadline = time.monotonic() + 180
        while not self.session.get(f"{self.url}/hub/api/users/{self.name}", timeout=30).json()[
                "servers"].get("", {}).get("ready"):
            assert time.monotonic() < deadline, f"{self.name}'s JupyterLab did not start"
            time.sleep(1)
        return self

    def get(self, path, **kw):
        return self.session.get(f"{self.url}/user/{self.name}/{path}", timeout=120, **kw)

    def post(self, endpoint, **data):
        return self.session.post(f"{self.url}/user/{self.name}/{endpoint}", data=data, timeout=600)

    def assignments(self, action, assignment="03_bptt"):
        return self.post(f"assignments/{action}", course_id=COURSE_ID, assignment_id=assignment).json()

    def notebook(self, path):
        return nbformat.from_dict(self.get(f"api/contents/{path}").json()["content"])

    def save(self, path, nb):
        reply = self.session.put(f"{self.url}/user/{self.name}/api/contents/{path}", timeout=60,
                                 json={"type": "notebook", "content": nb})
        assert reply.status_code in (200, 201), reply.text


MENU = ".lm-MenuBar-itemLabel:text-is('{}')"
class BrowserStudent:
    """rnt-dana in headless Chromium: every step by the page's own buttons and menus, with a
    screenshot of each in test-artifacts/hub/."""

    def __init__(self, browser, url, name=IN_THE_BROWSER):
        self.page, self.url, self.name = browser.new_page(viewport={"width": 1280, "height": 900}), url, name
        self.shots = ARTIFACTS.parent / "hub"
        self.shots.mkdir(parents=True, exist_ok=True)

    def shot(self, step):
        self.page.screenshot(path=self.shots / f"{step}.png")

    def log_in_and_open_assignments(self, step):
        page = self.page
        page.goto(f"{self.url}/hub/login")
        page.fill("#username_input", self.name)
        page.fill("#password_input", password(self.name))
        self.shot(f"{step}-login")
        page.click("#login_submit")
        page.wait_for_url(f"**/user/{self.name}/lab**", timeout=180_000)
        page.click(MENU.format("Nbgrader"), timeout=120_000)
        page.click(".lm-Menu-itemLabel:text-is('Assignment List')")
        page.wait_for_selector("#released_assignments_list_loading", state="hidden", timeout=60_000)

    def fetch_answer_validate_submit(self):
        page = self.page
        self.log_in_and_open_assignments("1")
        self.shot("2-assignments")
        page.click("#released_assignments_list button:text-is('Fetch')", timeout=60_000)
        page.wait_for_selector("#fetched_assignments_list .assignment-notebooks-link", timeout=60_000)
        home = pwd.getpwnam(self.name)                   # her answers, written before she opens it
        path = Path(home.pw_dir) / "03_bptt" / "bptt.ipynb"
        nbformat.write(answers("correct", nbformat.read(path, as_version=4)), path)
        os.chown(path, home.pw_uid, home.pw_gid)
        page.click("#fetched_assignments_list .assignment-notebooks-link")
        page.click("#fetched_assignments_list .nested_list_item a:text-is('bptt')")
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
        self.run_all()
        ran = self.saved_until_every_cell_ran(path)
        self.shot("3-ran")
        page.click(".lm-TabBar-tabLabel:text-is('Assignments')")
        page.click("#fetched_assignments_list button:text-is('Validate')")
        page.wait_for_selector(".jp-Dialog", timeout=300_000)
        validated = page.inner_text(".jp-Dialog")
        self.shot("4-validated")
        page.click(".jp-Dialog button")
        page.click("#fetched_assignments_list button:text-is('Submit')")
        page.wait_for_selector("#submitted_assignments_list .nested_list_item", timeout=120_000)
        self.shot("5-submitted")
        return {"errors": [o for c in ran.cells for o in c.get("outputs", []) if o.output_type == "error"],
                "validated": validated}

    def run_all(self):
        self.page.click(".jp-Notebook")
        self.page.click(MENU.format("Run"))
        self.page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")

    def saved_until_every_cell_ran(self, path, timeout=300):
        """Save (Ctrl+S) until the file on disk has its last code cell executed: the page's own prompts
        are not a reliable sign, JupyterLab does not render cells scrolled out of view."""
        deadline, started = time.monotonic() + timeout, time.monotonic()
        while True:
            self.page.keyboard.press("Control+s")
            self.page.wait_for_timeout(2000)
            nb = nbformat.read(path, as_version=4)
            code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
            if code[-1].get("execution_count"):        # Run All runs in order and stops at an error
                return nb
            if not code[0].get("execution_count") and time.monotonic() - started > 60:
                self.run_all()                          # the first click came before the kernel listened
                started = time.monotonic()
            if time.monotonic() > deadline:
                self.shot("3-did-not-finish")
                not_run = [c.source.splitlines()[0] for c in code if not c.get("execution_count")]
                pytest.fail(f"{self.name}'s notebook did not finish running in {timeout} s: not run {not_run}")

    def fetch_feedback(self):
        self.page.reload()
        self.page.wait_for_selector("#submitted_assignments_list button:text-is('Fetch Feedback')", timeout=120_000)
        self.page.click("#submitted_assignments_list button:text-is('Fetch Feedback')")
        self.page.wait_for_selector("#submitted_assignments_list a:has-text('view feedback')", timeout=120_000)
        self.shot("6-feedback")
        self.page.click("#submitted_assignments_list a:has-text('view feedback')")   # opens the page (lab extension)
        self.page.frame_locator(".jp-HTMLViewer iframe").locator("math").first.wait_for(timeout=60_000)
        self.shot("7-feedback-page")
        # what was fetched; JupyterLab's own .ipynb_checkpoints (it opened the page) aside
        return sorted(p.name for p in (Path(pwd.getpwnam(self.name).pw_dir) / "03_bptt" / "feedback").glob("*/*")
                      if not p.name.startswith("."))


def answers(kind, release):
    solution = nbformat.read(notebook_path(ROOT / "solutions", "03_bptt"), as_version=4)
    if kind == "buggy":
        return make_submission(release, solution, "correct", {"rnn_backward": BUGGY_RNN_BACKWARD})
    if kind == "hostile":   # reads the exchange and the classmates' homes when graded
        peek = ("def rnn_backward(dh, cache):\n    import os, glob\n"
                "    print(os.listdir('/home'), glob.glob('/home/*/03_bptt/*'))\n    raise NotImplementedError\n")
        return make_submission(release, solution, "correct", {"rnn_backward": peek})
    return make_submission(release, solution, "correct")


@pytest.fixture(scope="module")
def class_on_hub():
    """The whole term of lesson 03 on the hub; yields what each step returned."""
    top = Path(tempfile.mkdtemp(prefix="rnns-hub-"))
    top.chmod(0o755)                                  # students' accounts must reach the exchange
    STATE.mkdir(exist_ok=True)
    shutil.rmtree(STATE / "hub", ignore_errors=True)   # a new hub database: new users, new tokens
    make_accounts()
    course = hub_course(top)
    settings = hub.read_settings(course)
    url = f"http://127.0.0.1:{settings['port']}"
    log = open(top / "hub.log", "w")
    started = time.monotonic()
    server = subprocess.Popen(["./course", "hub"], cwd=course, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        while True:
            try:
                if requests.get(f"{url}/hub/login", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if server.poll() is not None or time.monotonic() - started > 900:
                pytest.fail(f"./course hub did not come up:\n{(top / 'hub.log').read_text()[-4000:]}")
            time.sleep(1)
        steps = {"course": course, "url": url, "startup": time.monotonic() - started}
        steps["hand-out"] = run("./course", "hand-out", "03_bptt", cwd=course).stdout
        steps["while open"] = references_in_student_env("rnt-alice")
        run("./course", "roster", "group", cwd=course)    # the hub's students: collect refuses anyone else
        from playwright.sync_api import sync_playwright
        # Stopped however a step ends: a later browser test on this worker needs its event loop gone.
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            dana = BrowserStudent(browser, url)
            steps["in the browser"] = dana.fetch_answer_validate_submit()
            steps["students"] = students = {name: Student(url, name).start() for name in STUDENTS}
            steps["fetched"] = {name: s.assignments("fetch") for name, s in students.items()}
            steps["validated"] = {}
            for name, student in students.items():
                student.save("03_bptt/bptt.ipynb", answers(STUDENTS[name], student.notebook("03_bptt/bptt.ipynb")))
                steps["validated"][name] = student.post("assignments/validate", path="03_bptt/bptt.ipynb").json()
            steps["submitted"] = {name: s.assignments("submit") for name, s in students.items()}
            run("./course", "collect", "03_bptt", cwd=course)
            steps["autograde"] = run("./course", "autograde", "03_bptt", cwd=course).stdout
            run("./course", "feedback", "03_bptt", cwd=course)
            steps["listed before return"] = students["rnt-alice"].get("assignments",
                                                                      params={"course_id": COURSE_ID}).json()
            run("./course", "return", "03_bptt", cwd=course)
            steps["feedback"] = {name: s.assignments("fetch_feedback") for name, s in students.items()}
            steps["in the browser"]["feedback"] = dana.fetch_feedback()
            browser.close()
        servers = {name: s.session.get(f"{url}/hub/api/users/{name}", timeout=30).json()["servers"][""]["started"]
                   for name, s in students.items()}
        steps["close"] = run("./course", "close", "03_bptt", cwd=course).stdout
        steps["after close"] = references_in_student_env("rnt-alice")
        steps["servers kept"] = servers == {
            name: s.session.get(f"{url}/hub/api/users/{name}", timeout=30).json()["servers"][""]["started"]
            for name, s in students.items()}
        steps["wall"] = time.monotonic() - started
        yield steps
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
        remove_accounts()
        shutil.rmtree(top, ignore_errors=True)


def references_in_student_env(student):
    """{reference: its source or what getsource raised} for lesson 03's and later lessons' references,
    in a fresh Python of the student environment, as the student (a kernel started now sees this)."""
    from rnnlib.grading import LESSONS
    refs = [ref for lesson in LESSONS[2:] for ref in lesson.references if not ref.startswith("grading.")]
    env = hub.student_env(STATE)
    code = (f"import inspect, json\nfrom rnnlib.grading.core import resolve\nout = {{}}\nfor ref in {refs!r}:\n"
            f"    out[ref] = inspect.getsource(resolve(ref))\nprint(json.dumps(out))")
    return json.loads(run(str(env / "bin" / "python"), "-c", code, cwd="/", user=student).stdout)


def test_answers_follow_the_term_and_nobody_is_stopped(class_on_hub):
    """While 03 is handed out and open, the students' rnnlib has no code of lesson 03 or later; after
    ./course close 03_bptt the next Python they start has lesson 03's, and no server was restarted."""
    steps = class_on_hub
    assert "03_bptt: open, results only" in steps["hand-out"]
    for ref, source in steps["while open"].items():
        assert re.search(r"is an answer of lesson 03_bptt, which is open|comes with lesson 0[4-8]", source), ref
    assert "backward_steps(da, hs, Wh)" not in steps["while open"]["rnn:rnn_backward"]
    assert "03_bptt: closed" in steps["close"]
    assert "backward_steps(da, hs, Wh)" in steps["after close"]["rnn:rnn_backward"]
    assert "comes with lesson 04_vanishing_gradients" in steps["after close"]["optim:clip_grad_norm"]
    assert steps["servers kept"]


def feedback_html(student):
    folder = student.get("api/contents/03_bptt/feedback").json()["content"]
    assert len(folder) == 1, folder                      # one submission, one feedback
    return student.get(f"api/contents/{folder[0]['path']}/bptt.html").json()["content"]


def test_each_student_fetches_validates_submits_and_gets_their_own_feedback(class_on_hub):
    steps = class_on_hub
    print(f"hub up after {steps['startup']:.0f} s; the whole term took {steps['wall']:.0f} s")
    for name in STUDENTS:
        assert steps["fetched"][name]["success"], steps["fetched"][name]
        assert steps["submitted"][name]["success"], steps["submitted"][name]
        assert steps["feedback"][name]["success"], steps["feedback"][name]
    alice, bob = steps["validated"]["rnt-alice"], steps["validated"]["rnt-bob"]
    assert alice == {"success": True, "value": {}}                  # Validate: nothing fails
    assert "overwritten at every step" in json.dumps(bob)           # ... and bob learns why his fails
    table = steps["autograde"]
    assert re.search(r"rnt-alice\s+14\.0 / 18", table) and re.search(r"rnt-mallory\s+\d", table), table
    for name, student in steps["students"].items():                # each sees their own score
        score = re.search(r"Score: ([\d.]+) / 18", feedback_html(student)).group(1)
        assert re.search(rf"{name}\s+{score} / 18", table), (name, score, table)
    bob_feedback = feedback_html(steps["students"]["rnt-bob"])
    assert "overwritten at every step" in bob_feedback and "BEGIN HIDDEN TESTS" not in bob_feedback


def test_the_assignments_tab_says_when_no_feedback_was_returned_yet(class_on_hub):
    listed = json.dumps(class_on_hub["listed before return"])
    assert "no feedback returned yet" in listed, listed
    assert class_on_hub["feedback"]["rnt-alice"]["success"]


def test_a_student_does_it_all_in_the_browser(class_on_hub):
    dana = class_on_hub["in the browser"]
    assert dana["errors"] == []
    assert "Success! Your notebook passes all the tests." in dana["validated"]
    assert dana["feedback"] == ["bptt.html"]
    assert re.search(r"rnt-dana\s+14\.0 / 18", class_on_hub["autograde"])
    for step in ("1-login", "2-assignments", "3-ran", "4-validated", "5-submitted", "6-feedback", "7-feedback-page"):
        assert (ARTIFACTS.parent / "hub" / f"{step}.png").stat().st_size > 10_000


def test_a_student_reads_nothing_of_the_others(class_on_hub):
    steps, course = class_on_hub, class_on_hub["course"]
    mallory, alice = steps["students"]["rnt-mallory"], steps["students"]["rnt-alice"]
    exchange = Path(hub.exchange(course)[1]) / COURSE_ID
    # the file system, as her own Unix account (her kernels run as it)
    for target in ("/home/rnt-alice", "/home/rnt-alice/03_bptt/bptt.ipynb", exchange / "inbound",
                   exchange / "feedback", course / "grading", course / "solutions"):
        attempt = run("cat" if str(target).endswith(".ipynb") else "ls", str(target), cwd="/", check=False,
                      user="rnt-mallory")
        assert attempt.returncode != 0 and "Permission denied" in attempt.stderr, (target, attempt.stdout)
    # the hub's API and alice's JupyterLab, with mallory's log-in
    assert mallory.session.get(f"{mallory.url}/user/rnt-alice/api/contents", timeout=30,
                               allow_redirects=False).status_code in (302, 403, 404)
    assert mallory.session.get(f"{mallory.url}/hub/api/users/rnt-alice", timeout=30).status_code in (403, 404)
    # the exchange's list of submissions shows only her own
    listed = mallory.get("assignments", params={"course_id": COURSE_ID}).json()
    assert "rnt-alice" not in json.dumps(listed) and "rnt-bob" not in json.dumps(listed)
    # ... and what her graded answer printed while it tried
    graded = nbformat.read(course / "grading" / "autograded" / "rnt-mallory" / "03_bptt" / "bptt.ipynb", 4)
    assert "rnt-alice/03_bptt" not in json.dumps([c.get("outputs") for c in graded.cells])
    assert alice.get("api/contents/03_bptt/bptt.ipynb").status_code == 200   # alice still reaches her own


def test_students_get_the_assignments_tab_and_none_of_the_instructor_tools(class_on_hub):
    alice = class_on_hub["students"]["rnt-alice"]
    assert alice.get("formgrader", allow_redirects=False).status_code == 404
    assert alice.get("assignments", params={"course_id": COURSE_ID}).json()["success"]
    page = alice.get("lab").text
    for plugin in ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"):
        assert plugin in page                                   # listed among the disabled extensions
    assert '"disabledExtensions"' in page
    # the course's lab extension (its "(view feedback)" opens the page, its style wraps Validate's long
    # lines): in the page with its style, its script served
    load = json.loads((hub.FEEDBACK_OPENER / "package.json").read_text())["jupyterlab"]["_build"]["load"]
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))
    assert [e["style"] for e in config["federated_extensions"] if e["name"] == "rnns-feedback-opener"] == ["./style"]
    script = alice.get(f"lab/extensions/rnns-feedback-opener/{load}").text
    assert "docmanager:open" in script and "#validation-message pre" in script
    env = hub.student_env(hub.read_settings(class_on_hub["course"])["state"])
    # nbgrader validate in the student environment prints bob's likely cause whole
    printed = run(str(env / "bin" / "nbgrader"), "validate", "03_bptt/bptt.ipynb", cwd=pwd.getpwnam("rnt-bob").pw_dir,
                  user="rnt-bob").stdout
    assert CAUSE in printed, printed
    found = run(str(env / "bin" / "python"), "-c",
                "import importlib.util as u; print(u.find_spec('instructor'), u.find_spec('rnnlib').origin)",
                cwd="/", user="rnt-alice").stdout
    link = hub.edition_link(hub.read_settings(class_on_hub["course"])["state"])
    assert found.startswith("None ") and str(link) in found     # no grading tools; the edition's rnnlib


def test_the_exchange_refuses_in_one_clear_message_and_keeps_every_submission(class_on_hub):
    steps, course = class_on_hub, class_on_hub["course"]
    alice = steps["students"]["rnt-alice"]
    not_released = alice.assignments("submit", "05_binary_addition")
    assert not not_released["success"] and "05_binary_addition" in not_released["value"]
    never_fetched = Student(steps["url"], "rnt-bob")             # bob deletes his copy, then submits
    run("rm", "-r", "/home/rnt-bob/03_bptt", cwd="/", user="rnt-bob")
    refused = never_fetched.assignments("submit")
    assert not refused["success"] and "03_bptt" in refused["value"]
    again = alice.assignments("submit")                          # a resubmission: both are kept
    assert again["success"]
    run("./course", "collect", "03_bptt", cwd=course)
    inbound = Path(hub.exchange(course)[1]) / COURSE_ID / "inbound"
    assert len([p for p in inbound.iterdir() if p.name.startswith("rnt-alice+03_bptt+")]) == 2
    assert not Student(steps["url"], "rnt-alice", secret="wrong").logged_in
