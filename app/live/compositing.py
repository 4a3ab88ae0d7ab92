"""The compositing worker: pastes the generated face onto every new camera frame and encodes it once.

It runs at the camera's rate, not the detector's. For each new frame it waits a little, at most one
frame interval after the frame was captured, for the detection result of that very frame; whenever
detection keeps up, that is what it gets, and each face is pasted exactly where it was found. When
detection is slower than the camera, the frame is shown with the newest tracked faces there are, found
in a frame or two before, instead of waiting for them; faces older than ``MAX_TRACK_AGE_S`` are not
pasted at all (a face where the head was half a second ago looks worse than none).

A failure never stops the stream: a frame whose compositing fails goes out as the camera gave it, a
frame that cannot be encoded is skipped, and both are reported in ``error`` for the status panel.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, List, Optional

import cv2
import numpy as np

from app.live.buffers import LatestBuffer
from app.live.capture import CapturedFrame
from app.live.detection import DetectionResult
from app.live.face_paste import composite
from app.live.generation import GeneratedFace
from app.live.stats import RateMeter, SmoothedValue
from app.live.worker import Worker
from detectors import Track

DEFAULT_FRAME_INTERVAL_S = 1 / 30   # Assumed until the camera's rate has been measured.
MAX_TRACK_AGE_S = 0.5               # Faces found longer than this before the frame are not pasted on it.


@dataclass(frozen=True)
class EncodedFrame:
    jpeg: bytes              # The composited frame, JPEG-encoded once for every client.
    version: int             # Version of the captured frame it shows (in the capture buffer).
    faces_version: int       # Version of the captured frame the pasted faces were found in: ``version``
                             # whenever detection keeps up, an earlier one when it falls behind, 0 for none.
    params_version: int      # Version of the params its face was generated from; 0 before the first face.
    timestamp: float         # Wall-clock time (time.time()) when it was encoded.


class CompositingWorker(Worker):
    """For every captured frame: paste the newest generated face onto each tracked face, encode once.

    ``camera_fps()`` gives the camera's current rate (0 while unknown), which sets how long a frame
    waits for its own detection.
    """

    name = "stylecam-compositing"

    def __init__(self, captured: LatestBuffer, detections: LatestBuffer, faces: LatestBuffer,
                 output: LatestBuffer, jpeg_quality: int, camera_fps: Callable[[], float]):
        super().__init__()
        self.captured = captured        # CapturedFrame, from the capture worker.
        self.detections = detections    # DetectionResult, from the detection worker.
        self.faces = faces              # GeneratedFace, from the generation worker.
        self.output = output            # EncodedFrame, for every stream client.
        self.camera_fps = camera_fps
        self.encode_options = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        self.fps = RateMeter()
        self.compositing_ms = SmoothedValue()
        self.encoding_ms = SmoothedValue()
        self.shown_version = 0          # The newest captured frame encoded so far.
        self._detection: Optional[DetectionResult] = None
        self._detection_version = 0

    def run(self) -> None:
        self.consume(self.captured, self.show)

    def show(self, version: int, frame: CapturedFrame) -> None:
        """Composite and publish one captured frame (or a newer one, if its detection is already there)."""
        if version <= self.shown_version:
            return      # Already shown: its detection result arrived before the capture buffer was read.
        detection = self.detection_for(version, frame.timestamp)
        if detection is not None and detection.frame_version >= version:
            version, frame = detection.frame_version, detection.frame     # Faces found in this very frame.
        if detection is not None and frame.timestamp - detection.frame.timestamp > MAX_TRACK_AGE_S:
            detection = None            # Its faces would be pasted where the heads no longer are.
        newest = self.faces.latest()
        generated: Optional[GeneratedFace] = newest[1] if newest else None
        try:
            image = self.paste(frame.image, detection.tracks if detection else [], generated)
        except Exception:
            self.publish(frame.image, version, 0, generated)     # The camera's frame: the stream goes on.
            raise
        self.publish(image, version, detection.frame_version if detection else 0, generated)

    def detection_for(self, version: int, captured_at: float) -> Optional[DetectionResult]:
        """The detection result of frame ``version`` (or a newer one) if it arrives by the time the next
        frame is due; else the newest result there is. None before the first result."""
        fps = self.camera_fps()
        interval = 1.0 / fps if fps > 0 else DEFAULT_FRAME_INTERVAL_S
        now = time.monotonic()
        deadline = min(captured_at + interval, now + interval)   # CapturedFrame.timestamp is time.monotonic().
        while self._detection is None or self._detection.frame_version < version:
            got = self.detections.get_newer(self._detection_version, timeout=max(deadline - now, 0.0))
            if got is None:
                break
            self._detection_version, self._detection = got
            now = time.monotonic()
        return self._detection

    def paste(self, image: np.ndarray, tracks: List[Track], generated: Optional[GeneratedFace]) -> np.ndarray:
        if generated is None or generated.face is None or not tracks:
            return image
        started = time.perf_counter()
        image = composite(image, [track.face.landmarks for track in tracks], generated.face)
        self.compositing_ms.add((time.perf_counter() - started) * 1000)
        return image

    def publish(self, image: np.ndarray, version: int, faces_version: int,
                generated: Optional[GeneratedFace]) -> None:
        started = time.perf_counter()
        ok, jpeg = cv2.imencode(".jpg", image, self.encode_options)
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        self.encoding_ms.add((time.perf_counter() - started) * 1000)
        params_version = generated.params_version if generated is not None else 0
        self.output.put(EncodedFrame(jpeg.tobytes(), version, faces_version, params_version, time.time()))
        self.shown_version = version
        self.fps.tick()
