"""Projection and style mixing for still photos: what ``python -m app project`` and ``stylize`` do.

The same parts as the live app: the projections store (so a photo's projection can be selected in
mode "me"), the face finder and its upload checks, the projector with ``ProjectionConfig.fast``, and
the compositor that pastes a generated face back onto a real one.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np
import torch

import stylegan2
from app.compositor import paste_face, prepare_face
from app.generation import to_bgr_uint8
from app.params import SEED_MAX
from app.pipeline import resolve_device
from app.projection_jobs import JobOptions
from app.projection_targets import DETECT_WIDTH, FaceFinder, decode_image
from app.projectors import LocalProjector
from app.projections import ProjectionStore, ProjectionUnavailable, default_projections_dir
from detectors import Face, create_detector
from stylegan2.latents import mix, seed_to_ws
from stylegan2.perceptual import PerceptualNetwork
from stylegan2.projection_io import ProjectionFormatError, load_latent, read_meta
from stylegan2.projector import ProgressFn, ProjectionResult, project


def read_photo(path: Path) -> np.ndarray:
    """A photo file as BGR, with the same checks as an upload (type, size, decompression bombs), at
    full size: a stylized photo keeps the size it had."""
    return decode_image(Path(path).read_bytes(), max_side=None)


def side_by_side(result: ProjectionResult) -> np.ndarray:
    """Target | result, as one BGR image."""
    return np.ascontiguousarray(np.hstack([result.target, result.image])[:, :, ::-1])


class PhotoProjector:
    """The generator, store, face finder and perceptual network (loaded at first use) for photos."""

    def __init__(self, weights_name: str, device: str = "auto", perceptual: str = "vgg16",
                 detector_model: Optional[str] = None, projections_dir: Optional[str] = None) -> None:
        self.device = resolve_device(device)
        self.generator = stylegan2.load(weights_name, self.device).generator.requires_grad_(False)
        self.store = ProjectionStore(projections_dir or default_projections_dir(), self.generator,
                                     model={"weights": weights_name})
        self.finder = FaceFinder(lambda: create_detector("auto", model_path=detector_model, detect_width=DETECT_WIDTH),
                                 self.generator.img_resolution)
        self.local = LocalProjector(self.generator, perceptual)

    def perceptual(self) -> PerceptualNetwork:
        """The perceptual network; a missing vgg16 raises weights.WeightsError naming the fetch command."""
        return self.local.perceptual()

    def project(self, target_rgb: np.ndarray, options: JobOptions,
                progress: Optional[ProgressFn] = None) -> ProjectionResult:
        return project(self.generator, target_rgb, self.perceptual(), options.config(), progress=progress)

    def latent(self, spec: str) -> torch.Tensor:
        """A saved projection's latent on the device: by name in the store, or a projection folder (or
        its latent.pt). ProjectionUnavailable says why one cannot be used."""
        if self.store.exists(spec):
            return self.store.load_ws(spec).to(self.device)
        path = Path(spec)
        folder = path.parent if path.is_file() else path
        if not folder.is_dir():
            raise ProjectionUnavailable(f"{spec!r} is neither a saved projection in {self.store.root} nor a "
                                        f"projection folder")
        try:
            meta = read_meta(folder)
            ws, _ = load_latent(folder, meta)
        except ProjectionFormatError as error:
            raise ProjectionUnavailable(str(error)) from None
        problem = self.store.incompatibility(meta, folder.name)
        if problem:
            raise ProjectionUnavailable(problem)
        return ws.to(self.device)

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
            mixed = mix(ws, style_ws, layers, strength)
            with torch.inference_mode():
                generated = to_bgr_uint8(self.generator.synthesis(mixed, noise_mode="const"))
            paste_face(stylized, face.landmarks, prepare_face(generated))
        return stylized
