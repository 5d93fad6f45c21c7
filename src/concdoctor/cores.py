"""How many CPUs this process may use: the number every worker count is sized by.

Kept free of heavy imports: the pytest plugin reads it in every session.
"""

from __future__ import annotations

import os


def cpu_count() -> int:
    """Cores this process may run on (its affinity), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
