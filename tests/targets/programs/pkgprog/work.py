import time

from .settings import DELAY


def fetch(page: int) -> str:
    time.sleep(DELAY)
    return f"page {page}"
