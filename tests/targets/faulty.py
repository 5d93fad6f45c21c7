"""Targets that misbehave on purpose, for tests/test_faults.py and tests/test_cli.py.

Run them as path targets, e.g. ``tests/targets/faulty.py:raise_on_13``. This folder is
not a package and holds no tests.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

NOT_CALLABLE = 42
LOCKS = [threading.Lock() for _ in range(4)]
MARKUP = "<script>alert(1)</script>"


def ok(x):
    """Sleep ``x`` seconds: a well-behaved I/O-like task."""
    time.sleep(x)
    return x


def two_args(a, b):
    return a + b


def no_args():
    time.sleep(0.01)


def raise_on_13(x):
    time.sleep(0.02)
    if x == 13:
        raise ValueError(f"the value {x} is unlucky")
    return x


def raise_markup(x):
    time.sleep(0.02)
    if x == 1:
        raise ValueError(MARKUP)
    return x


def hang_on_2(x):
    time.sleep(3600 if x == 2 else 0.02)
    return x


def hang_in_pool(x):
    """Fine in the sequential baseline (main thread); hangs inside a thread pool."""
    if threading.current_thread() is not threading.main_thread():
        time.sleep(3600)
    time.sleep(0.05)
    return x


def segfault(x):
    time.sleep(0.02)
    if x == 1:
        os.kill(os.getpid(), signal.SIGSEGV)
    return x


def null_read(x):
    time.sleep(0.02)
    if x == 1:
        ctypes.string_at(0)
    return x


def exit_3(x):
    time.sleep(0.02)
    if x == 1:
        os._exit(3)
    return x


def die_on_dask(x):
    """Sleep ``x`` seconds; on a dask worker, the worker process dies instead."""
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):  # not on a dask worker
        time.sleep(x)
        return x
    os._exit(1)


def make_generator(x):
    """Picklable function and inputs, but the result is a generator."""
    time.sleep(x)
    return (i for i in range(3))


def make_lock(x):
    time.sleep(x)
    return threading.Lock()


def use_lock(lock):
    """Inputs are threading.Lock objects (LOCKS, via --inputs-from)."""
    with lock:
        time.sleep(0.05)


def _closure():
    def inner(x):
        time.sleep(x)
        return x
    return inner


closure = _closure()  # a function that pickle cannot find by name


def flood(x):
    """20 MB to stdout and 20 MB to stderr per call."""
    chunk = "x" * (1 << 20)
    for _ in range(20):
        sys.stdout.write(chunk)
        sys.stderr.write(chunk)
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(0.02)
    return x


def ask_input(x):
    return input("your answer? ")


def read_stdin(x):
    data = sys.stdin.read()
    time.sleep(0.02)
    return len(data)


def hang_with_grandchild(x):
    """On input 2, start a grandchild in a session of its own, then hang."""
    if x == 2:
        import subprocess

        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"],
                         start_new_session=True)
        time.sleep(3600)
    time.sleep(0.02)
    return x
