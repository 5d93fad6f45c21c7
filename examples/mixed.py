"""A task that does a bit of everything: waits, runs Python, hashes a buffer.

About a third each (a little more Python on older, slower interpreters): no single share
dominates, so concdoctor reports ``mixed`` and lets the capacity model and the
measurement choose.
"""

from __future__ import annotations

import hashlib
import time

_BLOCK = bytes(range(256)) * 4096 * 8  # 8 MiB


def crawl_and_index(page: int) -> tuple[int, str]:
    time.sleep(0.03)  # fetch the page
    words = sum(len(str(i * page)) for i in range(70_000))  # tokenise it in Python
    digest = hashlib.sha256()  # fingerprint the body
    for _ in range(4):
        digest.update(_BLOCK)
    return words, digest.hexdigest()


INPUTS = list(range(12))
