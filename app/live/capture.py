"""The capture worker: one thread per source that keeps only the newest frame.

Reading in a thread of its own means nobody ever gets an old frame out of a camera's or GStreamer's
internal queue: the worker drains the source as fast as it delivers and publishes each frame into a
``LatestBuffer``, where the next stage takes the newest. A video file is paced to its own frame rate
(and loops), as if it were a camera.

When a live source is lost (unplugged camera, dropped stream), the worker publishes a placeholder frame
that says so, reports "reconnecting" (then "lost" once the retries have slowed to their cap) and tries
again with exponential back-off. A live source that has never delivered a frame (a camera that is not
there at all, a wrong index or address) is "not_found", with a placeholder that says so: a camera that
never was cannot be "lost". Nothing it meets is raised out of the thread.

When nobody watches (``app.live.viewers``) the worker idles: it stops reading, releases a live source
(the camera's light goes off) or pauses a file where it is, and reports "idle"; the first viewer wakes it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import cv2
import numpy as np

from app.live.buffers import LatestBuffer
from app.live.sources import FrameSource, Source, SourceError, open_source
from app.live.stats import RateMeter
from app.live.viewers import Viewers
from app.live.worker import POLL_STOP_S, Worker

log = logging.getLogger(__name__)

PLACEHOLDER_TEXT = "camera disconnected - reconnecting..."  # ASCII: OpenCV 4 fonts lack "—" and "…".
NOT_FOUND_TEXT = "camera not found - retrying..."
PLACEHOLDER_SIZE = (640, 480)                                # Used before any frame was seen.


@dataclass(frozen=True)
class CapturedFrame:
    image: np.ndarray          # BGR uint8, shared by every stage: never modify it in place.
    timestamp: float           # time.monotonic() when it was read.
    placeholder: bool = False  # True for the "camera disconnected" frame.


def placeholder_frame(size: Tuple[int, int], detail: str, text: str = PLACEHOLDER_TEXT) -> np.ndarray:
    """A dark frame at ``size`` (width, height) saying ``text`` (the camera is gone), with ``detail`` below."""
    width, height = size
    image = np.full((height, width, 3), 32, np.uint8)
    scale = max(width / 900, 0.35)
    thickness = max(int(round(scale * 2)), 1)
    y = height // 2
    for line, text_scale, colour in ((text, scale, (230, 230, 230)), (detail, scale * 0.8, (150, 150, 150))):
        (text_width, text_height), _ = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, text_scale, thickness)
        origin = (max((width - text_width) // 2, 4), y)
        cv2.putText(image, line, origin, cv2.FONT_HERSHEY_SIMPLEX, text_scale, colour, thickness, cv2.LINE_AA)
        y += int(text_height * 2.5)
    return image


class CaptureWorker(Worker):
    """Reads one source in a thread and publishes ``CapturedFrame``s into ``output``."""

    name = "stylecam-capture"

    def __init__(self, source: Source, output: LatestBuffer, viewers: Optional[Viewers] = None,
                 opener: Callable[[Source], FrameSource] = open_source,
                 first_retry: float = 0.5, max_retry: float = 8.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.source = source
        self.output = output
        self.viewers = viewers or Viewers(idle_after_s=None)   # Default: never idle.
        self.opener = opener                  # Injected in tests to simulate devices that vanish.
        self.clock = clock                    # Injected in tests to check the pacing without timing it.
        self.first_retry = first_retry        # Seconds before the first reconnection attempt...
        self.max_retry = max_retry            # ...doubling up to this cap.
        self.fps = RateMeter()
        self.state = "starting"   # "starting" | "live" | "idle" | "not_found" | "reconnecting" | "lost" | "ended" |
                                  # "stopped"
        self.delivered = False    # Whether the source has ever delivered a frame (else it is "not_found").
        self.frame_size: Optional[Tuple[int, int]] = None
        self._reader: Optional[FrameSource] = None
        self._retry_delay = first_retry

    def open(self) -> None:
        """Open the source now, so that a bad file or image fails at start-up with its SourceError.

        A live source that is down (a camera not plugged in yet, a stream not up yet) does not stop
        StyleCam from starting: the worker starts "reconnecting", with the placeholder frame, and keeps
        trying exactly as for a source lost later.
        """
        try:
            self._reader = self.opener(self.source)
        except SourceError as error:
            if not self.source.live:
                raise
            log.warning("%s is not available (%s); starting anyway and retrying until it is",
                        self.source.describe(), error)
            self.error = str(error)
            self._show_placeholder()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop reading, wait for the thread, release the device (unless a read is still blocked in it)."""
        stopped = super().stop(timeout)
        if stopped:
            self._release()
            self.state = "stopped"
        return stopped

    def status(self) -> dict:
        """The source as the status panel shows it (never with a stream's password)."""
        return {"name": self.source.describe(), "kind": self.source.kind, "state": self.state,
                "error": self.error, "frame_size": list(self.frame_size) if self.frame_size else None}

    def run(self) -> None:
        next_due: Optional[float] = None      # When the next file frame is due (None: now).
        try:
            while not self._stop.is_set():
                if not self.viewers.wanted():
                    self._idle()
                    next_due = None           # A file resumes at its own pace, not in a burst.
                    continue
                if self._reader is None and not self._try_open():
                    self._wait_before_retry()
                    continue
                frame = self._read()
                if frame is None:
                    if self._reader.ended:
                        self.state = "ended"
                        return
                    self._lose("the source stopped delivering frames")
                    self._wait_before_retry()
                    continue
                if self._reader.fps is not None:
                    next_due = self._wait_until_due(next_due, 1.0 / self._reader.fps)
                self._publish(frame)
        finally:
            self._release()

    def _idle(self) -> None:
        """Wait, reading nothing, until someone watches (or the worker stops); release a live source."""
        if self.source.live:
            self._release()
        self.state = "idle"
        while not self._stop.is_set() and not self.viewers.wait_until_wanted(POLL_STOP_S):
            pass

    def _try_open(self) -> bool:
        try:
            self._reader = self.opener(self.source)
            return True
        except Exception as error:  # Any failure to open is "still lost"; the thread must live on.
            self.error = str(error)
            return False

    def _read(self) -> Optional[np.ndarray]:
        try:
            return self._reader.read()
        except Exception as error:
            log.warning("reading %s failed: %s", self.source.describe(), error)
            return None

    def _lose(self, reason: str) -> None:
        log.warning("lost %s: %s; reconnecting", self.source.describe(), reason)
        self.error = reason
        self._release()

    def _wait_before_retry(self) -> None:
        self._show_placeholder()
        self._stop.wait(self._retry_delay)
        self._retry_delay = min(self._retry_delay * 2, self.max_retry)

    def _show_placeholder(self) -> None:
        if not self.delivered:
            self.state, text = "not_found", NOT_FOUND_TEXT
        else:
            self.state = "lost" if self._retry_delay >= self.max_retry else "reconnecting"
            text = PLACEHOLDER_TEXT
        size = self.frame_size or PLACEHOLDER_SIZE
        self.output.put(CapturedFrame(placeholder_frame(size, self.source.describe(), text), self.clock(),
                                      placeholder=True))

    def _wait_until_due(self, due: Optional[float], period: float) -> float:
        """Sleep until a file's frame is due; return when the next one is. Never bursts to catch up."""
        now = self.clock()
        if due is None or due < now - period:   # First frame, or decoding fell behind: restart the clock.
            due = now
        self._stop.wait(max(due - now, 0.0))
        return due + period

    def _publish(self, frame: np.ndarray) -> None:
        self.frame_size = (frame.shape[1], frame.shape[0])
        self.state = "live"
        self.delivered = True
        self.error = None
        self._retry_delay = self.first_retry
        self.fps.tick()
        self.output.put(CapturedFrame(frame, self.clock()))

    def _release(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.release()
