"""PROJECT: Async Task Manager with a priority queue.

Each task is a job: its steps go into an ``asyncio.PriorityQueue`` and a few worker
coroutines take the most urgent step first, each step awaiting simulated I/O.
"""

from __future__ import annotations

import asyncio


async def _step_worker(queue: asyncio.PriorityQueue[tuple[int, str]], done: list[str]) -> None:
    while True:
        priority, name = await queue.get()
        try:
            await asyncio.sleep(0.02 * (1 + priority % 2))  # the step's I/O
            done.append(name)
        finally:
            queue.task_done()


async def run_job(job_id: int) -> list[str]:
    """Run one job's steps, most urgent first, with three workers."""
    queue: asyncio.PriorityQueue[tuple[int, str]] = asyncio.PriorityQueue()
    for step in range(6):
        await queue.put(((job_id + step) % 4, f"job{job_id}-step{step}"))
    done: list[str] = []
    workers = [asyncio.create_task(_step_worker(queue, done)) for _ in range(3)]
    await queue.join()
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    return sorted(done)  # steps that end together may finish in either order


JOBS = list(range(24))
