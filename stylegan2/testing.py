"""Small random-weight generators for tests and benchmarks (never shown by the app).

A freshly constructed Generator has zero biases, zero noise strengths and a zero w_avg, so bugs in those
paths would go unnoticed; `make_random_generator` perturbs every parameter and buffer instead.
"""
from typing import Optional

import torch

from .networks import Generator

# The layout of NVIDIA's FFHQ-256 model (weights registry "ffhq-256"), for benchmarks with random weights.
FFHQ_256 = dict(resolution=256, z_dim=512, w_dim=512, mapping_layers=8, channel_base=16384, channel_max=512,
                num_fp16_res=4, conv_clamp=256)


def make_random_generator(
    resolution: int = 64,
    z_dim: int = 32,
    w_dim: int = 32,
    c_dim: int = 0,
    mapping_layers: int = 2,
    channel_base: int = 2048,
    channel_max: int = 64,
    num_fp16_res: int = 0,
    conv_clamp: Optional[float] = 256,
    seed: int = 0,
    **synthesis_kwargs,
) -> Generator:
    """A Generator in eval mode whose every weight, bias, noise strength, noise buffer and w_avg is random.

    Deterministic for a given seed. Defaults give a 64x64 model (10 ws) that renders in milliseconds.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = Generator(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=resolution, img_channels=3,
                      mapping_kwargs=dict(num_layers=mapping_layers),
                      synthesis_kwargs=dict(channel_base=channel_base, channel_max=channel_max,
                                            num_fp16_res=num_fp16_res, conv_clamp=conv_clamp, **synthesis_kwargs))
        with torch.no_grad():
            for name, tensor in list(G.named_parameters()) + list(G.named_buffers()):
                if name.endswith(("bias", "noise_strength", "w_avg")):
                    tensor.add_(0.2 * torch.randn(tensor.shape))
    return G.eval()
