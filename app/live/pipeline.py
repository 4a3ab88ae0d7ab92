"""The live pipeline: capture -> detection -> generation -> compositing -> JPEG frames.

Four threads hand data over through ``LatestBuffer``s, each always taking the newest item::

    capture ──frames──┬─────────────────────> compositing+encoding ──JPEG──> frames (every stream client)
                      └──> detection ──tracks─────^    ^
    params.changes ──params──> generation ──face───────┘

Capture and compositing run at camera rate, detection as fast as it can (at camera rate when it keeps
up); generation runs only when the params change the face. The compositing stage pastes the newest
generated face onto every captured frame, at the faces detected in that frame (or, when detection falls
behind, the newest tracked ones: ``app.live.compositing``), and encodes the frame to JPEG once, for all
clients. Each ``EncodedFrame`` carries the params version its face was made from, so a client can tell
exactly when a change became visible. When nobody watches (``viewers``), capture idles and so does
everything after it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from app.live.buffers import LatestBuffer
from app.live.capture import CaptureWorker
from app.live.compositing import CompositingWorker
from app.live.detection import DetectionWorker
from app.live.generation import FaceGenerator, GenerationWorker, SavedLatents
from app.live.params_store import ParamsStore
from app.live.sources import Source
from app.live.viewers import Viewers
from app.live.worker import Worker, stop_workers
from detectors import Detector, Face
from stylegan2.inference import InferenceGenerator


@dataclass(frozen=True)
class LiveConfig:
    jpeg_quality: int = 80                  # Stream JPEG quality, 1-100.
    idle_after_s: Optional[float] = 10.0    # Idle once nobody has watched this long; None = never idle.

    def __post_init__(self) -> None:
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1-100, got {self.jpeg_quality}")


class LivePipeline:
    """Owns the live workers and the buffers between them; ``frames`` is what every stream client reads.

    ``start()`` opens the source and starts the threads (a file or image that cannot be opened raises
    SourceError at once; a live source that is down starts "reconnecting"); ``stop()`` ends them all,
    releases the camera and closes ``frames``. A pipeline is started once.
    """

    def __init__(self, config: LiveConfig, source: Source, renderer: InferenceGenerator, detector: Detector,
                 params: ParamsStore, latents: Optional[SavedLatents] = None) -> None:
        self.config = config
        self.source = source
        self.detector = detector
        self.params = params
        self.viewers = Viewers(config.idle_after_s)
        self.frames: LatestBuffer = LatestBuffer()       # EncodedFrame, shared by every stream client.
        self._captured = LatestBuffer()
        self._detected = LatestBuffer()
        self._generated = LatestBuffer()
        self.capture = CaptureWorker(source, self._captured, self.viewers)
        self.detection = DetectionWorker(detector, self._captured, self._detected)
        self.generation = GenerationWorker(FaceGenerator(renderer, params.presets, projections=latents),
                                           params.changes, self._generated)
        self.compositing = CompositingWorker(self._captured, self._detected, self._generated, self.frames,
                                             config.jpeg_quality, camera_fps=self.capture.fps.rate)
        self._workers: List[Worker] = [self.capture, self.detection, self.generation, self.compositing]
        self._started = False

    def newest_faces(self) -> Optional[Tuple[np.ndarray, List[Face]]]:
        """The newest detected frame (BGR) and its tracked faces, largest first; None before the first."""
        newest = self._detected.latest()
        if newest is None:
            return None
        result = newest[1]
        return result.frame.image, [track.face for track in result.tracks]

    def start(self) -> None:
        if self._started:
            raise RuntimeError("a pipeline is started once; make a new one")
        self._started = True
        self.capture.open()
        for worker in self._workers:
            worker.start()

    def stop(self, timeout: float = 5.0) -> List[str]:
        """Stop every thread, each within ``timeout`` seconds of its own; release the camera, close ``frames``.

        Returns the names of the threads that did not stop in time, each of which is also logged: daemon
        threads, stuck in a driver or a library call, that end with the process.
        """
        for buffer in (self._captured, self._detected, self._generated, self.frames):
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
        return {
            "source": self.capture.status(),
            "live": "idle" if self.capture.state == "idle" else "running",
            "viewers": self.viewers.count,
            "camera_fps": round(self.capture.fps.rate(), 1),
            "stream_fps": round(self.compositing.fps.rate(), 1),
            "detection_ms": rounded(self.detection.detection_ms.value),
            "generation_ms": rounded(self.generation.generation_ms.value),
            "compositing_ms": rounded(self.compositing.compositing_ms.value),
            "encoding_ms": rounded(self.compositing.encoding_ms.value),
            "faces": self.detection.faces,
            "renders": self.generation.renders,
            "params_version": self.params.changes.version,
            "detector": self.detector.name,
            "errors": errors,
        }


def rounded(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 1)
