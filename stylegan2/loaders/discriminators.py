"""Discriminators from the files that carry one, for fine-tuning: NVIDIA's pickles (`D`) and rosinality's
training checkpoints (`d`), both turned into StyleCam's Discriminator (NVIDIA's names and arithmetic).

An NVIDIA pickle's `D` arrives from the restricted unpickler as a record of plain data (its class name
and `__dict__`, see nvlabs.py); `discriminator_from_record` rebuilds the network from its constructor
arguments and tensors. rosinality's discriminator computes NVIDIA's resnet discriminator without clamping
(equalised-lr convolutions, [1, 3, 3, 1] blur before each stride-2 convolution, residual blocks scaled
by 1/sqrt(2), minibatch std over groups of 4), so its tensors map one to one onto NVIDIA's names.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, Mapping, Tuple

import torch

from ..discriminator import Discriminator
from ..ops import setup_filter
from .common import PathLike, WeightsFormatError, plain

DISCRIMINATOR_ARGS = ("c_dim", "img_resolution", "img_channels")
DISCRIMINATOR_CLASSES = {"Discriminator", "DiscriminatorBlock", "DiscriminatorEpilogue", "Conv2dLayer",
                         "MinibatchStdLayer", "MappingNetwork", "FullyConnectedLayer"}
BLUR_TAPS = [1, 3, 3, 1]


def build_discriminator(init_kwargs: Dict[str, Any], state_dict: Mapping[str, torch.Tensor],
                        path: PathLike) -> Discriminator:
    """Construct `Discriminator(**init_kwargs)` and copy `state_dict` into it, strictly, in eval mode."""
    try:
        discriminator = Discriminator(**init_kwargs)
    except (TypeError, ValueError) as error:
        raise WeightsFormatError(path, f"describes a discriminator StyleCam cannot build "
                                       f"(init_kwargs {init_kwargs}): {error}") from None
    expected = discriminator.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    if missing or unexpected:
        raise WeightsFormatError(path, f"the discriminator's tensors do not fit its settings: missing "
                                       f"{missing[:5]}, unexpected {unexpected[:5]}")
    for key, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != tuple(expected[key].shape):
            found = list(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise WeightsFormatError(path, f"discriminator tensor '{key}' is {found}, the network needs "
                                           f"{list(expected[key].shape)}")
    discriminator.load_state_dict({key: tensor.float() for key, tensor in state_dict.items()})
    return discriminator.eval()


# ----------------------------------------------------------------------------------------------------
# NVIDIA pickles.

def discriminator_from_record(record: Any, path: PathLike) -> Discriminator:
    """Rebuild NVIDIA's `D` from its unpickled record (`class_name` and `state`, as nvlabs.NetworkRecord)."""
    for prefix, node in _walk(record):
        if getattr(node, "class_name", None) not in DISCRIMINATOR_CLASSES or not isinstance(node.state, dict):
            raise WeightsFormatError(path, f"'D.{prefix}' is a {getattr(node, 'class_name', type(node).__name__)}, "
                                           f"not part of NVIDIA's StyleGAN2 discriminator")
    if record.class_name != "Discriminator":
        raise WeightsFormatError(path, f"'D' is a {record.class_name}, not NVIDIA's StyleGAN2 Discriminator")
    args, kwargs = record.state.get("_init_args", ()), record.state.get("_init_kwargs")
    if not isinstance(kwargs, dict) or not isinstance(args, (tuple, list)) or len(args) > len(DISCRIMINATOR_ARGS):
        raise WeightsFormatError(path, "'D' does not record its constructor arguments")
    init_kwargs = dict(zip(DISCRIMINATOR_ARGS, plain(args)))
    init_kwargs.update(plain(kwargs))
    return build_discriminator(init_kwargs, dict(_record_tensors(record, path)), path)


def _walk(record: Any, prefix: str = "") -> Iterator[Tuple[str, Any]]:
    yield prefix.rstrip("."), record
    state = getattr(record, "state", None)
    modules = state.get("_modules") if isinstance(state, dict) else None
    for name, child in (modules if isinstance(modules, dict) else {}).items():
        if child is not None:
            yield from _walk(child, f"{prefix}{name}.")


def _record_tensors(record: Any, path: PathLike) -> Iterator[Tuple[str, torch.Tensor]]:
    """Parameters and persistent buffers (Freeze-D keeps frozen weights as buffers) under state_dict names."""
    for prefix, node in _walk(record):
        skipped = node.state.get("_non_persistent_buffers_set") or set()
        for group in ("_parameters", "_buffers"):
            tensors = node.state.get(group) or {}
            if not isinstance(tensors, dict):
                raise WeightsFormatError(path, f"'D.{prefix}' is not laid out as a PyTorch module")
            for name, tensor in tensors.items():
                if tensor is not None and name not in skipped:
                    yield f"{prefix}.{name}" if prefix else name, tensor


# ----------------------------------------------------------------------------------------------------
# rosinality checkpoints.

def is_rosinality_discriminator(state_dict: Any) -> bool:
    return isinstance(state_dict, Mapping) and "convs.0.0.weight" in state_dict and "final_conv.0.weight" in state_dict


def discriminator_from_rosinality(state_dict: Mapping[str, torch.Tensor], path: PathLike) -> Discriminator:
    """Rebuild rosinality's `d` (a state dict) as NVIDIA's resnet discriminator."""
    if not is_rosinality_discriminator(state_dict):
        raise WeightsFormatError(path, "'d' is not a rosinality discriminator (no 'convs.0.0.weight' and "
                                       "'final_conv.0.weight')")
    odd = [str(key) for key, value in state_dict.items() if not isinstance(value, torch.Tensor)]
    if odd:
        raise WeightsFormatError(path, f"'d' holds entries that are not tensors: {', '.join(odd[:5])}")
    blocks = sorted({int(match.group(1)) for key in state_dict if (match := re.match(r"convs\.(\d+)\.conv1\.", key))})
    if blocks != list(range(1, len(blocks) + 1)):
        raise WeightsFormatError(path, f"'d' has residual blocks {blocks}; expected convs.1 to convs.N")
    resolution = 2 ** (len(blocks) + 2)
    channels = {resolution: state_dict["convs.0.0.weight"].shape[0]}
    for block in blocks:
        channels[resolution >> block] = _tensor(state_dict, f"convs.{block}.conv2.1.weight", path).shape[0]
    init_kwargs = dict(c_dim=0, img_resolution=resolution, img_channels=state_dict["convs.0.0.weight"].shape[1],
                       architecture="resnet", num_fp16_res=0, conv_clamp=None, **_channel_rule(channels, path),
                       epilogue_kwargs=dict(mbstd_group_size=4, mbstd_num_channels=1))
    renamed = {}
    for source, target in _renames(resolution, len(blocks)).items():
        tensor = _tensor(state_dict, source, path)
        if target is None:
            if tensor.shape != (4, 4) or not torch.allclose(tensor, setup_filter(BLUR_TAPS)):
                raise WeightsFormatError(path, f"'{source}' is not the standard [1, 3, 3, 1] blur filter")
            continue
        renamed[target] = tensor
    leftover = sorted(set(state_dict) - set(_renames(resolution, len(blocks))))
    if leftover:
        raise WeightsFormatError(path, f"'d' has tensors StyleGAN2's discriminator does not: {', '.join(leftover[:5])}")
    filters = [key for key in Discriminator(**init_kwargs).state_dict() if key.endswith("resample_filter")]
    renamed.update({key: setup_filter(BLUR_TAPS) for key in filters})
    return build_discriminator(init_kwargs, renamed, path)


def _tensor(state_dict: Mapping[str, torch.Tensor], key: str, path: PathLike) -> torch.Tensor:
    if key not in state_dict:
        raise WeightsFormatError(path, f"rosinality discriminator is missing '{key}'")
    return state_dict[key]


def _channel_rule(channels: Dict[int, int], path: PathLike) -> Dict[str, int]:
    """channel_base/channel_max giving these widths by NVIDIA's rule min(channel_base // res, channel_max)."""
    channel_max = max(channels.values())
    channel_base = max(width * res for res, width in channels.items())
    if any(min(channel_base // res, channel_max) != width for res, width in channels.items()):
        raise WeightsFormatError(path, f"the discriminator's widths {dict(sorted(channels.items()))} follow no "
                                       f"channel_base/channel_max rule, which StyleCam's discriminator needs")
    return dict(channel_base=channel_base, channel_max=channel_max)


def _renames(resolution: int, num_blocks: int) -> Dict[str, Any]:
    """rosinality key -> NVIDIA key; None marks a blur kernel that is only checked."""
    renames: Dict[str, Any] = {"convs.0.0.weight": f"b{resolution}.fromrgb.weight",
                               "convs.0.1.bias": f"b{resolution}.fromrgb.bias"}
    for block in range(1, num_blocks + 1):
        source, target = f"convs.{block}", f"b{resolution >> (block - 1)}"
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

