"""Download, then parse: each task waits 20 ms, then runs 20 ms of Python.

Threads overlap the waits but take turns on the GIL for the parsing; one process per
core runs the parsing in parallel but sits idle while it waits. More processes than
cores (or processes that each run a few calls at once) overlap one worker's wait with
another's parsing. -> an oversubscribed process pool, or a hybrid one.

The parsing is 20 ms of the CPU's time, not a fixed number of steps: on a host that runs
Python slower than usual, a fixed loop would outgrow the wait and make the batch
CPU-bound. Its result depends only on the page.
"""

from __future__ import annotations

import time

PARSE_CPU_SECONDS = 0.02


def fetch_and_parse(page: int) -> int:
    time.sleep(0.02)  # the download
    start = time.thread_time()
    words = 0
    for i in range(20_000):  # the parsing, in pure Python
        words += (i * page) % 7 == 0
    while time.thread_time() - start < PARSE_CPU_SECONDS:  # the rest of the page
        sum(range(1_000))
    return words


PAGES = list(range(60))
