"""The student's kernel's side of a call from the grader: run one of the student's functions on
arguments that came over the wire, and publish what happened.

Its source is sent into the kernel with every call (instructor/pipeline/execute.py), after wire.py's, so a
submission cannot have replaced it beforehand; like wire.py it is run there from its text, each in
a namespace of its own, never imported. `call` gets wire's names as a dict: in the kernel, the
namespace wire.py's text ran in; anywhere else (a test), vars(instructor.pipeline.wire).
"""
import contextlib
import json
import signal
import sysconfig
import threading
import traceback
import types

MIME = "application/x-rnn-grading+json"
# Frames that are not the student's: this code's own (run from its text, "<string>"), rnnlib's, Python's and
# the installed packages' (numpy's).
LIBRARIES = tuple(sysconfig.get_path(p) for p in ("stdlib", "platstdlib", "purelib", "platlib"))


class TimedOut(BaseException):
    """Raised into the student's code when the check's time is up (not an Exception: their own
    `except Exception` must not swallow it)."""


def _time_up(signum, frame):
    raise TimedOut()


@contextlib.contextmanager
def time_limit(seconds):
    """Raise TimedOut in whatever runs inside after seconds (None: no limit), as the grader's
    rnnlib.grading.core.time_limit would in the student's own kernel."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _time_up)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _stopped_at(tb):
    """[function, line number, line] of the student's code that tb ends in, or []."""
    frames = [f for f in traceback.extract_tb(tb)
              if f.filename != "<string>" and "/rnnlib/" not in f.filename and not f.filename.startswith(LIBRARIES)]
    return [frames[-1].name, frames[-1].lineno, frames[-1].line] if frames else []


def call(name, payload, wire):
    """Run the kernel's `name` (a function, or "@k.attr..." on an object kept from an earlier call)
    on the wire-encoded payload; publish the reply as MIME display data."""
    from IPython import get_ipython
    from IPython.display import publish_display_data
    decode, encode, unportable = wire["decode"], wire["encode"], wire["Unportable"]
    request, memo = json.loads(payload), {}
    args, kwargs = decode(request["args"], memo), decode(request["kwargs"], memo)
    before = [dict(a) if isinstance(a, dict) else None for a in args]
    reply = {}
    # Objects the student's code made (an instance of their class) stay here; the grader gets a handle
    # "@k" and reads their attributes ("@k.params", request["get"]) or runs their methods ("@k.forward").
    objects = get_ipython().user_ns.setdefault("_rnn_grading_objects", [])
    try:
        with time_limit(request.get("seconds")):
            head, *attrs = name.split(".")
            target = objects[int(head[1:])] if head.startswith("@") else get_ipython().user_ns[head]
            for attr in attrs:
                target = getattr(target, attr)
            if request.get("get"):
                reply["callable"] = callable(target)
                result = None if callable(target) else target
                if isinstance(result, dict):    # which objects it holds: whether a method replaced one shows here only
                    reply["identities"] = {str(k): id(v) for k, v in result.items()}
            else:
                result = target(*args, **kwargs)
        if isinstance(result, types.GeneratorType):   # the grader takes its items one by one ("@k.__next__"),
            objects.append(result)                    # only as many as its check needs
            reply["result"] = {"handle": len(objects) - 1, "iterator": True}
        else:
            try:
                reply["result"] = encode(result, {})
            except unportable:
                if type(result).__module__ != "__main__":
                    raise
                objects.append(result)
                reply["result"] = {"handle": len(objects) - 1}
    except TimedOut as e:
        reply.update(raised="TimedOut", stopped_at=_stopped_at(e.__traceback__))
    except BaseException as e:
        where = [f"{f.name}, line {f.lineno}: {f.line}" for f in traceback.extract_tb(e.__traceback__)[1:]
                 if "/rnnlib/" not in f.filename]                 # the student's own lines
        reply.update(raised=type(e).__name__, message=str(e), where=where[-1:])
    reply["args_after"] = encode(args, {})
    reply["replaced"] = [[k for k in b if k in a and a[k] is not b[k]] if b is not None else []
                         for a, b in zip(args, before)]
    publish_display_data({MIME: reply})
