"""One BLAS thread for numpy, unless the environment asks for more.

The course's matrix products are small (hidden sizes 16 to 128, batches of 32, a few dozen steps).
On them numpy's BLAS threads cost more than they save: every product is split between threads that
wait for each other, and on a busy machine a thread that waits for a core another process holds
stalls the whole product. On a loaded 2-core machine lesson 04's training cell took 10 s of wall
time (6.5 s of CPU) with OpenBLAS's two threads and 0.7 s with one; lesson 07's memory task went from
about 45 s of CPU to 16 s. So importing rnnlib sets numpy's BLAS to one thread, in every kernel a
lesson runs in (JupyterLab, Validate, the autograder, the tests), unless OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS or MKL_NUM_THREADS is set: then the BLAS keeps what that variable told it.
"""
import os

import numpy  # noqa: F401  (loads the BLAS: threadpoolctl limits only libraries that are loaded)

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def use_one_blas_thread():
    """Limit numpy's BLAS to one thread, unless a *_NUM_THREADS variable sets the count; returns whether it did."""
    if any(os.environ.get(name) for name in THREAD_VARIABLES):
        return False
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:          # an environment without it keeps the BLAS's default
        return False
    threadpool_limits(limits=1, user_api="blas")
    return True
