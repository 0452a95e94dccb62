"""./course roster: Canvas's, Moodle's and a plain roster CSV land in the gradebook's students table
(again: nothing changes), a bad file or id is refused in one line, a Unix group's members join;
and the LMS export has one row per roster student, an enrolled student who never submitted
included, and names the graded students who are not on the roster. In-process, on a released
course whose grades are written straight into the gradebook (no grading run)."""
import csv
import grp
import os
import pwd
import subprocess
import warnings

import pytest

from conftest import copy_class, course_copy, without_venv
from instructor.commands.cli import main
from instructor.commands.lms import written
from instructor.model.gradebook import grades
from instructor.model.layout import Layout

pytestmark = pytest.mark.xdist_group("roster")     # its module fixtures are built once, on one worker

A = "01_forward_pass"
CANVAS = '''\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Forward pass (101),Current Score
    Points Possible,,,,,10.00,(read only)
"Smith, Ann",1001,S1,ann,Section 1,,
"Brown, Ben",1002,S2,ben,Section 1,7,
"Student, Test",1003,,,Section 1,,
"Cole, Cat",1004,S4,cat,Section 2,,
'''
MOODLE = '''First name;Last name;ID number;Institution;Department;Username;Email address;Forward pass (Real)
Dan;Diaz;;;;dan;dan@uni.example;
Ann;Smith;;;;ann;ann@uni.example;9
'''
PLAIN = '''id,first_name,last_name,email,lms_user_id
eve,Eve,Evans,eve@uni.example,77
fay,,,,
'''


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    from instructor.pipeline.grade import make_course
    return make_course(tmp_path_factory.mktemp("released"), [A])


@pytest.fixture
def course(released, tmp_path, monkeypatch):
    """A copy of the released course with an empty roster, as the working directory."""
    course = copy_class(released, tmp_path)
    monkeypatch.chdir(course)
    return course


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def roster(course):
    """{id: (first name, last name, email, LMS user id)} of the gradebook's students."""
    from nbgrader.api import Gradebook
    with Gradebook(Layout(course).db_url) as gb:
        return {s.id: (s.first_name, s.last_name, s.email, s.lms_user_id) for s in gb.students}


def run(capsys, *argv):
    """(exit status, stdout, stderr) of ./course roster ARGV, in-process."""
    status = main(["roster", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_canvas_export_is_imported_without_points_possible_and_test_student(course, capsys):
    path = write(course / "canvas.csv", CANVAS)
    status, out, _ = run(capsys, "import", str(path))
    assert status == 0
    assert out == "canvas.csv (Canvas's gradebook export, 3 students): 3 added, 0 updated, 0 unchanged\n"
    assert roster(course) == {"ann": ("Ann", "Smith", None, "1001"), "ben": ("Ben", "Brown", None, "1002"),
                              "cat": ("Cat", "Cole", None, "1004")}


def test_importing_twice_changes_nothing_and_a_change_is_an_update(course, capsys):
    path = write(course / "canvas.csv", CANVAS)
    run(capsys, "import", str(path))
    before = roster(course)
    assert run(capsys, "import", str(path))[1].endswith(": 0 added, 0 updated, 3 unchanged\n")
    assert roster(course) == before
    write(path, CANVAS.replace('"Cole, Cat",1004', '"Cole-Hart, Cat",1004'))
    assert run(capsys, "import", str(path))[1].endswith(": 0 added, 1 updated, 2 unchanged\n")
    assert roster(course)["cat"] == ("Cat", "Cole-Hart", None, "1004")


def test_moodle_export_is_imported_and_keeps_what_it_does_not_say(course, capsys):
    run(capsys, "import", str(write(course / "canvas.csv", CANVAS)))
    status, out, _ = run(capsys, "import", str(write(course / "moodle.csv", MOODLE)))   # ;-separated
    assert status == 0 and out == "moodle.csv (Moodle's export, 2 students): 1 added, 1 updated, 0 unchanged\n"
    students = roster(course)
    assert students["dan"] == ("Dan", "Diaz", "dan@uni.example", None)
    assert students["ann"] == ("Ann", "Smith", "ann@uni.example", "1001")    # Canvas's id stays


def test_plain_csv_is_imported(course, capsys):
    status, out, _ = run(capsys, "import", str(write(course / "class.csv", PLAIN)))
    assert status == 0 and out == "class.csv (a plain roster CSV, 2 students): 2 added, 0 updated, 0 unchanged\n"
    assert roster(course) == {"eve": ("Eve", "Evans", "eve@uni.example", "77"), "fay": (None, None, None, None)}
    status, out, _ = run(capsys)
    assert status == 0 and out.splitlines() == ["id   name       email            LMS id",
                                                 "eve  Eve Evans  eve@uni.example  77",
                                                 "fay",
                                                 "2 students"]


@pytest.mark.parametrize("name,text,complaint", [
    ("canvas.csv", CANVAS.replace(",ann,", ",Ann.Smith@uni,"),
     "canvas.csv line 3 (Ann Smith): student id 'Ann.Smith@uni' (SIS Login ID) is not an account name the hub "
     "can have"),
    ("class.csv", "id\nann\n9lives\n", "class.csv line 3: student id '9lives' (id) is not an account name"),
    ("class.csv", "id\nann\nbob\nann\n", "class.csv line 4: student id 'ann' is on line 2 too"),
    ("canvas.csv", CANVAS.replace(",ben,", ",,"), "canvas.csv line 4 (Ben Brown): no student id (SIS Login ID)"),
    ("grades.csv", "name,score\nann,3\n", "grades.csv is not a roster: no column SIS Login ID (Canvas), Username"),
    ("canvas.csv", "Student,ID,SIS User ID\nx,1,2\n", "canvas.csv looks like Canvas's gradebook export but has no "
                                                       "column SIS Login ID"),
    ("moodle.csv", "First name,Last name,Email address\nA,B,c@d\n", "moodle.csv looks like Moodle's export but "
                                                                    "has no column Username"),
    ("latin1.csv", None, "latin1.csv is not UTF-8 text"),
])
def test_a_file_it_cannot_take_is_refused_in_one_line_naming_why(course, capsys, name, text, complaint):
    path = course / name
    if text is None:
        path.write_bytes("id\nzoë\n".encode("latin-1"))
    else:
        write(path, text)
    status, out, err = run(capsys, "import", str(path))
    assert status == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"./course roster: {complaint}"), err
    assert roster(course) == {} and not Layout(course).roster.exists()     # nothing of it was imported


@pytest.mark.parametrize("argv,line", [
    (["bogus"], "./course roster: argument action: invalid choice: 'bogus' (choose from 'import', 'group'); "
                "usage: ./course roster [-h] [import FILE | group [GROUP]]"),
    (["--all"], "./course roster: unrecognized arguments: --all; usage: ./course roster"),
    (["import"], "./course roster import: the following arguments are required: FILE; usage: ./course roster import"),
    (["import", "a.csv", "b.csv"], "./course roster: unrecognized arguments: b.csv; usage: ./course roster"),
    (["group", "a", "b"], "./course roster: unrecognized arguments: b; usage: ./course roster"),
    (["import", "missing.csv"], "./course roster: cannot read missing.csv: No such file or directory"),
    (["group", "rro-no-such-group"], "./course roster: no Unix group 'rro-no-such-group'"),
    (["group"], "./course roster: no students_group in hub/settings.toml: name the group, ./course roster group GROUP"),
])
def test_bad_arguments_are_refused_in_one_line(course, capsys, argv, line):
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(line), err


def test_help(course, capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0 and "./course roster import FILE" in out and "SIS Login ID" in out


@pytest.fixture
def unix_group():
    """A Unix group with two accounts: rro-ann lists it as a supplementary group, rro-ben as primary."""
    if os.geteuid() != 0:
        pytest.skip("creating a Unix group and accounts needs root")
    group, names = "rro-students", ("rro-ann", "rro-ben")
    for exists, name in [(grp.getgrnam, group), *((pwd.getpwnam, n) for n in names)]:
        try:
            exists(name)
            pytest.skip(f"{name} already exists on this machine")
        except KeyError:
            pass
    try:
        subprocess.run(["groupadd", group], check=True)
        subprocess.run(["useradd", "--no-create-home", "--no-user-group", "--groups", group, names[0]], check=True)
        subprocess.run(["useradd", "--no-create-home", "--gid", group, names[1]], check=True)
        yield group
    finally:
        for name in names:
            subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", group], capture_output=True)


def test_group_members_join_the_roster(course, capsys, unix_group):
    (course / "hub").mkdir()
    write(course / "hub" / "settings.toml", f'students_group = "{unix_group}"\n')
    status, out, _ = run(capsys, "group")
    assert status == 0
    assert out == f"Unix group {unix_group} (hub/settings.toml students_group): 2 added, 0 updated, 0 unchanged\n"
    assert roster(course) == {"rro-ann": (None, None, None, None), "rro-ben": (None, None, None, None)}
    assert run(capsys, "group", unix_group)[1] == f"Unix group {unix_group}: 0 added, 0 updated, 2 unchanged\n"


def grade(course, student, fraction):
    """student's submission of A in the gradebook, each cell at fraction of its points; the student is
    added as nbgrader's autograder adds one it does not know."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning
    with Gradebook(Layout(course).db_url) as gb:
        gb.update_or_create_student(student)
        with warnings.catch_warnings():     # nbgrader's own call trips SQLAlchemy's autoflush warning
            warnings.simplefilter("ignore", SAWarning)
            submission = gb.add_submission(A, student)
        for notebook in submission.notebooks:
            for cell in notebook.grades:
                cell.auto_score = cell.max_score * fraction
        gb.db.commit()


@pytest.fixture
def graded(course, capsys):
    """Canvas's roster (ann, ben, cat) imported; ann and zed (not on the roster: a zip's typo) graded."""
    run(capsys, "import", str(write(course / "canvas.csv", CANVAS)))
    grade(course, "ann", 0.5)
    grade(course, "zed", 1.0)
    layout = Layout(course)
    return layout, grades(layout)[("ann", A)]


def export(layout, lms, *flags):
    """The line ./course export --lms LMS [--missing-as-zero] prints of the LMS's file, and its rows."""
    out = written(layout, lms, "--missing-as-zero" in flags) + "\n"
    with open(layout.grades_csv.with_name(f"grades-{lms}.csv"), newline="") as f:
        return out, list(csv.DictReader(f))


@pytest.mark.parametrize("flags,missing", [((), ""), (("--missing-as-zero",), "0")])
def test_canvas_export_has_every_roster_student_once(graded, capsys, flags, missing):
    layout, ann = graded
    out, rows = export(layout, "canvas", *flags)
    assert out == ("wrote grading/grades-canvas.csv: 4 students x 1 assignments, in Canvas's gradebook import "
                   "format; 1 student is not on the imported roster: zed\n")
    points, *students = rows
    assert points["Student"].strip() == "Points Possible" and float(points[A]) == ann.max_score > 0
    assert [row["SIS Login ID"] for row in students] == ["ann", "ben", "cat", "zed"]
    by_id = {row["SIS Login ID"]: (row["Student"], row["ID"], row[A]) for row in students}
    assert 0 < ann.score < ann.max_score
    assert by_id == {"ann": ("Smith, Ann", "1001", f"{ann.score:g}"), "ben": ("Brown, Ben", "1002", missing),
                     "cat": ("Cole, Cat", "1004", missing), "zed": ("zed", "", f"{ann.max_score:g}")}


@pytest.mark.parametrize("flags,missing", [((), ""), (("--missing-as-zero",), "0")])
def test_moodle_export_has_every_roster_student_once(graded, capsys, flags, missing):
    layout, ann = graded
    run(capsys, "import", str(write(layout.root / "moodle.csv", MOODLE)))
    out, rows = export(layout, "moodle", *flags)
    assert out.endswith("in Moodle's gradebook import format; 1 student is not on the imported roster: zed\n")
    assert [row["Username"] for row in rows] == ["ann", "ben", "cat", "dan", "zed"]
    by_id = {row["Username"]: (row["First name"], row["Last name"], row["Email address"], row[A]) for row in rows}
    assert by_id == {"ann": ("Ann", "Smith", "ann@uni.example", f"{ann.score:g}"), "ben": ("Ben", "Brown", "", missing),
                     "cat": ("Cat", "Cole", "", missing), "dan": ("Dan", "Diaz", "dan@uni.example", missing),
                     "zed": ("", "", "", f"{ann.max_score:g}")}


def test_export_without_an_imported_roster_says_so(course, capsys):
    grade(course, "ann", 1.0)
    out, rows = export(Layout(course), "moodle")
    assert [row["Username"] for row in rows] == ["ann"]
    assert out.endswith("; no roster imported (./course roster import FILE): only students the gradebook knows "
                        "are in it\n")


def test_roster_through_the_course_script_from_another_folder(tmp_path):
    """./course roster import takes FILE relative to where it was typed, then lists the roster."""
    course = course_copy(tmp_path)
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    write(downloads / "class.csv", PLAIN)

    def course_line(*args):
        return subprocess.run([str(course / "course"), "roster", *args], cwd=downloads, capture_output=True, text=True,
                              env=without_venv(), timeout=600)
    imported = course_line("import", "class.csv")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == "class.csv (a plain roster CSV, 2 students): 2 added, 0 updated, 0 unchanged\n"
    listed = course_line()
    assert listed.returncode == 0 and listed.stdout.splitlines()[1:] == ["eve  Eve Evans  eve@uni.example  77", "fay",
                                                                         "2 students"]
