"""The thread every pipeline stage runs in: named, stoppable, and never killed by one bad item."""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable, List, Optional, Sequence

import torch

from app.live.buffers import LatestBuffer

log = logging.getLogger(__name__)

POLL_STOP_S = 0.5     # How long a waiting stage sleeps before it checks its stop flag (close() wakes it sooner).
LOG_REPEAT_S = 10.0   # A stage that keeps failing logs a traceback at most this often.


class FailureLog:
    """Logs a stage's failures with their traceback, at most once every ``interval`` seconds.

    A stage that fails on every frame would otherwise write 30 tracebacks a second and bury everything
    else in the log; each report says how many failures went unreported since the one before.
    """

    def __init__(self, name: str, interval: float = LOG_REPEAT_S, clock: Callable[[], float] = time.monotonic):
        self.name = name
        self.interval = interval
        self.clock = clock
        self._last_report: Optional[float] = None
        self._unreported = 0

    def failed(self, error: BaseException) -> None:
        now = self.clock()
        if self._last_report is not None and now - self._last_report < self.interval:
            self._unreported += 1
            return
        since = f" (and {self._unreported} more times since the last report)" if self._unreported else ""
        log.error("%s failed%s", self.name, since, exc_info=error)
        self._last_report, self._unreported = now, 0


class Worker:
    """A stage thread. Subclasses implement ``run``; consumers usually just call ``consume``."""

    name = "stylecam-worker"

    def __init__(self) -> None:
        self.error: Optional[str] = None     # The last failure, for the status panel (None once it recovers).
        self.failures = FailureLog(self.name)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        # Daemon: a stage stuck in a driver call must not keep the process alive after stop() gave up.
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to end without waiting (so that several stages can wind down together)."""
        self._stop.set()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the thread to end and wait for it; False if it is still running after ``timeout``."""
        self.request_stop()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("%s did not stop within %.1f s", self.name, timeout)
            return False
        return True

    def run(self) -> None:
        raise NotImplementedError

    def consume(self, source: LatestBuffer, handle: Callable[[int, Any], None]) -> None:
        """Call ``handle(version, item)`` for the newest item of ``source`` each time it changes, until
        stopped or ``source`` is closed. A failing item is recorded (``record_failure``); the next one is
        tried as usual, and the first that succeeds clears ``error``."""
        version = 0
        while not self._stop.is_set():
            got = source.get_newer(version, timeout=POLL_STOP_S)
            if got is None:
                if source.closed:
                    return
                continue
            version, item = got
            try:
                handle(version, item)
            except Exception as error:
                self.record_failure(error)
                continue
            self.error = None

    def record_failure(self, error: Exception) -> None:
        """Show ``error`` in the status panel and log it (rate-limited: see ``FailureLog``)."""
        self.error = f"{self.name.replace('stylecam-', '')} failed: {error}"
        self.failures.failed(error)


def stop_workers(workers: Sequence[Worker], timeout: float = 5.0) -> List[str]:
    """Ask every worker to stop, then give each ``timeout`` seconds of its own to end.

    All are asked first, so that they wind down together; each then has a budget of its own, so one
    stuck thread cannot use up the time of those after it. Returns the names of the threads still
    running (``Worker.stop`` logs each).
    """
    for worker in workers:
        worker.request_stop()
    return [worker.name for worker in workers if not worker.stop(timeout)]


def yield_to_the_stream(cpu_threads: Optional[int], nice: int, what: str) -> None:
    """Fewer torch threads and a lower priority for the calling thread only (torch's thread count is per
    thread): how a background worker (projection, studio) leaves the CPU to the live stream first.

    ``cpu_threads`` None keeps torch's default; ``nice`` 0 keeps the priority (Linux only; elsewhere a no-op).
    """
    if cpu_threads:
        torch.set_num_threads(cpu_threads)
    if nice and hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + nice)
        except OSError as error:
            log.info("could not lower the %s thread's priority: %s", what, error)
