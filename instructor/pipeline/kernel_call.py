"""The student's kernel's side of a call from the grader: run one of the student's functions on
arguments that came over the wire, and publish what happened.

Its source is sent into the kernel with every call (instructor/pipeline/execute.py), after wire.py's, so a
submission cannot have replaced it beforehand; like wire.py it is run there from its text, each in
a namespace of its own, never imported. `call` gets wire's names as a dict: in the kernel, the
namespace wire.py's text ran in; anywhere else (a test), vars(instructor.pipeline.wire).
"""
import json
import traceback
import types

MIME = "application/x-rnn-grading+json"


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
        result = list(result) if isinstance(result, types.GeneratorType) else result
        try:
            reply["result"] = encode(result, {})
        except unportable:
            if type(result).__module__ != "__main__":
                raise
            objects.append(result)
            reply["result"] = {"handle": len(objects) - 1}
    except BaseException as e:
        where = [f"{f.name}, line {f.lineno}: {f.line}" for f in traceback.extract_tb(e.__traceback__)[1:]
                 if "/rnnlib/" not in f.filename]                 # the student's own lines
        reply.update(raised=type(e).__name__, message=str(e), where=where[-1:])
    reply["args_after"] = encode(args, {})
    reply["replaced"] = [[k for k in b if k in a and a[k] is not b[k]] if b is not None else []
                         for a, b in zip(args, before)]
    publish_display_data({MIME: reply})
