"""Per-update time of each widget, including rendering the PNG the browser shows.

    .venv/bin/python benchmarks/widget_speed.py

Goal: under 100 ms per update at the default sizes, so dragging a slider feels live.
"""
import time

import matplotlib

matplotlib.use("Agg")
from rnnlib.widgets import BPTTStepper, GradientFlowExplorer, SoftmaxOverflowExplorer  # noqa: E402


def per_update(widget, repeats=10):
    start = time.perf_counter()
    for _ in range(repeats):
        widget.update()        # recompute, redraw, render the PNG the browser shows
    return (time.perf_counter() - start) / repeats


if __name__ == "__main__":
    for cls in (GradientFlowExplorer, BPTTStepper, SoftmaxOverflowExplorer):
        print(f"{cls.__name__:26s} {per_update(cls()) * 1000:6.1f} ms per update (recompute + redraw + PNG)")
