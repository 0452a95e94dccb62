"""Validate shows a failed test's whole message: no line of it is cut, with the course's nbgrader
configuration (./course lab) or the student edition's (./course publish).

A test's message has lines of up to about 300 characters (its likely cause last). nbgrader validate
prints each line cut at Validator.width - 3, 87 by default: the course's nbgrader_config.py widens
it, and the students' configurations repeat it. Validate in JupyterLab shows what nbgrader's
validate handler sends, which is cut nowhere (tests/test_browser.py checks that the dialog shows it).
"""
import html
import io

import nbformat
import pytest
from nbgrader.apps import ValidateApp
from nbgrader.server_extensions.validate_assignment.handlers import ValidateAssignmentHandler
from nbgrader.validator import Validator

from conftest import ROOT
from instructor.commands.demo import BUGGY_RNN_BACKWARD
from instructor.model.layout import notebook_path
from instructor.pipeline.submissions import make_submission

LESSON = "03_bptt"
LONG = 150      # BUGGY_RNN_BACKWARD's likely cause is a line of about 190 characters


def buggy_notebook(release, folder):
    """Lesson 03 as released in release/, answered with a known BPTT mistake, in folder."""
    answered = make_submission(nbformat.read(notebook_path(release, LESSON), as_version=4),
                               nbformat.read(notebook_path(ROOT / "solutions", LESSON), as_version=4),
                               replace={"rnn_backward": BUGGY_RNN_BACKWARD})
    path = folder / notebook_path(release, LESSON).name
    nbformat.write(answered, path)
    return path


def validate_as_students_do(notebook):
    """(the failed tests' messages as the dialog gets them, what nbgrader validate prints), each
    front end loading the nbgrader configuration of the current directory as it does."""
    # the handler's own load_config, which uses nothing of the handler
    sent = Validator(config=ValidateAssignmentHandler.load_config(None)).validate(str(notebook))
    cli = ValidateApp()
    cli.load_config_file()                  # as its initialize does, without its sys.path change
    validator = Validator(parent=cli)
    validator.stream = io.StringIO()
    validator.validate_and_print(str(notebook))
    return [html.unescape(failed["error"]) for failed in sent["failed"]], validator.stream.getvalue()


def assert_every_line_whole(messages, printed):
    lines = [line for message in messages for line in message.splitlines()]
    assert max(map(len, lines)) > LONG, "no long line to check"
    assert [line for line in lines if line not in printed] == []


def test_the_course_config_keeps_every_line_whole(tmp_path, monkeypatch):
    notebook = buggy_notebook(ROOT / "notebooks", tmp_path)
    monkeypatch.chdir(ROOT)                 # where ./course lab starts JupyterLab
    assert_every_line_whole(*validate_as_students_do(notebook))


@pytest.fixture
def edition(tmp_path):
    from instructor.commands.publish import publish
    publish(ROOT, tmp_path / "edition", LESSON)
    return tmp_path / "edition"


def test_the_student_editions_config_keeps_every_line_whole(edition, tmp_path, monkeypatch):
    notebook = buggy_notebook(edition / "notebooks", tmp_path)
    monkeypatch.chdir(edition)              # where its README starts JupyterLab
    monkeypatch.setenv("PYTHONPATH", str(edition))      # the kernel imports the edition's rnnlib
    assert_every_line_whole(*validate_as_students_do(notebook))
