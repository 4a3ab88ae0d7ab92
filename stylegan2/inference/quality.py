"""How close a rendering is to a reference rendering of the same latents (fp32 PyTorch): the measures
that decide whether a faster precision or backend may stand in for it."""
from __future__ import annotations

import math
from typing import Dict

import torch

IMAGE_RANGE = 2.0    # Generator images span [-1, 1]: the peak of PSNR.


def psnr(image: torch.Tensor, reference: torch.Tensor, peak: float = IMAGE_RANGE) -> float:
    """Peak signal-to-noise ratio in dB of ``image`` against ``reference`` (inf where they are equal)."""
    if image.shape != reference.shape:
        raise ValueError(f"images of different shapes: {list(image.shape)} and {list(reference.shape)}")
    mse = float((image.float() - reference.float()).square().mean())
    return math.inf if mse == 0 else 10 * math.log10(peak ** 2 / mse)


def compare(image: torch.Tensor, reference: torch.Tensor) -> Dict[str, float]:
    """{"psnr_db", "max_abs_diff"} of ``image`` against ``reference``."""
    return {"psnr_db": psnr(image, reference),
            "max_abs_diff": float((image.float() - reference.float()).abs().max())}
