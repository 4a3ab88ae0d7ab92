"""Check a StyleGAN3 generator's settings, and count the numbers of the network they describe, before it is built.

StyleGAN3's Generator takes its synthesis settings flat beside the latent sizes (NVIDIA's
`Generator(z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs, **synthesis_kwargs)`), so its
schema is one group made of settings.py's building blocks. Besides keeping every number finite and sane,
the bounds keep building cheap whatever the weights: sampling rates are at least 2 (stopbands of at least
1, relative last stopband at least 1) and never fall from layer to layer, so a downsampling filter, the
only radially symmetric one, has at most `filter_size * lrelu_upsampling` = 64 taps a side.
`stylegan3_generator_size` counts parameters and buffers from `stylegan3.synthesis_layout`, the arithmetic
the network itself uses, so a file whose settings describe more than it stores is refused unbuilt.
"""
from __future__ import annotations

import inspect
from typing import Any, Dict

from ..stylegan3 import MappingNetwork, SynthesisLayer, SynthesisLayout, SynthesisNetwork, synthesis_layout
from .settings import (
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
    optional,
    power_of_two,
)

MAX_LAYERS = 32             # synthesis layers; NVIDIA's models have 14
MAX_MARGIN = 256            # pixels computed beyond the image; NVIDIA's 10
MAX_KERNEL = 7              # convolution kernel; NVIDIA's 3 (config T) or 1 (config R)
MAX_FILTER_SIZE = 16        # filter taps per factor of resampling; NVIDIA's 6
MAX_LRELU_UPSAMPLING = 4    # NVIDIA's 2

MAPPING_FIELDS = {
    "num_layers": integer(1, MAX_MAPPING_LAYERS),
    "lr_multiplier": number(1e-9, 1e9),
    "w_avg_beta": optional(number(0, 1)),
    "freeze_layers": integer(0, MAX_MAPPING_LAYERS),
    "freeze_embed": boolean,
}
GENERATOR_FIELDS = {
    "z_dim": integer(0, MAX_WIDTH),
    "c_dim": integer(0, MAX_WIDTH),
    "w_dim": WIDTH,
    "img_resolution": power_of_two(4, MAX_RESOLUTION),
    "img_channels": integer(1, MAX_IMAGE_CHANNELS),
    "mapping_kwargs": optional(group(MAPPING_FIELDS)),
    # The synthesis network's.
    "channel_base": integer(1, MAX_WIDTH * MAX_RESOLUTION),
    "channel_max": WIDTH,
    "num_layers": integer(1, MAX_LAYERS),
    "num_critical": integer(0, MAX_LAYERS - 1),
    "first_cutoff": number(0.5, MAX_RESOLUTION / 2),
    "first_stopband": number(1, MAX_RESOLUTION),
    "last_stopband_rel": number(1, 8),
    "margin_size": integer(0, MAX_MARGIN),
    "output_scale": number(0, 1e3),
    "num_fp16_res": integer(0, 16),
    # Every synthesis layer's.
    "conv_kernel": integer(1, MAX_KERNEL),
    "filter_size": integer(1, MAX_FILTER_SIZE),
    "lrelu_upsampling": integer(1, MAX_LRELU_UPSAMPLING),
    "use_radial_filters": boolean,
    "conv_clamp": optional(number(0, 1e9)),
    "magnitude_ema_beta": number(0, 1),
}
GENERATOR_SETTINGS = group(GENERATOR_FIELDS, required=("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"))


def _defaults(*constructors: Any) -> Dict[str, Any]:
    """The default of every keyword setting of `constructors`, read from their signatures so they cannot drift."""
    return {parameter.name: parameter.default for constructor in constructors
            for parameter in inspect.signature(constructor).parameters.values()
            if parameter.default is not parameter.empty}


SYNTHESIS_DEFAULTS = _defaults(SynthesisNetwork, SynthesisLayer)
MAPPING_DEFAULTS = _defaults(MappingNetwork)
LAYOUT_SETTINGS = ("channel_base", "channel_max", "num_layers", "num_critical", "first_cutoff", "first_stopband",
                   "last_stopband_rel", "margin_size")


def check_stylegan3_settings(init_kwargs: Any) -> Dict[str, Any]:
    """StyleGAN3 Generator init_kwargs as plain, bounded Python data describing a buildable layout; else SettingsError."""
    settings = GENERATOR_SETTINGS(init_kwargs, "")
    _layout(settings)
    return settings


def stylegan3_generator_size(settings: Dict[str, Any]) -> int:
    """Numbers (parameters and buffers) of the stylegan3.Generator that checked `settings` describe;
    tests hold it equal to the real count."""
    options = {**SYNTHESIS_DEFAULTS, **{key: value for key, value in settings.items() if key in SYNTHESIS_DEFAULTS}}
    mapping = {**MAPPING_DEFAULTS, **(settings.get("mapping_kwargs") or {})}
    w_dim, num_layers = settings["w_dim"], options["num_layers"]
    total = mapping_size(settings["z_dim"], settings["c_dim"], w_dim, mapping["num_layers"],
                         has_w_avg=mapping["w_avg_beta"] is not None)
    layout = _layout(settings)
    channels = [int(value) for value in layout.channels]
    rates = [int(value) for value in layout.sampling_rates]
    # The Fourier input: its channel mixing, the affine of w to rotation and translation, the user's
    # transform [3, 3], frequencies [channels, 2] and phases.
    total += channels[0] ** 2 + linear_size(w_dim, 4) + 9 + 3 * channels[0]
    for index in range(num_layers + 1):
        previous, is_torgb = max(index - 1, 0), index == num_layers
        kernel = 1 if is_torgb else options["conv_kernel"]
        # Affine of w to the input's styles, weight, bias and magnitude_ema.
        total += linear_size(w_dim, channels[previous]) + channels[index] * channels[previous] * kernel ** 2 \
            + channels[index] + 1
        upsampled = max(rates[previous], rates[index]) * (1 if is_torgb else options["lrelu_upsampling"])
        up_taps = _taps(upsampled // rates[previous], options["filter_size"], is_torgb)
        down_taps = _taps(upsampled // rates[index], options["filter_size"], is_torgb)
        radial = options["use_radial_filters"] and index < num_layers - options["num_critical"]
        total += _filter_size(up_taps, radial=False) + _filter_size(down_taps, radial)
    return total


def _layout(settings: Dict[str, Any]) -> SynthesisLayout:
    options = {**SYNTHESIS_DEFAULTS, **settings}
    try:
        return synthesis_layout(settings["img_resolution"], settings["img_channels"],
                                *(options[name] for name in LAYOUT_SETTINGS))
    except ValueError as error:
        raise SettingsError(str(error)) from None


def _taps(factor: int, filter_size: int, is_torgb: bool) -> int:
    """Taps of a layer's up- or downsampling filter (stylegan3.SynthesisLayer)."""
    return filter_size * factor if factor > 1 and not is_torgb else 1


def _filter_size(taps: int, radial: bool) -> int:
    """Numbers of a filter buffer: none for one tap (the identity is None), [taps] or radial [taps, taps]."""
    if taps == 1:
        return 0
    return taps * taps if radial else taps
