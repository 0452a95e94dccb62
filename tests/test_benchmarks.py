"""The benchmarks run (in smoke mode) so they cannot rot; their figures are for people, not asserts."""
import importlib.util
import subprocess
import sys

import pytest

from conftest import ROOT

from rnnlib import load_corpus


def run(script, *args):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def load(script):
    spec = importlib.util.spec_from_file_location(script, ROOT / "benchmarks" / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_throughput_benchmark_smoke():
    out = run("throughput.py", "--smoke")
    for label in ("min-char-rnn as published", "rnnlib CharRNN RNN, hidden 100", "rnnlib CharRNN RNN, hidden 256",
                  "rnnlib CharRNN LSTM, hidden 256", "× baseline", "peak memory", "MiB", "bits (", "nats) per character",
                  "float64/float32 of its parts alone: recurrent product"):
        assert label in out, out


def test_throughput_baseline_is_the_published_min_char_rnn():
    # A text short enough that 60 updates wrap around it twice (the published reset of p and hprev).
    text = load_corpus("tinyshakespeare")[:700]
    published, _ = load("min_char_rnn_published").train(text, 60, seed=3)
    baseline = load("throughput").min_char_rnn(text, seed=3)
    assert [next(baseline) for _ in range(60)] == published    # the same arithmetic: equal to the bit


def test_widget_benchmark_runs():
    out = run("widget_speed.py")
    assert out.count("ms per update") == 3, out


@pytest.mark.class_scale
def test_class_grading_benchmark_smoke():
    out = run("grading_class.py", "--smoke", "--workers", "2")
    assert "class of 2 students" in out and "overhead" in out and "when cached" in out, out
    assert "grades identical to the serial run's" in out and "64 cores" in out, out


@pytest.mark.class_scale
@pytest.mark.e2e
def test_feedback_delay_benchmark_smoke():
    out = run("feedback_delay.py", "--smoke")
    assert "start-up:" in out and "one at a time (1)" in out and "a burst of 2 at once" in out, out
    assert "goal: feedback within 120 s" in out, out


@pytest.mark.e2e
def test_insights_benchmark_smoke():
    out = run("insights_speed.py", "--smoke")
    assert "graded 3 submissions for real" in out and "class of 20 submissions" in out, out
    assert "insights for 20 submissions (" in out and "goal: under 30 s for 300 submissions" in out, out
