"""A whole program whose time goes to a loop of fetch-like waits.

``concdoctor run examples/programs/fetch_loop.py`` finds ``fetch`` called from the loop
in ``main``: about 0.9 of the run, idle (waiting), so a thread pool overlaps the waits.
"""

from __future__ import annotations

import json
import sys
import time


def load_config(argv: list[str]) -> dict[str, int]:
    pages = int(argv[1]) if len(argv) > 1 else 40
    return {"pages": pages, "timeout": 5}


def fetch(url: str, timeout: int = 5) -> str:
    time.sleep(0.03)  # the network round trip
    return json.dumps({"url": url, "status": 200})


def summarize(bodies: list[str]) -> int:
    return sum(json.loads(body)["status"] == 200 for body in bodies)


def main() -> None:
    config = load_config(sys.argv)
    bodies = []
    for page in range(config["pages"]):
        bodies.append(fetch(f"https://example.org/{page}", timeout=config["timeout"]))
    print(f"fetched {summarize(bodies)} pages")


if __name__ == "__main__":
    main()
