"""nbgrader configuration for the course (read from the repository root).

solutions/ is nbgrader's source directory (instructor notebooks with solutions and hidden tests),
notebooks/ its release directory (what students open). Every grading artefact, the gradebook
included, lives in the git-ignored grading/ folder, whatever directory nbgrader is run from.
The instructor tools and the tests read the folders and db_url from here (instructor/model/layout.py).
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# Reading this file creates nothing: ./course makes grading/ for the gradebook before a command uses it.

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.course_id = "rnns-from-scratch"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "grading/submitted"
c.CourseDirectory.autograded_directory = "grading/autograded"
c.CourseDirectory.feedback_directory = "grading/feedback"
c.CourseDirectory.db_url = f"sqlite:///{ROOT / 'grading' / 'gradebook.db'}"

# A hanging cell (an infinite loop in a submission) is interrupted after this many seconds and
# the rest of the notebook still runs; no lesson cell comes close to it.
c.Execute.timeout = 60
c.ExecutePreprocessor.timeout = 60

# nbgrader validate prints each line of a failed test's message cut at Validator.width - 3 characters
# (90 by default), which took the end, often the likely cause, off the checks' longer lines (up to
# about 300 characters). The same width draws its rule between failed cells, hence not more than
# this. The students' configurations (./course publish, ./course hub) repeat it.
c.Validator.width = 500

# Student code is untrusted. Each grading kernel runs in a sandbox (instructor/pipeline/sandbox.py: no view
# of solutions/, the gradebook or other submissions, no network, memory and process limits), and a
# kernel that dies or hangs costs only the cell it happened in (instructor/pipeline/execute.py).
from instructor.pipeline import sandbox  # noqa: E402
from instructor.pipeline.execute import ResilientExecute  # noqa: E402
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,  # noqa: E402
                                    LimitOutput, SaveAutoGrades)

sandbox.configure(c)
c.Autograde.autograde_preprocessors = [ResilientExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]

# LMS downloads: put the zip in grading/downloaded/<assignment>/archive/ (./course collect does it).
# File names inside it look like <student>_<notebook>.ipynb, optionally with an LMS's late_ or
# numeric parts in between (e.g. carol_late_1234_5678_bptt.ipynb).
c.ZipCollectApp.downloaded_directory = "grading/downloaded"
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[^/_]+)_(?:late_)?(?:\d+_)*(?P<file_id>[^/_][^/]*\.ipynb)$")

# The hub's exchange (./course hand-out, collect ASSIGNMENT, return; the students' Assignments tab):
# nbgrader's own, one folder on the hub's machine that every student may write to (mode 1777).
c.Exchange.root = "/srv/nbgrader/exchange"
# Students own what they put in the exchange: the course's collector refuses a submission made in
# another student's name, by someone not on the roster (the gradebook's students), claiming a time
# other than when it was really made (its ctimes, within c.GuardedCollect.ctime_tolerance seconds),
# edited afterwards, holding links or others' files, or over c.CourseDirectory.max_dir_size kB. Each
# refusal is a line of collect's output and of grading/refused.log (instructor/pipeline/exchange.py).
c.ExchangeFactory.collect = "instructor.pipeline.exchange.GuardedCollect"

# What students' rnnlib holds follows the term (instructor/model/answers.py): a lesson's answers reach
# them once ./course close closes it, or its due date plus this allowance has passed. Late work is
# taken until then (and marked late, as c.LateSubmissionPlugin says); after it, collect refuses it.
c.Answers.late_allowance_hours = 7 * 24

# ./course export writes every grade here (nbgrader's CSV: one row per student and assignment).
c.ExportPlugin.to = "grading/grades.csv"

# Feedback shows each test's message but not the hidden tests' source, and its maths as MathML
# (instructor/pipeline/mathml.py): students may read it on a hub without internet, or in JupyterLab's HTML
# viewer, which runs no scripts, so nothing may wait for MathJax.
from nbgrader.preprocessors import ClearHiddenTests, GetGrades  # noqa: E402
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from instructor.pipeline.mathml import TEMPLATES, MathToMathML  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, MathToMathML, CSSHTMLHeaderPreprocessor]
# nbgrader's feedback template, whose MathJax script instructor/pipeline/templates/feedback_mathml/ replaces.
# Set for GenerateFeedback only: the formgrader's pages keep their own templates.
import nbgrader  # noqa: E402

c.GenerateFeedback.HTMLExporter.template_name = "feedback_mathml"
c.GenerateFeedback.HTMLExporter.extra_template_basedirs = [
    str(TEMPLATES), str(Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates")]
