"""What every weight-file reader shares: the error type and building a network from kwargs + weights.

Each reader (NVlabs pickle, rosinality checkpoint, native file) turns its file into constructor
arguments and a state dict with NVlabs key names; `build_network` (behind `build_generator` and the
discriminator's `build_discriminator`) checks the settings (types and bounds, see settings.py,
settings_stylegan3.py and settings_discriminator.py) and that the network they describe is no bigger
than the weights the file really stores before it builds anything, then checks every tensor against
the built network before anything is copied, so a file that does not fit fails with a message that
says what is wrong instead of a PyTorch traceback or an out-of-memory kill.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Mapping, NamedTuple, Tuple, Union

import numpy as np
import torch

from .. import discriminator, networks, stylegan3
from .settings import SettingsError, check_generator_settings, generator_size
from .settings_discriminator import check_discriminator_settings, discriminator_size
from .settings_stylegan3 import check_stylegan3_settings, stylegan3_generator_size

PathLike = Union[str, Path]


class NetworkKind(NamedTuple):
    """A network a weight file can hold: its name in messages, its class, its settings' check and the
    size they describe."""

    name: str                                          # "generator", "discriminator"
    network: Callable[..., torch.nn.Module]
    check_settings: Callable[[Any], Dict[str, Any]]   # plain, bounded settings, else SettingsError
    size: Callable[[Dict[str, Any]], int]              # numbers of the network checked settings describe


# Every generator architecture by name (`Generator.architecture`).
ARCHITECTURES = {
    "stylegan2": NetworkKind("generator", networks.Generator, check_generator_settings, generator_size),
    "stylegan3": NetworkKind("generator", stylegan3.Generator, check_stylegan3_settings, stylegan3_generator_size),
}
DISCRIMINATOR = NetworkKind("discriminator", discriminator.Discriminator, check_discriminator_settings,
                            discriminator_size)

# Numbers (float32) a described generator may hold beyond those the file stores: 32 MB, room for the three
# largest tensors of a 1024 px generator (2.4M numbers each) to be missing and named.
SIZE_SLACK = 2 ** 23
MAX_TENSOR_DIMS = 16
MAX_PLAIN_VALUES = 10_000       # values in one file's settings or metadata
MAX_PLAIN_ITEMS = 256           # entries of one list or dict there
MAX_PLAIN_DEPTH = 6
MAX_TEXT = 4096
MAX_TENSOR_ELEMENTS = 2 ** 48   # far beyond any weights, far below 2**63 / 16 bytes per element


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


def checked_settings(init_kwargs: Any, path: PathLike, architecture: str = "stylegan2") -> Dict[str, Any]:
    """The architecture's Generator init_kwargs as plain, bounded data (settings.py), else a WeightsFormatError."""
    return checked_network_settings(ARCHITECTURES[architecture], init_kwargs, path)


def checked_network_settings(kind: NetworkKind, init_kwargs: Any, path: PathLike) -> Dict[str, Any]:
    """A network's init_kwargs as plain, bounded data (its kind's schema), else a WeightsFormatError."""
    try:
        return kind.check_settings(init_kwargs)
    except SettingsError as error:
        raise WeightsFormatError(path, f"describes a {kind.name} StyleCam cannot build: {error}") from None


def bounded_plain(value: Any, where: str, path: PathLike) -> Any:
    """A copy of settings or metadata from a file as plain data (dict, list, str, numbers, None; NumPy numbers
    become Python ones), refused naming `where` when it holds anything else or is deep or large: a file
    can share one list many times over ("billion laughs"), which a plain deep copy would copy exponentially."""
    budget = [MAX_PLAIN_VALUES]

    def copy(item: Any, where: str, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise WeightsFormatError(path, f"{where} is part of more than {MAX_PLAIN_VALUES} values, far more "
                                           f"than settings need")
        if isinstance(item, np.generic):
            return item.item()
        if item is None or isinstance(item, (bool, int, float)) or isinstance(item, str) and len(item) <= MAX_TEXT:
            return item
        if depth < MAX_PLAIN_DEPTH and isinstance(item, (list, tuple)) and len(item) <= MAX_PLAIN_ITEMS:
            return [copy(entry, f"{where}[{index}]", depth + 1) for index, entry in enumerate(item)]
        if depth < MAX_PLAIN_DEPTH and isinstance(item, dict) and len(item) <= MAX_PLAIN_ITEMS \
                and all(isinstance(key, (str, int)) and not isinstance(key, bool) for key in item):
            return {key: copy(entry, f"{where}[{key if isinstance(key, int) else shown(key, 30)}]", depth + 1)
                    for key, entry in item.items()}
        raise WeightsFormatError(path, f"{where} is {shown(item)}, not plain data (numbers, short strings, small "
                                       f"lists and dicts)")

    return copy(value, where, 0)


def build_generator(init_kwargs: Dict[str, Any], state_dict: Mapping[str, torch.Tensor],
                    path: PathLike, architecture: str = "stylegan2") -> torch.nn.Module:
    """Construct the architecture's `Generator(**init_kwargs)` on the CPU and copy `state_dict` into it,
    strictly, after the checks of `build_network`."""
    return build_network(ARCHITECTURES[architecture], init_kwargs, state_dict, path)


def build_network(kind: NetworkKind, init_kwargs: Dict[str, Any], state_dict: Mapping[str, torch.Tensor],
                  path: PathLike) -> torch.nn.Module:
    """Construct `kind.network(**init_kwargs)` on the CPU and copy `state_dict` into it, strictly.

    The settings are checked first, and the network they describe may hold no more numbers than the
    distinct storages behind `state_dict` really hold, give or take SIZE_SLACK (so that a file missing a
    few tensors still gets a message naming them): building it costs at most what the file does + 32 MB.
    """
    settings = checked_network_settings(kind, init_kwargs, path)
    check_stored_size(kind.size(settings), state_dict, path, kind.name)
    try:
        network = kind.network(**settings)
    except (TypeError, ValueError, KeyError, NotImplementedError, RuntimeError) as error:
        raise WeightsFormatError(path, f"describes a {kind.name} StyleCam cannot build "
                                       f"(init_kwargs {settings}): {first_line(error)}") from None
    _copy_weights(network, state_dict, path)
    return network


def check_stored_size(needed: int, state_dict: Mapping[str, Any], path: PathLike, name: str) -> None:
    """Refuse settings describing a network of `needed` numbers when the storages behind `state_dict` hold
    fewer, give or take SIZE_SLACK."""
    stored = stored_elements(state_dict.values())
    if needed > stored + SIZE_SLACK:
        raise WeightsFormatError(path, f"its settings describe a {name} of {needed} numbers, but it stores "
                                       f"only {stored}")


def _copy_weights(network: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], path: PathLike) -> None:
    """Copy `state_dict` into `network` once every tensor is checked against it: names, shapes, dtypes."""
    expected = network.state_dict()
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    if missing or unexpected:
        report = "; ".join(_key_report(keys, what) for keys, what in ((missing, "missing"), (unexpected, "unexpected"))
                           if keys)
        raise WeightsFormatError(path, f"the weights do not fit the network their settings describe: {report}")
    for key, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor):
            raise WeightsFormatError(path, f"'{key}' is a {type(tensor).__name__}, not a tensor")
        if tensor_problem(tensor):
            raise WeightsFormatError(path, f"'{key}' {tensor_problem(tensor)}")
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise WeightsFormatError(path, f"'{key}' has shape {list(tensor.shape)}, "
                                           f"the network needs {list(expected[key].shape)}")
        if tensor.is_floating_point() != expected[key].is_floating_point():
            raise WeightsFormatError(path, f"'{key}' holds {tensor.dtype} values, the network needs "
                                           f"{expected[key].dtype}")
    network.load_state_dict({key: tensor.float() if tensor.is_floating_point() else tensor.to(expected[key].dtype)
                             for key, tensor in state_dict.items()})


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


def check_named_tensors(state_dict: Mapping[Any, Any], what: str, path: PathLike) -> None:
    """Refuse a state dict (``what``: its name in the file, e.g. "'g_ema'") with an entry that is not a tensor
    named by a string."""
    odd = [key_name(key) for key, value in state_dict.items()
           if not isinstance(key, str) or not isinstance(value, torch.Tensor)]
    if odd:
        raise WeightsFormatError(path, f"{what} holds entries that are not named tensors: {', '.join(odd[:5])}")


def _key_report(keys: list, what: str, listed: int = 5) -> str:
    more = f" and {len(keys) - listed} more" if len(keys) > listed else ""
    return f"{len(keys)} tensors {what} ({', '.join(map(key_name, keys[:listed]))}{more})"


def key_name(key: Any) -> str:
    """A state-dict key for a message: itself when it is a reasonable name, else shown()."""
    return key if isinstance(key, str) and len(key) <= 80 and key.isprintable() else shown(key)


def shown(value: Any, limit: int = 60) -> str:
    """A value the file controls, for a one-line message: a short quoted string, else only its type."""
    if isinstance(value, str):
        return repr(value if len(value) <= limit else value[:limit] + "...")
    return f"a {type(value).__name__}"


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def tensor_view_problem(offset: Any, size: Any, stride: Any) -> str:
    """Why a tensor's offset, size and stride as a file gives them are not a plain view, or ''.

    Bounded far below where torch's int64 arithmetic on them overflows: torch < 2.7 checks a view
    against its storage with products that can wrap around, so huge sizes could pass that check.
    """
    if not (_count(offset) and isinstance(size, (tuple, list)) and isinstance(stride, (tuple, list))
            and len(size) == len(stride) <= MAX_TENSOR_DIMS and all(map(_count, size)) and all(map(_count, stride))):
        return "has a malformed offset, size or stride"
    elements, extent = math.prod(size), tensor_view_extent(offset, size, stride)
    if elements > MAX_TENSOR_ELEMENTS or extent > MAX_TENSOR_ELEMENTS:
        return f"declares {elements} elements spanning {extent} (at most {MAX_TENSOR_ELEMENTS})"
    return ""


def tensor_view_extent(offset: int, size: Any, stride: Any) -> int:
    """Elements of storage a checked view reaches: offset + 1 + sum((size - 1) * stride), or offset if empty."""
    return offset + 1 + sum((n - 1) * step for n, step in zip(size, stride)) if math.prod(size) else offset


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def tensor_problem(tensor: torch.Tensor) -> str:
    """Why a tensor cannot be stored weights, or '': a dense CPU tensor whose view claims no more
    elements than its storage holds (a stride of 0 could repeat one stored number 2**40 times)."""
    if type(tensor) not in (torch.Tensor, torch.nn.Parameter) or tensor.layout != torch.strided \
            or tensor.is_quantized or tensor.device.type != "cpu":
        return f"is a {type(tensor).__name__} ({tensor.layout}, {tensor.device.type}), not a dense CPU tensor"
    _, stored = _storage_of(tensor)
    if tensor.numel() > stored:
        return f"claims {tensor.numel()} elements but stores {stored} (its strides repeat them)"
    return ""


def stored_elements(tensors: Iterable[Any]) -> int:
    """How many elements the distinct storages behind `tensors` really hold (shared storages count once)."""
    storages = dict(_storage_of(tensor) for tensor in tensors
                    if isinstance(tensor, torch.Tensor) and not tensor_problem(tensor))
    return sum(storages.values())


def _storage_of(tensor: torch.Tensor) -> Tuple[int, int]:
    """(address, elements of the tensor's dtype) of the tensor's storage; torch < 2.0 lacks untyped_storage."""
    if hasattr(tensor, "untyped_storage"):
        storage = tensor.untyped_storage()
        return storage.data_ptr(), storage.nbytes() // tensor.element_size()
    storage = tensor.storage()
    return storage.data_ptr(), storage.size()


def describe_unpickling_refusal(error: Exception) -> str:
    """The useful part of torch.load(weights_only=True)'s refusal, without its advice to load unsafely."""
    text = str(error)
    named = re.search(r"(?:GLOBAL|Unsupported class) ([\w.]+)", text)   # newer torch | torch 2.2
    if named:
        return f"it asks for '{named.group(1)}', which plain weights never need (it could run code)"
    lines = [line.strip() for line in text.splitlines() if line.strip()
             and not line.startswith(("Weights only load failed", "Check the documentation", "Please file an issue"))]
    return lines[0] if lines else type(error).__name__
