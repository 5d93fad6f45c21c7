"""Runs a loop of waits (long enough for a snapshot of its calls), then crashes."""

import ctypes
import sys
import time


def wait(seconds: float) -> None:
    time.sleep(seconds)


for _ in range(10):
    wait(0.2)
sys.stdout.flush()
ctypes.string_at(0)
