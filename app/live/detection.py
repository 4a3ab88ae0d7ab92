"""The detection worker: finds and tracks the faces in the newest frame, on the CPU.

It always takes the newest captured frame and skips whatever arrived while it was busy: a detection
result for an old frame would only paste the face where the head used to be. Tracking keeps an id per
face, smooths the landmarks (no jitter on a still face) and holds a face that drops out for a frame.
A frame whose detection fails is published with no faces, so a broken detector never freezes the stream.

With ``detect_every`` K > 1 it looks at every K-th frame only (counted from the last frame it looked at),
leaving the CPU to the rest of the pipeline on a slow board; the compositing worker moves the faces with
the heads in between (``app.live.motion``). After each detection it tells ``on_tracks`` which track ids the
tracker still follows, so that whatever was chosen for a face that has gone can be forgotten.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Set

from app.live.buffers import LatestBuffer
from app.live.capture import CapturedFrame
from app.live.stats import SmoothedValue
from app.live.worker import Worker
from detectors import Detector, FaceTracker, Track


@dataclass(frozen=True)
class DetectionResult:
    frame: CapturedFrame      # The frame the faces were found in.
    frame_version: int        # Its version in the capture buffer.
    tracks: List[Track]       # Tracked faces, largest first as the detector gave them.


class DetectionWorker(Worker):
    """Reads ``CapturedFrame``s from ``frames`` and publishes ``DetectionResult``s into ``output``."""

    name = "stylecam-detection"

    def __init__(self, detector: Detector, frames: LatestBuffer, output: LatestBuffer,
                 tracker: Optional[FaceTracker] = None, detect_every: int = 1,
                 on_tracks: Callable[[Set[int]], None] = lambda ids: None):
        super().__init__()
        if detect_every < 1:
            raise ValueError(f"detect_every must be at least 1 (every frame), got {detect_every}")
        self.detector = detector
        self.tracker = tracker or FaceTracker()
        self.frames = frames
        self.output = output
        self.detect_every = detect_every
        self.on_tracks = on_tracks
        self.detection_ms = SmoothedValue()
        self.faces = 0                     # Faces in the latest result, for the status panel.
        self._next_due = 0                 # The first frame version it will look at.

    def run(self) -> None:
        self.consume(self.frames, self.publish)

    def due(self, version: int) -> bool:
        """Whether the worker will look at frame ``version`` (with ``detect_every`` K, every K-th frame)."""
        return version >= self._next_due

    def publish(self, version: int, frame: CapturedFrame) -> None:
        """Publish the faces of ``frame``, if it is due. When detection fails, the frame still goes on, with
        no faces: the stream keeps running, and the failure is reported (``record_failure``) and shown."""
        if not self.due(version) and not frame.placeholder:
            return
        self._next_due = version + self.detect_every
        try:
            result = self.detect(frame, version)
        except Exception:
            self.faces = 0
            self.output.put(DetectionResult(frame, version, []))
            raise
        self.output.put(result)
        self.on_tracks(self.tracker.known_ids())

    def detect(self, frame: CapturedFrame, version: int) -> DetectionResult:
        """Faces and tracks for one frame. A placeholder frame ("camera disconnected") has none, and
        ends every track: whoever is in view when the camera returns is a new face."""
        if frame.placeholder:
            self.tracker.reset()
            self.faces = 0
            return DetectionResult(frame, version, [])
        started = time.perf_counter()
        tracks = self.tracker.update(self.detector.detect(frame.image), frame.timestamp)
        self.detection_ms.add((time.perf_counter() - started) * 1000)
        self.faces = len(tracks)
        return DetectionResult(frame, version, tracks)
