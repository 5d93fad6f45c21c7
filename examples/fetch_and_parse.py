"""Download, then parse: each task waits about 20 ms, then runs about 20 ms of Python.

Threads overlap the waits but take turns on the GIL for the parsing; one process per
core runs the parsing in parallel but sits idle while it waits. More processes than
cores (or processes that each run a few calls at once) overlap one worker's wait with
another's parsing. -> an oversubscribed process pool, or a hybrid one.
"""

from __future__ import annotations

import time


def fetch_and_parse(page: int) -> int:
    time.sleep(0.02)  # the download
    words = 0
    for i in range(200_000):  # the parsing, in pure Python
        words += (i * page) % 7 == 0
    return words


PAGES = list(range(60))
