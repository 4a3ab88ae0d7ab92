"""The live pipeline: capture -> detection -> generation -> compositing -> JPEG frames.

Four threads hand data over through ``LatestBuffer``s, each always taking the newest item::

    capture ──frames──┬─────────────────────> compositing+encoding ──JPEG──> frames (every stream client)
                      └──> detection ──tracks─────^    ^
    update_params ──params──> generation ──face────────┘

Capture and compositing run at camera rate, detection as fast as it can (at camera rate when it keeps
up); generation runs only when the params change the face. The compositing stage pastes the newest
generated face onto every captured frame, at the faces detected in that frame (or, when detection falls
behind, the newest tracked ones: ``app.compositing``), and encodes the frame to JPEG once, for all
clients. Each ``EncodedFrame`` carries the params version its face was made from, so a client can tell
exactly when a change became visible.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import List, Optional

import torch

import stylegan2
from app.buffers import LatestBuffer
from app.capture import CaptureWorker
from app.compositing import CompositingWorker
from app.detection import DetectionWorker
from app.generation import FaceGenerator, GenerationWorker
from app.params import Params, Preset, VersionedParams, apply_update, default_params, load_presets
from app.projection_jobs import DEFAULT_STEPS, JobOptions, ProjectionJobs
from app.projection_targets import DETECT_WIDTH, FaceFinder, NoFaceFound, Target, aligned_target, largest_face
from app.projections import ProjectionStore, default_projections_dir
from app.projectors import make_projector
from app.sources import parse_source
from app.worker import Worker, stop_workers
from detectors import Detector, create_detector


class PipelineConfigError(ValueError):
    """A pipeline setting that cannot work here (e.g. device "cuda" without CUDA); says what to do."""


@dataclass(frozen=True)
class PipelineConfig:
    source: str = "0"                       # Camera index, device, file, URL, GStreamer pipeline or csi://N.
    weights: str = "ffhq-256"               # Generator: a file path or a registry name (weights/).
    device: str = "auto"                    # "auto" (CUDA if available), "cpu", "cuda" or "cuda:N".
    detector: str = "auto"                  # "auto", "yunet" or "haar" (detectors.create_detector).
    detector_model: Optional[str] = None    # Detector model file; None = the registry's.
    detect_width: Optional[int] = None      # Detect on frames shrunk to this width (e.g. 320); None = full size.
    max_faces: Optional[int] = None         # Find at most this many faces (the largest); None = all.
    jpeg_quality: int = 80                  # Stream JPEG quality, 1-100.
    presets_path: Optional[str] = None      # Slider presets file; None = app/presets.json.
    loop: bool = True                       # Video files start again at their end.
    width: Optional[int] = None             # Camera mode to ask for (None = the camera's default).
    height: Optional[int] = None
    fps: Optional[float] = None
    projections_dir: Optional[str] = None   # Saved projections; None = $STYLECAM_PROJECTIONS or projections/.
    perceptual: str = "vgg16"               # Projection's perceptual network: registry name or TorchScript file.
    projector_url: Optional[str] = None     # Another StyleCam to project on (http://host:port); None = here.
    projector_token: Optional[str] = None   # Its access token.
    projector_fallback: bool = True         # Project here when the remote projector fails.
    projection_queue: int = 4               # Projection jobs that may wait; more are refused (HTTP 429).
    projection_steps: int = DEFAULT_STEPS   # Steps of a projection that does not ask for a number.

    def __post_init__(self) -> None:
        if not 1 <= self.jpeg_quality <= 100:
            raise PipelineConfigError(f"jpeg_quality must be 1-100, got {self.jpeg_quality}")


def resolve_device(name: str) -> torch.device:
    """"auto" -> cuda if available else cpu; "cuda" without CUDA, or a cuda:N this machine lacks, is a clear
    error (the CLI shows it as one line, where torch would fail later with a traceback)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise PipelineConfigError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PipelineConfigError(f"device {name!r} was asked for, but this PyTorch has no usable CUDA "
                                  "(install a CUDA build of torch, or use --device cpu)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        which = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
        raise PipelineConfigError(f"device {name!r} was asked for, but this machine has {count} CUDA "
                                  f"device{'' if count == 1 else 's'} ({which}); pick one of those, "
                                  "or use --device cuda")
    if device.type not in ("cpu", "cuda"):
        raise PipelineConfigError(f"unsupported device {name!r}: use auto, cpu, cuda or cuda:N")
    return device


class Pipeline:
    """Owns the workers and the buffers between them; the web layer reads ``frames`` and ``status()``.

    Loads the generator (``stylegan2.load``) and the detector (``detectors.create_detector``) unless
    they are given. ``start()`` opens the source and starts the threads (a file or image that cannot be
    opened raises SourceError at once; a live source that is down starts "reconnecting"); ``stop()`` ends
    them all, releases the camera and closes ``frames``. A pipeline is started once.
    """

    def __init__(self, config: PipelineConfig, generator: Optional[torch.nn.Module] = None,
                 detector: Optional[Detector] = None):
        self.config = config
        self.presets: List[Preset] = load_presets(config.presets_path)
        self.source = parse_source(config.source, loop=config.loop, width=config.width, height=config.height,
                                   fps=config.fps)
        self.device = resolve_device(config.device)
        if generator is None:
            generator, meta = stylegan2.load(config.weights, self.device)
        else:
            generator = generator.to(self.device).eval().requires_grad_(False)
            meta = {"format": "injected", "path": None}
        self.model = {"weights": config.weights, "format": meta.get("format"), "path": meta.get("path"),
                      "resolution": generator.img_resolution, "num_ws": generator.num_ws}
        self.detector = detector or create_detector(config.detector, model_path=config.detector_model,
                                                    max_faces=config.max_faces, detect_width=config.detect_width)
        self.projections = ProjectionStore(config.projections_dir or default_projections_dir(), generator,
                                           model={"weights": config.weights})
        self.face_finder = FaceFinder(lambda: create_detector(config.detector, model_path=config.detector_model,
                                                              detect_width=DETECT_WIDTH), generator.img_resolution)
        on_cpu = self.device.type == "cpu"
        self.projection_jobs = ProjectionJobs(
            make_projector(generator, self.projections.fingerprint, config.perceptual, config.projector_url,
                           config.projector_token, config.projector_fallback),
            self.projections, max_queued=config.projection_queue,
            cpu_threads=max((os.cpu_count() or 2) // 2, 1) if on_cpu else None, nice=10 if on_cpu else 0,
            default_options=JobOptions(steps=config.projection_steps))
        self.frames: LatestBuffer = LatestBuffer()       # EncodedFrame, shared by every stream client.
        self._captured = LatestBuffer()
        self._detected = LatestBuffer()
        self._params_buffer = LatestBuffer()
        self._generated = LatestBuffer()
        self._params = default_params(self.presets)
        self._params_lock = threading.Lock()
        self.capture = CaptureWorker(self.source, self._captured)
        self.detection = DetectionWorker(self.detector, self._captured, self._detected)
        self.generation = GenerationWorker(FaceGenerator(generator, self.presets, projections=self.projections),
                                           self._params_buffer, self._generated)
        self.compositing = CompositingWorker(self._captured, self._detected, self._generated, self.frames,
                                             config.jpeg_quality, camera_fps=self.capture.fps.rate)
        self._workers: List[Worker] = [self.capture, self.detection, self.generation, self.compositing,
                                       self.projection_jobs]
        self._started = False

    @property
    def params(self) -> Params:
        return self._params

    @property
    def params_lock(self) -> threading.Lock:
        """Held by every params update: hold it to act on the params atomically (e.g. delete a projection
        only if it is not selected, without an update selecting it in between)."""
        return self._params_lock

    def versioned_params(self) -> VersionedParams:
        """The params with their version, read together: an update in between cannot pair one with the other."""
        with self._params_lock:
            return VersionedParams(self._params, self.params_version)

    def update_params(self, payload: dict) -> VersionedParams:
        """Validate and apply a partial update (raises ParamsError, changing nothing); returns the new params
        with the version of this very update, not of whatever update another request made after it."""
        with self._params_lock:
            self._params = apply_update(self._params, payload, self.presets, self.projections.check)
            return VersionedParams(self._params, self._params_buffer.put(self._params))

    def camera_target(self) -> Target:
        """The largest tracked face of the newest frame, aligned for projection (NoFaceFound if none)."""
        newest = self._detected.latest()
        face = largest_face([track.face for track in newest[1].tracks]) if newest else None
        if face is None:
            raise NoFaceFound("no face in view of the camera right now: look into the camera and try again")
        return aligned_target(newest[1].frame.image, face.landmarks, self.model["resolution"], "camera")

    @property
    def params_version(self) -> int:
        return self._params_buffer.version

    def start(self) -> None:
        if self._started:
            raise RuntimeError("a pipeline is started once; make a new one")
        self._started = True
        self.capture.open()
        with self._params_lock:
            self._params_buffer.put(self._params)
        for worker in self._workers:
            worker.start()

    def stop(self, timeout: float = 5.0) -> List[str]:
        """Stop every thread, each within ``timeout`` seconds of its own; release the camera, close ``frames``.

        Returns the names of the threads that did not stop in time, each of which is also logged: daemon
        threads, stuck in a driver or a library call, that end with the process.
        """
        for buffer in (self._captured, self._detected, self._params_buffer, self._generated, self.frames):
            buffer.close()
        return stop_workers(self._workers, timeout)

    def __enter__(self) -> "Pipeline":
        self.start()
        return self

    def __exit__(self, *_) -> None:
        self.stop()

    def status(self) -> dict:
        """Live figures for the status panel and /api/status (plain JSON values)."""
        errors = [worker.error for worker in self._workers if worker.error and worker is not self.capture]
        return {
            "source": self.capture.status(),
            "camera_fps": round(self.capture.fps.rate(), 1),
            "stream_fps": round(self.compositing.fps.rate(), 1),
            "detection_ms": rounded(self.detection.detection_ms.value),
            "generation_ms": rounded(self.generation.generation_ms.value),
            "compositing_ms": rounded(self.compositing.compositing_ms.value),
            "encoding_ms": rounded(self.compositing.encoding_ms.value),
            "faces": self.detection.faces,
            "renders": self.generation.renders,
            "params_version": self.params_version,
            "device": str(self.device),
            "projector": self.projection_jobs.projector.describe(),
            "detector": self.detector.name,
            "model": dict(self.model),
            "errors": errors,
        }


def rounded(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 1)
