"""Each call of ``step`` takes the state the call before it returned: they cannot run at
once, however fast each is alone."""

import time


def step(state: int, salt: int) -> int:
    time.sleep(0.01)
    return (state * 31 + salt) % 1_000_003


def main() -> None:
    state = 1
    for salt in range(40):
        state = step(state, salt)
    print(f"state {state}")


if __name__ == "__main__":
    main()
