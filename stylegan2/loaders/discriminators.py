"""Discriminators from the files that carry one, for fine-tuning: NVIDIA's pickles (`D`) and rosinality's
training checkpoints (`d`), both turned into StyleCam's Discriminator (NVIDIA's names and arithmetic).

Both are read as safely as generators are: an NVIDIA pickle's `D` comes from `nvlabs_pickle` as inert
records (its constructor arguments and tensors read by the same bounded functions as `G_ema`'s), and
every discriminator is built by `build_discriminator`, which checks its settings (types, bounds, names:
settings_discriminator.py) and that the network they describe is no bigger than the weights the file
stores before building it.

rosinality's discriminator computes NVIDIA's resnet discriminator without clamping (equalised-lr
convolutions, [1, 3, 3, 1] blur before each stride-2 convolution, residual blocks scaled by 1/sqrt(2),
minibatch std over groups of 4), so its tensors map one to one onto NVIDIA's names; its checkpoints
store no settings, so they are inferred from the tensors' shapes and checked like an NVIDIA file's.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional

import torch

from ..discriminator import Discriminator
from ..ops import setup_filter
from .common import (
    DISCRIMINATOR,
    PathLike,
    WeightsFormatError,
    build_network,
    check_named_tensors,
    check_stored_size,
    checked_network_settings,
    key_name,
)
from .nvlabs_pickle import NetworkRecord, network_settings, network_state_dict, walk_network

# NVIDIA's Discriminator(c_dim, img_resolution, img_channels, architecture, ...), in order.
DISCRIMINATOR_ARGS = ("c_dim", "img_resolution", "img_channels", "architecture", "channel_base", "channel_max",
                      "num_fp16_res", "conv_clamp", "cmap_dim", "block_kwargs", "mapping_kwargs", "epilogue_kwargs")
# The classes of NVIDIA's StyleGAN2 discriminator (stylegan2-ada-pytorch; stylegan3's networks_stylegan2).
DISCRIMINATOR_CLASSES = {"Discriminator", "DiscriminatorBlock", "DiscriminatorEpilogue", "Conv2dLayer",
                         "MinibatchStdLayer", "MappingNetwork", "FullyConnectedLayer"}
BLUR_TAPS = [1, 3, 3, 1]


def build_discriminator(init_kwargs: Dict[str, Any], state_dict: Mapping[str, torch.Tensor],
                        path: PathLike) -> Discriminator:
    """Construct `Discriminator(**init_kwargs)` and copy `state_dict` into it, strictly, in eval mode, after
    checking the settings and that they describe no more numbers than `state_dict` stores (+ SIZE_SLACK)."""
    return build_network(DISCRIMINATOR, init_kwargs, state_dict, path).eval()


# ----------------------------------------------------------------------------------------------------
# NVIDIA pickles.

def discriminator_from_record(record: NetworkRecord, path: PathLike) -> Discriminator:
    """Rebuild NVIDIA's `D` from the snapshot's record (nvlabs_pickle.snapshot_network(snapshot, "D", ...))."""
    if record.class_name != "Discriminator":
        raise WeightsFormatError(path, f"'D' is a {key_name(record.class_name)}, not NVIDIA's StyleGAN2 "
                                       f"Discriminator")
    for prefix, module in walk_network(record, "D", path):
        if module.class_name not in DISCRIMINATOR_CLASSES:
            raise WeightsFormatError(path, f"'D.{prefix.rstrip('.')}' is a {key_name(module.class_name)}, not part "
                                           f"of NVIDIA's StyleGAN2 discriminator")
    settings = network_settings(record, "D", path, positional=DISCRIMINATOR_ARGS)
    return build_discriminator(settings, network_state_dict(record, "D", path), path)


# ----------------------------------------------------------------------------------------------------
# rosinality checkpoints.

def is_rosinality_discriminator(state_dict: Any) -> bool:
    return isinstance(state_dict, Mapping) and "convs.0.0.weight" in state_dict and "final_conv.0.weight" in state_dict


def discriminator_from_rosinality(state_dict: Mapping[str, torch.Tensor], path: PathLike) -> Discriminator:
    """Rebuild rosinality's `d` (a state dict) as NVIDIA's resnet discriminator.

    The settings inferred from the shapes are checked (bounds, and a network no bigger than the tensors
    stored) before anything is renamed or built.
    """
    if not is_rosinality_discriminator(state_dict):
        raise WeightsFormatError(path, "'d' is not a rosinality discriminator (no 'convs.0.0.weight' and "
                                       "'final_conv.0.weight')")
    check_named_tensors(state_dict, "'d'", path)
    settings = checked_network_settings(DISCRIMINATOR, _inferred_settings(state_dict, path), path)
    check_stored_size(DISCRIMINATOR.size(settings), state_dict, path, "discriminator")
    resolution = settings["img_resolution"]
    renames = _renames(resolution)
    leftover = sorted(set(state_dict) - set(renames))
    if leftover:
        raise WeightsFormatError(path, f"'d' has tensors StyleGAN2's discriminator does not: "
                                       f"{', '.join(map(key_name, leftover[:5]))}")
    blur = setup_filter(BLUR_TAPS)
    renamed = {}
    for source, target in renames.items():
        tensor = _tensor(state_dict, source, path)
        if target is None:
            if tensor.shape != blur.shape or not tensor.is_floating_point() or not torch.allclose(tensor.float(), blur):
                raise WeightsFormatError(path, f"'{source}' is not the standard [1, 3, 3, 1] blur filter")
            continue
        renamed[target] = tensor
    renamed.update({key: blur.clone() for key in _filter_keys(resolution)})
    return build_discriminator(settings, renamed, path)


def _inferred_settings(state_dict: Mapping[str, torch.Tensor], path: PathLike) -> Dict[str, Any]:
    """The Discriminator settings rosinality's tensors describe: size from the number of residual blocks,
    widths from the convolutions' output channels (unchecked: `build_discriminator`'s schema bounds them)."""
    blocks = sorted({int(match.group(1)) for key in state_dict if (match := re.match(r"convs\.(\d{1,4})\.conv1\.", key))})
    if blocks != list(range(1, len(blocks) + 1)):
        raise WeightsFormatError(path, f"'d' has residual blocks {blocks[:10]}; expected convs.1 to convs.N")
    resolution = 2 ** (len(blocks) + 2)
    first = _conv_weight(state_dict, "convs.0.0.weight", path)
    channels = {resolution: first.shape[0]}
    for block in blocks:
        channels[resolution >> block] = _conv_weight(state_dict, f"convs.{block}.conv2.1.weight", path).shape[0]
    return dict(c_dim=0, img_resolution=resolution, img_channels=first.shape[1], architecture="resnet",
                num_fp16_res=0, conv_clamp=None, **_channel_rule(channels, path),
                epilogue_kwargs=dict(mbstd_group_size=4, mbstd_num_channels=1))


def _tensor(state_dict: Mapping[str, torch.Tensor], key: str, path: PathLike) -> torch.Tensor:
    if key not in state_dict:
        raise WeightsFormatError(path, f"rosinality discriminator is missing '{key}'")
    return state_dict[key]


def _conv_weight(state_dict: Mapping[str, torch.Tensor], key: str, path: PathLike) -> torch.Tensor:
    """A convolution's weight [out, in, k, k], whose shape tells a width."""
    tensor = _tensor(state_dict, key, path)
    if tensor.ndim != 4:
        raise WeightsFormatError(path, f"'{key}' has shape {list(tensor.shape)}, not that of a convolution's "
                                       f"weight [out, in, k, k]")
    return tensor


def _channel_rule(channels: Dict[int, int], path: PathLike) -> Dict[str, int]:
    """channel_base/channel_max giving these widths by NVIDIA's rule min(channel_base // res, channel_max)."""
    channel_max = max(channels.values())
    channel_base = max(width * res for res, width in channels.items())
    if any(min(channel_base // res, channel_max) != width for res, width in channels.items()):
        shown_widths = {res: width for res, width in sorted(channels.items())[:10]}
        raise WeightsFormatError(path, f"the discriminator's widths {shown_widths} follow no channel_base/"
                                       f"channel_max rule, which StyleCam's discriminator needs")
    return dict(channel_base=channel_base, channel_max=channel_max)


def _renames(resolution: int) -> Dict[str, Optional[str]]:
    """rosinality key -> NVIDIA key; None marks a blur kernel that is only checked."""
    renames: Dict[str, Optional[str]] = {"convs.0.0.weight": f"b{resolution}.fromrgb.weight",
                                         "convs.0.1.bias": f"b{resolution}.fromrgb.bias"}
    for block, res in enumerate(_block_resolutions(resolution), start=1):
        source, target = f"convs.{block}", f"b{res}"
        renames.update({
            f"{source}.conv1.0.weight": f"{target}.conv0.weight", f"{source}.conv1.1.bias": f"{target}.conv0.bias",
            f"{source}.conv2.0.kernel": None,
            f"{source}.conv2.1.weight": f"{target}.conv1.weight", f"{source}.conv2.2.bias": f"{target}.conv1.bias",
            f"{source}.skip.0.kernel": None, f"{source}.skip.1.weight": f"{target}.skip.weight",
        })
    renames.update({"final_conv.0.weight": "b4.conv.weight", "final_conv.1.bias": "b4.conv.bias",
                    "final_linear.0.weight": "b4.fc.weight", "final_linear.0.bias": "b4.fc.bias",
                    "final_linear.1.weight": "b4.out.weight", "final_linear.1.bias": "b4.out.bias"})
    return renames


def _filter_keys(resolution: int) -> List[str]:
    """The resample_filter buffers of NVIDIA's resnet discriminator, all [1, 3, 3, 1] in rosinality's."""
    keys = [f"b{resolution}.fromrgb.resample_filter"]
    for res in _block_resolutions(resolution):
        keys += [f"b{res}.{layer}resample_filter" for layer in ("", "conv0.", "conv1.", "skip.")]
    return keys + ["b4.conv.resample_filter"]


def _block_resolutions(resolution: int) -> List[int]:
    return [2 ** i for i in range(resolution.bit_length() - 1, 2, -1)]
