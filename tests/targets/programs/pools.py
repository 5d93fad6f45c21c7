"""Runs its own process pool, and leaves a child process sleeping when it exits."""

import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def square(value: int) -> int:
    time.sleep(0.01)
    return value * value


def main() -> None:
    with ProcessPoolExecutor(2) as pool:
        print(sum(pool.map(square, range(20))), flush=True)
    leftover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(f"leftover {leftover.pid}", flush=True)
    for _ in range(10):
        square(1)


if __name__ == "__main__":
    main()
