"""./course insights on a class graded for real: a seeded class of lesson 01 (tests/insights_class.py:
honest answers each in its own style, six kinds of mistakes, blank, late, one student who passed
only after resubmitting, one pair copied with renamed variables and reordered lines), graded on
two Dask workers. Every figure of the page's JSON is checked against the gradebook, the copied pair
is found and no honest pair is flagged; the page opens in Chromium with its plots (screenshot in
test-artifacts/insights/); one class graded into PostgreSQL gives its figures too."""
import glob
import json
import os
import random
import shutil
import stat
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import insights_class as ic
from conftest import ROOT
from instructor.commands import insights
from instructor.commands.autograde import autograde_with_workers
from instructor.commands.demo import submit
from instructor.model.layout import CONFIG_FILE, Layout
from instructor.pipeline import sandbox
from instructor.pipeline.grade import autograde, make_course, nbgrader
from test_postgres import postgres  # noqa: F401  (its throwaway server, a fixture)

A = ic.A
DUE = datetime(2026, 11, 30, 23, 59)
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "insights"
TESTS = ["test_rnn_step_forward", "test_rnn_forward", "test_temporal_affine_forward"]

pytestmark = [pytest.mark.skipif(sandbox.problem() is not None, reason="no grading sandbox here"),
              pytest.mark.e2e, pytest.mark.class_scale, pytest.mark.xdist_group("insights")]


def hand_in(layout, student, nb, when):
    """Submit nb as student at the time when (nbgrader reads it from timestamp.txt)."""
    submit(layout.root, student, A, nb)
    (layout.submission(student, A) / "timestamp.txt").write_text(f"{when:%Y-%m-%d %H:%M:%S}.000000 UTC")


def set_due_date(layout):
    from nbgrader.api import Gradebook
    with Gradebook(layout.db_url) as gb:
        gb.update_or_create_assignment(A, duedate=DUE)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(layout, roster, the figures): the class graded, the pages written before and after the
    resubmission of "fixer" (first with the bias missing, then right)."""
    root = tmp_path_factory.mktemp("insights")
    course = make_course(root, [A])
    with open(course / CONFIG_FILE, "a") as config:          # a late submission loses all its points
        config.write("\nc.LateSubmissionPlugin.penalty_method = 'zero'\n")
    layout = Layout(course)
    set_due_date(layout)
    rng, roster = random.Random(27), ic.roster()
    for i, (student, kind, late) in enumerate(roster):
        when = DUE + timedelta(hours=5 + i) if late else DUE - timedelta(hours=60 - i)
        hand_in(layout, student, ic.submission(layout, kind, rng), when)
    hand_in(layout, "fixer", ic.submission(layout, "no_bias", rng), DUE - timedelta(hours=48))
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"   # alembic
    assert autograde_with_workers(layout, [A], {"workers": 2}) == 0
    insights.write(layout, A)                                     # records fixer's first attempt
    hand_in(layout, "fixer", ic.submission(layout, "honest", rng), DUE - timedelta(hours=24))
    result = nbgrader(course, "autograde", A, "--student", "fixer", "--force")
    assert result.returncode == 0, result.stderr[-2000:]
    assert nbgrader(course, "generate_feedback", A).returncode == 0
    page, data = insights.write(layout, A)
    return layout, dict((s, (k, late)) for s, k, late in roster), page, data


def gradebook_table(layout):
    """{student: (cells {name: (score, max)}, penalty, seconds late)} straight from nbgrader's API."""
    from nbgrader.api import Gradebook
    out = {}
    with Gradebook(layout.db_url) as gb:
        for sub in gb.find_assignment(A).submissions:
            cells = {g.name: (g.score, g.max_score) for nb in sub.notebooks for g in nb.grades}
            out[sub.student.id] = (cells, sub.late_submission_penalty or 0.0, sub.total_seconds_late)
    return out


def test_every_exercise_figure_is_the_gradebook_s(graded):
    layout, roster, _, data = graded
    table = gradebook_table(layout)
    assert data["submissions"] == len(table) == len(roster) + 1 == 33
    rows = {row["test"]: row for row in data["exercises"]}
    assert list(rows) == TESTS
    totals = {s: sum(cells[t][0] for t in TESTS) for s, (cells, _, _) in table.items()}
    for test, row in rows.items():
        scores = np.array([table[s][0][test][0] for s in sorted(table)])
        rest = np.array([totals[s] for s in sorted(table)]) - scores
        full = table["s00"][0][test][1]
        assert row["points"] == full
        assert row["passed"] == int((scores == full).sum())
        assert row["mean_points"] == pytest.approx(scores.mean(), abs=1e-3)
        assert row["discrimination"] == pytest.approx(np.corrcoef(scores, rest)[0, 1], abs=1e-3)
        blank = sum(kind == "blank" for kind, _ in roster.values())
        assert row["submitted"] == len(table) - blank
    assert rows["test_rnn_step_forward"]["passed_after_resubmitting"] == ["fixer"]
    assert rows["test_rnn_forward"]["passed_after_resubmitting"] == ["fixer"]   # it calls the step
    for student, (cells, penalty, _) in table.items():
        score = data["scores"][student]
        assert score["score"] == pytest.approx(max(0.0, sum(v for v, _ in cells.values()) - penalty))
        assert score["max_score"] == sum(m for _, m in cells.values()) and score["penalty"] == penalty


def test_the_causes_are_the_checks_diagnoses_with_the_students_behind_them(graded):
    layout, roster, _, data = graded
    table = gradebook_table(layout)
    causes = {(c["exercise"], c["what"]): c["students"] for c in data["causes"]}
    of_kind = lambda kind: sorted(s for s, (k, _) in roster.items() if k == kind)   # noqa: E731
    assert causes["rnn_step_forward", "the bias b is missing."] == of_kind("no_bias")
    assert causes["rnn_step_forward", "no activation: next_h must be tanh(x @ Wx + prev_h @ Wh + b)."] \
        == of_kind("no_tanh")
    assert causes["rnn_forward", "h0 is ignored: the first step must start from the given h0, not from zeros."] \
        == of_kind("h0_ignored")
    shifted = [students for (exercise, what), students in causes.items() if what.startswith("h[:, t] holds the state")]
    assert shifted == [of_kind("shifted")]
    counts = [c["count"] for c in data["causes"]]
    assert counts == sorted(counts, reverse=True) and all(c["count"] == len(c["students"]) for c in data["causes"])
    # every student named under a cause lost that exercise's points in the gradebook
    for cause in data["causes"]:
        for student in cause["students"]:
            score, full = table[student][0][f"test_{cause['exercise']}"]
            assert score < full


def test_failures_without_a_cause_are_grouped_by_signature(graded):
    layout, roster, _, data = graded
    groups = {(g["exercise"], g["what"]): g["students"] for g in data["unexplained"]}
    of_kind = lambda kind: sorted(s for s, (k, _) in roster.items() if k == kind)   # noqa: E731
    assert groups["rnn_forward", "rnn_forward: h should be a numpy array of shape (#, #, #), got NoneType."] \
        == of_kind("returns_none")
    assert groups["temporal_affine_forward",
                  "temporal_affine_forward: the cache must be the tuple (h, V, c) that the backward reads."] \
        == of_kind("bad_cache")
    for exercise in ("rnn_step_forward", "rnn_forward", "temporal_affine_forward"):
        blank = [students for (ex, what), students in groups.items() if ex == exercise and "not written yet" in what]
        assert blank == [of_kind("blank")]
    # every test the gradebook has failed is under a cause or a signature, and nothing else is
    failed = {(s, t.removeprefix("test_")) for s, (cells, _, _) in gradebook_table(layout).items()
              for t in TESTS if cells[t][0] < cells[t][1]}
    assert {(s, g["exercise"]) for g in data["causes"] + data["unexplained"] for s in g["students"]} == failed


def test_late_submissions_and_penalties_are_the_gradebook_s(graded):
    layout, roster, _, data = graded
    table = gradebook_table(layout)
    late = {t["student"]: t for t in data["timing"] if t["late"]}
    assert sorted(late) == sorted(s for s, (_, is_late) in roster.items() if is_late) == \
        sorted(s for s, (_, _, seconds) in table.items() if seconds > 0)
    for student, row in late.items():
        assert row["seconds_late"] == table[student][2] and row["penalty"] == table[student][1] > 0
        assert row["hours_after_due"] == pytest.approx(table[student][2] / 3600, abs=1e-3)
        assert data["scores"][student]["score"] == 0.0            # penalty_method "zero"
    assert data["due"] == DUE.isoformat()
    on_time = [t["hours_after_due"] for t in data["timing"] if not t["late"]]
    assert len(on_time) == 31 and all(h < 0 for h in on_time)


def test_the_copied_pair_is_found_and_no_honest_pair_is_flagged(graded):
    _, _, _, data = graded
    similar = data["similar"]
    assert [p["students"] for p in similar["pairs"]] == [["copy", "orig"]]
    assert similar["compared"] >= 20           # the honest were compared, not left out
    assert sorted(similar["scores"])[-2] < similar["threshold"] <= similar["pairs"][0]["score"]
    marked = ["".join(text for text, shared in side if shared) for side in similar["pairs"][0]["code"]]
    assert "np.tanh(" in marked[0] and "reshape(" in marked[1]      # the shared passages, on both sides


def test_the_page_is_private_self_contained_and_links_the_feedback(graded):
    layout, _, page, data = graded
    assert page.parent == layout.insights and not str(page).startswith(str(layout.root / "notebooks"))
    for path in (page, page.with_suffix(".json"), page.parent / "attempts.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(page.parent.stat().st_mode) == 0o700
    html = page.read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert html.count('src="data:image/png;base64,') == 5
    assert "for a person to look at" in html and "not a verdict" in html
    assert json.loads(page.with_suffix(".json").read_text())["causes"] == data["causes"]
    for student, link in data["feedback"].items():       # everyone's feedback, one click away
        assert link and (page.parent / link).resolve() == layout.feedback_html(student, A).resolve()
    for student in {s for c in data["causes"] for s in c["students"]}:
        assert f'href="{data["feedback"][student]}"' in html


def test_anonymous_page_names_no_student(graded, tmp_path):
    layout, roster, _, _ = graded
    course = shutil.copytree(layout.root, tmp_path / "course", symlinks=True)
    result = subprocess.run([sys.executable, "-m", "instructor", "insights", A, "--anonymous", "--threshold", "0.6"],
                            cwd=course, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "1 similar pair to look at" in result.stdout
    data = json.loads((Layout(course).insights / f"{A}-anonymous.json").read_text())
    text = json.dumps(data) + (Layout(course).insights / f"{A}-anonymous.html").read_text()
    for student in [*roster, "fixer"]:
        assert f'"{student}"' not in text and f">{student}<" not in text
    assert len(data["scores"]) == 33 and data["feedback"] == {} and data["anonymous"]


def test_bad_arguments_are_refused_in_one_line(graded):
    layout, _, _, _ = graded
    for argv, words in ((["--threshold", "2"], "between 0 and 1"), (["99_nothing"], "no assignment '99_nothing'")):
        result = subprocess.run([sys.executable, "-m", "instructor", "insights", *argv], cwd=layout.root,
                                capture_output=True, text=True)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and words in result.stderr


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_the_page_shows_its_plots_in_chromium(graded):
    from playwright.sync_api import sync_playwright
    _, _, page_path, _ = graded
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri())
        plots = page.locator("img.plot")
        assert plots.count() == 5
        for i in range(5):        # every plot decoded to a picture of some size
            assert plots.nth(i).evaluate("img => img.complete && img.naturalWidth > 200 && img.naturalHeight > 100")
        assert page.locator("#similar mark, .pair mark").count() > 0
        assert "the bias b is missing." in page.inner_text("#causes + table")
        assert all(url.startswith(("file:", "data:")) for url in requests)     # nothing from a network
        page.screenshot(path=ARTIFACTS / "insights.png")                  # the README's picture
        page.screenshot(path=ARTIFACTS / "insights-full.png", full_page=True)
        browser.close()
    assert (ARTIFACTS / "insights.png").stat().st_size > 10_000


@pytest.mark.postgres
@pytest.mark.skipif(not glob.glob("/usr/lib/postgresql/*/bin/initdb"), reason="PostgreSQL is not installed")
def test_a_class_graded_into_postgresql_gets_its_page(postgres, tmp_path):
    """The same reader on PostgreSQL: four students, the figures from the server's rows."""
    db_url = postgres
    course = make_course(tmp_path, [A])
    sqlite_file = Path(Layout(course).db_url.removeprefix("sqlite:///"))
    sqlite_file.unlink()
    with open(course / CONFIG_FILE, "a") as config:
        config.write(f"\nc.CourseDirectory.db_url = {db_url!r}\n")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"   # alembic
    assert nbgrader(course, "generate_assignment", A, "--force").returncode == 0
    layout = Layout(course)
    assert layout.db_url == db_url
    set_due_date(layout)
    rng = random.Random(5)
    kinds = {"pg_honest": "honest", "pg_bias": "no_bias", "pg_none": "returns_none", "pg_blank": "blank"}
    for i, (student, kind) in enumerate(kinds.items()):
        hand_in(layout, student, ic.submission(layout, kind, rng), DUE + timedelta(hours=2 * i - 3))
    result, _ = autograde(course, A)
    assert result.returncode == 0, result.stderr[-2000:]
    _, data = insights.write(layout, A)
    table = gradebook_table(layout)
    assert sorted(data["scores"]) == sorted(table) == sorted(kinds)
    for row in data["exercises"]:
        assert row["passed"] == sum(cells[row["test"]][0] == cells[row["test"]][1] for cells, _, _ in table.values())
    assert {(c["exercise"], c["what"]): c["students"] for c in data["causes"]}[
        "rnn_step_forward", "the bias b is missing."] == ["pg_bias"]
    assert any(g["students"] == ["pg_none"] and "got NoneType" in g["what"] for g in data["unexplained"])
    assert sorted(t["student"] for t in data["timing"] if t["late"]) == ["pg_blank", "pg_none"]
    assert not sqlite_file.exists()
