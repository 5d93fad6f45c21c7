"""A loop whose calls take a lock as an argument: they cannot be shipped to a process."""

import threading
import time


def guarded(lock: threading.Lock, value: int) -> int:
    with lock:
        time.sleep(0.02)
    return value


def main() -> None:
    lock = threading.Lock()
    for value in range(10):
        guarded(lock, value)


if __name__ == "__main__":
    main()
