"""The thread every pipeline stage runs in: named, stoppable, and never killed by one bad item."""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional

from app.buffers import LatestBuffer

log = logging.getLogger(__name__)

POLL_STOP_S = 0.5   # How long a waiting stage sleeps before it checks its stop flag (close() wakes it sooner).


class Worker:
    """A stage thread. Subclasses implement ``run``; consumers usually just call ``consume``."""

    name = "stylecam-worker"

    def __init__(self) -> None:
        self.error: Optional[str] = None     # The last failure, for the status panel (None once it recovers).
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
        stopped or ``source`` is closed. A failing item is logged and recorded in ``error``; the next one
        is tried as usual."""
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
                log.exception("%s failed", self.name)
                self.error = f"{self.name.replace('stylecam-', '')} failed: {error}"
                continue
            self.error = None
