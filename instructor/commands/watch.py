"""Grade on submit: ./course watch [--every SECONDS] [--workers N] [--scheduler ADDRESS].

Every SECONDS: nbgrader collects each assignment's latest submissions from its exchange (what
./course collect ASSIGNMENT does, nbgrader collect --update; forgeries are refused, each logged
once: instructor/pipeline/exchange.py); the new ones go through the whole
./course autograde pipeline (repairs, the canary, the sandbox) on Dask workers
(instructor/pipeline/workers.py); then nbgrader generates each one's feedback and releases it to the
exchange, where the student fetches it (instructor/commands/feedback.py, the same steps as ./course feedback
and ./course return). One log line per graded submission, on stdout.

Nothing is remembered in memory, so a watcher stopped anywhere (a restart, a crash, the hub
going down) picks up where it was: a submission is graded once its graded copy carries the
submission's timestamp and its grades are complete (nbgrader's own rule, instructor/pipeline/workers.py
needs_grading); its feedback has been returned once <grading>/workers/returned.json records that
timestamp, written after the release. Nothing is graded twice, nothing is missed.

As a JupyterHub service, in the hub's jupyterhub_config.py (README, "Grading a big class"):

    c.JupyterHub.services = [{"name": "grader", "command": ["/path/to/course", "watch"]}]
"""
import json
import os
import time
from datetime import datetime

from ..model.gradebook import grades
from ..pipeline import canary, workers
from ..pipeline.exchange import REFUSED
from ..pipeline.grade import prepare, register
from . import feedback, insights
from .feedback import nbgrader_api
from .hub import refresh_edition

class Returned:
    """The submissions whose feedback has been released: {"student/assignment": timestamp}."""

    def __init__(self, layout):
        self.path = layout.workers / "returned.json"
        self.seen = json.loads(self.path.read_text()) if self.path.exists() else {}

    def __contains__(self, key):
        name = "/".join(key)
        return name in self.seen and self.seen[name] == key.timestamp

    def add(self, key):
        self.seen["/".join(key)] = key.timestamp
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = self.path.with_suffix(".new")
        new.write_text(json.dumps(self.seen, indent=1, sort_keys=True))
        new.replace(self.path)                  # a watcher killed here leaves the old record whole


class Key(tuple):
    """(student, assignment) with the submission's timestamp (its timestamp.txt, or None)."""

    def __new__(cls, layout, student, assignment):
        key = super().__new__(cls, (student, assignment))
        stamp = layout.submission(student, assignment) / "timestamp.txt"
        key.timestamp = stamp.read_text().strip() if stamp.exists() else None
        return key


class Watcher:
    def __init__(self, layout, client, log=print):
        self.layout, self.client, self.log = layout, client, log
        self.api, self.said = nbgrader_api(layout), {}

    def cycle(self):
        """Collect, grade, return feedback; returns how many submissions were handled."""
        layout = self.layout
        changed = refresh_edition(layout.root)      # a due date may have passed: its answers go out
        if changed:
            self.log(f"./course watch: {changed}")
        for assignment in layout.assignments():
            result = self.api.collect(assignment, update=True)
            if not result["success"]:
                self.say(f"collect {assignment}", result.get("error", "").strip().splitlines()[-1:])
            for line in result.get("log", "").splitlines():      # each refused submission, once
                if line.startswith(f"[WARNING] {REFUSED}"):
                    self.say(line.removeprefix("[WARNING] "), [])
        returned = Returned(layout)
        pending = [key for a in layout.assignments() for s in layout.students(a)
                   if (key := Key(layout, s, a)) not in returned]
        ready = [a for a in sorted({a for _, a in pending}) if self.gradable(a)]
        pending = [key for key in pending if key[1] in ready]
        todo = [(a, s) for s, a in pending if workers.needs_grading(layout, a, s)]
        for key in pending:
            if key[::-1] not in todo:           # graded before (a watcher stopped before returning it)
                self.give_back(key, None, returned)
        if todo:                                # each returned as soon as it is graded
            keys = {key[::-1]: key for key in pending}
            workers.grade(layout, todo, self.client, quiet=True,
                          then=lambda a, s, failure: self.give_back(keys[a, s], failure, returned))
        insights.after_grading(layout, sorted({a for _, a in pending}), self.log)   # the class pages, up to date
        return len(pending)

    def gradable(self, assignment):
        """Known to the gradebook, the canary passed, submissions repaired: or say why not (once)."""
        problem = register(self.layout, assignment)
        if not problem:
            try:
                canary.check(self.layout, assignment)
            except canary.CanaryFailed as e:
                problem = f"refusing to grade: {e}"
        if problem:
            self.say(assignment, [problem])
            return False
        self.said.pop(assignment, None)
        prepare(self.layout, assignment)
        return True

    def give_back(self, key, failure, returned):
        student, assignment = key
        if failure is None:         # graded: the same steps as ./course feedback and ./course return
            failure = feedback.give_back(self.api, self.layout, assignment, student)
        g = grades(self.layout, assignment).get((student, assignment))
        score = f"{g.score:.1f} / {g.max_score:g}" if g and not g.missing else "NOT GRADED"
        what = (f"could not be graded or returned: {failure.strip().splitlines()[-1] if failure.strip() else '?'}"
                if failure else "feedback returned")
        self.log(f"{datetime.now():%Y-%m-%d %H:%M:%S} {student} {assignment}: {score}, {what}")
        returned.add(key)       # a failure is not retried until the student submits again

    def say(self, topic, lines):
        line = f"./course watch: {topic}" + (f": {' '.join(lines)}" if lines else "")
        if self.said.get(topic) != line:          # once, not at every look
            self.said[topic] = line
            self.log(line)


def run(layout, every, opts):
    """./course watch: a cycle every `every` seconds on the Dask workers opts names (default: one
    per core here), until Ctrl-C."""
    opts = {"workers": None if opts.get("scheduler") else os.cpu_count(), **opts}
    where = f"the Dask cluster at {opts['scheduler']}" if opts.get("scheduler") else f"{opts['workers']} workers"
    print(f"./course watch: grading new submissions every {every:g} s on {where}; Ctrl-C stops", flush=True)
    watcher = Watcher(layout, None, log=lambda line: print(line, flush=True))
    try:
        while True:
            try:
                with workers.dask_client(**opts) as watcher.client:
                    while True:
                        watcher.cycle()
                        time.sleep(every)
            except (workers.SchedulerLost, OSError, TimeoutError) as e:    # a cluster's scheduler restarting
                watcher.log(f"./course watch: {e}; trying again in {every:g} s")
                time.sleep(every)
    except KeyboardInterrupt:
        return 0
