"""Check a discriminator's constructor settings, and count the numbers of the network they describe, before it is built.

A discriminator is built from its settings before its weights are compared with it, just as a generator
is, so an NVIDIA pickle's `D` (or the settings inferred from a rosinality checkpoint's `d`) could ask
for a 32768 px network of 2**20 channels. The schema here states `discriminator.Discriminator`'s
arguments with settings.py's checks and the same bounds as the generator's; unknown settings are
refused by name (NVIDIA's blocks take only these, and a name StyleCam does not know would change what
the network computes). `discriminator_size` counts its parameters and buffers, the arithmetic of
discriminator.py in a few lines; tests hold it equal to the real count.
"""
from __future__ import annotations

from typing import Any, Dict

from ..discriminator import ARCHITECTURES
from .settings import (
    DEFAULT_FILTER_SIZE,
    MAX_FILTER_TAPS,
    MAX_IMAGE_CHANNELS,
    MAX_MAPPING_LAYERS,
    MAX_RESOLUTION,
    MAX_WIDTH,
    WIDTH,
    SettingsError,
    boolean,
    group,
    integer,
    linear_size,
    mapping_size,
    number,
    one_of,
    optional,
    power_of_two,
    sequence,
    text,
)

MAX_FROZEN_LAYERS = 1024    # Freeze-D counts layers; a 2048 px discriminator has 37
MAX_MBSTD_GROUP = 1024      # images per minibatch-std group; NVIDIA's configs use 4 to 32
MAX_MBSTD_CHANNELS = 64     # NVIDIA's use 1

# The settings DiscriminatorBlock, DiscriminatorEpilogue and the label's MappingNetwork take from their
# *_kwargs (the others are given by the Discriminator itself). NVIDIA's converted TensorFlow pickles
# record a mapping network of 0 layers for unconditional discriminators.
BLOCK_SETTINGS = group({
    "activation": text,
    "resample_filter": sequence(number(-1e9, 1e9), MAX_FILTER_TAPS),
    "fp16_channels_last": boolean,
    "freeze_layers": integer(0, MAX_FROZEN_LAYERS),
})
MAPPING_SETTINGS = group({
    "num_layers": integer(0, MAX_MAPPING_LAYERS),
    "embed_features": optional(WIDTH),
    "layer_features": optional(WIDTH),
    "activation": text,
    "lr_multiplier": number(1e-9, 1e9),
})
EPILOGUE_SETTINGS = group({
    "mbstd_group_size": optional(integer(1, MAX_MBSTD_GROUP)),
    "mbstd_num_channels": integer(0, MAX_MBSTD_CHANNELS),
    "activation": text,
})
DISCRIMINATOR_SETTINGS = group({
    "c_dim": integer(0, MAX_WIDTH),
    "img_resolution": power_of_two(8, MAX_RESOLUTION),
    "img_channels": integer(1, MAX_IMAGE_CHANNELS),
    "architecture": one_of(*ARCHITECTURES),
    "channel_base": integer(1, MAX_WIDTH * MAX_RESOLUTION),
    "channel_max": WIDTH,
    "num_fp16_res": integer(0, 16),
    "conv_clamp": optional(number(0, 1e9)),
    "cmap_dim": optional(WIDTH),
    "block_kwargs": optional(BLOCK_SETTINGS),
    "mapping_kwargs": optional(MAPPING_SETTINGS),
    "epilogue_kwargs": optional(EPILOGUE_SETTINGS),
}, required=("c_dim", "img_resolution", "img_channels"))


def check_discriminator_settings(init_kwargs: Any) -> Dict[str, Any]:
    """The Discriminator's init_kwargs as plain, bounded Python data giving every resolution a channel;
    else SettingsError."""
    settings = DISCRIMINATOR_SETTINGS(init_kwargs, "")
    base, resolution = settings.get("channel_base", 32768), settings["img_resolution"]
    if base < resolution:
        raise SettingsError(f"channel_base {base} leaves no channels at {resolution} px (widths are "
                            f"channel_base // resolution)")
    return settings


def discriminator_size(settings: Dict[str, Any]) -> int:
    """Numbers (parameters and buffers) of the Discriminator that checked `settings` describe."""
    resolution, img_channels = settings["img_resolution"], settings["img_channels"]
    architecture = settings.get("architecture", "resnet")
    base, most = settings.get("channel_base", 32768), settings.get("channel_max", 512)
    widths = {2 ** i: min(base // 2 ** i, most) for i in range(2, resolution.bit_length())}
    block = settings.get("block_kwargs") or {}
    epilogue = settings.get("epilogue_kwargs") or {}
    filter_size = len(block.get("resample_filter", [1, 3, 3, 1])) ** 2

    def conv(width_in: int, width_out: int, kernel: int, taps: int = DEFAULT_FILTER_SIZE, bias: bool = True) -> int:
        """A Conv2dLayer: its resample_filter, weight and bias."""
        return taps + width_out * width_in * kernel * kernel + (width_out if bias else 0)

    total = 0
    for res in (res for res in widths if res > 4):
        width, width_out = widths[res], widths[res // 2]
        total += filter_size + conv(width, width, 3) + conv(width, width_out, 3, filter_size)
        if res == resolution or architecture == "skip":
            total += conv(img_channels, width, 1)
        if architecture == "resnet":
            total += conv(width, width_out, 1, filter_size, bias=False)

    width, mbstd = widths[4], epilogue.get("mbstd_num_channels", 1)
    c_dim = settings["c_dim"]
    cmap_dim = 0 if c_dim == 0 else (settings.get("cmap_dim") or width)
    total += conv(width + mbstd, width, 3) + linear_size(width * 16, width) + linear_size(width, cmap_dim or 1)
    if architecture == "skip":
        total += conv(img_channels, width, 1)
    if c_dim > 0:
        mapping = settings.get("mapping_kwargs") or {}
        total += mapping_size(0, c_dim, cmap_dim, mapping.get("num_layers", 8), mapping.get("embed_features"),
                              mapping.get("layer_features"), has_w_avg=False)
    return total
