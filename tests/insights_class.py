"""A seeded class of lesson 01 for the insights tests and benchmark: each student writes their own
code (a style drawn for them: the order of the terms, how products are spelt, the loop, the extra
lines they add), honest or with one of several mistakes; some hand in nothing, some late; one
copies another's answers with the variables renamed and the lines reordered.

    answers(released, kind, rng) -> {grade_id: answer cell source}     (kind: one of KINDS)
    submission(layout, kind, rng) -> the handed-in notebook     (kind: one of KINDS, "blank", "original", "copied")
"""
import random
import re

A = "01_forward_pass"
# kind -> the mistake per exercise (None: right). Kinds with a mistake the checks recognise print a
# "Likely cause"; bad_cache and returns_none do not.
KINDS = {
    "honest": {},
    "no_bias": {"rnn_step_forward": "no_bias"},
    "no_tanh": {"rnn_step_forward": "no_tanh"},
    "shifted": {"rnn_forward": "shifted"},
    "h0_ignored": {"rnn_forward": "h0_ignored"},
    "returns_none": {"rnn_forward": "returns_none"},
    "bad_cache": {"temporal_affine_forward": "bad_cache"},
}

# Statements a student may add at the top of a function, different ones for different students.
EXTRAS = {
    "rnn_step_forward": ["N, D = x.shape", "H = Wh.shape[0]", "assert Wx.shape[0] == x.shape[1]",
                         "assert prev_h.shape[1] == Wh.shape[0]", "x = np.asarray(x, dtype=np.float64)",
                         "if b.ndim != 1:\n        raise ValueError('b must be a vector')"],
    "rnn_forward": ["assert x.ndim == 3, 'x must be (N, T, D)'", "D = x.shape[2]", "steps = list(range(x.shape[1]))",
                    "assert h0.shape[1] == Wh.shape[1]", "if x.shape[1] == 0:\n        raise ValueError('empty sequence')"],
    "temporal_affine_forward": ["N, T, H = h.shape", "M = V.shape[1]", "assert c.shape == (V.shape[1],)",
                                "assert h.shape[-1] == V.shape[0]"],
}


def _product(a, b, style):
    return {"at": f"{a} @ {b}", "dot": f"np.dot({a}, {b})", "method": f"{a}.dot({b})"}[style]


def step_forward(rng, mistake=None):
    terms = [_product("x", "Wx", rng.choice(["at", "dot", "method"])),
             _product("prev_h", "Wh", rng.choice(["at", "dot", "method"])), "b"]
    if mistake == "no_bias":
        terms.remove("b")
    rng.shuffle(terms)
    pre = " + ".join(terms)
    body = [f"a = {pre}", "next_h = a" if mistake == "no_tanh" else "next_h = np.tanh(a)"]
    if rng.random() < 0.5:
        body = [f"next_h = {pre}" if mistake == "no_tanh" else f"next_h = np.tanh({pre})"]
    if rng.random() < 0.5:
        body += ["cache = (x, prev_h, Wx, Wh, b, next_h)", "return next_h, cache"]
    else:
        body += ["return next_h, (x, prev_h, Wx, Wh, b, next_h)"]
    return body


def rnn_forward(rng, mistake=None):
    if mistake == "returns_none":
        return ["return None, []"]
    start = "np.zeros_like(h0)" if mistake == "h0_ignored" else "h0"
    loop = rng.choice(["range", "stack", "while", "enumerate"])
    if loop == "range":
        keep = "h[:, t] = prev" if mistake == "shifted" else "h[:, t] = nxt"
        return ["N, T, _ = x.shape", "h = np.zeros((N, T, Wh.shape[0]))", "cache = []", f"prev = {start}",
                "for t in range(T):", "    nxt, step = rnn_step_forward(x[:, t, :], prev, Wx, Wh, b)",
                f"    {keep}", "    cache.append(step)", "    prev = nxt", "return h, cache"]
    if loop == "stack":
        keep = "states.append(state)"
        return ["states, cache = [], []", f"state = {start}", "for t in range(x.shape[1]):",
                *(["    states.append(state)"] if mistake == "shifted" else []),
                "    state, c = rnn_step_forward(x[:, t], state, Wx, Wh, b)",
                *([] if mistake == "shifted" else [f"    {keep}"]), "    cache.append(c)",
                "return np.stack(states, axis=1), cache"]
    if loop == "while":
        return ["T = x.shape[1]", "out = np.empty((x.shape[0], T, h0.shape[1]))", "caches = []", "t = 0",
                f"current = {start}", "while t < T:",
                *(["    out[:, t] = current"] if mistake == "shifted" else []),
                "    current, cc = rnn_step_forward(x[:, t], current, Wx, Wh, b)",
                *([] if mistake == "shifted" else ["    out[:, t] = current"]),
                "    caches.append(cc)", "    t += 1", "return out, caches"]
    return ["hs = []", "cache = []", f"h_t = {start}", "for t, x_t in enumerate(np.moveaxis(x, 1, 0)):",
            *(["    hs.append(h_t)"] if mistake == "shifted" else []),
            "    h_t, c_t = rnn_step_forward(x_t, h_t, Wx, Wh, b)",
            *([] if mistake == "shifted" else ["    hs.append(h_t)"]), "    cache.append(c_t)",
            "h = np.array(hs).transpose(1, 0, 2)", "return h, cache"]


def affine_forward(rng, mistake=None):
    form = rng.choice(["at", "dot", "reshape", "einsum"])
    product = {"at": "h @ V", "dot": "np.dot(h, V)", "einsum": "np.einsum('nth,hm->ntm', h, V)",
               "reshape": "(h.reshape(-1, h.shape[-1]) @ V).reshape(h.shape[0], h.shape[1], -1)"}[form]
    out = f"c + {product}" if rng.random() < 0.5 else f"{product} + c"
    cache = "(h, V)" if mistake == "bad_cache" else "(h, V, c)"
    return [f"out = {out}", f"cache = {cache}", "return out, cache"]


WRITERS = {"rnn_step_forward": step_forward, "rnn_forward": rnn_forward, "temporal_affine_forward": affine_forward}


def answers(released, kind, rng):
    """{grade_id: source}: the released answer cells (released: {grade_id: stub source}) written by
    a student of kind, in a style drawn from rng (a random.Random)."""
    out = {}
    for exercise, writer in WRITERS.items():
        body = writer(rng, KINDS[kind].get(exercise))
        extras = rng.sample(EXTRAS[exercise], rng.randint(0, 2))
        out[exercise] = _in_stub(released[exercise], [*extras, *body])
    return out


def _in_stub(stub, lines):
    """The stub's signature and docstring, then lines (the stub's own body dropped)."""
    head = stub.split("    # YOUR CODE HERE")[0].rstrip("\n")
    return head + "\n" + "".join(f"    {line}\n" for line in lines)


# The student whose answers are copied wrote long answers of their own; the copy renames the
# variables and swaps independent lines.
ORIGINAL = {
    "rnn_step_forward": ["batch, features = x.shape", "hidden = Wh.shape[0]",
                         "assert Wx.shape == (features, hidden), 'Wx has the wrong shape'",
                         "input_part = x @ Wx", "memory_part = prev_h @ Wh",
                         "activation = input_part + memory_part + b[np.newaxis, :]",
                         "next_h = np.tanh(activation)", "cache = (x, prev_h, Wx, Wh, b, next_h)",
                         "return next_h, cache"],
    "rnn_forward": ["batch, length, features = x.shape", "hidden = h0.shape[1]",
                    "h = np.zeros((batch, length, hidden), dtype=np.float64)", "cache = [None] * length",
                    "state = h0.copy()", "for step in range(length):",
                    "    state, cache[step] = rnn_step_forward(x[:, step, :], state, Wx, Wh, b)",
                    "    h[:, step, :] = state", "return h, list(cache)"],
    "temporal_affine_forward": ["batch, length, hidden = h.shape", "classes = V.shape[1]",
                                "flat = h.reshape(batch * length, hidden)", "scores = flat.dot(V) + c[None, :]",
                                "out = scores.reshape(batch, length, classes)", "cache = (h, V, c)",
                                "return out, cache"],
}
RENAMES = {"batch": "n_batch", "features": "n_in", "hidden": "n_hid", "input_part": "xw", "memory_part": "hw",
           "activation": "z", "state": "h_prev", "step": "i", "length": "n_steps", "flat": "h2d",
           "scores": "logits", "classes": "n_out"}
# (exercise, line a, line b): lines that do not depend on each other, swapped in the copy.
SWAPS = [("rnn_step_forward", 0, 1), ("rnn_step_forward", 3, 4), ("rnn_forward", 2, 3),
         ("temporal_affine_forward", 0, 1)]


def original(released):
    return {exercise: _in_stub(released[exercise], lines) for exercise, lines in ORIGINAL.items()}


def copied(released):
    out = {}
    for exercise, lines in ORIGINAL.items():
        lines = list(lines)
        for which, i, j in SWAPS:
            if which == exercise:
                lines[i], lines[j] = lines[j], lines[i]
        renamed = [re.sub(r"\b\w+\b", lambda m: RENAMES.get(m.group(), m.group()), line) for line in lines]
        out[exercise] = _in_stub(released[exercise], renamed).replace(" = ", "  =  ")   # and its own spacing
    return out


def submission(layout, kind, rng):
    """The released notebook as a student of kind hands it in (kind: one of KINDS, "blank",
    "original" or "copied")."""
    import nbformat
    from instructor.commands.insights import answer_cells
    from instructor.model.layout import notebook_path
    from instructor.pipeline.submissions import make_submission
    release = nbformat.read(layout.release_notebook(A), as_version=4)
    solution = nbformat.read(notebook_path(layout.source, A), as_version=4)
    released = answer_cells(layout.release_notebook(A))
    written = {"blank": {}, "original": original(released), "copied": copied(released)}.get(kind)
    return make_submission(release, solution, "blank" if kind == "blank" else "correct",
                           answers(released, kind, rng) if written is None else written)


def roster(n=30, seed=27):
    """[(student, kind, late)]: n students before the copied pair, two blank, two late."""
    rng = random.Random(seed)
    mistakes = [k for k in KINDS if k != "honest"]
    kinds = [mistakes[i % len(mistakes)] for i in range(2 * len(mistakes))] + ["blank", "blank"]
    kinds += ["honest"] * (n - len(kinds))
    rng.shuffle(kinds)
    out = [(f"s{i:02d}", kind, False) for i, kind in enumerate(kinds)]
    late = [i for i, (_, kind, _) in enumerate(out) if kind == "honest"][:2]
    for i in late:
        out[i] = (out[i][0], out[i][1], True)
    return out + [("orig", "original", False), ("copy", "copied", False)]
