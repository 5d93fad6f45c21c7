"""The guide's ProcessPoolExecutor example: trial-division prime factors (pure Python)."""

from __future__ import annotations


def factorize(n: int) -> list[int]:
    """CPU-bound: find prime factors."""
    factors = []
    d = 2
    while d * d <= n:
        while n % d == 0:
            factors.append(d)
            n //= d
        d += 1
    if n > 1:
        factors.append(n)
    return factors


# Twelve-digit primes: trial division runs to their square root, a million steps each
# (about a tenth of a second per number).
INPUTS = [
    999_999_999_989,
    999_999_999_961,
    999_999_999_959,
    999_999_000_001,
    999_999_999_989,
    999_999_999_961,
    999_999_999_959,
    999_999_000_001,
]
