"""Runs a loop of waits, then exits with the code given (3 by default)."""

import sys
import time


def wait(seconds: float) -> None:
    time.sleep(seconds)


for _ in range(8):
    wait(0.02)
print("about to exit", flush=True)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
