"""Coroutines that await: the guide's ``fetch_data`` and the semaphore rate-limited
fetcher. Async-aware I/O -> asyncio."""

from __future__ import annotations

import asyncio
import weakref

# One limit per event loop: a Semaphore belongs to the loop that first uses it.
_limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


async def fetch_data(url: str) -> str:
    await asyncio.sleep(0.1)  # Yield control to the event loop while "the network" answers
    return f"data from {url}"


async def fetch_with_limit(url: str) -> str:
    """At most 10 requests in flight on a loop, whatever the caller's concurrency."""
    limit = _limits.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(10))
    async with limit:
        await asyncio.sleep(0.02)  # Simulated request
        return f"result from {url}"


URLS = [f"api/item/{i}" for i in range(12)]
MANY_URLS = [f"api/item/{i}" for i in range(150)]
