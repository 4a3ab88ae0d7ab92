"""Who is watching what: the live loop works only while someone is, and each view is encoded only while
someone watches it.

A camera pipeline that captures, detects, composites and encodes 30 frames a second costs a core even
when no browser is open. Each stream client holds ``watching(view)`` for as long as it is connected, and a
snapshot counts as a short visit (``visit(view)``). Once nobody has watched anything for ``idle_after_s``
seconds the capture worker stops reading (and releases a camera), so nothing downstream runs; the first
viewer wakes it at once.

Viewers choose what they see (``app.live.views``: the stylized stream, the camera's, or both side by side).
Each view is encoded once per frame for all of its viewers, and only while it is ``wanted``: watched now,
or visited less than ``idle_after_s`` ago. Besides the encoded views, an output that takes the composited
frames themselves (the virtual camera) watches a view of its own name, which keeps the loop running.

``idle_after_s=None`` never idles, and then the default view is always wanted (tests and benchmarks that
read its frames directly).
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, Optional

DEFAULT_VIEW = "stylized"


class Viewers:
    """Counts the viewers of each view and tells the workers whether anyone wants frames, and which."""

    def __init__(self, idle_after_s: Optional[float] = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        if idle_after_s is not None and idle_after_s <= 0:
            raise ValueError(f"idle_after_s must be positive or None (never idle), got {idle_after_s}")
        self.idle_after_s = idle_after_s
        self.clock = clock
        self._condition = threading.Condition()
        self._counts: Dict[str, int] = {}
        # Starting counts as a visit of the default view: the loop runs until the first timeout.
        self._last_seen: Dict[str, float] = {DEFAULT_VIEW: clock()}

    @property
    def count(self) -> int:
        """Viewers of every view together."""
        with self._condition:
            return sum(self._counts.values())

    def counts(self) -> Dict[str, int]:
        """Viewers per view, leaving out the views nobody watches."""
        with self._condition:
            return {view: count for view, count in self._counts.items() if count}

    def wanted(self) -> bool:
        """True while anyone watches any view, or watched one less than ``idle_after_s`` ago."""
        with self._condition:
            return self._wanted()

    def wants(self, view: str) -> bool:
        """Whether frames of ``view`` are wanted now (see the module docstring)."""
        with self._condition:
            return self._view_wanted(view)

    @contextmanager
    def watching(self, view: str = DEFAULT_VIEW) -> Iterator[bool]:
        """Count one viewer of ``view`` for the block; yields whether that view was not wanted when it
        arrived (so the newest frame it has is from before)."""
        with self._condition:
            was_unwanted = not self._view_wanted(view)
            self._counts[view] = self._counts.get(view, 0) + 1
            self._condition.notify_all()
        try:
            yield was_unwanted
        finally:
            with self._condition:
                self._counts[view] -= 1
                self._last_seen[view] = self.clock()

    def visit(self, view: str = DEFAULT_VIEW) -> bool:
        """A one-off look (a snapshot): keeps ``view`` wanted for ``idle_after_s``; returns whether it was not."""
        with self._condition:
            was_unwanted = not self._view_wanted(view)
            self._last_seen[view] = self.clock()
            self._condition.notify_all()
            return was_unwanted

    def wait_until_wanted(self, timeout: float) -> bool:
        """Block until someone wants frames (True) or ``timeout`` seconds pass (False)."""
        with self._condition:
            return self._condition.wait_for(self._wanted, timeout)

    def _wanted(self) -> bool:
        return self.idle_after_s is None or any(self._view_wanted(view) for view in {*self._counts, *self._last_seen})

    def _view_wanted(self, view: str) -> bool:
        if self._counts.get(view, 0) > 0 or (self.idle_after_s is None and view == DEFAULT_VIEW):
            return True
        last_seen = self._last_seen.get(view)
        return (last_seen is not None and self.idle_after_s is not None
                and self.clock() - last_seen < self.idle_after_s)
