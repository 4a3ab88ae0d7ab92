"""The direction preview sheet: each direction of a set on each face (a row per direction and face), at
a row of strengths (the columns), as one labelled grid. ``python -m app directions --preview`` writes one;
the live page asks for one (``app.studio.direction_previews``); each renders the cells its own way."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import torch

from app.studio.grids import GridCanvas
from stylegan2.studio.directions import DirectionSet

MAX_CELL = 256        # px per face at most: 10 directions x 3 faces of a 1024 px model would otherwise make a
                      # sheet of 30 x 7 megapixel faces


@dataclass
class DirectionSheet:
    """An empty labelled grid and the latent of each of its cells, row by row."""

    canvas: GridCanvas
    latents: torch.Tensor                 # [rows * columns, num_ws, w_dim]
    positions: List[Tuple[int, int]]      # (row, column) of each latent

    def put(self, index: int, bgr) -> None:
        """Place the rendered face of latent ``index`` in its cell."""
        self.canvas.put(*self.positions[index], bgr)


def direction_sheet(directions: DirectionSet, ws: torch.Tensor, strengths: Sequence[float],
                    face_labels: Sequence[str], resolution: int) -> DirectionSheet:
    """The sheet of ``directions`` on the faces ``ws`` [N, num_ws, w_dim] (labelled ``face_labels``, e.g.
    "seed 7") at ``strengths``, with cells of the model's ``resolution`` (at most MAX_CELL px)."""
    if len(face_labels) != len(ws):
        raise ValueError(f"{len(face_labels)} face labels for {len(ws)} faces")
    grid = directions.sweep(ws, strengths)
    labels = [f"{name}, {face}" for name in directions.names for face in face_labels]
    canvas = GridCanvas(grid.shape[0], grid.shape[1], min(resolution, MAX_CELL), labels,
                        [strength_label(strength) for strength in strengths])
    positions = [(row, column) for row in range(grid.shape[0]) for column in range(grid.shape[1])]
    return DirectionSheet(canvas, grid.flatten(0, 1), positions)


def strength_label(strength: float) -> str:
    """A column label: "-3", "-1.5", "0", "+1.5"."""
    return f"{strength:+g}" if strength else "0"
