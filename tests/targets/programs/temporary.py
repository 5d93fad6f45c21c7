"""Its calls read files it writes to a temporary folder, which it removes at its end:
replayed after the program ended, they would find nothing. Each call waits as a
download would, then hashes what it read."""

import hashlib
import os
import sys
import tempfile
import time


def checksum(path: str) -> str:
    time.sleep(0.06)
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index in range(count):
            path = os.path.join(folder, f"part{index}.bin")
            with open(path, "wb") as handle:
                handle.write(bytes([index % 256]) * 65_536)
            paths.append(path)
        digests = [checksum(path) for path in paths]
    print(f"checked {len(set(digests))} distinct parts")


if __name__ == "__main__":
    main()
