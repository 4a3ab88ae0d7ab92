"""The generation worker: turns params into the face to paste, running StyleGAN2 only when needed.

Synthesis is by far the most expensive step (hundreds of ms on a CPU, tens on a small GPU), and the
face only changes when the user changes something, so the worker sleeps until new params arrive and
then renders only if the image they describe differs from the one it already has: changing the mode,
or the style seed while every slider is at 0, re-uses the last face. Seed -> W+ mappings are kept in a
small LRU cache, so dragging a slider costs one synthesis and nothing else. It renders through a
``stylegan2.inference.InferenceGenerator``, in the fastest layout the device has.

``FaceGenerator.target_ws`` is the one place that says which face a mode shows ("seed": the seed's face;
"me": a saved projection's latent, the user's own face), and ``source_ws`` the one that says what the
sliders mix in (the style seed's latent, or a saved projection chosen as the style source); each slider
is applied with ``stylegan2.latents.mix`` over its preset's layer range scaled to the model's layer count.
Direction sliders come after every style-mixing edit: value x range x the direction's step is added on
their layer range (``stylegan2.studio.directions.apply_direction``), scaled the same way.

A tracked face with a face of its own (``Params.faces``: a seed or a projection in place of the mode's
face, with the same edits) gets a render of its own. The worker renders everyone's face first and
publishes it at once, then each face of its own that changed, publishing again after each (until then a
face keeps the one it had), and stops early when newer params arrive. It keeps the faces the current
params show, by their image key (at most ``MAX_FACE_CHOICES`` + 1), and no others: a projection can only
be deleted or renamed while no params show it, so a kept face is never one of a projection that is gone.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, List, Mapping, Optional, Protocol, Tuple

import numpy as np
import torch

from app.images import from_engine
from app.live.buffers import LatestBuffer
from app.live.face_paste import PreparedFace, prepare_face
from app.live.params import FaceChoice, Params
from app.live.presets import Preset
from app.live.stats import SmoothedValue
from app.live.worker import Worker
from stylegan2.inference import InferenceGenerator
from stylegan2.latents import mix, scale_layers, seed_to_ws
from stylegan2.studio.directions import apply_direction


@dataclass(frozen=True)
class GeneratedFace:
    params: Params                   # The params this result shows (its mode tells the compositor what to do).
    params_version: int              # Version of those params in the pipeline's params buffer.
    face: Optional[PreparedFace]     # Everyone's face; None in passthrough mode: nothing to paste.
    track_faces: Mapping[int, PreparedFace] = field(default_factory=dict)   # Faces of their own, by track id.

    def face_for(self, track_id: int) -> Optional[PreparedFace]:
        """The face to paste on the tracked face ``track_id``."""
        return self.track_faces.get(track_id, self.face)


class SavedLatents(Protocol):
    """Where mode "me" and a projection chosen as the style source take their latents from."""

    def load_ws(self, name: str) -> torch.Tensor:
        """The W+ latent [1, num_ws, w_dim] of a saved projection; ValueError saying why it cannot be used."""


class FaceGenerator:
    """Params -> a BGR uint8 face in the FFHQ aligned layout, at the generator's resolution."""

    def __init__(self, generator: InferenceGenerator, presets: List[Preset], ws_cache_size: int = 8,
                 projections: Optional[SavedLatents] = None):
        if generator.c_dim:
            raise ValueError("conditional generators (c_dim > 0) are not supported: use a face model such as "
                             "ffhq-256")
        self.generator = generator
        self.presets = presets
        self.projections = projections       # Saved projections (mode "me", style_projection); None = none.
        self.device = generator.device
        self.seed_ws = lru_cache(maxsize=ws_cache_size)(self._seed_ws)
        self.direction_steps = {preset.name: preset.direction.step().to(self.device)   # Each direction slider's
                                for preset in presets if preset.direction is not None}  # step, on the device.

    def image_key(self, params: Params, choice: Optional[FaceChoice] = None) -> Optional[tuple]:
        """What determines the rendered image (of a face with its own ``choice``): equal keys, equal images.
        None = nothing to render."""
        if params.mode == "passthrough":
            return None
        mixes = tuple((preset.name, params.sliders[preset.name], self.source_key(preset, params))
                      for preset in self.presets
                      if preset.direction is None and params.sliders.get(preset.name, 0.0) > 0.0)
        directions = tuple((preset.name, params.sliders[preset.name]) for preset in self.presets
                           if preset.direction is not None and params.sliders.get(preset.name, 0.0) != 0.0)
        return self.target_key(params, choice), mixes, directions

    @staticmethod
    def target_key(params: Params, choice: Optional[FaceChoice] = None) -> Tuple:
        """The latent of the face before the sliders: a seed and psi, or a projection (psi does not apply);
        a face's own ``choice`` in place of the mode's face.

        A latent key is ("seed", seed, psi) or ("projection", name); ``latent_ws`` turns it into W+.
        """
        if choice is not None:
            if choice.projection is not None:
                return "projection", choice.projection
            return "seed", choice.seed, params.psi
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

    def render(self, params: Params, choice: Optional[FaceChoice] = None) -> np.ndarray:
        """Synthesise the face ``params`` describe (noise "const", so the same params give the same face), or
        the face of its own ``choice`` with the same edits."""
        with torch.inference_mode():
            return from_engine(self.generator.synthesis(self.edited_ws(params, choice), noise_mode="const"))

    def edited_ws(self, params: Params, choice: Optional[FaceChoice] = None) -> torch.Tensor:
        """The target W+ with every non-zero style-mixing slider mixed in, in preset order, then moved along
        every non-zero direction slider (value x range x the direction's step, on its layers)."""
        ws = self.latent_ws(self.target_key(params, choice))
        for preset in self.presets:
            strength = params.sliders.get(preset.name, 0.0)
            if preset.direction is None and strength > 0.0:
                ws = mix(ws, self.source_ws(preset, params), self.layers(preset), strength)
        for preset in self.presets:
            value = params.sliders.get(preset.name, 0.0)
            if preset.direction is not None and value != 0.0:
                ws = apply_direction(ws, self.direction_steps[preset.name], value * preset.direction.range,
                                     self.layers(preset))
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
        images, which this render uses too (why: ``app.projection.store``), so the face is the one in result.png.
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

    def _seed_ws(self, seed: int, psi: float) -> torch.Tensor:
        """seed -> truncated W+ (``seed_ws`` caches it: the mapping network runs once per seed and psi)."""
        return seed_to_ws(self.generator, seed, psi=psi, device=self.device)


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
        self._faces: Dict[tuple, PreparedFace] = {}                        # The faces shown now, by image key.
        self._track_faces: Dict[int, PreparedFace] = {}                    # What each face of its own shows now.
        self._handled = 0                    # The params version last handled.
        self._generating = False             # True while params are being handled.

    def run(self) -> None:
        self.consume(self.params, self.handle)

    def idle(self) -> bool:
        """True when no render runs and no newer params wait: when a background render (a direction preview)
        may use the device without delaying the live face."""
        return not self._generating and self.params.version <= self._handled

    def handle(self, version: int, params: Params) -> None:
        """``generate``, marked as running (``idle``)."""
        self._generating = True
        try:
            self.generate(version, params)
        finally:
            self._handled = version
            self._generating = False

    def generate(self, version: int, params: Params) -> None:
        """Publish everyone's face for ``params`` at once, then each face of its own as it is rendered."""
        face = self.face_for(params)
        if face is None:
            self._track_faces = {}
            self.output.put(GeneratedFace(params, version, None))
            return
        keys = {track: self.face_generator.image_key(params, choice) for track, choice in params.faces.items()}
        self._track_faces = {track: self._faces.get(keys[track]) or self._track_faces.get(track) or face
                             for track in keys}
        self.output.put(GeneratedFace(params, version, face, dict(self._track_faces)))
        for track, choice in sorted(params.faces.items()):
            if keys[track] in self._faces:
                continue
            if self.params.version > version:
                break                         # Newer params are waiting: they come first.
            self._track_faces[track] = self.face_for(params, choice)
            self.output.put(GeneratedFace(params, version, face, dict(self._track_faces)))
        shown = {self.face_generator.image_key(params), *keys.values()}
        self._faces = {key: kept for key, kept in self._faces.items() if key in shown}

    def face_for(self, params: Params, choice: Optional[FaceChoice] = None) -> Optional[PreparedFace]:
        """The face for ``params`` (or a face's own ``choice``): a kept one if its image key is unchanged, else
        a new render."""
        key = self.face_generator.image_key(params, choice)
        if key is None:
            return None
        if key not in self._faces:
            started = time.perf_counter()
            self._faces[key] = prepare_face(self.face_generator.render(params, choice))
            self.generation_ms.add((time.perf_counter() - started) * 1000)
            self.renders += 1
        return self._faces[key]
