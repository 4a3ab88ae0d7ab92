"""The generation worker: turns params into the face to paste, running StyleGAN2 only when needed.

Synthesis is by far the most expensive step (hundreds of ms on a CPU, tens on a small GPU), and the
face only changes when the user changes something, so the worker sleeps until new params arrive and
then renders only if the image they describe differs from the one it already has: changing the mode,
or the style seed while every slider is at 0, re-uses the last face. Seed -> W+ mappings are kept in a
small LRU cache, so dragging a slider costs one synthesis and nothing else.

``FaceGenerator.target_ws`` is the one place that says which face a mode shows ("seed": the seed's face;
"me": a saved projection's latent, the user's own face), and ``source_ws`` the one that says what the
sliders mix in (the style seed's latent, or a saved projection chosen as the style source); each slider
is applied with ``stylegan2.latents.mix`` over its preset's layer range scaled to the model's layer count.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
import torch

from app.buffers import LatestBuffer
from app.compositor import PreparedFace, prepare_face
from app.params import Params, Preset
from app.projections import ProjectionStore
from app.stats import SmoothedValue
from app.worker import Worker
from stylegan2.latents import mix, scale_layers, seed_to_ws
from stylegan2.projector import to_uint8_image


@dataclass(frozen=True)
class GeneratedFace:
    params: Params                   # The params this result shows (its mode tells the compositor what to do).
    params_version: int              # Version of those params in the pipeline's params buffer.
    face: Optional[PreparedFace]     # None in passthrough mode: nothing to paste.


class FaceGenerator:
    """Params -> a BGR uint8 face in the FFHQ aligned layout, at the generator's resolution."""

    def __init__(self, generator: torch.nn.Module, presets: List[Preset], ws_cache_size: int = 8,
                 projections: Optional[ProjectionStore] = None):
        if getattr(generator, "c_dim", 0):
            raise ValueError("conditional generators (c_dim > 0) are not supported: use a face model such as "
                             "ffhq-256")
        self.generator = generator
        self.presets = presets
        self.projections = projections       # Saved projections (mode "me", style_projection); None = none.
        self.device = next(generator.parameters()).device
        self.ws_cache_size = ws_cache_size
        self._ws_cache: "OrderedDict[Tuple[int, float], torch.Tensor]" = OrderedDict()

    def image_key(self, params: Params) -> Optional[tuple]:
        """What determines the rendered image: equal keys, equal images. None = nothing to render."""
        if params.mode == "passthrough":
            return None
        sliders = tuple((preset.name, params.sliders[preset.name], self.source_key(preset, params))
                        for preset in self.presets if params.sliders.get(preset.name, 0.0) > 0.0)
        return self.target_key(params), sliders

    @staticmethod
    def target_key(params: Params) -> Tuple:
        """The latent of the face before the sliders: a seed and psi, or a projection (psi does not apply).

        A latent key is ("seed", seed, psi) or ("projection", name); ``latent_ws`` turns it into W+.
        """
        if params.mode == "seed":
            return "seed", params.seed, params.psi
        if params.mode == "me":
            return "projection", params.projection
        raise ValueError(f"mode {params.mode!r} has no face to generate")

    def source_key(self, preset: Preset, params: Params) -> Tuple:
        """The latent a slider mixes in: the style projection if one is chosen, else its seed's."""
        if preset.source == "style" and params.style_projection is not None:
            return "projection", params.style_projection
        return "seed", self.source_seed(preset, params), params.psi

    def render(self, params: Params) -> np.ndarray:
        """Synthesise the face ``params`` describe (noise "const", so the same params give the same face)."""
        with torch.inference_mode():
            ws = self.edited_ws(params)
            image = self.generator.synthesis(ws, noise_mode="const")
            return to_bgr_uint8(image)

    def edited_ws(self, params: Params) -> torch.Tensor:
        """The target W+ with every non-zero slider mixed in, in preset order."""
        ws = self.target_ws(params)
        for preset in self.presets:
            strength = params.sliders.get(preset.name, 0.0)
            if strength > 0.0:
                ws = mix(ws, self.source_ws(preset, params), self.layers(preset), strength)
        return ws

    def target_ws(self, params: Params) -> torch.Tensor:
        """The W+ latent [1, num_ws, w_dim] of the face the mode shows, before any slider."""
        return self.latent_ws(self.target_key(params))

    def source_ws(self, preset: Preset, params: Params) -> torch.Tensor:
        """The W+ latent a slider mixes in."""
        return self.latent_ws(self.source_key(preset, params))

    def latent_ws(self, key: Tuple) -> torch.Tensor:
        """The W+ latent a key of ``target_key`` / ``source_key`` names, so that the image key and the
        rendered image can never disagree."""
        kind, *arguments = key
        return self.projection_ws(*arguments) if kind == "projection" else self.seed_ws(*arguments)

    def projection_ws(self, name: Optional[str]) -> torch.Tensor:
        """A saved projection's W+ latent on the generator's device (the store loads each one once).

        The latent is all of it: the store only serves projections made with the generator's own noise
        images, which this render uses too (why: ``app.projections``), so the face is the one in result.png.
        """
        if self.projections is None or name is None:
            raise ValueError("no saved projection is selected")
        return self.projections.load_ws(name).to(self.device)

    def layers(self, preset: Preset) -> slice:
        """The preset's layer range, scaled from the model it was chosen on to this one."""
        return scale_layers(preset.layers, preset.num_ws, self.generator.num_ws)

    @staticmethod
    def source_seed(preset: Preset, params: Params) -> int:
        return params.style_seed if preset.source == "style" else preset.source

    def seed_ws(self, seed: int, psi: float) -> torch.Tensor:
        """seed -> truncated W+, from a small LRU cache (the mapping network runs once per seed and psi)."""
        key = (seed, psi)
        if key in self._ws_cache:
            self._ws_cache.move_to_end(key)
            return self._ws_cache[key]
        ws = seed_to_ws(self.generator, seed, psi=psi, device=self.device)
        self._ws_cache[key] = ws
        if len(self._ws_cache) > self.ws_cache_size:
            self._ws_cache.popitem(last=False)
        return ws


def to_bgr_uint8(image: torch.Tensor) -> np.ndarray:
    """[1, 3, H, W] float in about [-1, 1] (RGB) -> [H, W, 3] uint8 BGR, as OpenCV frames are."""
    return np.ascontiguousarray(to_uint8_image(image)[:, :, ::-1])


class GenerationWorker(Worker):
    """Waits for new params and publishes a ``GeneratedFace`` for each, rendering only on real change.

    A failed render is reported in ``error`` and the previous face stays on screen.
    """

    name = "stylecam-generation"

    def __init__(self, face_generator: FaceGenerator, params: LatestBuffer, output: LatestBuffer):
        super().__init__()
        self.face_generator = face_generator
        self.params = params                 # LatestBuffer of Params; its version is the params version.
        self.output = output                 # LatestBuffer of GeneratedFace.
        self.generation_ms = SmoothedValue(weight=0.5)
        self.renders = 0                     # Synthesis runs so far.
        self._last_key: Optional[tuple] = None
        self._last_face: Optional[PreparedFace] = None

    def run(self) -> None:
        self.consume(self.params, lambda version, params: self.output.put(
            GeneratedFace(params, version, self.face_for(params))))

    def face_for(self, params: Params) -> Optional[PreparedFace]:
        """The face for ``params``: the last one if its image key is unchanged, else a new render."""
        key = self.face_generator.image_key(params)
        if key is None:
            return None
        if key != self._last_key:
            started = time.perf_counter()
            face = prepare_face(self.face_generator.render(params))
            self.generation_ms.add((time.perf_counter() - started) * 1000)
            self.renders += 1
            self._last_key, self._last_face = key, face
        return self._last_face
