"""A whole program: some set-up, then a loop of pure-Python work.

The set-up (building a table, many tiny calls) takes a little of the run; most of it is
``score`` called from the loop in ``main``, which holds the GIL: a process pool runs it
on every core.
"""

from __future__ import annotations

import sys


def normalize(word: str) -> str:
    return word.strip().lower()


def build_table(size: int) -> dict[str, int]:
    return {normalize(f" Word{i} "): i for i in range(size)}


def score(seed: int, rounds: int = 150_000) -> int:
    total = 0
    for i in range(rounds):
        total += (i * seed) % 7
    return total


def main() -> None:
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    table = build_table(20_000)
    results = [score(seed) for seed in range(items)]
    print(f"{len(table)} words, best score {max(results)}")


if __name__ == "__main__":
    main()
