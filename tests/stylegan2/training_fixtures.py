"""Toy training data and tiny training settings for the training tests (all written into tmp folders).

The toy dataset is coloured shapes (discs and squares of random colour, size and place on a dark
background): a distribution a tiny GAN can visibly learn in a few hundred CPU steps.
"""
from __future__ import annotations

import json
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch
from PIL import Image

from stylegan2.training.config import RunOptions

# A StyleGAN2 small enough for CPU tests: 32 channels at 4-16 px, 16 at 32 px.
TINY = dict(batch=8, z_dim=32, w_dim=32, mapping_layers=2, channel_base=512, channel_max=32, num_fp16_res=0,
            mbstd_group=4, augment="none")


def shape_images(count: int, resolution: int = 32, seed: int = 0) -> np.ndarray:
    """uint8 [count, R, R, 3]: a disc or a square of a bright random colour on a dark random background."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[:resolution, :resolution]
    images = np.empty([count, resolution, resolution, 3], dtype=np.uint8)
    for index in range(count):
        images[index] = rng.randint(0, 60, 3)
        x, y = rng.randint(resolution // 4, 3 * resolution // 4, 2)
        radius = rng.randint(resolution // 8, resolution // 4 + 1)
        if index % 2:
            mask = (xx - x) ** 2 + (yy - y) ** 2 < radius ** 2
        else:
            mask = (abs(xx - x) < radius) & (abs(yy - y) < radius)
        images[index][mask] = rng.randint(120, 256, 3)
    return images


def write_folder(folder: Path, images: np.ndarray, extension: str = ".png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, pixels in enumerate(images):
        Image.fromarray(pixels).save(folder / f"img{index:05d}{extension}")
    return folder


def write_zip(path: Path, images: np.ndarray, labels: Optional[Dict[str, object]] = None) -> Path:
    """A zip in dataset_tool's layout: 00000/img00000000.png, ... and dataset.json ({"labels": ...})."""
    names = [f"{index // 1000:05d}/img{index:08d}.png" for index in range(len(images))]
    with zipfile.ZipFile(path, "w") as archive:
        for name, pixels in zip(names, images):
            buffer = BytesIO()
            Image.fromarray(pixels).save(buffer, format="PNG")
            archive.writestr(name, buffer.getvalue())
        listed = [[name, labels[name]] for name in names] if labels is not None else None
        archive.writestr("dataset.json", json.dumps({"labels": listed}))
    return path


class FlipPipe(torch.nn.Module):
    """The smallest augmentation pipeline with ADA's interface: flips each image left-right with probability p."""

    def __init__(self):
        super().__init__()
        self.register_buffer("p", torch.zeros([]))
        self.calls = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        flip = torch.rand([images.shape[0], 1, 1, 1], device=images.device) < self.p
        return torch.where(flip, images.flip(3), images)


def run_options(data: Path, out_dir: Path, total_kimg: float, **kwargs) -> RunOptions:
    """RunOptions for a CPU test: no worker processes, no grids unless asked."""
    settings = dict(device="cpu", num_workers=0, grid_kimg=None, snapshot_kimg=None, tick_kimg=total_kimg)
    settings.update(kwargs)
    return RunOptions(data=data, out_dir=out_dir, total_kimg=total_kimg, **settings)
