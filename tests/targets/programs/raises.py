"""Runs a loop of waits, then raises."""

import time


def wait(seconds: float) -> None:
    time.sleep(seconds)


def main() -> None:
    for _ in range(8):
        wait(0.02)
    raise RuntimeError("the program's own bug")


main()
