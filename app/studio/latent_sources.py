"""What the studio commands accept as faces: seed lists ("1-8,42") and saved projections, by name or folder.

An item made of digits only (or a range of them, "3-7") is a seed; anything else names a saved
projection (a name in the projections folder, or a projection folder / its latent.pt). Projections are
loaded by a function given to `LatentResolver` (by default `StoredProjections`, which opens the
projections folder at first use), so the resolver does not depend on where the store lives.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

import torch

from app.projection.store import ProjectionStore, ProjectionUnavailable, default_projections_dir
from stylegan2.latents import seed_to_z
from stylegan2.studio.sampling import seeds_to_ws

SEED_MAX = 2 ** 32 - 1
MAX_ITEMS = 10000        # seeds in one list: a typo like 1-100000000 fails at once instead of filling memory
SEED_ITEM = re.compile(r"(\d+)(?:-(\d+))?")
ProjectionLoader = Callable[[str], torch.Tensor]     # projection name or folder -> ws [1, num_ws, w_dim]


@dataclass(frozen=True)
class LatentSpec:
    """One face: a seed or a saved projection."""

    seed: Optional[int] = None
    projection: Optional[str] = None

    @property
    def label(self) -> str:
        return f"seed {self.seed}" if self.seed is not None else Path(self.projection).name


def parse_seeds(text: str) -> List[int]:
    """ "1-8,42" -> [1, 2, ..., 8, 42]; ValueError saying what was expected for anything else."""
    specs = parse_latents(text)
    projections = [spec.projection for spec in specs if spec.seed is None]
    if projections:
        raise ValueError(f"expected seeds such as 1-8,42, got {projections[0]!r}")
    return [spec.seed for spec in specs]


def parse_latents(text: str) -> List[LatentSpec]:
    """A comma-separated list of seeds, seed ranges ("3-7") and projections (see the module docstring)."""
    items = [item.strip() for item in str(text).split(",")]
    if not any(items) or not all(items):
        raise ValueError(f"expected a comma-separated list such as 1-8,42 or 7,me, got {text!r}")
    specs: List[LatentSpec] = []
    for item in items:
        match = SEED_ITEM.fullmatch(item)
        if match is None:
            specs.append(LatentSpec(projection=item))
            continue
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last > SEED_MAX:
            raise ValueError(f"seeds go up to {SEED_MAX}, got {item!r}")
        if last < first:
            raise ValueError(f"the seed range {item!r} runs backwards: write {last}-{first}")
        if len(specs) + last - first + 1 > MAX_ITEMS:
            raise ValueError(f"{text!r} names more than {MAX_ITEMS} faces")
        specs.extend(LatentSpec(seed=seed) for seed in range(first, last + 1))
    return specs


class StoredProjections:
    """A ProjectionLoader over the projections folder (the live app's by default) for generator G: a
    projection by name, or a projection folder or its latent.pt made with G's weights. Raises
    ProjectionUnavailable saying why one cannot be used."""

    def __init__(self, G: torch.nn.Module, projections_dir: Optional[str] = None) -> None:
        self.G = G
        self.root = Path(projections_dir) if projections_dir else default_projections_dir()
        self._store: Optional[ProjectionStore] = None

    @property
    def store(self) -> ProjectionStore:
        """Opened at first use: opening fingerprints every weight of the generator."""
        if self._store is None:
            self._store = ProjectionStore(self.root, self.G)
        return self._store

    def __call__(self, spec: str) -> torch.Tensor:
        return self.store.latent(spec)


class LatentResolver:
    """Turns LatentSpecs into latents for one generator: seeds truncated by `psi`, projections as saved."""

    def __init__(self, G: torch.nn.Module, load_projection: ProjectionLoader, psi: float = 1.0,
                 cutoff: Optional[int] = None) -> None:
        self.G = G
        self.load_projection = load_projection
        self.psi = psi
        self.cutoff = cutoff

    def ws(self, specs: List[LatentSpec]) -> torch.Tensor:
        """W+ latents [len(specs), num_ws, w_dim] (CPU), seeds mapped in one batch."""
        seeds = [spec.seed for spec in specs if spec.seed is not None]
        seed_ws = iter(seeds_to_ws(self.G, seeds, self.psi, self.cutoff)) if seeds else iter(())
        rows = [next(seed_ws) if spec.seed is not None else self._projection(spec.projection)[0] for spec in specs]
        return torch.stack(rows)

    def z(self, spec: LatentSpec) -> torch.Tensor:
        """z [1, z_dim] of a seed; a projection has none (it was fitted in W)."""
        if spec.seed is None:
            raise ProjectionUnavailable(f"projection '{spec.label}' has no z (projections are fitted in W); "
                                        f"interpolate in W, or between seeds")
        return seed_to_z(spec.seed, self.G.z_dim)

    def _projection(self, spec: str) -> torch.Tensor:
        ws = self.load_projection(spec).to("cpu", torch.float32)
        if tuple(ws.shape) != (1, self.G.num_ws, self.G.w_dim):
            raise ProjectionUnavailable(f"projection '{spec}' holds a latent {list(ws.shape)}, this model needs "
                                        f"[1, {self.G.num_ws}, {self.G.w_dim}]")
        return ws
