"""Batches too long to run whole three more times just to choose an executor.

``fetch`` over ``URLS`` waits 20 ms per call, 3,000 calls: a minute sequentially.
``simulate`` over ``SEEDS`` runs 300 pure-Python simulations of about 0.1 s.
``parse`` over ``rows()`` parses a million generated rows (a generator: never held
whole). concdoctor diagnoses each on a sample that fits its ``--budget`` and predicts
the whole batch::

    concdoctor profile examples.big_batches:fetch --inputs-from examples.big_batches:URLS
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator


def fetch(url: str) -> int:
    time.sleep(0.02)  # the network
    return len(url)


def simulate(seed: int) -> float:
    rng = random.Random(seed)
    position = 0.0
    for _ in range(900_000):
        position += rng.random() - 0.5
    return position


def parse(row: str) -> float:
    name, value, count = row.split(",")
    return float(value) * int(count)


def rows() -> Iterator[str]:
    for i in range(1_000_000):
        yield f"item{i},{i % 97 / 7:.3f},{i % 5 + 1}"


URLS = [f"https://api.example.com/items/{i}" for i in range(3000)]
SEEDS = range(300)
