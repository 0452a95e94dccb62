"""Optimisers that update a dict of parameter arrays in place, and gradient clipping.

Each optimiser takes the model's ``params`` dict (name -> array) and updates those very arrays
with ``.step(grads)``, so a model holding them sees the change without being told.
"""
import numpy as np

from ._checks import check_array, check_positive


def _check_grads(params, grads, name="grads"):
    """grads (or an optimiser's cache) must hold a finite float array for every key of params,
    shaped like it."""
    if not isinstance(grads, dict):
        raise ValueError(f"{name}: expected a dict with the keys of params {sorted(params)}, got {type(grads).__name__}")
    if set(grads) != set(params):
        missing, extra = sorted(set(params) - set(grads)), sorted(set(grads) - set(params))
        raise ValueError(f"{name}: expected the keys of params {sorted(params)}; missing {missing}, unexpected {extra}")
    for k, p in params.items():
        if np.shape(grads[k]) != p.shape:
            raise ValueError(f"{name}[{k!r}]: expected shape {p.shape} (as params[{k!r}]), got {np.shape(grads[k])}")
        check_array(f"{name}[{k!r}]", grads[k], p.shape)


def clip_grad_norm(grads, max_norm):
    """Scale every gradient in place so that their global L2 norm is at most max_norm.

    grads: dict name -> array. The norm is taken over all arrays together, so clipping keeps
    the direction of the whole update. Returns the norm before clipping.
    """
    check_positive("max_norm", max_norm, integer=False)
    if not isinstance(grads, dict):
        raise ValueError(f"grads: expected a dict name -> array, got {type(grads).__name__}")
    for k, g in grads.items():
        if not (isinstance(g, np.ndarray) and g.dtype.kind == "f"):      # a float array
            check_array(f"grads[{k!r}]", g, np.shape(g))       # raises: not a float array
    # One dot per array, in its own precision: float64 copies of float32 gradients made the norm
    # ten times slower (338 against 29 µs per update at LSTM hidden 256). A float32 sum of squares
    # overflows once the norm passes about 1.8e19; then, and only then, the dots are redone in float64.
    squares = sum(float(np.vdot(g, g)) for g in grads.values())
    if np.isinf(squares):
        wide = [g.astype(np.float64) for g in grads.values()]
        squares = sum(float(np.vdot(g, g)) for g in wide)
    total = float(np.sqrt(squares))
    if not np.isfinite(total):        # a NaN or inf somewhere: say where (the norm found it for free)
        for k, g in grads.items():
            check_array(f"grads[{k!r}]", g, g.shape)
    if total > max_norm:
        for g in grads.values():
            g *= max_norm / total
    return total


def adagrad_update(params, grads, cache, lr, eps=1e-8):
    """One Adagrad step, in place (min-char-rnn's update).

    cache[k] accumulates the squared gradients of params[k]; each coordinate's step is
    lr / sqrt(cache) so frequently-updated coordinates slow down.
    params, grads, cache: dicts name -> array, the same keys and each key's arrays the same shape.
    """
    check_positive("lr", lr, integer=False)
    _check_grads(params, grads)
    _check_grads(params, cache, "cache")
    adagrad_step(params, grads, cache, lr, eps)


def adagrad_step(params, grads, cache, lr, eps):
    """The unchecked core of adagrad_update and Adagrad.step: the caller has validated the inputs.

    params, grads, cache: dicts name -> array, the same keys and each key's arrays the same shape;
    params and cache are updated in place.
    """
    for k, p in params.items():
        g, c = grads[k], cache[k]
        c += g * g
        denominator = np.sqrt(c)           # the same arithmetic as lr * g / (sqrt(c) + eps), with
        denominator += eps                 # two temporaries instead of five
        step = np.multiply(g, lr)
        step /= denominator
        p -= step


class SGD:
    """Plain gradient descent: p -= lr * g."""

    def __init__(self, params, lr=0.1):
        self.params, self.lr = params, check_positive("lr", lr, integer=False)

    def step(self, grads):
        _check_grads(self.params, grads)
        for k, p in self.params.items():
            p -= self.lr * grads[k]


class Adagrad:
    """Adagrad (Duchi et al.), as in min-char-rnn."""

    def __init__(self, params, lr=0.1, eps=1e-8):
        self.params, self.lr, self.eps = params, check_positive("lr", lr, integer=False), eps
        self.cache = {k: np.zeros_like(p) for k, p in params.items()}

    def step(self, grads):
        _check_grads(self.params, grads)            # the cache is this optimiser's own
        adagrad_step(self.params, grads, self.cache, self.lr, self.eps)


class Adam:
    """Adam (Kingma & Ba) with bias correction of both moment estimates."""

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.params, self.lr = params, check_positive("lr", lr, integer=False)
        self.beta1, self.beta2, self.eps, self.t = beta1, beta2, eps, 0
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}

    def step(self, grads):
        _check_grads(self.params, grads)
        self.t += 1
        for k, p in self.params.items():
            self.m[k] = self.beta1 * self.m[k] + (1 - self.beta1) * grads[k]
            self.v[k] = self.beta2 * self.v[k] + (1 - self.beta2) * grads[k] ** 2
            m_hat = self.m[k] / (1 - self.beta1 ** self.t)
            v_hat = self.v[k] / (1 - self.beta2 ** self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
