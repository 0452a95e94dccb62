"""Every lesson executed headless (nbclient, as nbgrader does) again and again under a parallel CPU load.

    .venv/bin/python benchmarks/headless_load.py [--runs 30] [--load N] [ASSIGNMENT ...]

First each lesson runs once on a quiet machine: every cell's wall time, from sending it to the
kernel until nbclient has its reply and all its output, is that cell's quiet time. Then N busy
processes (default: one per CPU) keep every core loaded while each lesson runs --runs times in a
row, and the script prints, per lesson, the worst cell's time beyond its quiet time and which cell
it was. Goal: never more than a few seconds; a stalled kernel shows up as tens or hundreds.
"""
import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from instructor.model.layout import Layout, ROOT, notebook_path  # noqa: E402


class TimedClient(NotebookClient):
    """nbclient's executor, recording each code cell's wall time (reply and outputs included)."""

    async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
        start = time.perf_counter()
        try:
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)
        finally:
            if cell.cell_type == "code":
                self.seconds[cell_index] = time.perf_counter() - start


def cell_times(path, timeout):
    """{cell index: seconds} for one fresh-kernel run of the notebook at path.

    A cell that times out is interrupted and the run goes on; what nbclient had received for it by
    then (its execution timestamps: busy, execute_input, the reply, idle) is printed, since that
    tells a kernel that never started the cell from one whose reply got lost."""
    nb = nbformat.read(path, as_version=4)
    client = TimedClient(nb, timeout=timeout, kernel_name="python3", interrupt_on_timeout=True,
                         error_on_timeout={"ename": "CellTimeoutError", "evalue": "timed out", "traceback": []},
                         allow_errors=True, resources={"metadata": {"path": str(path.parent)}})
    client.seconds = {}
    client.execute()
    for index, seconds in client.seconds.items():
        if seconds >= timeout:
            print(f"  {path.parent.name} cell {index} timed out; received: {dict(nb.cells[index].metadata.get('execution', {}))}",
                  flush=True)
    return client.seconds


def burn(stop):
    """Keep one core busy (numpy and plain Python alternately, as a test run would) until stop is set."""
    import numpy as np
    a = np.random.default_rng(0).standard_normal((200, 200))
    while not stop.is_set():
        for _ in range(20):
            a = np.tanh(a @ a.T / 200)
        sum(i * i for i in range(100_000))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", help="default: every lesson")
    parser.add_argument("--runs", type=int, default=30, help="runs of each lesson under load (default 30)")
    parser.add_argument("--load", type=int, default=os.cpu_count(), help="busy processes (default: one per CPU)")
    parser.add_argument("--timeout", type=int, default=300, help="nbclient's per-cell timeout in seconds")
    args = parser.parse_args()
    assignments = args.assignments or Layout(ROOT).assignments()
    paths = {a: notebook_path(ROOT / "solutions", a) for a in assignments}
    quiet = {a: cell_times(p, args.timeout) for a, p in paths.items()}
    print(f"quiet: {', '.join(f'{a} {sum(t.values()):.1f} s' for a, t in quiet.items())}", flush=True)

    stop = multiprocessing.Event()
    burners = [multiprocessing.Process(target=burn, args=(stop,), daemon=True) for _ in range(args.load)]
    for b in burners:
        b.start()
    try:
        print(f"{'lesson':24s} {'runs':>4s} {'quiet s':>8s} {'loaded s (mean)':>16s} {'worst cell beyond quiet':>24s}"
              f"  {'that cell: quiet -> loaded':>27s}  cell", flush=True)
        overall = 0.0
        for a, path in paths.items():
            worst, worst_cell, worst_seconds, totals = 0.0, None, 0.0, []
            for _ in range(args.runs):
                times = cell_times(path, args.timeout)
                totals.append(sum(times.values()))
                for index, seconds in times.items():
                    if seconds - quiet[a].get(index, 0.0) > worst:
                        worst, worst_cell, worst_seconds = seconds - quiet[a].get(index, 0.0), index, seconds
            overall = max(overall, worst)
            # A stalled cell waits (tens or hundreds of seconds, whatever its quiet time); a cell
            # that only shares the CPU slows in proportion to its quiet time, as the lesson does.
            quiet_seconds = quiet[a].get(worst_cell, 0.0)
            print(f"{a:24s} {args.runs:4d} {sum(quiet[a].values()):8.1f} {sum(totals) / len(totals):16.1f} {worst:22.1f} s"
                  f"  {quiet_seconds:12.1f} -> {worst_seconds:5.1f} s ({worst_seconds / max(quiet_seconds, 0.1):3.1f}x)"
                  f"  [{worst_cell}]", flush=True)
        print(f"worst cell beyond its quiet time, all lessons, {args.load} busy processes: {overall:.1f} s")
    finally:
        stop.set()
        for b in burners:
            b.join(timeout=5)


if __name__ == "__main__":
    main()
