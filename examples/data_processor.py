"""PROJECT: Parallel Data Processor.

Each task parses a batch of CSV-like records, validates and transforms them, and
aggregates per-category statistics: pure-Python work that holds the GIL.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Record:
    category: str
    amount: float
    quantity: int


def make_batch(seed: int, size: int = 60_000) -> list[str]:
    rng = random.Random(seed)
    categories = ["books", "games", "tools", "food", "toys"]
    return [f"{rng.choice(categories)},{rng.uniform(1, 500):.2f},{rng.randint(1, 9)}"
            for _ in range(size)]


def parse(line: str) -> Record | None:
    category, amount, quantity = line.split(",")
    record = Record(category, float(amount), int(quantity))
    return record if record.amount > 0 and record.quantity > 0 else None


def process_batch(seed: int) -> dict[str, tuple[int, float]]:
    """Parse, validate and aggregate one batch: (count, revenue) per category."""
    totals: dict[str, tuple[int, float]] = {}
    for line in make_batch(seed):
        record = parse(line)
        if record is None:
            continue
        count, revenue = totals.get(record.category, (0, 0.0))
        totals[record.category] = (count + 1, revenue + record.amount * record.quantity)
    return totals


INPUTS = list(range(6))
