"""A coroutine that blocks its event loop: ``async def`` calling ``time.sleep``.

Gathering such coroutines on one loop gains nothing; concdoctor notices the tasks are
idle yet asyncio does not speed them up, revises to threads, and names the call.
"""

from __future__ import annotations

import time


async def fetch_blocking(url: str) -> str:
    time.sleep(0.1)  # a synchronous client inside a coroutine: the loop cannot switch
    return f"data from {url}"


URLS = [f"api/item/{i}" for i in range(10)]
