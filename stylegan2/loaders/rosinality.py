"""Read rosinality/stylegan2-pytorch checkpoints: rename to NVlabs keys, infer the settings from shapes.

rosinality's generator computes the same function as NVIDIA's (the same modulated convolutions,
low-pass filters, noise and skip connections; no output clamping), so its tensors map one to one onto
NVlabs names after dropping a few singleton dimensions. The checkpoint stores no settings: size,
style dimension, mapping depth and the channel width of every resolution are read off the tensors.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Dict, List, Mapping, Tuple

import torch

from ..ops import setup_filter
from .common import (
    PathLike,
    WeightsFormatError,
    build_generator,
    check_named_tensors,
    checked_settings,
    generator_meta,
    key_name,
)

BLUR_TAPS = [1, 3, 3, 1]
W_AVG_SAMPLES = 4096    # z samples averaged when a checkpoint has no latent_avg (rosinality's own default).
W_AVG_SEED = 0

Transform = Callable[[torch.Tensor], torch.Tensor]


def is_rosinality_state_dict(state_dict: Mapping[str, Any]) -> bool:
    return "input.input" in state_dict and "style.1.weight" in state_dict


def load_rosinality(checkpoint: Mapping[str, Any], path: PathLike) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """Build a generator from a rosinality checkpoint dict (`{'g_ema': ..., 'latent_avg': ...}`) or a
    bare `g_ema` state dict; returns (generator, meta)."""
    g_ema = checkpoint.get("g_ema", checkpoint)
    if not isinstance(g_ema, Mapping) or not is_rosinality_state_dict(g_ema):
        raise WeightsFormatError(path, "is not a rosinality generator: 'g_ema' lacks 'input.input' and "
                                       "'style.1.weight'")
    check_named_tensors(g_ema, "'g_ema'", path)
    latent_avg = checkpoint.get("latent_avg")
    layout = _infer_layout(g_ema, path)
    init_kwargs = checked_settings(_init_kwargs(layout), path)  # bounded before anything is renamed or built
    state_dict = _nvlabs_state_dict(g_ema, layout, path)
    w_dim = layout["w_dim"]
    if latent_avg is None:
        state_dict["mapping.w_avg"] = torch.zeros([w_dim])
    elif not isinstance(latent_avg, torch.Tensor) or latent_avg.numel() != w_dim:
        raise WeightsFormatError(path, f"'latent_avg' should be {w_dim} numbers")
    else:
        state_dict["mapping.w_avg"] = latent_avg.reshape(w_dim)
    generator = build_generator(init_kwargs, state_dict, path)
    if latent_avg is None:
        generator.mapping.w_avg.copy_(estimate_w_avg(generator))
    meta = generator_meta(generator, "rosinality", path)
    meta["w_avg"] = "latent_avg" if latent_avg is not None else \
        f"estimated from {W_AVG_SAMPLES} random z (seed {W_AVG_SEED})"
    return generator, meta


@torch.no_grad()
def estimate_w_avg(generator: torch.nn.Module, batch_size: int = 512) -> torch.Tensor:
    """The mean W of the mapping network, for checkpoints saved without `latent_avg` (training ones)."""
    random = torch.Generator().manual_seed(W_AVG_SEED)
    total = torch.zeros([generator.w_dim])
    for start in range(0, W_AVG_SAMPLES, batch_size):
        z = torch.randn([min(batch_size, W_AVG_SAMPLES - start), generator.z_dim], generator=random)
        total += generator.mapping(z, None)[:, 0].sum(dim=0)
    return total / W_AVG_SAMPLES


def _indices(state_dict: Mapping[str, Any], pattern: str) -> List[int]:
    return sorted(int(match.group(1)) for key in state_dict if (match := re.fullmatch(pattern, key)))


def _infer_layout(g_ema: Mapping[str, torch.Tensor], path: PathLike) -> Dict[str, Any]:
    """Size, style dimension, mapping depth and per-resolution channels, from the tensor shapes."""
    mapping_layers = _indices(g_ema, r"style\.(\d+)\.weight")
    upsampling_blocks = _indices(g_ema, r"to_rgbs\.(\d+)\.conv\.weight")
    if mapping_layers != list(range(1, len(mapping_layers) + 1)) or \
            upsampling_blocks != list(range(len(upsampling_blocks))):
        raise WeightsFormatError(path, "is missing mapping layers ('style.N') or ToRGB layers ('to_rgbs.N')")
    try:
        channels = {4: g_ema["input.input"].shape[1]}
        for block in upsampling_blocks:
            channels[2 ** (block + 3)] = g_ema[f"convs.{2 * block}.conv.weight"].shape[1]
        return {
            "resolution": 2 ** (len(upsampling_blocks) + 2),
            "z_dim": g_ema["style.1.weight"].shape[1],
            "w_dim": g_ema[f"style.{mapping_layers[-1]}.weight"].shape[0],
            "img_channels": g_ema["to_rgb1.conv.weight"].shape[1],
            "mapping_layers": len(mapping_layers),
            "channels": channels,
        }
    except KeyError as error:
        raise WeightsFormatError(path, f"rosinality generator is missing {error}") from None
    except (AttributeError, IndexError) as error:
        raise WeightsFormatError(path, f"rosinality generator has tensors of unexpected shape: {error}") from None


def _init_kwargs(layout: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "z_dim": layout["z_dim"],
        "c_dim": 0,
        "w_dim": layout["w_dim"],
        "img_resolution": layout["resolution"],
        "img_channels": layout["img_channels"],
        "mapping_kwargs": {"num_layers": layout["mapping_layers"]},
        # rosinality runs everything in fp32 and never clamps: keep it that way.
        "synthesis_kwargs": {**_channel_settings(layout["channels"]), "num_fp16_res": 0, "conv_clamp": None},
    }


def _channel_settings(channels: Dict[int, int]) -> Dict[str, Any]:
    """Synthesis kwargs giving these widths: channel_base/channel_max where NVIDIA's rule
    `min(channel_base // res, channel_max)` can express them (stock checkpoints), else an explicit table.

    Each resolution needs channel_base >= width * res, so the largest of those is the only candidate
    that can also keep the narrow resolutions below (width + 1) * res.
    """
    channel_max = max(channels.values())
    channel_base = max(width * res for res, width in channels.items())
    if all(min(channel_base // res, channel_max) == width for res, width in channels.items()):
        return {"channel_base": channel_base, "channel_max": channel_max}
    return {"channels": {str(res): width for res, width in sorted(channels.items())}}


def _nvlabs_state_dict(g_ema: Mapping[str, torch.Tensor], layout: Dict[str, Any],
                       path: PathLike) -> Dict[str, torch.Tensor]:
    """Rename every rosinality tensor to its NVlabs key and layout; refuse leftovers and odd filters."""
    renames = _renames(layout)
    unknown = sorted(set(g_ema) - set(renames))
    if unknown:
        raise WeightsFormatError(path, f"has tensors no StyleGAN2 generator has (another rosinality "
                                       f"model, e.g. SWAGAN?): {', '.join(map(key_name, unknown[:5]))}")
    blur = setup_filter(BLUR_TAPS)
    state_dict: Dict[str, torch.Tensor] = {}
    for source, (target, transform) in renames.items():
        if source not in g_ema:
            raise WeightsFormatError(path, f"rosinality generator is missing '{source}'")
        tensor = g_ema[source]
        if target is None:
            if tensor.shape != blur.shape or not torch.allclose(tensor, blur * 4):
                raise WeightsFormatError(path, f"'{source}' is not the standard [1, 3, 3, 1] blur filter")
            continue
        try:
            state_dict[target] = transform(tensor)
        except RuntimeError as error:
            raise WeightsFormatError(path, f"'{source}' has unexpected shape {list(tensor.shape)}") from error
    for res in layout["channels"]:
        state_dict[f"synthesis.b{res}.resample_filter"] = blur.clone()
        for conv in ("conv0", "conv1") if res > 4 else ("conv1",):
            state_dict[f"synthesis.b{res}.{conv}.resample_filter"] = blur.clone()
    return state_dict


def _renames(layout: Dict[str, Any]) -> Dict[str, Tuple[Any, Transform]]:
    """rosinality key -> (NVlabs key, reshape); NVlabs key None marks a blur filter that is only checked."""
    same: Transform = lambda t: t
    squeeze_first: Transform = lambda t: t.squeeze(0)      # [1, ...] -> [...]
    scalar: Transform = lambda t: t.reshape([])            # noise strength [1] -> []
    plane: Transform = lambda t: t.reshape(t.shape[-2:])   # noise [1, 1, H, W] -> [H, W]
    vector: Transform = lambda t: t.reshape(-1)            # ToRGB bias [1, C, 1, 1] -> [C]

    renames: Dict[str, Tuple[Any, Transform]] = {}
    for layer in range(1, layout["mapping_layers"] + 1):
        for kind in ("weight", "bias"):
            renames[f"style.{layer}.{kind}"] = (f"mapping.fc{layer - 1}.{kind}", same)
    renames["input.input"] = ("synthesis.b4.const", squeeze_first)

    def modulated_conv(source: str, target: str) -> None:
        renames[f"{source}.conv.weight"] = (f"{target}.weight", squeeze_first)
        renames[f"{source}.conv.modulation.weight"] = (f"{target}.affine.weight", same)
        renames[f"{source}.conv.modulation.bias"] = (f"{target}.affine.bias", same)

    def styled_conv(source: str, target: str, noise_index: int, upsamples: bool) -> None:
        modulated_conv(source, target)
        renames[f"{source}.noise.weight"] = (f"{target}.noise_strength", scalar)
        renames[f"{source}.activate.bias"] = (f"{target}.bias", same)
        renames[f"noises.noise_{noise_index}"] = (f"{target}.noise_const", plane)
        if upsamples:
            renames[f"{source}.conv.blur.kernel"] = (None, same)

    def to_rgb(source: str, target: str, upsamples: bool) -> None:
        modulated_conv(source, target)
        renames[f"{source}.bias"] = (f"{target}.bias", vector)
        if upsamples:
            renames[f"{source}.upsample.kernel"] = (None, same)

    styled_conv("conv1", "synthesis.b4.conv1", 0, upsamples=False)
    to_rgb("to_rgb1", "synthesis.b4.torgb", upsamples=False)
    for block in range(int(math.log2(layout["resolution"])) - 2):
        target = f"synthesis.b{2 ** (block + 3)}"
        styled_conv(f"convs.{2 * block}", f"{target}.conv0", 2 * block + 1, upsamples=True)
        styled_conv(f"convs.{2 * block + 1}", f"{target}.conv1", 2 * block + 2, upsamples=False)
        to_rgb(f"to_rgbs.{block}", f"{target}.torgb", upsamples=True)
    return renames
