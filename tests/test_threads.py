"""Importing rnnlib gives numpy's BLAS one thread, unless the environment sets the count."""
import json
import os
import subprocess
import sys

from rnnlib.threads import THREAD_VARIABLES

PROBE = ("import numpy, rnnlib, threadpoolctl, json; "
         "print(json.dumps([i['num_threads'] for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']))")


def blas_threads(**env):
    clean = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_rnnlib_sets_one_blas_thread():
    assert blas_threads() and set(blas_threads()) == {1}


def test_an_explicit_thread_count_is_kept():
    assert set(blas_threads(OPENBLAS_NUM_THREADS="2")) == {2}
