"""Build StyleCam's StyleGAN3 generator from the `G_ema` of an NVIDIA StyleGAN3 pickle.

nvlabs_pickle.py reads the pickle without running anything: `G_ema` arrives as inert records (class name
and `__dict__`, see `nvlabs_pickle.NetworkRecord`) and its tensors under NVlabs state_dict names. This module turns
them into `stylegan3.Generator`: the constructor arguments come from the record's saved `_init_kwargs`;
settings StyleCam's StyleGAN3 does not take are refused by name; and after the weights are loaded, the
layout NVIDIA's code computed and stored in each network (sizes, sampling rates, cutoffs, filter taps,
padding, ...) must be the one StyleCam computes from the same settings, else the file came from a
modified StyleGAN3 and is refused with what differs.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Dict, List, Mapping

import numpy as np
import torch

from ..stylegan3 import Generator, MappingNetwork, SynthesisLayer, SynthesisNetwork
from .common import PathLike, WeightsFormatError, bounded_plain, build_generator, key_name, plain
from .nvlabs_pickle import NetworkRecord, network_settings

# The classes of NVIDIA's networks_stylegan3.Generator.
STYLEGAN3_CLASSES = {"Generator", "MappingNetwork", "FullyConnectedLayer", "SynthesisNetwork", "SynthesisInput",
                     "SynthesisLayer"}

GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs")


def _settings(network: type, exclude: set, with_default_only: bool = False) -> set:
    parameters = inspect.signature(network).parameters.values()
    return {p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in exclude
            and not (with_default_only and p.default is p.empty)}


# What NVIDIA's Generator(**kwargs) passes on: to the synthesis network, and from there to every layer
# (the layer arguments the synthesis network does not compute itself).
SYNTHESIS_SETTINGS = (_settings(SynthesisNetwork, {"w_dim", "img_resolution", "img_channels"})
                      | _settings(SynthesisLayer, set(), with_default_only=True))
MAPPING_SETTINGS = _settings(MappingNetwork, {"z_dim", "c_dim", "w_dim", "num_ws"})

# The layout NVIDIA's networks compute from their settings and keep as attributes.
INPUT_LAYOUT = ("channels", "size", "sampling_rate", "bandwidth")
LAYER_LAYOUT = ("is_torgb", "is_critically_sampled", "in_channels", "out_channels", "in_size", "out_size",
                "in_sampling_rate", "out_sampling_rate", "tmp_sampling_rate", "in_cutoff", "out_cutoff",
                "in_half_width", "out_half_width", "conv_kernel", "conv_clamp", "up_factor", "up_taps",
                "down_factor", "down_taps", "down_radial", "padding")
SHOWN_DIFFERENCES = 5


def is_stylegan3(g_ema: NetworkRecord) -> bool:
    """Whether a pickled generator is StyleGAN3's: its synthesis network starts with Fourier features."""
    synthesis = g_ema.modules().get("synthesis")
    return "input" in synthesis.modules() if hasattr(synthesis, "modules") else False


def build_stylegan3(g_ema: NetworkRecord, tensors: Mapping[str, torch.Tensor], path: PathLike) -> Generator:
    """The StyleGAN3 generator `g_ema` describes, with `tensors` (its NVlabs state dict) loaded."""
    init_kwargs = constructor_kwargs(g_ema, path)
    generator = build_generator(init_kwargs, tensors, path, architecture="stylegan3")
    differences = layout_differences(g_ema, generator, path)
    if differences:
        more = f" and {len(differences) - SHOWN_DIFFERENCES} more" if len(differences) > SHOWN_DIFFERENCES else ""
        raise WeightsFormatError(path, f"is a StyleGAN3 network in a configuration StyleCam does not know: its "
                                       f"settings build a different network than the file holds "
                                       f"({'; '.join(differences[:SHOWN_DIFFERENCES])}{more})")
    return generator


def constructor_kwargs(g_ema: NetworkRecord, path: PathLike) -> Dict[str, Any]:
    """NVIDIA's Generator(...) arguments as plain, bounded data; refuses settings StyleCam's StyleGAN3 does not take."""
    init_kwargs = network_settings(g_ema, "G_ema", path, positional=GENERATOR_ARGS)
    if init_kwargs.get("mapping_kwargs") is None:
        init_kwargs["mapping_kwargs"] = {}
    mapping_kwargs = init_kwargs["mapping_kwargs"]
    if not isinstance(mapping_kwargs, dict):
        raise WeightsFormatError(path, f"'G_ema' has mapping_kwargs {_shown_value(mapping_kwargs)}, not a dict")
    unknown = [f"{key_name(key)}={_shown_value(value)}" for key, value in init_kwargs.items()
               if key not in GENERATOR_ARGS and key not in SYNTHESIS_SETTINGS]
    unknown += [f"mapping_kwargs.{key_name(key)}={_shown_value(value)}" for key, value in mapping_kwargs.items()
                if key not in MAPPING_SETTINGS]
    if unknown:
        raise WeightsFormatError(path, f"is a StyleGAN3 network with settings StyleCam's StyleGAN3 does not "
                                       f"have: {', '.join(sorted(unknown))}")
    return init_kwargs


def layout_differences(g_ema: NetworkRecord, generator: Generator, path: PathLike) -> List[str]:
    """Where the layout stored in the file's networks differs from `generator`'s (attributes it lacks are skipped)."""
    differences = []
    records = g_ema.modules()["synthesis"].modules()
    checks = [("input", records.get("input"), generator.synthesis.input, INPUT_LAYOUT)]
    checks += [(name, records.get(name), getattr(generator.synthesis, name), LAYER_LAYOUT)
               for name in generator.synthesis.layer_names]
    for name, record, network, attributes in checks:
        if not isinstance(record, NetworkRecord):
            differences.append(f"synthesis.{name} is not a network in the file")
            continue
        for attribute in attributes:
            if attribute not in record.state:
                continue
            stored = _stored_value(record.state[attribute], f"'G_ema.synthesis.{name}.{attribute}'", path)
            built = _built_value(getattr(network, attribute))
            if not _same(stored, built):
                differences.append(f"synthesis.{name}.{attribute} is {_shown_value(stored)} in the file, "
                                   f"{built} here")
    return differences


def _stored_value(value: Any, where: str, path: PathLike) -> Any:
    """A layout attribute from the file as plain data, copied bounded (it may share one list many times
    over); NumPy arrays (at most numpy_values.MAX_ARRAY_ELEMENTS) as lists."""
    return bounded_plain(value.tolist() if isinstance(value, np.ndarray) else value, where, path)


def _built_value(value: Any) -> Any:
    """A layout attribute of StyleCam's network (numbers, tuples, lists) as plain data."""
    return [_built_value(item) for item in value] if isinstance(value, (list, tuple)) else plain(value)


def _shown_value(value: Any, limit: int = 80) -> str:
    """A value the file controls, for a one-line message: shortened when long."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit and "\n" not in text else text.replace("\n", " ")[:limit] + "..."


def _same(stored: Any, built: Any) -> bool:
    if isinstance(stored, list) and isinstance(built, list):
        return len(stored) == len(built) and all(_same(a, b) for a, b in zip(stored, built))
    if isinstance(stored, float) or isinstance(built, float):
        return isinstance(stored, (int, float)) and math.isclose(stored, built, rel_tol=1e-9, abs_tol=1e-12)
    return type(stored) is type(built) and stored == built
