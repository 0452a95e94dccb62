"""The README's instructor one-liners, run as an instructor would: through ./course, from a copy
of the course, with the venv never activated (its bin/ is not on PATH).

release -> collect an LMS zip -> autograde -> hand-grade the free responses in the formgrader
(over its REST API, as its web page does) -> feedback -> CSV export.

Each refusal is checked in-process, through the command table (instructor/commands/cli.py main prints the
line and returns 2), and two also through ./course itself, for what the script adds: the whole way
from bash to the table, paths taken from where they were typed, exit 2.
"""
import csv
import json
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile

import nbformat
import pytest

from conftest import ROOT, course_copy, free_port, jupyter_server, without_venv
from instructor.commands import cli
from instructor.model.gradebook import grades
from instructor.model.layout import Layout, notebook_path
from instructor.pipeline.submissions import make_submission

ASSIGNMENT = "01_forward_pass"
TOKEN = "instructor-test-token"
ENV = without_venv()
# The tests of the graded course run on one worker: they share its grading and its formgrader.
GRADED_COURSE = "instructor-commands"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course with one assignment, sharing this checkout's .venv."""
    course = course_copy(tmp_path_factory.mktemp("course"))
    shutil.copytree(Layout(ROOT).source / ASSIGNMENT, Layout(course).source / ASSIGNMENT)
    return course


def run(course, *args):
    """./course ARGS, as the instructor types it."""
    result = subprocess.run([str(course / "course"), *args], cwd=course, capture_output=True, text=True,
                            env=ENV, timeout=600)
    assert result.returncode == 0, f"./course {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """Release, collect two students from an LMS zip, autograde."""
    run(course, "release")
    layout = Layout(course)
    release = nbformat.read(layout.release_notebook(ASSIGNMENT), as_version=4)
    solution = nbformat.read(notebook_path(layout.source, ASSIGNMENT), as_version=4)
    archive = tmp_path_factory.mktemp("lms") / "forward_pass.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("submissions/alice_forward_pass.ipynb", nbformat.writes(make_submission(release, solution)))
        z.writestr("submissions/bob_late_1234_forward_pass.ipynb", nbformat.writes(release))
    run(course, "collect", ASSIGNMENT, str(archive))
    autograde = run(course, "autograde", ASSIGNMENT)
    return course, autograde.stdout


def api(port, path, method="GET", body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def formgrader(graded):
    """./course formgrader, headless; yields its port."""
    course, _ = graded
    port = free_port()
    argv = [str(course / "course"), "formgrader", "--no-browser", f"--port={port}", f"--IdentityProvider.token={TOKEN}"]
    with jupyter_server(argv, course, ENV, f"http://127.0.0.1:{port}/formgrader/api/status?token={TOKEN}",
                        course / "formgrader.log"):
        yield port


@pytest.mark.e2e
@pytest.mark.xdist_group(GRADED_COURSE)
def test_collect_and_autograde_through_the_course_script(graded):
    course, table = graded
    for student in ("alice", "bob"):
        assert Layout(course).submitted_notebook(student, ASSIGNMENT).is_file()
    assert "alice" in table and "bob" in table


@pytest.mark.e2e
@pytest.mark.xdist_group(GRADED_COURSE)
def test_formgrader_command_opens_on_the_formgrader(formgrader):
    request = urllib.request.Request(f"http://127.0.0.1:{formgrader}/", headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.url.endswith("/formgrader/manage_assignments")
        assert "<title>nbgrader formgrade" in response.read().decode()


@pytest.mark.e2e
@pytest.mark.xdist_group(GRADED_COURSE)
def test_free_responses_are_hand_graded_in_the_formgrader(formgrader, graded):
    course, _ = graded
    submissions = {s["student"]: s for s in api(formgrader, f"/formgrader/api/submitted_notebooks/{ASSIGNMENT}/forward_pass")}
    assert set(submissions) == {"alice", "bob"}
    grades = api(formgrader, f"/formgrader/api/grades?submission_id={submissions['alice']['id']}")
    manual = [g for g in grades if g["name"].startswith("q_")]
    assert manual and all(g["needs_manual_grade"] for g in manual)
    for g in manual:
        saved = api(formgrader, f"/formgrader/api/grade/{g['id']}", "PUT", {"manual_score": g["max_score"]})
        assert saved["manual_score"] == g["max_score"] and not saved["needs_manual_grade"]
    auto = sum(g["max_score"] for g in grades if g["name"].startswith("test_"))
    full = auto + sum(g["max_score"] for g in manual)

    run(course, "export")
    rows = {r["student_id"]: r for r in csv.DictReader((course / "grading" / "grades.csv").open())
            if r["assignment"] == ASSIGNMENT}
    assert float(rows["alice"]["score"]) == float(rows["alice"]["max_score"]) == full
    assert float(rows["bob"]["score"]) == 0

    run(course, "feedback", ASSIGNMENT)
    html = Layout(course).feedback_html("alice", ASSIGNMENT).read_text()
    assert f"(Score: {full:.1f} / {full:.1f})" in html   # the notebook's total, hand-graded points included


@pytest.mark.e2e
def test_autograde_on_a_fresh_clone_registers_the_assignment_and_leaves_notebooks_alone(tmp_path):
    """A fresh clone has notebooks/ released in git but an empty gradebook: autograde before release."""
    course = course_copy(tmp_path, "notebooks", "solutions")
    released = {p: p.read_bytes() for p in (course / "notebooks").rglob("*.ipynb")}
    layout = Layout(course)
    release = nbformat.read(layout.release_notebook(ASSIGNMENT), as_version=4)
    solution = nbformat.read(notebook_path(layout.source, ASSIGNMENT), as_version=4)
    path = layout.submitted_notebook("alice", ASSIGNMENT)
    path.parent.mkdir(parents=True)
    nbformat.write(make_submission(release, solution), path)
    out = run(course, "autograde", ASSIGNMENT).stdout
    assert "NOT GRADED" not in out
    alice = grades(layout, ASSIGNMENT)["alice", ASSIGNMENT]
    assert alice.failed == [] and alice.score == alice.max_score - alice.by_hand > 0
    assert {p: p.read_bytes() for p in (course / "notebooks").rglob("*.ipynb")} == released


@pytest.fixture(scope="module")
def refusing(tmp_path_factory):
    """A copy of the course with every lesson's solutions and nothing else: the commands below refuse
    to run in it, so it stays as it is."""
    return course_copy(tmp_path_factory.mktemp("refusing"), "solutions")


@pytest.mark.parametrize("args,line", [
    (["--anything"], "./course autograde: unrecognized arguments: --anything; "
                     "usage: ./course autograde [-h] [--workers N] [--scheduler ADDRESS] [ASSIGNMENT ...]"),
    (["99_nope"], "./course autograde: no assignment '99_nope'; the assignments are 01_forward_pass"),
])
def test_autograde_refuses_an_unknown_argument_in_one_line(refusing, monkeypatch, capsys, args, line):
    monkeypatch.chdir(refusing)
    assert cli.main(["autograde", *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), lines


def test_autograde_with_nothing_submitted_says_so(refusing, monkeypatch, capsys):
    monkeypatch.chdir(refusing)
    assert cli.main(["autograde"]) == 0
    out = capsys.readouterr().out
    assert "nothing submitted for 01_forward_pass" in out and "grading/submitted/<student>/<assignment>/" in out


@pytest.mark.parametrize("args,first_line", [
    (["labs"], "./course: argument COMMAND: invalid choice: 'labs' (choose from 'help', 'setup', 'lab', 'test', "),
    (["release", "99_nope"], "./course release: no assignment '99_nope'; the assignments are 01_forward_pass"),
    (["feedback", "--all"], "./course feedback: unrecognized arguments: --all; usage: ./course feedback [-h] [ASSIGNMENT"),
    (["feedback"], "./course feedback: nothing autograded yet: run ./course autograde first"),
    (["return"], "./course return: no feedback for any assignment yet: run ./course feedback first"),
    (["hand-out"], "./course hand-out: 01_forward_pass is not released yet: run ./course release 01_forward_pass first"),
    (["collect", "99_nope", "x.zip"], "./course collect: no assignment '99_nope'; the assignments are 01_forward_pass"),
    (["collect", "01_forward_pass", "missing.zip"], "./course collect: no file "),
    (["collect", "01_forward_pass"], "./course collect: nothing was handed out through the exchange"),
    (["collect"], "./course collect: the following arguments are required: ASSIGNMENT; usage: ./course collect [-h] "
                  "ASSIGNMENT [ZIP]"),
    (["regrade", "01_forward_pass"], "./course regrade: the following arguments are required: STUDENT; usage: "
                                     "./course regrade [-h] ASSIGNMENT STUDENT"),
    (["regrade", "99_nope", "alice"], "./course regrade: no assignment '99_nope'; the assignments are 01_forward_pass"),
    (["regrade", "01_forward_pass", "alice"], "./course regrade: the roster is empty: import the class list"),
    (["export", "--to", "x.csv"], "./course export: unrecognized arguments: --to x.csv; usage: ./course export [-h] "
                                  "[--lms {canvas,moodle}] [--missing-as-zero]"),
    (["export", "--lms", "blackboard"], "./course export: argument --lms: invalid choice: 'blackboard' (choose from "
                                        "'canvas', 'moodle')"),
    (["export", "--missing-as-zero"], "./course export: --missing-as-zero is for an LMS's file: add --lms canvas or"),
    (["demo", "now"], "./course demo: unrecognized arguments: now; usage: ./course demo [-h]"),
    (["answers", "now"], "./course answers: unrecognized arguments: now; usage: ./course answers [-h]"),
    (["close"], "./course close: the following arguments are required: ASSIGNMENT"),
    (["close", "99_nope"], "./course close: no assignment '99_nope'; the assignments are 01_forward_pass"),
    (["hub", "--checks"], "./course hub: unrecognized arguments: --checks; usage: ./course hub [-h] [--check]"),
    (["watch", "--every", "soon"], "./course watch: argument --every: invalid float value: 'soon'; usage: "),
    (["publish"], "./course publish: the following arguments are required: DIR"),
    (["roster", "remove", "ann"], "./course roster: argument action: invalid choice: 'remove' (choose from 'import', "
                                  "'group'); usage: ./course roster [-h] [import FILE | group [GROUP]]"),
    (["roster", "import"], "./course roster import: the following arguments are required: FILE"),
    (["lab", "--bogus"], "./course lab: unknown option '--bogus'; JupyterLab's options are listed by"),
    (["formgrader", "--port"], "./course formgrader: option '--port' needs a value"),
    (["insights"], "./course insights: nothing autograded yet: run ./course autograde first"),
    (["insights", "--threshold", "most"], "./course insights: argument --threshold: takes a share between 0 and 1"),
])
def test_other_commands_refuse_a_bad_argument_in_one_line(refusing, monkeypatch, capsys, args, first_line):
    monkeypatch.chdir(refusing)
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [err.strip()] and err.startswith(first_line), err
    assert not (refusing / "notebooks").exists()


@pytest.mark.parametrize("command", sorted(cli.parser().commands.choices))
def test_every_command_has_help(monkeypatch, capsys, command):
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: ./course {command} ") and "-h, --help" in out


def test_readme_names_every_command_and_only_those():
    """The usage text in README and in ./course help agree: the same commands, each named."""
    commands = set(cli.parser().commands.choices)
    named = set(re.findall(r"\./course ([a-z][a-z-]*)", ROOT.joinpath("README.md").read_text()))
    assert named == commands
    top = subprocess.run([sys.executable, "-m", "instructor", "help"], cwd=ROOT, capture_output=True, text=True)
    assert top.returncode == 0 and all(f"\n    {command}" in top.stdout for command in commands), top.stdout


@pytest.mark.e2e
@pytest.mark.parametrize("args,first_line", [
    (["labs"], "./course: argument COMMAND: invalid choice: 'labs'"),
    (["collect", "01_forward_pass", "missing.zip"], "./course collect: no file /"),   # where it was typed
])
def test_the_course_script_refuses_with_status_2(refusing, args, first_line):
    result = subprocess.run([str(refusing / "course"), *args], cwd=refusing, capture_output=True, text=True, env=ENV,
                            timeout=600)
    assert result.returncode == 2 and result.stderr.startswith(first_line), result.stderr
    assert not (refusing / "notebooks").exists()


def readme_instructor_lines():
    """The ./course lines of README's instructor block, as {command: its first line's words}."""
    block = ROOT.joinpath("README.md").read_text().split("## For instructors", 1)[1].split("```bash", 1)[1]
    lines = {}
    for line in block.split("```", 1)[0].strip().splitlines():
        words = line.split("#")[0].split()
        if words[:1] == ["./course"]:
            lines.setdefault(words[1], words)
    return lines


@pytest.mark.e2e
def test_a_newcomer_walks_the_readme_instructor_section_in_any_order(tmp_path):
    """A fresh clone (notebooks/ released in git, no gradebook), README's lines taken in a newcomer's
    order: export, feedback and autograde before anything exists, collect and autograde before
    release; each either works or says in one line what to do first. Run from another folder."""
    lines = readme_instructor_lines()
    assert {"release", "collect", "autograde", "formgrader", "feedback", "export", "demo", "publish"} <= set(lines)
    (tmp_path / "clone").mkdir()
    course = course_copy(tmp_path / "clone")
    for folder in ("solutions", "notebooks"):
        shutil.copytree(ROOT / folder / ASSIGNMENT, course / folder / ASSIGNMENT)
    layout = Layout(course)
    release = nbformat.read(layout.release_notebook(ASSIGNMENT), as_version=4)
    solution = nbformat.read(notebook_path(layout.source, ASSIGNMENT), as_version=4)
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    with zipfile.ZipFile(downloads / "forward_pass.zip", "w") as z:
        z.writestr("alice_forward_pass.ipynb", nbformat.writes(make_submission(release, solution)))
        z.writestr("bob_forward_pass.ipynb", nbformat.writes(release))

    def course_line(command, *args, status=0):
        """README's line for command (assignment and zip swapped in), typed in the Downloads folder."""
        argv = [str(course / "course"), command, *args]
        result = subprocess.run(argv, cwd=downloads, capture_output=True, text=True, env=ENV, timeout=600)
        assert result.returncode == status, f"{argv}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        return result.stdout + result.stderr

    assert "no grades yet (./course autograde first)" in course_line(*lines["export"][1:])
    assert course_line(*lines["feedback"][1:], status=2).strip() == (
        "./course feedback: nothing autograded yet: run ./course autograde first")
    assert "nothing submitted for 01_forward_pass" in course_line(*lines["autograde"][1:])
    assert lines["collect"][2:] == ["03_bptt", "~/Downloads/bptt.zip"]
    course_line("collect", ASSIGNMENT, "forward_pass.zip")           # relative to where it was typed
    assert layout.students(ASSIGNMENT) == ["alice", "bob"]
    report = course_line(*lines["autograde"][1:])                      # before release: registers it
    assert "alice" in report and "bob" in report and "NOT GRADED" not in report
    course_line(*lines["feedback"][1:])
    assert layout.feedback_html("alice", ASSIGNMENT).is_file() and layout.feedback_html("bob", ASSIGNMENT).is_file()
    assert "wrote grading/grades.csv: 2 graded submissions of 2 students; free responses to grade by hand in 1 " in (
        course_line(*lines["export"][1:]))
    rows = list(csv.DictReader(layout.grades_csv.open()))
    assert {r["student_id"] for r in rows} == {"alice", "bob"}
    released = layout.release_notebook(ASSIGNMENT).read_bytes()
    course_line(*lines["release"][1:])
    assert layout.release_notebook(ASSIGNMENT).read_bytes() == released   # notebooks/ was already in sync
