"""A loop of waits, one process of its own left sleeping, then it never ends."""

import subprocess
import sys
import time


def wait(seconds: float) -> None:
    time.sleep(seconds)


helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(f"helper {helper.pid}", flush=True)
for _ in range(2000):
    wait(0.1)
