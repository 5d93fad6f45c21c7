"""What ``cluster_code`` imports: installed on the workers, missing on one scheduler."""

from __future__ import annotations

import time


def triple(x: int) -> int:
    time.sleep(0.05)
    return 3 * x
