"""Time in the app tests: a clock that moves only when the test moves it, and waiting (in real time) for a
condition that a thread makes true."""
from __future__ import annotations

import time
from typing import Callable


class FakeClock:
    """A clock (a callable, like ``time.monotonic``) whose time is ``now``, which only the test changes."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, poll_s: float = 0.005) -> None:
    """Return once ``condition()`` is true; fail the test if it is not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(poll_s)
