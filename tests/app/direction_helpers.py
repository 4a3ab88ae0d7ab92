"""Directions files and presets files with direction sliders, for the tests of the live app and the page:
made for a given (random-weight) generator, with fixed random directions and scales that are not 1."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch

from stylegan2.studio.directions import DirectionSet, save_directions


def write_directions(folder: Path, G, names: Sequence[str] = ("smile", "age"), layers: slice = slice(0, 4),
                     file_name: str = "traits.pt", w_dim: int = None, num_ws: int = None) -> Path:
    """A directions file of ``names`` for G (or for ``w_dim`` / ``num_ws`` given in its place)."""
    w_dim = w_dim or G.w_dim
    vectors = torch.randn(len(names), w_dim, generator=torch.Generator().manual_seed(7))
    scales = torch.linspace(0.5, 2.0, len(names))
    path = folder / file_name
    save_directions(DirectionSet(vectors, list(names), layers, num_ws or G.num_ws, scales=scales, method="pca"),
                    path)
    return path


def write_presets(folder: Path, *entries: dict, num_ws: int = 14) -> Path:
    """A presets file of ``entries`` in ``folder``."""
    path = folder / "presets.json"
    path.write_text(json.dumps({"num_ws": num_ws, "presets": list(entries)}))
    return path


MIX_ENTRY = {"name": "hair", "label": "Hair colour", "layers": "6:13"}
SMILE_ENTRY = {"name": "smile_found", "label": "Smile (found)", "kind": "direction", "directions": "traits.pt",
               "direction": "smile", "range": 2.5}
