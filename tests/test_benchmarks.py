"""The benchmarks run (in smoke mode) so they cannot rot; their figures are for people, not asserts."""
import subprocess
import sys

from conftest import ROOT


def run(script, *args):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_throughput_benchmark_smoke():
    out = run("throughput.py", "--smoke")
    for label in ("min-char-rnn baseline", "rnnlib CharRNN, hidden 100", "rnnlib CharRNN, hidden 256",
                  "x baseline", "bits per character"):
        assert label in out, out


def test_widget_benchmark_runs():
    out = run("widget_speed.py")
    assert out.count("ms per update") == 3, out


def test_class_grading_benchmark_smoke():
    out = run("grading_class.py", "--smoke", "--workers", "2")
    assert "class of 2 students" in out and "overhead" in out and "when cached" in out, out
    assert "grades identical to the serial run's" in out and "64 cores" in out, out
