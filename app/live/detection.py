"""The detection worker: finds and tracks the faces in the newest frame, on the CPU.

It always takes the newest captured frame and skips whatever arrived while it was busy: a detection
result for an old frame would only paste the face where the head used to be. Tracking keeps an id per
face, smooths the landmarks (no jitter on a still face) and holds a face that drops out for a frame.
A frame whose detection fails is published with no faces, so a broken detector never freezes the stream.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import List, Optional

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
                 tracker: Optional[FaceTracker] = None):
        super().__init__()
        self.detector = detector
        self.tracker = tracker or FaceTracker()
        self.frames = frames
        self.output = output
        self.detection_ms = SmoothedValue()
        self.faces = 0                     # Faces in the latest result, for the status panel.

    def run(self) -> None:
        self.consume(self.frames, self.publish)

    def publish(self, version: int, frame: CapturedFrame) -> None:
        """Publish the faces of ``frame``. When detection fails, the frame still goes on, with no faces:
        the stream keeps running, and the failure is reported (``record_failure``) and shown in status."""
        try:
            result = self.detect(frame, version)
        except Exception:
            self.faces = 0
            self.output.put(DetectionResult(frame, version, []))
            raise
        self.output.put(result)

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
