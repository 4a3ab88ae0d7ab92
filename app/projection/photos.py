"""Projection and style mixing for still photos: what ``python -m app project`` and ``stylize`` do.

The same parts as the live app: the projections store (so a photo's projection can be selected in
mode "me"), the face finder and its upload checks, the projector with ``ProjectionConfig.fast``, and
the face paste that puts a generated face back onto a real one.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np
import torch

from app.images import from_engine, to_engine
from app.live.face_paste import paste_face, prepare_face
from app.live.params import SEED_MAX
from app.projection.jobs import JobOptions
from app.projection.projectors import LocalProjector
from app.projection.store import ProjectionStore, ProjectionUnavailable
from app.projection.targets import FaceFinder, Target, decode_image
from detectors import Face
from stylegan2.inference import InferenceGenerator
from stylegan2.latents import mix, seed_to_ws
from stylegan2.projection.perceptual import PerceptualNetwork
from stylegan2.projection.projector import ProgressFn, ProjectionResult, project


def read_photo(path: Path) -> np.ndarray:
    """A photo file as BGR, with the same checks as an upload (type, size, decompression bombs), at
    full size: a stylized photo keeps the size it had."""
    return decode_image(Path(path).read_bytes(), max_side=None)


def side_by_side(result: ProjectionResult) -> np.ndarray:
    """Target | result, as one BGR image."""
    return np.hstack([from_engine(result.target), from_engine(result.image)])


class PhotoProjector:
    """Projects and stylizes the faces of photos with the app's generator, store, finder and projector."""

    def __init__(self, generator: torch.nn.Module, store: ProjectionStore, finder: FaceFinder,
                 projector: LocalProjector) -> None:
        self.generator = generator
        self.renderer = InferenceGenerator(generator)
        self.device = projector.device
        self.store = store
        self.finder = finder
        self.local = projector

    def perceptual(self) -> PerceptualNetwork:
        """The perceptual network; a missing vgg16 raises weights.WeightsError naming the fetch command."""
        return self.local.perceptual()

    def project(self, target: Target, options: JobOptions,
                progress: Optional[ProgressFn] = None) -> ProjectionResult:
        return project(self.generator, to_engine(target.image, self.device), self.perceptual(), options.config(),
                       progress=progress)

    def latent(self, spec: str) -> torch.Tensor:
        """A saved projection's latent on the device (``ProjectionStore.latent``)."""
        return self.store.latent(spec).to(self.device)

    def style_latent(self, spec: str, psi: float) -> torch.Tensor:
        """A style source: a seed (digits only, truncated by ``psi``) or a saved projection."""
        if spec.isdigit():
            if int(spec) > SEED_MAX:
                raise ProjectionUnavailable(f"a seed must be between 0 and {SEED_MAX}, got {spec}")
            return seed_to_ws(self.generator, int(spec), psi=psi)
        return self.latent(spec)

    def stylize(self, frame: np.ndarray, faces: List[Face], latents: List[torch.Tensor], style_ws: torch.Tensor,
                layers: slice, strength: float) -> np.ndarray:
        """A copy of a BGR photo with each face replaced by its latent mixed with ``style_ws`` at ``layers``."""
        stylized = frame.copy()
        for face, ws in zip(faces, latents):
            generated = from_engine(self.renderer.synthesis(mix(ws, style_ws, layers, strength)))
            paste_face(stylized, face.landmarks, prepare_face(generated))
        return stylized
