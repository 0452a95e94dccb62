"""What a student is told when there is no feedback to fetch: nbgrader's exchange, student side.

nbgrader 0.9.6 tells them nothing. Fetch Feedback with no feedback released copies nothing and
succeeds; JupyterLab's Assignments tab shows a submission's timestamp and, when there is feedback,
"(view feedback)" or "(feedback available to fetch)", else nothing; and its server extension
drops whatever the fetch reported. Two classes, set in the student environment's nbgrader_config.py:

    c.ExchangeFactory.list = "<this module>.ListSayingWhenNoFeedback"
    c.ExchangeFactory.fetch_feedback = "<this module>.FetchFeedbackSayingWhy"

ListSayingWhenNoFeedback makes the tab's row read "<timestamp> (no feedback returned yet)": the
timestamp is the only text the tab shows for a submission without feedback. Once feedback is
fetched, its "(view feedback)" goes to the feedback page itself, not to the folder holding it as
nbgrader's does: the tab can only go to a path in the file browser, which selects the page, and
the course's lab extension (instructor/commands/labextensions/rnns-feedback-opener) then opens it.
FetchFeedbackSayingWhy makes a fetch that finds nothing raise nbgrader's ExchangeError with the
reason, which `nbgrader fetch_feedback` prints and the tab's server writes to its log.

Only nbgrader and the standard library are imported: the student environment has neither
instructor/ nor the course's other dependencies, so this file has to work there on its own.
"""
import glob
import os

from nbgrader.exchange.default.fetch_feedback import ExchangeFetchFeedback
from nbgrader.exchange.default.list import ExchangeList

NO_FEEDBACK_YET = "no feedback returned yet"


class ListSayingWhenNoFeedback(ExchangeList):
    """nbgrader's list, each of the student's own submissions without feedback marked as such."""

    def list_files(self):
        assignments = super().list_files()          # logs (nbgrader list's output) as nbgrader's does
        if self.cached:                             # the student's submissions, as the tab lists them
            for assignment in assignments:
                for submission in assignment["submissions"]:
                    if not (submission["has_exchange_feedback"] or submission["has_local_feedback"]):
                        submission["timestamp"] += f" ({NO_FEEDBACK_YET})"
                    pages = [nb["local_feedback_path"] for nb in submission["notebooks"] if nb["local_feedback_path"]]
                    if submission["local_feedback_path"] and pages:
                        # "(view feedback)" goes to this path: the page itself, which the lab extension opens
                        submission["local_feedback_path"] = os.path.join(submission["local_feedback_path"],
                                                                         os.path.basename(pages[0]))
        return assignments


class FetchFeedbackSayingWhy(ExchangeFetchFeedback):
    """nbgrader's fetch_feedback, failing with the reason when it finds no feedback to fetch."""

    def _assignment_not_found(self, src_path, other_path):     # no feedback released in the course yet
        self.fail(self.why_none())

    def copy_files(self):
        if not self.feedback_files:
            self.fail(self.why_none())
        super().copy_files()

    def why_none(self):
        assignment = self.coursedir.assignment_id or "any assignment"
        pattern = os.path.join(self.cache_path, f"*+{self.coursedir.assignment_id or '*'}+*")
        if not glob.glob(pattern):
            return f"No feedback to fetch: you have not submitted {assignment} from this account."
        return (f"No feedback to fetch for {assignment} yet: your instructor has not returned feedback on "
                "your submission. Press Fetch Feedback again later.")
