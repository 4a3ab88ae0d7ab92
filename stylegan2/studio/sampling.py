"""Latents for many faces at once: seeds in one mapping batch, random samples, truncation and its sweep.

Seeds become z exactly as `stylegan2.latents.seed_to_z` makes them (NumPy's RandomState, the same on
every device), so seed 42 here is seed 42 in the live app and in NVIDIA's generate.py.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from ..latents import seed_to_z

MAPPING_BATCH = 4096   # z per mapping call when sampling many: bounds the memory of the hidden layers.


def seeds_to_ws(G: torch.nn.Module, seeds: Sequence[int], psi: float = 1.0, cutoff: Optional[int] = None,
                ) -> torch.Tensor:
    """W+ latents [len(seeds), num_ws, w_dim] of the seeds, truncated by `psi` on the first `cutoff` layers.

    The same as `latents.seed_to_ws` for each seed, mapped in one batch (equal to float rounding).
    """
    if len(seeds) == 0:
        raise ValueError("no seeds given")
    z = torch.cat([seed_to_z(seed, G.z_dim) for seed in seeds])
    return truncate(G, map_z(G, z), psi, cutoff)


def sample_ws(G: torch.nn.Module, count: int, seed: int = 0, psi: float = 1.0, cutoff: Optional[int] = None,
              ) -> torch.Tensor:
    """`count` random W+ latents [count, num_ws, w_dim] from one NumPy stream seeded by `seed` (reproducible)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    z = torch.from_numpy(np.random.RandomState(seed).randn(count, G.z_dim)).to(torch.float32)
    return truncate(G, map_z(G, z), psi, cutoff)


def map_z(G: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Untruncated ws [N, num_ws, w_dim] (CPU, float32) of z [N, z_dim], mapped MAPPING_BATCH at a time."""
    device = next(G.parameters()).device
    parts = []
    with torch.inference_mode():
        for start in range(0, z.shape[0], MAPPING_BATCH):
            parts.append(G.mapping(z[start:start + MAPPING_BATCH].to(device), None).to("cpu", torch.float32))
    return torch.cat(parts).clone()     # a normal tensor again, which callers may edit in place


def truncate(G: torch.nn.Module, ws: torch.Tensor, psi: float, cutoff: Optional[int] = None) -> torch.Tensor:
    """Pull the first `cutoff` layers (all if None) of ws toward w_avg: w_avg + psi * (w - w_avg), as the
    mapping network does; psi may be any number (negative psi gives the "anti-face" past the average)."""
    if psi == 1:
        return ws
    w_avg = getattr(G.mapping, "w_avg", None)
    if w_avg is None:
        raise ValueError("truncation needs w_avg, but this generator's mapping network does not track it")
    cutoff = G.num_ws if cutoff is None else cutoff
    if not 0 <= cutoff <= G.num_ws:
        raise ValueError(f"the truncation cutoff must lie in 0..{G.num_ws}, got {cutoff}")
    truncated = ws.clone()
    truncated[:, :cutoff] = w_avg.to(ws.device, ws.dtype).lerp(ws[:, :cutoff], float(psi))
    return truncated


def truncation_sweep(G: torch.nn.Module, seeds: Sequence[int], psis: Sequence[float],
                     cutoff: Optional[int] = None) -> torch.Tensor:
    """Latents [len(seeds), len(psis), num_ws, w_dim]: each seed (a row) at each truncation psi (a column)."""
    if len(psis) == 0:
        raise ValueError("no truncation values given")
    ws = seeds_to_ws(G, seeds)
    return torch.stack([truncate(G, ws, psi, cutoff) for psi in psis], dim=1)
