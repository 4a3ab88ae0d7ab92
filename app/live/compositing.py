"""The compositing worker: pastes the generated faces onto every new camera frame and encodes each view once.

It runs at the camera's rate, not the detector's. For each new frame it waits a little, at most one
frame interval after the frame was captured, for the detection result of that very frame, if the detector
is to look at that frame at all (``serve --detect-every K`` detects on every K-th frame only); whenever
detection keeps up, that is what it gets. Otherwise the frame is shown with the newest tracked faces
there are, found a frame or a few before, moved to where the heads are now by ``FaceMotion`` (sparse
optical flow: ``app.live.motion``); faces older than ``MAX_TRACK_AGE_S`` are not pasted at all (a face
where the head was half a second ago looks worse than none).

Each face is pasted with the face generated for it: its own (a per-face choice, by track id) or everyone's
(``GeneratedFace.face_for``), keeping as much of the person's mouth and eyes as the params say.

Each view (``app.live.views``: stylized, camera, side by side) is encoded once per frame for all of its
viewers, and only while someone watches it; the compositing itself is skipped while only the camera's
view is watched. An output that takes the composited frames unencoded (the virtual camera) gets them in
``composited``.

A failure never stops the stream: a frame whose compositing fails goes out as the camera gave it, a
frame that cannot be encoded is skipped, and both are reported in ``error`` for the status panel.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional

import cv2
import numpy as np

from app.live.buffers import LatestBuffer
from app.live.capture import CapturedFrame
from app.live.detection import DetectionResult
from app.live.face_paste import paste_face
from app.live.generation import GeneratedFace
from app.live.motion import FaceMotion
from app.live.stats import RateMeter, SmoothedValue
from app.live.viewers import Viewers
from app.live.views import CAMERA, VIRTUAL_CAMERA, needs_stylized, view_image
from app.live.worker import Worker
from detectors import Track

DEFAULT_FRAME_INTERVAL_S = 1 / 30   # Assumed until the camera's rate has been measured.
MAX_TRACK_AGE_S = 0.5               # Faces found longer than this before the frame are not pasted on it.


@dataclass(frozen=True)
class EncodedFrame:
    jpeg: bytes              # One view of the frame, JPEG-encoded once for all of its clients.
    version: int             # Version of the captured frame it shows (in the capture buffer).
    faces_version: int       # Version of the captured frame the pasted faces were found in: ``version``
                             # whenever detection keeps up, an earlier one (its faces moved to this frame)
                             # when it falls behind or skips frames, 0 for none.
    params_version: int      # Version of the params its face was generated from; 0 before the first face
                             # (and in the camera's view, which shows none).
    timestamp: float         # Wall-clock time (time.time()) when it was encoded.


@dataclass(frozen=True)
class CompositedFrame:
    image: np.ndarray        # BGR uint8, the stylized picture; shared: never modify it in place.
    version: int             # Version of the captured frame it shows.


class CompositingWorker(Worker):
    """For every captured frame: paste the generated faces onto the tracked faces, encode each wanted view.

    ``camera_fps()`` gives the camera's current rate (0 while unknown), which sets how long a frame
    waits for its own detection; ``detection_due(version)`` whether the detector will look at that frame.
    """

    name = "stylecam-compositing"

    def __init__(self, captured: LatestBuffer, detections: LatestBuffer, faces: LatestBuffer,
                 outputs: Mapping[str, LatestBuffer], jpeg_quality: int, camera_fps: Callable[[], float],
                 viewers: Optional[Viewers] = None, detection_due: Callable[[int], bool] = lambda version: True,
                 motion: Optional[FaceMotion] = None, composited: Optional[LatestBuffer] = None):
        super().__init__()
        self.captured = captured        # CapturedFrame, from the capture worker.
        self.detections = detections    # DetectionResult, from the detection worker.
        self.faces = faces              # GeneratedFace, from the generation worker.
        self.outputs = outputs          # View name -> LatestBuffer of EncodedFrame, for its stream clients.
        self.composited = composited    # CompositedFrame, for the virtual camera (None: no such output).
        self.camera_fps = camera_fps
        self.viewers = viewers or Viewers(idle_after_s=None)     # Default: the stylized view only.
        self.detection_due = detection_due
        self.motion = motion            # None: faces are pasted where they were found.
        self.encode_options = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        self.fps = RateMeter()
        self.compositing_ms = SmoothedValue()
        self.motion_ms = SmoothedValue()
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
        if frame.placeholder and self.motion is not None:
            self.motion.reset()
        newest = self.faces.latest()
        generated: Optional[GeneratedFace] = newest[1] if newest else None
        views = [view for view in self.outputs if self.viewers.wants(view)]
        to_virtual_camera = self.composited is not None and self.viewers.wants(VIRTUAL_CAMERA)
        if not (to_virtual_camera or any(needs_stylized(view) for view in views)):
            self.publish(views, frame.image, frame.image, version, 0, generated)
            return
        try:
            tracks = self.tracks_at(version, frame, detection)
            image = self.paste(frame.image, tracks, generated)
        except Exception:
            self.publish(views, frame.image, frame.image, version, 0, generated)   # The stream goes on.
            raise
        if to_virtual_camera:
            self.composited.put(CompositedFrame(image, version))
        self.publish(views, frame.image, image, version, detection.frame_version if detection else 0, generated)

    def detection_for(self, version: int, captured_at: float) -> Optional[DetectionResult]:
        """The detection result of frame ``version`` (or a newer one) if the detector looks at that frame and
        the result arrives by the time the next frame is due; else the newest result there is. None before
        the first result."""
        fps = self.camera_fps()
        interval = 1.0 / fps if fps > 0 else DEFAULT_FRAME_INTERVAL_S
        now = time.monotonic()
        deadline = min(captured_at + interval, now + interval)   # CapturedFrame.timestamp is time.monotonic().
        if not self.detection_due(version):
            deadline = now                                        # Take what there is: no result will come.
        while self._detection is None or self._detection.frame_version < version:
            got = self.detections.get_newer(self._detection_version, timeout=max(deadline - now, 0.0))
            if got is None:
                break
            self._detection_version, self._detection = got
            now = time.monotonic()
        return self._detection

    def tracks_at(self, version: int, frame: CapturedFrame, detection: Optional[DetectionResult]) -> List[Track]:
        """The tracked faces of ``detection``, moved to ``frame`` when they were found in an earlier one."""
        if detection is None or not detection.tracks:
            return []
        if self.motion is None:
            return detection.tracks
        started = time.perf_counter()
        tracks = self.motion.faces_at(version, frame.image, detection.tracks, detection.frame_version,
                                      detection.frame.image)
        if detection.frame_version != version:
            self.motion_ms.add((time.perf_counter() - started) * 1000)
        return tracks

    def paste(self, image: np.ndarray, tracks: List[Track], generated: Optional[GeneratedFace]) -> np.ndarray:
        if generated is None or generated.face is None or not tracks:
            return image
        started = time.perf_counter()
        params = generated.params
        out = image.copy()
        for track in tracks:
            paste_face(out, track.face.landmarks, generated.face_for(track.id), params.keep_mouth, params.keep_eyes)
        self.compositing_ms.add((time.perf_counter() - started) * 1000)
        return out

    def publish(self, views: List[str], camera: np.ndarray, stylized: np.ndarray, version: int,
                faces_version: int, generated: Optional[GeneratedFace]) -> None:
        """Encode each wanted view once and hand it to its clients."""
        params_version = generated.params_version if generated is not None else 0
        for view in views:
            started = time.perf_counter()
            ok, jpeg = cv2.imencode(".jpg", view_image(view, camera, stylized), self.encode_options)
            if not ok:
                raise RuntimeError(f"JPEG encoding of the {view} view failed")
            self.encoding_ms.add((time.perf_counter() - started) * 1000)
            shows_faces = view != CAMERA
            self.outputs[view].put(EncodedFrame(jpeg.tobytes(), version, faces_version if shows_faces else 0,
                                                params_version if shows_faces else 0, time.time()))
        self.shown_version = version
        self.fps.tick()
