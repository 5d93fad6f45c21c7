"""Compress with a program: each task runs ``gzip -9`` and waits for it.

The interpreter only waits, so it looks idle, but gzip burns a core per call: the CPU
is in the child programs. More threads than cores only queue them. -> threads, about
one per core.
"""

from __future__ import annotations

import os
import subprocess

_DATA = os.urandom(1 << 14) * 256  # 4 MiB that gzip works hard at


def compress(index: int) -> int:
    done = subprocess.run(["gzip", "-9", "-c"], input=_DATA, capture_output=True, check=True)
    return len(done.stdout) + index


FILES = list(range(24))
