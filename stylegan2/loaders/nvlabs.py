"""Build StyleCam's generator from an NVIDIA StyleGAN2 or StyleGAN3 pickle (stylegan2-ada-pytorch and the
stylegan3 release).

`nvlabs_pickle` reads the snapshot into inert records without running anything from the file; here the
generator is rebuilt from `G_ema`'s constructor arguments and its parameters and buffers (StyleGAN3's in
nvlabs_stylegan3.py), whichever architecture `G_ema`'s structure shows.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

import torch

from .common import PathLike, WeightsFormatError, build_generator, generator_meta, key_name, shown
from .nvlabs_pickle import (
    NetworkRecord,
    network_settings,
    network_state_dict,
    read_snapshot,
    snapshot_network,
    walk_network,
)
from .nvlabs_stylegan3 import STYLEGAN3_CLASSES, build_stylegan3, is_stylegan3

GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels",
                  "mapping_kwargs", "synthesis_kwargs")

# The classes of a StyleGAN2 generator in NVIDIA's networks.py (both releases).
STYLEGAN2_CLASSES = {"Generator", "MappingNetwork", "SynthesisNetwork", "SynthesisBlock",
                     "SynthesisLayer", "ToRGBLayer", "FullyConnectedLayer", "Conv2dLayer"}

# Constructor arguments of NVIDIA's networks that only choose how a kernel runs, not what it computes,
# and that StyleCam's Generator does not take.
RUNTIME_ONLY_KWARGS = {"fused_modconv_default"}


def load_nvlabs(path: PathLike) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """Build the generator stored under `G_ema` in an NVIDIA pickle; returns (generator, meta)."""
    snapshot = read_snapshot(path)
    g_ema = snapshot_network(snapshot, "G_ema", path, kind="generator")
    architecture = _check_architecture(g_ema, path)
    tensors = network_state_dict(g_ema, "G_ema", path)
    if architecture == "stylegan3":
        generator, ignored = build_stylegan3(g_ema, tensors, path), {}
    else:
        init_kwargs, ignored = _constructor_kwargs(g_ema, path)
        generator = build_generator(init_kwargs, tensors, path)
    meta = generator_meta(generator, "nvlabs-pickle", path)
    meta["snapshot_keys"] = sorted(key for key in snapshot if isinstance(key, str))
    if ignored:
        meta["ignored_kwargs"] = ignored
    return generator, meta


def _check_architecture(g_ema: NetworkRecord, path: PathLike) -> str:
    """'stylegan2' or 'stylegan3', by the network's structure; anything else is refused."""
    names = {record.class_name for _, record in walk_network(g_ema, "G_ema", path)}
    architecture, known = ("StyleGAN3", STYLEGAN3_CLASSES) if is_stylegan3(g_ema) else ("StyleGAN2", STYLEGAN2_CLASSES)
    if g_ema.class_name != "Generator":
        raise WeightsFormatError(path, f"'G_ema' is a {shown(g_ema.class_name)}, not NVIDIA's {architecture} "
                                       f"Generator")
    unknown = sorted(names - known)
    if unknown:
        raise WeightsFormatError(path, f"'G_ema' contains networks that {architecture} does not have and StyleCam "
                                       f"cannot run: {', '.join(map(key_name, unknown[:5]))}")
    return architecture.lower()


def _constructor_kwargs(g_ema: NetworkRecord, path: PathLike) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """NVIDIA's Generator(...) arguments as StyleCam's Generator takes them, plus what was left out.

    stylegan2-ada-pytorch nests the synthesis options in `synthesis_kwargs`; the stylegan3 release
    passes them as extra keyword arguments, which are gathered here. Options the Generator cannot do
    (e.g. architecture='resnet') are refused when it is built.
    """
    merged = network_settings(g_ema, "G_ema", path, positional=GENERATOR_ARGS)
    for key in ("mapping_kwargs", "synthesis_kwargs"):
        if merged.get(key) is None:
            merged[key] = {}
        elif not isinstance(merged[key], dict):
            raise WeightsFormatError(path, f"'G_ema' argument '{key}' is {shown(merged[key])}, not a dict")
    synthesis = merged["synthesis_kwargs"]
    for key in [key for key in merged if key not in GENERATOR_ARGS]:
        synthesis[key] = merged.pop(key)
    ignored = {key: synthesis.pop(key) for key in RUNTIME_ONLY_KWARGS & set(synthesis)}
    return merged, ignored
