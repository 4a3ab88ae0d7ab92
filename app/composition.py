"""The composition root: every part of a running StyleCam is built and wired here, and only here.

``StyleCam(config)`` loads the generator and the detector, and builds the params, the saved projections,
the live pipeline, the projection service and the studio around them; the web layer gets narrow views of
them (``live``: ``app.web.interfaces.LiveControls``, ``projection``: ``ProjectionService``, ``studio``:
``StudioService``, ``models``: ``app.model_switch.LiveModel``, which switches the generator while running;
whoever needs "the current generator" asks ``models`` for it at each use). ``model_parts`` builds what
renders and projects with one generator, at start and at each switch alike.
``photo_projector`` builds the smaller set the photo commands (``project``, ``stylize``) need.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch

import weights
from app import models
from app.live.params import default_params
from app.live.params_store import ParamsStore
from app.live.pipeline import LiveConfig, LivePipeline
from app.live.presets import Preset, slider_presets
from app.live.sources import parse_source
from app.model_library import ModelEntry, ModelLibrary
from app.model_switch import LiveModel, ModelParts
from app.projection.jobs import DEFAULT_STEPS, JobOptions, ProjectionJobs
from app.projection.photos import PhotoProjector
from app.projection.projectors import LocalProjector, make_projector
from app.projection.service import ProjectionService
from app.projection.store import ProjectionStore, default_projections_dir
from app.projection.targets import DETECT_WIDTH, FaceFinder
from app.rendering import make_renderer
from app.studio.direction_previews import DirectionPreviews, PreviewTarget
from app.studio.jobs import StudioJobs
from app.studio.service import StudioService
from app.web.interfaces import LiveControls
from detectors import Detector
from stylegan2.hardware import resolve_device
from stylegan2.inference import InferenceGenerator


@dataclass(frozen=True)
class StyleCamConfig:
    """Every setting of ``serve``, with the defaults the command line shows."""

    source: str = "0"                       # Camera index, device, file, URL, GStreamer pipeline or csi://N.
    weights: str = models.DEFAULT_GENERATOR  # Generator: a file path or a registry name (weights/).
    device: str = "auto"                    # "auto" (CUDA if available), "cpu", "cuda" or "cuda:N".
    detector: str = "auto"                  # "auto", "yunet" or "haar" (detectors.create_detector).
    detector_model: Optional[str] = None    # Detector model file; None = the registry's.
    detect_width: Optional[int] = None      # Detect on frames shrunk to this width (e.g. 320); None = full size.
    max_faces: Optional[int] = None         # Find at most this many faces (the largest); None = all.
    jpeg_quality: int = 80                  # Stream JPEG quality, 1-100.
    detect_every: int = 1                   # Detect faces on every K-th frame; they follow the heads in between.
    virtual_camera: Optional[str] = None    # Also write the stylized stream to this v4l2loopback device.
    idle_after_s: Optional[float] = 10.0    # The live loop idles once nobody watched this long; None = never.
    presets_path: Optional[str] = None      # Slider presets file; None = app/live/presets.json.
    directions_paths: Tuple[str, ...] = ()  # Directions files whose every direction becomes a slider.
    loop: bool = True                       # Video files start again at their end.
    width: Optional[int] = None             # Camera mode to ask for (None = the camera's default).
    height: Optional[int] = None
    fps: Optional[float] = None
    projections_dir: Optional[str] = None   # Saved projections; None = $STYLECAM_PROJECTIONS or the user's folder.
    perceptual: str = models.DEFAULT_PERCEPTUAL  # Projection's perceptual network: registry name or TorchScript file.
    projector_url: Optional[str] = None     # Another StyleCam to project on (http://host:port); None = here.
    projector_token: Optional[str] = None   # Its access token.
    projector_fallback: bool = True         # Project here when the remote projector fails.
    projection_queue: int = 4               # Projection jobs that may wait; more are refused (HTTP 429).
    projection_steps: int = DEFAULT_STEPS   # Steps of a projection that does not ask for a number.
    backend: str = "auto"                   # Renders with: "auto", "torch", "onnx" or "tensorrt" (app.rendering).
    precision: str = "auto"                 # "auto", "native", "fp32", "fp16" or "bf16" (stylegan2.inference).
    studio_batch: int = 8                   # Faces per generator call when the studio renders a sheet.
    models_dir: Optional[str] = None        # Generators to switch to; None = $STYLECAM_MODELS or the user's folder.


class StyleCam:
    """The live pipeline and the projection service over one generator, ready to ``start()``.

    ``generator`` and ``detector`` may be given ready-made (tests); otherwise they are loaded as the
    config says. Construction opens nothing: ``start()`` opens the source and starts the threads.
    """

    def __init__(self, config: StyleCamConfig, generator: Optional[torch.nn.Module] = None,
                 detector: Optional[Detector] = None) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        source = parse_source(config.source, loop=config.loop, width=config.width, height=config.height,
                              fps=config.fps)
        if generator is None:
            generator, meta = models.load_generator(config.weights, self.device)
        else:
            generator = generator.to(self.device).eval().requires_grad_(False)
            meta = {"format": "injected"}
        presets = slider_presets(config.presets_path, config.directions_paths, generator)
        parts = self.model_parts(config.weights, generator, meta)
        detector = detector or models.face_detector(config.detector, model_path=config.detector_model,
                                                    max_faces=config.max_faces, detect_width=config.detect_width)
        store = parts.store
        self.params = ParamsStore(presets, check_projection=store.check)
        self.pipeline = LivePipeline(LiveConfig(config.jpeg_quality, config.idle_after_s, config.detect_every,
                                                config.virtual_camera), source,
                                     parts.renderer, detector, self.params, latents=store)
        on_cpu = self.device.type == "cpu"
        background = dict(cpu_threads=max((os.cpu_count() or 2) // 2, 1) if on_cpu else None,
                          nice=10 if on_cpu else 0)       # background work leaves the stream the CPU first
        jobs = ProjectionJobs(
            parts.projector, store, max_queued=config.projection_queue,
            default_options=JobOptions(steps=config.projection_steps), **background)
        self.projection = ProjectionService(store, jobs, face_finder(config.detector, config.detector_model,
                                                                     generator.img_resolution),
                                            self.params, self.pipeline.newest_faces)
        started_with = Path(meta["path"]) if meta.get("path") and config.weights not in weights.REGISTRY else None
        self.models = LiveModel(parts, ModelLibrary(Path(config.models_dir) if config.models_dir else None,
                                                    started_with),
                                self.load_model_parts, self.pipeline, self.projection, self.params,
                                default_params(presets), cannot_run=lambda entry: direction_misfit(presets, entry))
        # The studio and the previews ask for the generator (and the projections) at each job: a switch changes them.
        self.studio = StudioService(StudioJobs(self.models.current, config.studio_batch, config.precision,
                                               **background),
                                    self.params, lambda name: self.projection.store.load_ws(name))
        self.direction_previews = None
        if any(preset.direction is not None for preset in presets):
            self.direction_previews = DirectionPreviews(
                presets, self.preview_target, lambda: self.params.current().params,
                lambda: self.pipeline.generation.idle(), **background)
        self.live = LiveControls(self.params, self.pipeline.frames, self.pipeline.viewers, self.status,
                                 views=self.pipeline.views, faces=self.pipeline.tracked_faces,
                                 direction_previews=self.direction_previews)

    @property
    def model(self) -> Dict[str, Any]:
        """The running generator, as the status shows it (never a server path)."""
        return self.models.parts.description

    @property
    def renderer(self) -> InferenceGenerator:
        return self.models.parts.renderer

    def load_model_parts(self, entry: ModelEntry) -> ModelParts:
        """A listed generator, loaded as at start (``LiveModel.switch`` runs this in its thread)."""
        name = entry.name if entry.source == "registry" else str(entry.path)
        generator, meta = models.load_generator(name, self.device)
        return self.model_parts(name, generator, meta)

    def model_parts(self, name: str, generator: torch.nn.Module, meta: Dict[str, Any]) -> ModelParts:
        """What renders and projects with ``generator`` (registry name or file ``name``), by this config."""
        config = self.config
        model_path = meta.get("path")
        renderer = make_renderer(generator, Path(model_path) if model_path else None,
                                 name if name in weights.REGISTRY else None, config.backend, config.precision)
        weights_name = models.display_name(name)      # shown to browsers: never a server path
        store = ProjectionStore(config.projections_dir or default_projections_dir(), generator,
                                model={"weights": weights_name})
        projector = make_projector(generator, store.fingerprint, config.perceptual, config.projector_url,
                                   config.projector_token, config.projector_fallback)
        description = {"weights": weights_name, "format": meta.get("format"), "resolution": generator.img_resolution,
                       "num_ws": generator.num_ws, "renderer": renderer.describe()}
        return ModelParts(weights_name, generator, renderer, store, projector, description)

    def preview_target(self) -> PreviewTarget:
        """What a direction preview renders with now."""
        parts = self.models.parts
        return PreviewTarget(self.pipeline.generation.face_generator, parts.generator, parts.name)

    def start(self) -> None:
        """Open the source and start every thread (SourceError for a file or image that cannot be opened)."""
        self.pipeline.start()
        self.projection.jobs.start()
        self.studio.jobs.start()
        if self.direction_previews is not None:
            self.direction_previews.start()

    def stop(self) -> None:
        self.pipeline.stop()
        self.projection.jobs.stop()
        self.studio.jobs.stop()
        if self.direction_previews is not None:
            self.direction_previews.stop()

    def __enter__(self) -> "StyleCam":
        self.start()
        return self

    def __exit__(self, *_) -> None:
        self.stop()

    def status(self) -> dict:
        """Everything the status panel shows: the live figures, the device, the model, the projector."""
        return {**self.pipeline.status(), "device": str(self.device), "model": dict(self.model),
                **self.projection.status()}


def direction_misfit(presets: List[Preset], entry: ModelEntry) -> Optional[str]:
    """Why a listed generator cannot run under these direction sliders (their W space differs), or None."""
    for preset in presets:
        if preset.direction is not None:
            found = preset.direction.directions
            if (entry.w_dim, entry.num_ws) != (found.w_dim, found.num_ws):
                return (f"the direction sliders of {preset.direction.set_name} were made for a model with w_dim "
                        f"{found.w_dim} and {found.num_ws} layers, this one has w_dim {entry.w_dim} and "
                        f"{entry.num_ws} layers (serve it without those directions)")
    return None


def face_finder(detector: str, detector_model: Optional[str], resolution: int) -> FaceFinder:
    """The photo face finder: a detector of its own (the live one is busy), at photo size."""
    return FaceFinder(lambda: models.face_detector(detector, model_path=detector_model, detect_width=DETECT_WIDTH),
                      resolution)


def photo_projector(weights: str, device: str = "auto", perceptual: str = models.DEFAULT_PERCEPTUAL,
                    detector_model: Optional[str] = None, projections_dir: Optional[str] = None) -> PhotoProjector:
    """What ``project`` and ``stylize`` need: the generator, the projections store, a face finder and this
    device's projector, built as ``serve`` builds them."""
    generator = models.load_generator(weights, resolve_device(device)).generator
    store = ProjectionStore(projections_dir or default_projections_dir(), generator,
                            model={"weights": models.display_name(weights)})
    return PhotoProjector(generator, store, face_finder("auto", detector_model, generator.img_resolution),
                          LocalProjector(generator, perceptual))
