"""Who is watching: the live loop works only while someone is, and idles a while after the last one left.

A camera pipeline that captures, detects, composites and encodes 30 frames a second costs a core even
when no browser is open. Each stream client holds ``watching()`` for as long as it is connected, and a
snapshot counts as a short visit (``visit()``). Once nobody has watched for ``idle_after_s`` seconds the
capture worker stops reading (and releases a camera), so nothing downstream runs; the first viewer wakes
it at once. ``idle_after_s=None`` never idles (tests and benchmarks that read frames directly).
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional


class Viewers:
    """Counts the viewers and tells the capture worker whether anyone wants frames."""

    def __init__(self, idle_after_s: Optional[float] = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        if idle_after_s is not None and idle_after_s <= 0:
            raise ValueError(f"idle_after_s must be positive or None (never idle), got {idle_after_s}")
        self.idle_after_s = idle_after_s
        self.clock = clock
        self._condition = threading.Condition()
        self._count = 0
        self._last_seen = clock()     # Starting counts as a visit: the loop runs until the first timeout.

    @property
    def count(self) -> int:
        with self._condition:
            return self._count

    def wanted(self) -> bool:
        """True while someone watches, or watched less than ``idle_after_s`` ago."""
        with self._condition:
            return self._wanted()

    @contextmanager
    def watching(self) -> Iterator[bool]:
        """Count one viewer for the block; yields whether the loop was idle when it arrived."""
        with self._condition:
            was_idle = not self._wanted()
            self._count += 1
            self._condition.notify_all()
        try:
            yield was_idle
        finally:
            with self._condition:
                self._count -= 1
                self._last_seen = self.clock()

    def visit(self) -> bool:
        """A one-off look (a snapshot): keeps the loop awake for ``idle_after_s``; returns whether it was idle."""
        with self._condition:
            was_idle = not self._wanted()
            self._last_seen = self.clock()
            self._condition.notify_all()
            return was_idle

    def wait_until_wanted(self, timeout: float) -> bool:
        """Block until someone wants frames (True) or ``timeout`` seconds pass (False)."""
        with self._condition:
            return self._condition.wait_for(self._wanted, timeout)

    def _wanted(self) -> bool:
        if self.idle_after_s is None or self._count > 0:
            return True
        return self.clock() - self._last_seen < self.idle_after_s
