"""Reads lines from stdin and handles each one: the program's input passes through."""

import sys
import time


def handle(line: str) -> str:
    time.sleep(0.02)
    return line.strip().upper()


def main() -> None:
    for line in sys.stdin:
        print(handle(line), flush=True)


if __name__ == "__main__":
    main()
