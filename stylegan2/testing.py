"""Random-weight networks for tests and benchmarks (never shown by the app as a face).

A freshly constructed Generator has zero biases, zero noise strengths and a zero w_avg, so bugs in those
paths would go unnoticed; `make_random_generator` perturbs every parameter and buffer instead.
Random-weight generators make images far outside [-1, 1]; ``fit_output_range`` rescales their output
(exactly, through the ToRGB layers) so they look like a trained model's range, and ``make_target``
renders a target from a known latent with noise images the projector never sees.

``StandInLpips`` is a small random-weight stand-in for NVIDIA's TorchScript ``vgg16.pt``. It has the
real network's call signature and output convention (images in [0, 255]; with ``return_lpips=True``
one flat vector per image whose squared L2 distances are LPIPS-style distances: channel-normalised
features of several depths, weighted per channel, averaged over positions), so the projector and
``stylegan2.projection.perceptual.load_perceptual`` run exactly as with the real file. Its weights are
random: its distances are meaningful for tests and benchmarks, not as a measure of human perception.
"""
import copy
import warnings
from pathlib import Path
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import stylegan3
from .networks import Generator

# The layout of NVIDIA's FFHQ-256 model (weights registry "ffhq-256"), for benchmarks with random weights.
FFHQ_256 = dict(resolution=256, z_dim=512, w_dim=512, mapping_layers=8, channel_base=16384, channel_max=512,
                num_fp16_res=4, conv_clamp=256)

# StyleGAN3's configurations as NVIDIA's train.py sets them (--cfg stylegan3-t / stylegan3-r): R has 1x1
# convolutions and radial filters (and twice the channels, which each layout below spells out).
STYLEGAN3_CONFIGS = {
    "t": dict(),
    "r": dict(conv_kernel=1, use_radial_filters=True),
}
# The layouts of NVIDIA's StyleGAN3 FFHQ-U 256 px models (registry "stylegan3-t-ffhqu-256", "stylegan3-r-
# ffhqu-256"; the --cbase 16384, batch 64 settings of NVIDIA's configs.md), for benchmarks with random weights.
STYLEGAN3_FFHQU_256 = {
    "t": dict(resolution=256, z_dim=512, w_dim=512, channel_base=16384, channel_max=512),
    "r": dict(resolution=256, z_dim=512, w_dim=512, channel_base=32768, channel_max=1024),
}


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


def make_random_stylegan3(
    config: str = "t",
    resolution: int = 64,
    z_dim: int = 32,
    w_dim: int = 32,
    channel_base: int = 2048,
    channel_max: int = 64,
    seed: int = 0,
    **synthesis_kwargs,
) -> stylegan3.Generator:
    """A StyleGAN3 Generator (config "t" or "r") in eval mode with random biases, input transform, w_avg and
    input magnitudes, so that no path is trivially zero or one. Deterministic for a given seed; the
    defaults give a 64x64 model (16 ws) with the goldens' channels for config T.
    """
    if config not in STYLEGAN3_CONFIGS:
        raise ValueError(f"config must be one of {sorted(STYLEGAN3_CONFIGS)}, got {config!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = stylegan3.Generator(z_dim=z_dim, c_dim=0, w_dim=w_dim, img_resolution=resolution, img_channels=3,
                                channel_base=channel_base, channel_max=channel_max,
                                **STYLEGAN3_CONFIGS[config], **synthesis_kwargs)
        with torch.no_grad():
            for name, tensor in list(G.named_parameters()) + list(G.named_buffers()):
                if name.endswith(("bias", "w_avg", "input.affine.weight")):
                    tensor.add_(0.2 * torch.randn(tensor.shape))
                elif name.endswith("magnitude_ema"):
                    tensor.uniform_(0.5, 1.5)
    return G.eval()


SMALL_STAGES = ((16, 1), (32, 1), (64, 1))                                  # Fast: for tests.
VGG16_STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))             # VGG16's shape and cost.


class StandInStage(nn.Module):
    """3x3 conv + ReLU layers at one resolution, and the per-channel LPIPS weights of their output."""

    def __init__(self, in_channels: int, out_channels: int, num_convs: int, generator: torch.Generator):
        super().__init__()
        self.convs = nn.ModuleList()
        for index in range(num_convs):
            cin = in_channels if index == 0 else out_channels
            conv = nn.Conv2d(cin, out_channels, kernel_size=3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * (2 / (cin * 9)) ** 0.5)
                conv.bias.copy_(torch.randn(out_channels, generator=generator) * 0.1)
            self.convs.append(conv)
        self.register_buffer("lpips_weight", torch.rand(out_channels, generator=generator) + 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = F.relu(conv(x))
        return x

    def lpips_features(self, x: torch.Tensor) -> torch.Tensor:
        """Channel-normalised, weighted, position-averaged features, flattened (LPIPS's convention)."""
        unit = x / (x.square().sum(dim=1, keepdim=True) + 1e-10).sqrt()
        scaled = unit * self.lpips_weight.sqrt()[None, :, None, None] / float(x.shape[2] * x.shape[3]) ** 0.5
        return scaled.flatten(1)


class StandInLpips(nn.Module):
    """Conv stages separated by 2x pooling; LPIPS features taken at the end of every stage."""

    def __init__(self, stages=SMALL_STAGES, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        widths = [3] + [channels for channels, _ in stages]
        self.stages = nn.ModuleList([StandInStage(widths[index], channels, num_convs, generator)
                                     for index, (channels, num_convs) in enumerate(stages)])

    def forward(self, img: torch.Tensor, resize_images: bool = True, return_features: bool = False,
                return_lpips: bool = False) -> torch.Tensor:
        x = img / 127.5 - 1
        if resize_images:
            x = F.interpolate(x, size=(224, 224), mode="area")
        lpips_parts: List[torch.Tensor] = []
        for index, stage in enumerate(self.stages):
            if index > 0:
                x = F.max_pool2d(x, 2)
            x = stage(x)
            lpips_parts.append(stage.lpips_features(x))
        if return_lpips:
            return torch.cat(lpips_parts, dim=1)
        if return_features:
            return x.mean(dim=(2, 3))
        return x


def save_standin(path: Path, stages=SMALL_STAGES, seed: int = 0) -> Path:
    """Script the stand-in with ``torch.jit.script`` and save it where the real file would be loaded from.

    ``VGG16_STAGES`` gives VGG16's layer shapes (and cost) with random weights, for timing.
    """
    with warnings.catch_warnings():   # TorchScript is deprecated, but it is the format of the real file.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(StandInLpips(stages, seed).eval()).save(str(path))
    return Path(path)


def fit_output_range(G: torch.nn.Module, num_samples: int = 16, seed: int = 0) -> torch.nn.Module:
    """Scale G's output in place so that 99.5 % of the pixels of random images lie in [-1, 1].

    StyleGAN2's skip architecture's image is the sum of the ToRGB outputs, each linear in its weight and
    bias, so scaling those scales the image exactly; StyleGAN3 scales its last layer by `output_scale`.
    Returns G for chaining.
    """
    z = torch.randn(num_samples, G.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():     # one image at a time: a batch of 16 large StyleGAN3 images holds ~20 GB at once
        images = torch.cat([G.synthesis(G.mapping(one, None), noise_mode="const") for one in z.split(1)])
        scale = 1.0 / float(images.abs().flatten().quantile(0.995))
        if G.architecture == "stylegan3":
            G.synthesis.output_scale *= scale
            G.init_kwargs["output_scale"] = G.synthesis.output_scale     # so that a saved copy keeps it
        for name, module in G.named_modules():
            if name.endswith("torgb"):
                module.weight.mul_(scale)
                module.bias.mul_(scale)
    return G


def make_target(G: torch.nn.Module, seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """(target [1, 3, R, R] in [-1, 1], its true ws [1, num_ws, w_dim]) for z seed ``seed``.

    Rendered with fresh noise images (seeded by ``seed`` too), not G's stored ones, and clamped to
    [-1, 1] like any photo, so a projector cannot match it exactly by reusing G's noise.
    """
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(1, G.z_dim, generator=rng)
    renderer = copy.deepcopy(G)
    with torch.no_grad():
        ws = renderer.mapping(z, None)
        for name, buf in renderer.named_buffers():
            if name.endswith("noise_const"):
                buf.copy_(torch.randn(buf.shape, generator=rng))
        image = renderer.synthesis(ws, noise_mode="const").clamp(-1, 1)
    return image, ws
