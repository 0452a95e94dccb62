"""How long a student waits for feedback under ./course watch: from Submit to feedback to fetch.

    .venv/bin/python benchmarks/feedback_delay.py [--every 30] [--workers 2] [--singles 6] [--burst 8]
    .venv/bin/python benchmarks/feedback_delay.py --smoke    # lesson 01 only, a look every 2 s: the test suite

A temporary course with lessons 01 and 03 and its own nbgrader exchange; ./course watch runs
on it as an instructor starts it (python -m instructor watch, a LocalCluster of --workers). Each
submission goes in through nbgrader's exchange as the Submit button sends it, and its delay is
the time from that moment until the watcher's log says its feedback was released (the log line
comes after nbgrader's release_feedback, so the student's Fetch Feedback finds it then).

Printed: the watcher's start-up (until the first submission's feedback: the Dask workers and,
on a new environment, the grading canary), then --singles submissions one at a time at seeded
random moments within the polling period, then a burst of --burst students submitting at once
(a deadline). Goal: every delay within 2 minutes on this machine.
"""
import argparse
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from instructor.commands.watch import nbgrader_api  # noqa: E402
from instructor.model.layout import CONFIG_FILE, Layout, notebook_path  # noqa: E402
from instructor.pipeline.grade import make_course  # noqa: E402
from instructor.pipeline.submissions import hand_in, make_submission  # noqa: E402

ASSIGNMENTS = ["01_forward_pass", "03_bptt"]
LINE = re.compile(r"^\S+ \S+ (\S+) (\S+): [\d.]+ / \d+, feedback returned$", re.M)


class Watch:
    """./course watch on course, its output in log; returned() tells which (student, assignment) are done."""

    def __init__(self, course, log, every, workers):
        self.log = log
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        with open(log, "w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "instructor", "watch", "--every", str(every), "--workers", str(workers)],
                cwd=course, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, keys, minutes=15):
        """Wait until every (student, assignment) of keys has its feedback returned; returns the
        moment each was seen in the log: {key: time.perf_counter()}."""
        start, done = time.perf_counter(), {}
        while len(done) < len(keys):
            if self.process.poll() is not None or time.perf_counter() - start > 60 * minutes:
                sys.exit(f"the watcher stopped or hung; its log:\n{self.log.read_text()[-3000:]}")
            for key in set(LINE.findall(self.log.read_text())) & set(keys) - set(done):
                done[key] = time.perf_counter()
            time.sleep(0.2)
        return done

    def stop(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=30.0, help="the watcher's polling period (its default)")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--singles", type=int, default=6)
    parser.add_argument("--burst", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="lesson 01 only, --every 2, 1 single, a burst of 2")
    args = parser.parse_args()
    assignments = ASSIGNMENTS[:1] if args.smoke else ASSIGNMENTS
    if args.smoke:
        args.every, args.singles, args.burst = 2.0, 1, 2
    rng = random.Random(0)

    with tempfile.TemporaryDirectory(prefix="rnn-feedback-delay-") as tmp:
        tmp = Path(tmp)
        (tmp / "course").mkdir()
        course = make_course(tmp / "course", assignments)
        with open(course / CONFIG_FILE, "a") as config:
            # Root hands in for made-up students, which the course's collector refuses
            # (instructor/pipeline/exchange.py: a submission's owner must be the student): nbgrader's own here.
            config.write(f"\nc.Exchange.root = {str(tmp / 'exchange')!r}\n"
                         'c.ExchangeFactory.collect = "nbgrader.exchange.default.collect.ExchangeCollect"\n')
        layout = Layout(course)
        api = nbgrader_api(layout)
        answers = {}
        for a in assignments:
            assert api.release_assignment(a)["success"]                       # ./course hand-out
            answers[a] = make_submission(nbformat.read(layout.release_notebook(a), as_version=4),
                                         nbformat.read(notebook_path(layout.source, a), as_version=4))

        def submit(student, assignment):
            hand_in(layout, student, assignment, answers[assignment], tmp / "home")
            return time.perf_counter()

        print(f"watcher: --every {args.every:g} s, {args.workers} workers; lessons {', '.join(assignments)}; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        started = time.perf_counter()
        watch = Watch(course, tmp / "watch.log", args.every, args.workers)
        try:
            first = ("first", assignments[0])
            submit(*first)
            startup = watch.wait([first])[first] - started
            print(f"start-up: {startup:.1f} s from starting the watcher to the first feedback", flush=True)

            singles = []
            for i in range(args.singles):
                time.sleep(rng.uniform(0, args.every))             # any moment of the polling period
                key = (f"single{i}", assignments[i % len(assignments)])
                sent = submit(*key)
                singles.append(watch.wait([key])[key] - sent)
                print(f"  {key[0]} {key[1]}: {singles[-1]:.1f} s", flush=True)

            time.sleep(rng.uniform(0, args.every))
            burst = [(f"burst{i}", assignments[i % len(assignments)]) for i in range(args.burst)]
            sent = {key: submit(*key) for key in burst}
            delays = {key: t - sent[key] for key, t in watch.wait(burst).items()}
        finally:
            watch.stop()

    if singles:
        print(f"\none at a time ({len(singles)}): median {statistics.median(singles):.1f} s, worst {max(singles):.1f} s")
    print(f"a burst of {len(burst)} at once: median {statistics.median(delays.values()):.1f} s, "
          f"worst {max(delays.values()):.1f} s")
    worst = max([*singles, *delays.values()])
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"goal: feedback within 120 s of submitting: worst {worst:.1f} s ({'met' if worst <= 120 else 'missed'})")


if __name__ == "__main__":
    main()
