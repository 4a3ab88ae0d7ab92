"""Sample grids: a run's training images (reals.png) and its generator's progress (fakes000200.png)."""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Tuple, Union

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Generator output in [-1, 1] -> uint8 [N, H, W, C], as NVIDIA's grids round it."""
    pixels = (images.detach().float().cpu() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).numpy()


def save_grid(pixels: np.ndarray, path: Union[str, Path], grid: Tuple[int, int]) -> Path:
    """Tile uint8 images [N, H, W, C] (C = 1 or 3) into `grid` = (columns, rows) and write a PNG atomically.

    Missing cells (fewer images than the grid holds) stay black.
    """
    columns, rows = grid
    count, height, width, channels = pixels.shape
    canvas = np.zeros([rows * height, columns * width, channels], dtype=np.uint8)
    for index in range(min(count, columns * rows)):
        row, column = divmod(index, columns)
        canvas[row * height:(row + 1) * height, column * width:(column + 1) * width] = pixels[index]
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        Image.fromarray(canvas[:, :, 0] if channels == 1 else canvas).save(temporary, format="PNG")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
