"""A whole program whose loop calls share state: each call reads what the last one left.

``step`` keeps a running total in a module global and returns it, so each call's result
depends on every earlier call. It is a candidate by its numbers (calls in a loop, most of
the run, arguments that pickle); moving it onto a pool would change the results, which
the diagnosis of its captured calls must catch.
"""

from __future__ import annotations

import sys
import time

_TOTAL = 0


def step(amount: int) -> int:
    global _TOTAL
    time.sleep(0.02)
    _TOTAL += amount
    return _TOTAL


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    history = []
    for amount in range(steps):
        history.append(step(amount))
    print(f"final total {history[-1]}")


if __name__ == "__main__":
    main()
