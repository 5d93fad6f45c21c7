"""Synchronous waiting: the guide's ``worker`` and simulated ``fetch``. -> threads."""

from __future__ import annotations

import time


def worker(delay: float) -> str:
    time.sleep(delay)  # Simulates I/O: the GIL is released here
    return f"done after {delay}s"


def fetch(url: str) -> str:
    time.sleep(0.2)  # Simulate network request
    return f"Response from {url}"


URLS = [f"api.example.com/item/{i}" for i in range(12)]
DELAYS = [0.2] * 10


def delays() -> list[float]:
    """Inputs can also come from a function: ``--inputs-from examples.io_threads:delays``."""
    return [0.05] * 8
