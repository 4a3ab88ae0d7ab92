"""Latent operations the app and the CLI are built on: seeds, style mixing, interpolation, layer ranges.

W+ latents are tensors [N, num_ws, w_dim]: one w per synthesis layer. Index i of a StyleGAN2 W+ latent
drives these layers (the "skip" architecture shares one w between a block's ToRGB and the next block's
upsampling conv):

    index 0      b4.conv1                  index 1      b4.torgb,  b8.conv0
    index 2      b8.conv1                  index 3      b8.torgb,  b16.conv0      ...
    index 2k     conv1 at 4 * 2**k         index 2k+1   torgb at 4 * 2**k, conv0 at 4 * 2**(k+1)

`layer_resolutions` names each index by the lowest resolution it touches, 4 * 2**(i // 2), so that indices
come in pairs per resolution: [4, 4, 8, 8, ..., R, R] for a model of resolution R (num_ws = 2*log2(R) - 2).

A StyleGAN3 W+ latent has one w per layer: index 0 drives the Fourier-feature input, index i + 1 the
layer `G.synthesis.layer_names[i]`, the last one ToRGB (num_ws = 16 for every released model). A StyleGAN2
block of resolution r holds frequencies up to r / 2, so a StyleGAN3 layer whose output is band-limited to
the cutoff frequency f corresponds to resolution 2 f; `layer_resolutions` rounds that down to a power of
two: [4, 4, 4, 8, 8, 16, 16, 32, 32, 64, 64, 128, 128, 256, 256, 256] at 256 px (its layers work on finer
pixel grids, with margins, to stay alias-free). These functions take the generator to tell the two
apart; a bare num_ws means StyleGAN2's layout. Layer ranges move between models with `scale_layers`.
"""
import math
from typing import List, Optional, Union

import numpy as np
import torch

from .networks import Generator
from .stylegan3 import Generator as StyleGAN3Generator

AnyGenerator = Union[Generator, StyleGAN3Generator]


def seed_to_z(seed: int, z_dim: int) -> torch.Tensor:
    """z [1, z_dim] float32 from NumPy's RandomState(seed), as NVlabs generate.py: identical on every device."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 32:
        raise ValueError(f"seed must be an integer in [0, 2**32 - 1], got {seed!r}")
    if z_dim <= 0:
        raise ValueError(f"z_dim must be positive, got {z_dim}")
    return torch.from_numpy(np.random.RandomState(int(seed)).randn(1, z_dim)).to(torch.float32)


def seed_to_ws(G: AnyGenerator, seed: int, psi: float = 1.0, cutoff: Optional[int] = None,
               device: Optional[Union[str, torch.device]] = None, c: Optional[torch.Tensor] = None,
               ) -> torch.Tensor:
    """The W+ latent [1, num_ws, w_dim] of a seed, truncated by `psi` on the first `cutoff` layers (all if None).

    `device` defaults to the generator's; `c` is the class label of a conditional model.
    """
    if device is None:
        device = next(G.parameters()).device
    z = seed_to_z(seed, G.z_dim).to(device)
    with torch.no_grad():
        return G.mapping(z, None if c is None else c.to(device), truncation_psi=psi, truncation_cutoff=cutoff)


def mix(w_target: torch.Tensor, w_source: torch.Tensor, layers: slice, strength: float = 1.0) -> torch.Tensor:
    """Move the W+ layers `layers` of the target toward the source by `strength` in [0, 1].

    Other layers are returned unchanged; strength 1 copies the source's layers exactly. A source batch of
    one is applied to every target in the batch. Returns a new tensor (differentiable).
    """
    _check_wplus("w_target", w_target)
    _check_wplus("w_source", w_source)
    if w_source.shape[1:] != w_target.shape[1:] or w_source.shape[0] not in (1, w_target.shape[0]):
        raise ValueError(f"w_source {list(w_source.shape)} does not match w_target {list(w_target.shape)}")
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= 1:
        raise ValueError(f"strength must be a number in [0, 1], got {strength!r}")
    start, stop = _check_slice(layers, w_target.shape[1])
    mixed = w_target.clone()
    source = w_source[:, start:stop].to(w_target.dtype).expand_as(mixed[:, start:stop])
    mixed[:, start:stop] = torch.lerp(w_target[:, start:stop], source, float(strength))
    return mixed


def interpolate(w0: torch.Tensor, w1: torch.Tensor, t: Union[float, torch.Tensor]) -> torch.Tensor:
    """Linear interpolation in W (or W+): w0 at t=0, w1 at t=1; t may be a tensor that broadcasts."""
    if w0.shape != w1.shape:
        raise ValueError(f"cannot interpolate between shapes {list(w0.shape)} and {list(w1.shape)}")
    return torch.lerp(w0, w1, t if isinstance(t, torch.Tensor) else float(t))


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation of z latents [N, z_dim], which keeps the norm typical of Gaussian samples."""
    if z0.shape != z1.shape or z0.ndim != 2:
        raise ValueError(f"expected two z of the same shape [N, z_dim], got {list(z0.shape)}, {list(z1.shape)}")
    cos = torch.nn.functional.cosine_similarity(z0, z1, dim=1).clamp(-1, 1).unsqueeze(1)
    angle = torch.acos(cos)
    sin = torch.sin(angle)
    nearly_parallel = sin.abs() < 1e-6
    safe_sin = torch.where(nearly_parallel, torch.ones_like(sin), sin)
    spherical = (torch.sin((1 - t) * angle) * z0 + torch.sin(t * angle) * z1) / safe_sin
    return torch.where(nearly_parallel, torch.lerp(z0, z1, float(t)), spherical)


def layer_roles(G_or_num_ws: Union[AnyGenerator, int]) -> List[List[str]]:
    """For each W+ index, the synthesis layers it drives, e.g. ['b4.torgb', 'b8.conv0'] for StyleGAN2's
    index 1; ['input'], then one layer each (['L0_36_512'], ...) for StyleGAN3."""
    if isinstance(G_or_num_ws, StyleGAN3Generator):
        return [["input"]] + [[name] for name in G_or_num_ws.synthesis.layer_names]
    num_ws = _num_ws(G_or_num_ws)
    roles = []
    for index in range(num_ws):
        res = 4 * 2 ** (index // 2)
        if index % 2 == 0:
            roles.append([f"b{res}.conv1"])
        else:
            roles.append([f"b{res}.torgb"] + ([f"b{res * 2}.conv0"] if index < num_ws - 1 else []))
    return roles


def layer_resolutions(G_or_num_ws: Union[AnyGenerator, int]) -> List[int]:
    """For each W+ index, the lowest resolution it drives: [4, 4, 8, 8, ..., R, R] for StyleGAN2; for
    StyleGAN3 the StyleGAN2 resolution of the same frequency band (see the module docstring)."""
    if isinstance(G_or_num_ws, StyleGAN3Generator):
        synthesis = G_or_num_ws.synthesis
        bands = [synthesis.input.bandwidth] + [getattr(synthesis, name).out_cutoff for name in synthesis.layer_names]
        return [2 ** math.floor(math.log2(2 * band) + 1e-9) for band in bands]
    return [4 * 2 ** (index // 2) for index in range(_num_ws(G_or_num_ws))]


def parse_layers(text: str, num_ws: Optional[int] = None) -> slice:
    """Parse a layer range "start:stop" (either side may be empty) or a single index "i" into a slice.

    With `num_ws`, empty ends become 0 / num_ws and the range must lie within it.
    """
    parts = str(text).strip().split(":")
    if len(parts) > 2 or not all(part.strip() == "" or part.strip().isdigit() for part in parts):
        raise ValueError(f"layers must look like '7:14', ':4', '8:' or '5', got {text!r}")
    if len(parts) == 1:
        if not parts[0].strip():
            raise ValueError("layers must not be empty")
        start = int(parts[0])
        layers = slice(start, start + 1)
    else:
        start, stop = (int(part) if part.strip() else None for part in parts)
        layers = slice(start, stop)
    if num_ws is not None:
        return slice(*_check_slice(layers, num_ws))
    if layers.start is not None and layers.stop is not None and layers.start >= layers.stop:
        raise ValueError(f"layer range {text!r} is empty: start must be below stop")
    return layers


def scale_layers(layers: slice, from_num_ws: int, to_num_ws: int) -> slice:
    """Map a layer range tuned on a model with `from_num_ws` layers proportionally onto `to_num_ws` layers.

    For example 7:14 of a 256px model (14 ws) becomes 9:18 at 1024px (18 ws) and 5:10 at 64px (10 ws).
    The result always keeps at least one layer.
    """
    start, stop = _check_slice(layers, from_num_ws)
    if to_num_ws <= 0:
        raise ValueError(f"to_num_ws must be positive, got {to_num_ws}")
    new_start = min(math.floor(start * to_num_ws / from_num_ws + 0.5), to_num_ws - 1)
    new_stop = max(math.floor(stop * to_num_ws / from_num_ws + 0.5), new_start + 1)
    return slice(new_start, new_stop)


def _num_ws(G_or_num_ws: Union[Generator, int]) -> int:
    """StyleGAN2's num_ws, from the generator or given: an even number >= 2."""
    num_ws = G_or_num_ws if isinstance(G_or_num_ws, int) else getattr(G_or_num_ws, "num_ws", None)
    if not isinstance(num_ws, int) or num_ws < 2 or num_ws % 2:
        raise ValueError(f"expected a Generator or an even num_ws >= 2, got {G_or_num_ws!r}")
    return num_ws


def _check_wplus(name: str, w: torch.Tensor) -> None:
    if not isinstance(w, torch.Tensor) or w.ndim != 3:
        shape = list(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
        raise ValueError(f"{name} must be a W+ latent [N, num_ws, w_dim], got {shape}")


def _check_slice(layers: slice, num_ws: int) -> tuple:
    """Resolve a slice against num_ws; it must be a non-empty, step-1 range inside [0, num_ws]."""
    if not isinstance(layers, slice) or layers.step not in (None, 1):
        raise ValueError(f"layers must be a slice with step 1 (e.g. slice(7, 14)), got {layers!r}")
    start = 0 if layers.start is None else layers.start
    stop = num_ws if layers.stop is None else layers.stop
    if not (isinstance(start, int) and isinstance(stop, int) and 0 <= start < stop <= num_ws):
        raise ValueError(f"layers {start}:{stop} must be a non-empty range within 0:{num_ws}")
    return start, stop
