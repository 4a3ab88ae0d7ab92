"""Transitions between two faces: frame sequences in W (linear) or Z (spherical), and the midpoint.

W is where StyleGAN's faces change most evenly, so a straight line there is the usual transition, and it
works for projections too (which have only a w). A seed also has a z; in Z the Gaussian samples lie near
a sphere, so the path follows the sphere (`latents.slerp`) and each frame goes through the mapping.

A looped sequence goes there and back: frame 0 is the start, frame `frames // 2` the end (exactly, for
an even count), and the last frame one step before the start, so that a GIF played in a loop neither
jumps nor shows the start twice. An open sequence runs from the start (frame 0) to the end (last frame).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..latents import interpolate, slerp
from .sampling import map_z, truncate


def frame_times(frames: int, loop: bool = True) -> torch.Tensor:
    """The interpolation parameter t in [0, 1] of each frame, float64 [frames] (see the module docstring)."""
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 2:
        raise ValueError(f"a transition needs at least 2 frames, got {frames!r}")
    index = np.arange(frames, dtype=np.float64)
    if loop:
        times = 1 - np.abs(1 - 2 * index / frames)
    else:
        times = index / (frames - 1)
    return torch.from_numpy(times)


def w_transition(w_start: torch.Tensor, w_end: torch.Tensor, frames: int, loop: bool = True) -> torch.Tensor:
    """Latents [frames, num_ws, w_dim] on the straight line from `w_start` to `w_end` ([1, num_ws, w_dim] each)."""
    _check_single("w_start", w_start)
    _check_single("w_end", w_end)
    times = frame_times(frames, loop).to(w_start.dtype).reshape(-1, 1, 1)
    return interpolate(w_start, w_end.to(w_start.dtype), times)


def z_transition(G: torch.nn.Module, z_start: torch.Tensor, z_end: torch.Tensor, frames: int, loop: bool = True,
                 psi: float = 1.0, cutoff: Optional[int] = None) -> torch.Tensor:
    """Latents [frames, num_ws, w_dim] of the spherical path from `z_start` to `z_end` ([1, z_dim] each),
    each frame mapped and truncated by `psi` on the first `cutoff` layers."""
    for name, z in (("z_start", z_start), ("z_end", z_end)):
        if not isinstance(z, torch.Tensor) or tuple(z.shape) != (1, G.z_dim):
            raise ValueError(f"{name} must be one z [1, {G.z_dim}], got {getattr(z, 'shape', z)}")
    z_path = torch.cat([slerp(z_start.double(), z_end.double(), float(t)) for t in frame_times(frames, loop)])
    return truncate(G, map_z(G, z_path.float()), psi, cutoff)


def midpoint(w_a: torch.Tensor, w_b: torch.Tensor) -> torch.Tensor:
    """(w_a + w_b) / 2: the face "between" two faces, the feature mixing of the projects StyleCam grew from."""
    if w_a.shape != w_b.shape:
        raise ValueError(f"cannot average latents of shapes {list(w_a.shape)} and {list(w_b.shape)}")
    return (w_a + w_b.to(w_a.dtype)) / 2


def _check_single(name: str, w: torch.Tensor) -> None:
    if not isinstance(w, torch.Tensor) or w.ndim != 3 or w.shape[0] != 1:
        raise ValueError(f"{name} must be one W+ latent [1, num_ws, w_dim], got {getattr(w, 'shape', w)}")
