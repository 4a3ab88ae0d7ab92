"""What every weight-file reader shares: the error type and building a Generator from kwargs + weights.

Each reader (NVlabs pickle, rosinality checkpoint, native file) turns its file into constructor
arguments and a state dict with NVlabs key names; `build_generator` checks both against the
Generator they describe before anything is copied, so a file that does not fit fails with a message
that says which tensor is wrong instead of a PyTorch traceback.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Mapping, NamedTuple, Union

import numpy as np
import torch

from .. import networks, stylegan3

PathLike = Union[str, Path]

# The generator class of each architecture a weight file can hold (`Generator.architecture`).
ARCHITECTURES = {"stylegan2": networks.Generator, "stylegan3": stylegan3.Generator}


class WeightsFormatError(ValueError):
    """A weight file is missing, truncated, corrupt, hostile, or describes a network StyleCam can't run."""

    def __init__(self, path: PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class LoadedGenerator(NamedTuple):
    """A ready generator (eval mode, no gradients, on the requested device) and where it came from."""

    generator: torch.nn.Module
    meta: Dict[str, Any]


def plain(value: Any) -> Any:
    """Deep copy as plain data: EasyDict and friends become dict, tuples lists, NumPy scalars numbers."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def build_generator(init_kwargs: Dict[str, Any], state_dict: Mapping[str, torch.Tensor],
                    path: PathLike, architecture: str = "stylegan2") -> torch.nn.Module:
    """Construct the architecture's `Generator(**init_kwargs)` on the CPU and copy `state_dict` into it, strictly."""
    try:
        generator = ARCHITECTURES[architecture](**init_kwargs)
    except (TypeError, ValueError, KeyError, NotImplementedError) as error:
        raise WeightsFormatError(path, f"describes a generator StyleCam cannot build "
                                       f"(init_kwargs {init_kwargs}): {error}") from error
    expected = generator.state_dict()
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    if missing or unexpected:
        report = "; ".join(_key_report(keys, what) for keys, what in ((missing, "missing"), (unexpected, "unexpected"))
                           if keys)
        raise WeightsFormatError(path, f"the weights do not fit the network their settings describe: {report}")
    for key, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor):
            raise WeightsFormatError(path, f"'{key}' is a {type(tensor).__name__}, not a tensor")
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise WeightsFormatError(path, f"'{key}' has shape {list(tensor.shape)}, "
                                           f"the network needs {list(expected[key].shape)}")
        if not tensor.is_floating_point():
            raise WeightsFormatError(path, f"'{key}' holds {tensor.dtype} values, not floating point")
    generator.load_state_dict({key: tensor.float() for key, tensor in state_dict.items()})
    return generator


def generator_meta(generator: torch.nn.Module, format_name: str, path: PathLike) -> Dict[str, Any]:
    """The metadata every loader reports, whatever the format."""
    return {
        "format": format_name,
        "path": str(path),
        "architecture": generator.architecture,
        "init_kwargs": plain(generator.init_kwargs),
        "img_resolution": generator.img_resolution,
        "num_ws": generator.num_ws,
        "z_dim": generator.z_dim,
        "w_dim": generator.w_dim,
        "c_dim": generator.init_kwargs.get("c_dim", 0),
    }


def _key_report(keys: list, what: str, shown: int = 5) -> str:
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return f"{len(keys)} tensors {what} ({', '.join(keys[:shown])}{more})"


def describe_unpickling_refusal(error: Exception) -> str:
    """The useful part of torch.load(weights_only=True)'s refusal, without its advice to load unsafely."""
    text = str(error)
    named = re.search(r"GLOBAL ([\w.]+)", text)
    if named:
        return f"it asks for '{named.group(1)}', which plain weights never need (it could run code)"
    lines = [line.strip() for line in text.splitlines() if line.strip()
             and not line.startswith(("Weights only load failed", "Check the documentation", "Please file an issue"))]
    return lines[0] if lines else type(error).__name__
