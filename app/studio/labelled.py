"""Labelled directions without manual search: sample faces, measure them, fit a direction per measure.

The generator renders `samples` random faces (a reproducible stream from `seed`), `FaceMeasurer`
measures each (`app.studio.measurements`), and `stylegan2.studio.labelled_directions` fits a direction
in W per measure and reports how well it predicts the measure on faces it was not fitted on. What
comes out is a directions file whose names ("smile", "yaw", "hair brightness", ...) a page can offer as
sliders, best held-out correlation first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional

import torch

from app.images import all_from_engine
from app.studio.measurements import MEASURES, FaceMeasurer
from stylegan2.studio.directions import DirectionSet
from stylegan2.studio.labelled_directions import fit_directions
from stylegan2.studio.rendering import iter_batches
from stylegan2.studio.sampling import sample_ws

ProgressFn = Callable[[int, int], None]      # (faces measured, faces in all)


@dataclass
class LabelledDirections:
    """The fitted directions (None if no measure could be fitted), why each other measure was left out,
    and how many faces each measure was taken on."""

    directions: Optional[DirectionSet]
    skipped: Dict[str, str]
    measured: Dict[str, int]


def measure_faces(G: torch.nn.Module, ws: torch.Tensor, measurer: FaceMeasurer, batch_size: int = 8,
                  progress: Optional[ProgressFn] = None) -> Dict[str, torch.Tensor]:
    """{measure: values [N] (NaN where it could not be taken)} of the faces ws [N, num_ws, w_dim] show."""
    values = {name: torch.full((len(ws),), float("nan"), dtype=torch.float64) for name in MEASURES}
    for start, images in iter_batches(G, ws, batch_size):
        for offset, bgr in enumerate(all_from_engine(images)):
            for name, value in measurer.measure_generated(bgr).items():
                values[name][start + offset] = value
        if progress is not None:
            progress(start + len(images), len(ws))
    return values


def find_labelled_directions(G: torch.nn.Module, measurer: FaceMeasurer, samples: int = 1000,
                             layers: slice = slice(None), method: str = "ridge", psi: float = 0.7,
                             seed: int = 0, alpha: float = 0.1, batch_size: int = 8,
                             progress: Optional[ProgressFn] = None) -> LabelledDirections:
    """Render `samples` faces (truncated by `psi`), measure them, fit a direction per measure on `layers`."""
    ws = sample_ws(G, samples, seed=seed, psi=psi)
    measures = measure_faces(G, ws, measurer, batch_size, progress)
    measured = {name: int(torch.isfinite(values).sum()) for name, values in measures.items()}
    directions, skipped = fit_directions(ws[:, 0], measures, layers, G.num_ws, method=method, alpha=alpha,
                                         seed=seed)
    if directions is not None:
        directions.meta.update(samples=samples, sample_seed=seed, psi=psi, measured=measured)
    return LabelledDirections(directions, skipped, measured)
