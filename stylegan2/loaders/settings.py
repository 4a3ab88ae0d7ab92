"""Check a weight file's constructor settings before any network is built from them.

A file's `init_kwargs` decide how much memory building the network takes: `w_dim` 2**20, a thousand
mapping layers of 8192 features or a 32768 px synthesis network would be allocated in full before the
weights are even compared with it. So every setting is checked here against its type and sane bounds,
unknown settings are refused by name, and `generator_size` says how many numbers the described
generator holds, so a loader can refuse settings that describe more than the file stores.

The checks are small composable functions (`integer`, `power_of_two`, `group`, ...) so that the readers of
other networks (StyleGAN3, the discriminator) can state their own settings the same way.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, Iterable, Optional

import numpy as np

MAX_RESOLUTION = 2048
MAX_WIDTH = 4096            # feature widths and latent dimensions
MAX_MAPPING_LAYERS = 32
MAX_IMAGE_CHANNELS = 16
MAX_FILTER_TAPS = 16
MAX_TEXT = 64
DEFAULT_FILTER_SIZE = 4 * 4

Check = Callable[[Any, str], Any]   # (value, where it is) -> the value as plain Python, or SettingsError


class SettingsError(ValueError):
    """A setting has the wrong type, is out of bounds, or is unknown; the message names it."""


def _number_value(value: Any) -> Any:
    """NumPy scalars (NVIDIA's pickles hold a few) as plain Python numbers; anything else unchanged."""
    return value.item() if isinstance(value, (np.integer, np.floating, np.bool_)) else value


def _describe(value: Any) -> str:
    """A setting's value for a message: short, whatever the file put there."""
    if isinstance(value, (bool, float)) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value) if abs(value) < 10 ** 12 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, str):
        return repr(value) if len(value) <= MAX_TEXT else f"a string of {len(value)} characters"
    return f"a {type(value).__name__}"


def integer(low: int, high: int) -> Check:
    def check(value: Any, where: str) -> int:
        value = _number_value(value)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise SettingsError(f"{where} should be an integer from {low} to {high}, not {_describe(value)}")
        return value
    return check


def power_of_two(low: int, high: int) -> Check:
    def check(value: Any, where: str) -> int:
        value = _number_value(value)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high \
                or value & (value - 1):
            raise SettingsError(f"{where} should be a power of two from {low} to {high}, not {_describe(value)}")
        return value
    return check


def number(low: float, high: float) -> Check:
    def check(value: Any, where: str) -> float:
        value = _number_value(value)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
                or not low <= value <= high:
            raise SettingsError(f"{where} should be a number from {low:g} to {high:g}, not {_describe(value)}")
        return value
    return check


def boolean(value: Any, where: str) -> bool:
    value = _number_value(value)
    if not isinstance(value, bool):
        raise SettingsError(f"{where} should be True or False, not {_describe(value)}")
    return value


def text(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise SettingsError(f"{where} should be a short string, not {_describe(value)}")
    return value


def one_of(*choices: str) -> Check:
    def check(value: Any, where: str) -> str:
        if not isinstance(value, str) or value not in choices:
            raise SettingsError(f"{where} should be one of {', '.join(map(repr, choices))}, not {_describe(value)}")
        return value
    return check


def optional(check: Check) -> Check:
    def checked(value: Any, where: str) -> Any:
        return None if value is None else check(value, where)
    return checked


def sequence(item: Check, max_items: int) -> Check:
    """A list or tuple of 1..max_items items; returned as a list."""
    def check(value: Any, where: str) -> list:
        if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= max_items:
            raise SettingsError(f"{where} should be a list of 1 to {max_items} items, not {_describe(value)}")
        return [item(entry, f"{where}[{index}]") for index, entry in enumerate(value)]
    return check


def table(key: Check, item: Check, max_items: int) -> Check:
    """A dict of at most max_items entries; keys are returned as str (as after a JSON round trip)."""
    def check(value: Any, where: str) -> Dict[str, Any]:
        if not isinstance(value, dict) or len(value) > max_items:
            raise SettingsError(f"{where} should be a table of at most {max_items} entries, not {_describe(value)}")
        return {str(key(name, f"{where} key")): item(entry, f"{where}[{name!r}]") for name, entry in value.items()}
    return check


def group(fields: Dict[str, Check], required: Iterable[str] = ()) -> Check:
    """A dict of named settings: unknown names are refused, `required` ones must be there."""
    required = tuple(required)

    def check(value: Any, where: str) -> Dict[str, Any]:
        owner = f"{where} " if where else ""   # the top level's messages start with the verb
        if not isinstance(value, dict):
            raise SettingsError(f"{owner}should be a dict of settings, not {_describe(value)}")
        unknown = [name for name in value if name not in fields]
        if unknown:
            raise SettingsError(f"{owner}has {'an unknown setting' if len(unknown) == 1 else 'unknown settings'} "
                                f"{', '.join(_describe(name) for name in unknown[:5])}")
        missing = [name for name in required if name not in value]
        if missing:
            raise SettingsError(f"{owner}lacks {', '.join(missing)}")
        return {name: fields[name](entry, f"{where}.{name}" if where else name) for name, entry in value.items()}
    return check


def _resolution_key(value: Any, where: str) -> int:
    if isinstance(value, str) and value.isdigit() and len(value) <= 5:
        value = int(value)
    return power_of_two(4, MAX_RESOLUTION)(value, where)


WIDTH = integer(1, MAX_WIDTH)
MAPPING_SETTINGS = group({
    "num_layers": integer(1, MAX_MAPPING_LAYERS),
    "embed_features": optional(WIDTH),
    "layer_features": optional(WIDTH),
    "activation": text,
    "lr_multiplier": number(1e-9, 1e9),
    "w_avg_beta": optional(number(0, 1)),
})
SYNTHESIS_SETTINGS = group({
    "channel_base": integer(1, MAX_WIDTH * MAX_RESOLUTION),
    "channel_max": WIDTH,
    "num_fp16_res": integer(0, 16),
    "channels": optional(table(_resolution_key, WIDTH, 16)),
    "architecture": text,
    "resample_filter": sequence(number(-1e9, 1e9), MAX_FILTER_TAPS),
    "conv_clamp": optional(number(0, 1e9)),
    "fp16_channels_last": boolean,
    "kernel_size": integer(1, 7),
    "use_noise": boolean,
    "activation": text,
})
GENERATOR_SETTINGS = group({
    "z_dim": integer(0, MAX_WIDTH),
    "c_dim": integer(0, MAX_WIDTH),
    "w_dim": WIDTH,
    "img_resolution": power_of_two(4, MAX_RESOLUTION),
    "img_channels": integer(1, MAX_IMAGE_CHANNELS),
    "mapping_kwargs": optional(MAPPING_SETTINGS),
    "synthesis_kwargs": optional(SYNTHESIS_SETTINGS),
}, required=("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"))


def check_generator_settings(init_kwargs: Any) -> Dict[str, Any]:
    """The StyleGAN2 Generator's init_kwargs as plain, bounded Python data; else SettingsError."""
    return GENERATOR_SETTINGS(init_kwargs, "")


def generator_size(settings: Dict[str, Any]) -> int:
    """Numbers (parameters and buffers) of the Generator that checked `settings` describe.

    The arithmetic of networks.py, in a few lines, so a file whose settings describe a bigger network
    than it stores is refused before that network is allocated; tests hold it equal to the real count.
    """
    w_dim = settings["w_dim"]
    mapping = settings.get("mapping_kwargs") or {}
    synthesis = settings.get("synthesis_kwargs") or {}
    total = mapping_size(settings["z_dim"], settings["c_dim"], w_dim, mapping.get("num_layers", 8),
                         mapping.get("embed_features"), mapping.get("layer_features"),
                         has_w_avg=mapping.get("w_avg_beta", 0.995) is not None)

    resolution = settings["img_resolution"]
    widths = _widths(synthesis, resolution)
    kernel = synthesis.get("kernel_size", 3) ** 2
    noise = synthesis.get("use_noise", True)
    filter_size = len(synthesis.get("resample_filter", [1, 3, 3, 1])) ** 2
    skip = synthesis.get("architecture", "skip") != "orig"

    def layer(width_in: int, width_out: int, res: int, taps: int) -> int:
        return taps + linear_size(w_dim, width_in) + width_out * width_in * kernel + width_out \
            + (res * res + 1 if noise else 0)

    for res, width in widths.items():
        # conv1 is built without the block's resample_filter, so it has the default 4x4 one (as NVIDIA's).
        total += filter_size + layer(width, width, res, DEFAULT_FILTER_SIZE)
        total += width * 16 if res == 4 else layer(widths[res // 2], width, res, filter_size)
        if skip or res == resolution:
            total += linear_size(w_dim, width) + settings["img_channels"] * width + settings["img_channels"]
    return total


def linear_size(features_in: int, features_out: int) -> int:
    """Numbers of a fully connected layer: its weight and bias."""
    return features_out * features_in + features_out


def mapping_size(z_dim: int, c_dim: int, w_dim: int, num_layers: int, embed_features: Optional[int] = None,
                 layer_features: Optional[int] = None, has_w_avg: bool = True) -> int:
    """Numbers of a mapping network (networks.MappingNetwork, which StyleGAN3's extends)."""
    embed = (embed_features or w_dim) if c_dim > 0 else 0
    hidden = layer_features or w_dim
    features = [z_dim + embed] + [hidden] * (num_layers - 1) + [w_dim]
    total = (linear_size(c_dim, embed) if c_dim > 0 else 0) \
        + sum(linear_size(features[index], features[index + 1]) for index in range(num_layers))
    return total + (w_dim if has_w_avg else 0)


def _widths(synthesis: Dict[str, Any], resolution: int) -> Dict[int, int]:
    base, most = synthesis.get("channel_base", 32768), synthesis.get("channel_max", 512)
    widths = {2 ** i: min(base // 2 ** i, most) for i in range(2, resolution.bit_length())}
    widths.update({int(res): width for res, width in (synthesis.get("channels") or {}).items() if int(res) in widths})
    return widths
