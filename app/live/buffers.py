"""Hand-over between pipeline threads: a buffer that keeps only the newest item.

A live video pipeline must never queue: when a consumer is slower than its producer, the frames in
between are stale and should be dropped, not delivered late. ``LatestBuffer`` holds one item and a
version number that grows with every ``put``; a consumer asks for "anything newer than the version I
saw" and sleeps on a condition variable until it arrives (no polling), the timeout ends, or the buffer
is closed at shutdown.
"""
from __future__ import annotations

import threading
from typing import Generic, Optional, Tuple, TypeVar

T = TypeVar("T")


class LatestBuffer(Generic[T]):
    """The newest item and its version; ``put`` replaces, ``get_newer`` waits for a newer one."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: Optional[T] = None
        self._version = 0          # 0 = nothing put yet; the first put is version 1.
        self._closed = False

    def put(self, item: T) -> int:
        """Replace the held item, wake every waiter, and return the new version."""
        with self._condition:
            self._version += 1
            self._item = item
            self._condition.notify_all()
            return self._version

    def get_newer(self, after_version: int, timeout: Optional[float] = None) -> Optional[Tuple[int, T]]:
        """Wait until the held version is newer than ``after_version``; return ``(version, item)``.

        Returns None when ``timeout`` seconds pass first or when the buffer is closed, so a worker's
        loop can check its stop flag and exit. A newer item is returned even after ``close()``: what
        was put before the shutdown is still delivered once.
        """
        with self._condition:
            self._condition.wait_for(lambda: self._version > after_version or self._closed, timeout)
            if self._version > after_version:
                return self._version, self._item
            return None

    def latest(self) -> Optional[Tuple[int, T]]:
        """The held ``(version, item)`` without waiting, or None if nothing was put yet."""
        with self._condition:
            if self._version == 0:
                return None
            return self._version, self._item

    @property
    def version(self) -> int:
        with self._condition:
            return self._version

    def close(self) -> None:
        """Wake every waiter for good; later waits return at once. Used when the pipeline stops."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    @property
    def closed(self) -> bool:
        with self._condition:
            return self._closed
