"""Live figures for the status panel: event rates (frames per second) and smoothed timings."""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Optional


class RateMeter:
    """Events per second over the last ``window`` seconds (0 once events stop arriving)."""

    def __init__(self, window: float = 2.0):
        self.window = window
        self._times: deque = deque()
        self._lock = threading.Lock()

    def tick(self, now: Optional[float] = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._times.append(now)
            self._forget_before(now - self.window)

    def rate(self, now: Optional[float] = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._forget_before(now - self.window)
            if len(self._times) < 2:
                return 0.0
            span = self._times[-1] - self._times[0]
            return (len(self._times) - 1) / span if span > 0 else 0.0

    def _forget_before(self, cutoff: float) -> None:
        while self._times and self._times[0] < cutoff:
            self._times.popleft()


class SmoothedValue:
    """An exponential moving average, so a figure on screen is steady but follows real changes."""

    def __init__(self, weight: float = 0.2):
        self.weight = weight            # Share of each new sample in the average.
        self._value: Optional[float] = None
        self._lock = threading.Lock()

    def add(self, sample: float) -> None:
        with self._lock:
            if self._value is None:
                self._value = sample
            else:
                self._value += self.weight * (sample - self._value)

    @property
    def value(self) -> Optional[float]:
        with self._lock:
            return self._value
