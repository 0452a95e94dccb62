"""Where a course's files live: the one place the instructor tools and the tests ask.

nbgrader_config.py declares the folders and the gradebook (it is nbgrader's configuration, read by
every nbgrader command); this module only reads them from there, so a folder or a PostgreSQL
db_url set in the config holds for the autograder, its report, the demo, the tests and the
benchmarks alike. Nothing else spells out grading/... or builds a gradebook URL.

    layout = Layout(course)
    layout.submitted_notebook("alice", "03_bptt")     # <submitted>/alice/03_bptt/bptt.ipynb
    layout.db_url                                     # what nbgrader grades into

Steps are folders <step>/<student>/<assignment>/, nbgrader's default directory_structure.
"""
from pathlib import Path

from nbgrader.apps.zipcollectapp import ZipCollectApp
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"
ROOT = Path(__file__).resolve().parents[2]          # the course this package belongs to
STRUCTURE = CourseDirectory.directory_structure.default_value


def notebook_path(folder, assignment):
    """The one notebook of an assignment under folder (solutions/ or notebooks/)."""
    (path,) = Path(folder, assignment).glob("*.ipynb")
    return path


def course_config(course):
    """The traitlets Config of course/nbgrader_config.py, read as nbgrader reads it."""
    return PyFileConfigLoader(CONFIG_FILE, path=str(course)).load_config()


def exchange(course):
    """(course_id, root) of nbgrader's exchange, where the hub's students fetch and submit."""
    config = course_config(course)
    return config.CourseDirectory.course_id, Path(config.Exchange.get("root", "/srv/nbgrader/exchange"))


class Layout:
    """The folders and the gradebook of the course whose nbgrader_config.py is in course."""

    def __init__(self, course):
        config = course_config(course)
        if "root" not in config.CourseDirectory:       # nbgrader would take the directory it runs in
            config.CourseDirectory.root = str(Path(course).resolve())
        dirs = CourseDirectory(config=config)          # nbgrader's defaults for whatever is not set
        if dirs.directory_structure != STRUCTURE:
            raise ValueError(f"{CONFIG_FILE}: the instructor tools expect directory_structure {STRUCTURE!r}")
        self.root = Path(dirs.root)
        self.db_url = dirs.db_url
        self.source = self.root / dirs.source_directory
        self.release = self.root / dirs.release_directory
        self.submitted = self.root / dirs.submitted_directory
        self.autograded = self.root / dirs.autograded_directory
        self.feedback = self.root / dirs.feedback_directory
        # Intake keeps the files it repaired next to the submissions (not in them: nbgrader would grade them).
        self.originals = self.submitted.parent / "originals"
        # Passed grading canaries, one file per assignment (instructor/pipeline/canary.py).
        self.canary = self.submitted.parent / "canary"
        # What grading with workers shares with them (instructor/pipeline/workers.py: the sqlite gradebook's snapshot).
        self.workers = self.submitted.parent / "workers"
        # The ids that came in through ./course roster (instructor/commands/roster.py): the gradebook's students
        # table also holds whoever nbgrader graded, and the LMS export names those not imported.
        self.roster = self.submitted.parent / "roster.txt"
        # The class insights pages (instructor/commands/insights.py): private to the instructor, never the exchange.
        self.insights = self.submitted.parent / "insights"
        # Submissions the exchange's collector refused, one line each (instructor/pipeline/exchange.py).
        self.refused_log = self.submitted.parent / "refused.log"
        self.grades_csv = self.root / config.ExportPlugin.get("to", "grades.csv")
        self.downloaded = self.root / config.ZipCollectApp.get("downloaded_directory",
                                                                 ZipCollectApp.downloaded_directory.default_value)

    def __repr__(self):
        return f"Layout({str(self.root)!r}, db_url={self.db_url!r})"

    def make_gradebook_folder(self):
        """Create the folder a sqlite gradebook lives in: nbgrader creates the file, not its folder.
        (./course does it before each command, make_course for a throwaway course: reading the
        config never does.)"""
        if self.db_url.startswith("sqlite:///"):
            Path(self.db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

    def assignments(self):
        """Assignment ids (folders of the source directory holding a notebook), in lesson order."""
        return sorted(p.parent.name for p in self.source.glob("*/*.ipynb"))

    def release_notebook(self, assignment):
        """The notebook students get for assignment."""
        return notebook_path(self.release, assignment)

    def students(self, assignment):
        """Who submitted assignment (has a submission folder), sorted."""
        return sorted(p.parent.name for p in self.submitted.glob(f"*/{assignment}") if p.is_dir())

    def graded_students(self, assignment):
        """Whose submission of assignment has been autograded, sorted."""
        return sorted(p.parent.parent.name for p in self.autograded.glob(f"*/{assignment}/*.ipynb"))

    def submission(self, student, assignment):
        """The folder a student's submission of assignment is put in (and collected into)."""
        return self.submitted / student / assignment

    def submitted_notebook(self, student, assignment):
        return self.submission(student, assignment) / self.release_notebook(assignment).name

    def autograded_notebook(self, student, assignment):
        """The graded copy, with outputs; absent if nbgrader dropped the whole submission."""
        return self.autograded / student / assignment / self.release_notebook(assignment).name

    def original_notebook(self, student, assignment):
        """Where intake keeps a repaired submission's file as it was handed in."""
        return self.originals / student / assignment / self.release_notebook(assignment).name

    def feedback_html(self, student, assignment):
        return self.feedback / student / assignment / f"{self.release_notebook(assignment).stem}.html"

