"""The live pipeline: capture -> detection -> generation -> compositing -> JPEG frames of each view.

Four threads hand data over through ``LatestBuffer``s, each always taking the newest item::

    capture ──frames──┬─────────────────────> compositing+encoding ──JPEG──> views[view] (its stream clients)
                      └──> detection ──tracks─────^    ^          └──image──> composited (virtual camera)
    params.changes ──params──> generation ──faces──────┘

Capture and compositing run at camera rate, detection as fast as it can (at camera rate when it keeps
up, or on every K-th frame: ``LiveConfig.detect_every``); generation runs only when the params change a
face. The compositing stage pastes the newest generated faces onto every captured frame, at the faces
detected in that frame (or, when detection falls behind, the newest tracked ones moved with the heads:
``app.live.compositing``, ``app.live.motion``), and encodes each view that someone watches to JPEG once,
for all of its clients (``app.live.views``). Each ``EncodedFrame`` carries the params version its face was
made from, so a client can tell exactly when a change became visible. When nobody watches (``viewers``),
capture idles and so does everything after it. An optional virtual camera (``app.live.virtual_camera``)
takes the composited frames, and keeps the pipeline awake while it runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from app.live.buffers import LatestBuffer
from app.live.capture import CaptureWorker
from app.live.compositing import CompositingWorker
from app.live.detection import DetectionWorker
from app.live.generation import FaceGenerator, GenerationWorker, SavedLatents
from app.live.motion import FaceMotion
from app.live.params_store import ParamsStore
from app.live.sources import Source
from app.live.viewers import Viewers
from app.live.views import STYLIZED, VIEWS
from app.live.virtual_camera import VirtualCameraWorker
from app.live.worker import Worker, stop_workers
from detectors import Detector, Face
from stylegan2.inference import InferenceGenerator

MAX_DETECT_EVERY = 30                       # Detecting less often than once a second is not tracking.


@dataclass(frozen=True)
class LiveConfig:
    jpeg_quality: int = 80                  # Stream JPEG quality, 1-100.
    idle_after_s: Optional[float] = 10.0    # Idle once nobody has watched this long; None = never idle.
    detect_every: int = 1                   # Detect on every K-th frame; the faces follow the heads in between.
    virtual_camera: Optional[str] = None    # Also write the stylized frames to this v4l2loopback device.

    def __post_init__(self) -> None:
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1-100, got {self.jpeg_quality}")
        if not 1 <= self.detect_every <= MAX_DETECT_EVERY:
            raise ValueError(f"detect_every must be 1-{MAX_DETECT_EVERY}, got {self.detect_every}")


class LivePipeline:
    """Owns the live workers and the buffers between them; ``views[view]`` is what the stream clients of
    a view read (``frames``: the stylized view's).

    ``start()`` checks the virtual camera, if any (VirtualCameraError), opens the source and starts the
    threads (a file or image that cannot be opened raises SourceError at once; a live source that is down
    starts "not_found" and keeps trying); ``stop()`` ends them all, releases the camera and closes the
    views' frames. A pipeline is started once.
    """

    def __init__(self, config: LiveConfig, source: Source, renderer: InferenceGenerator, detector: Detector,
                 params: ParamsStore, latents: Optional[SavedLatents] = None) -> None:
        self.config = config
        self.source = source
        self.detector = detector
        self.params = params
        self.viewers = Viewers(config.idle_after_s)
        self.views: Dict[str, LatestBuffer] = {view: LatestBuffer() for view in VIEWS}   # EncodedFrame per view.
        self.frames = self.views[STYLIZED]
        self._captured = LatestBuffer()
        self._detected = LatestBuffer()
        self._generated = LatestBuffer()
        self._composited = LatestBuffer()
        self.capture = CaptureWorker(source, self._captured, self.viewers)
        self.detection = DetectionWorker(detector, self._captured, self._detected, detect_every=config.detect_every,
                                         on_tracks=params.forget_tracks)
        self.generation = GenerationWorker(self.face_generator(renderer, latents), params.changes, self._generated)
        self.compositing = CompositingWorker(self._captured, self._detected, self._generated, self.views,
                                             config.jpeg_quality, camera_fps=self.capture.fps.rate,
                                             viewers=self.viewers, detection_due=self.detection.due,
                                             motion=FaceMotion(), composited=self._composited)
        self._workers: List[Worker] = [self.capture, self.detection, self.generation, self.compositing]
        self.virtual_camera: Optional[VirtualCameraWorker] = None
        if config.virtual_camera is not None:
            self.virtual_camera = VirtualCameraWorker(config.virtual_camera, self._composited, self.viewers)
            self._workers.append(self.virtual_camera)
        self._started = False

    def face_generator(self, renderer: InferenceGenerator, latents: Optional[SavedLatents]) -> FaceGenerator:
        return FaceGenerator(renderer, self.params.presets, projections=latents)

    def replace_renderer(self, renderer: InferenceGenerator, latents: Optional[SavedLatents],
                         between: Callable[[], None] = lambda: None, timeout: float = 60.0) -> None:
        """Render with another generator from now on (a model switch).

        The generation worker finishes the face it is rendering and stops, ``between`` runs (the params
        change to fit the new generator), and a new worker renders the newest params with ``renderer``;
        until it publishes, the stream keeps showing the old face. If ``between`` fails, the old renderer
        goes on. ValueError (nothing changed) for a generator the live app cannot render with. ``timeout``
        bounds the wait for the face being rendered (seconds on a small CPU with a large model).
        """
        face_generator = self.face_generator(renderer, latents)
        old = self.generation
        old.stop(timeout)
        try:
            between()
        except BaseException:
            self._start_generation(old.face_generator, old)
            raise
        self._start_generation(face_generator, old)

    def _start_generation(self, face_generator: FaceGenerator, old: GenerationWorker) -> None:
        worker = GenerationWorker(face_generator, self.params.changes, self._generated)
        worker.renders, worker.generation_ms = old.renders, old.generation_ms
        self._workers[self._workers.index(old)] = worker
        self.generation = worker
        if self._started and not self._generated.closed:
            worker.start()

    def newest_faces(self) -> Optional[Tuple[np.ndarray, List[Face]]]:
        """The newest detected frame (BGR) and its tracked faces, largest first; None before the first."""
        newest = self._detected.latest()
        if newest is None:
            return None
        result = newest[1]
        return result.frame.image, [track.face for track in result.tracks]

    def tracked_faces(self) -> dict:
        """The faces of the newest detection for the page (which face is where, and what it was given):
        ``{"frame_size": [w, h], "faces": [{"id", "box", "choice"}, ...]}``, largest first."""
        newest = self._detected.latest()
        params = self.params.current().params
        if newest is None:
            return {"frame_size": None, "faces": []}
        result = newest[1]
        height, width = result.frame.image.shape[:2]
        return {"frame_size": [width, height],
                "faces": [{"id": track.id, "box": [round(float(value), 1) for value in track.face.box],
                           "choice": params.faces[track.id].to_json() if track.id in params.faces else None}
                          for track in result.tracks]}

    def start(self) -> None:
        if self._started:
            raise RuntimeError("a pipeline is started once; make a new one")
        self._started = True
        if self.virtual_camera is not None:
            self.virtual_camera.open()
        self.capture.open()
        for worker in self._workers:
            worker.start()

    def stop(self, timeout: float = 5.0) -> List[str]:
        """Stop every thread, each within ``timeout`` seconds of its own; release the camera, close ``frames``.

        Returns the names of the threads that did not stop in time, each of which is also logged: daemon
        threads, stuck in a driver or a library call, that end with the process.
        """
        for buffer in (self._captured, self._detected, self._generated, self._composited, *self.views.values()):
            buffer.close()
        self.params.close()
        return stop_workers(self._workers, timeout)

    def __enter__(self) -> "LivePipeline":
        self.start()
        return self

    def __exit__(self, *_) -> None:
        self.stop()

    def status(self) -> dict:
        """Live figures for the status panel and /api/status (plain JSON values)."""
        errors = [worker.error for worker in self._workers if worker.error and worker is not self.capture]
        views = self.viewers.counts()
        return {
            "source": self.capture.status(),
            "live": "idle" if self.capture.state == "idle" else "running",
            "viewers": sum(count for view, count in views.items() if view in VIEWS),   # People, not outputs.
            "views": views,
            "camera_fps": round(self.capture.fps.rate(), 1),
            "stream_fps": round(self.compositing.fps.rate(), 1),
            "detection_ms": rounded(self.detection.detection_ms.value),
            "generation_ms": rounded(self.generation.generation_ms.value),
            "compositing_ms": rounded(self.compositing.compositing_ms.value),
            "motion_ms": rounded(self.compositing.motion_ms.value),
            "detect_every": self.config.detect_every,
            "encoding_ms": rounded(self.compositing.encoding_ms.value),
            "faces": self.detection.faces,
            "renders": self.generation.renders,
            "params_version": self.params.changes.version,
            "detector": self.detector.name,
            "virtual_camera": self.virtual_camera.status() if self.virtual_camera is not None else None,
            "errors": errors,
        }


def rounded(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 1)
