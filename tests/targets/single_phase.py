"""A module importing a C extension that cannot load in a sub-interpreter (CPython's own
single-phase-init test module stands in for an old extension)."""

import _testsinglephase  # noqa: F401


def work(n: int) -> int:
    return sum(i * i for i in range(n))
