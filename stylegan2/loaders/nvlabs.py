"""Read NVIDIA's StyleGAN2 and StyleGAN3 pickles (stylegan2-ada-pytorch and the stylegan3 release).

A pickle can name any Python function and have it called while loading, so these files are read by an
unpickler that knows only the handful of globals NVIDIA's files really use and maps each to a safe
stand-in; every other global is refused before anything runs. NVIDIA pickles each network through
`torch_utils.persistence`: the file carries the network's source code (`module_src`) and its
`__dict__` (`state`). The source is never executed: each network becomes an inert `NetworkRecord`,
and the generator is rebuilt from `G_ema`'s constructor arguments and its parameters and buffers.
"""
from __future__ import annotations

import collections
import io
import pickle
import warnings
from typing import Any, Dict, Iterator, NamedTuple, Tuple

import numpy as np
import torch

from ..files import load_tensors
from .common import PathLike, WeightsFormatError, build_generator, describe_unpickling_refusal, generator_meta, plain
from .nvlabs_stylegan3 import STYLEGAN3_CLASSES, build_stylegan3, is_stylegan3

GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels",
                  "mapping_kwargs", "synthesis_kwargs")

# The classes of a StyleGAN2 generator in NVIDIA's networks.py (both releases).
STYLEGAN2_CLASSES = {"Generator", "MappingNetwork", "SynthesisNetwork", "SynthesisBlock",
                     "SynthesisLayer", "ToRGBLayer", "FullyConnectedLayer", "Conv2dLayer"}

# Constructor arguments of NVIDIA's networks that only choose how a kernel runs, not what it computes,
# and that StyleCam's Generator does not take.
RUNTIME_ONLY_KWARGS = {"fused_modconv_default"}


class RefusedPickle(Exception):
    """Raised from inside the unpickler: the file asks for something a weights file never needs."""


class NetworkRecord(NamedTuple):
    """What a pickled NVIDIA network holds, as plain data: its class name and its `__dict__`."""

    class_name: str
    state: Dict[str, Any]

    def modules(self) -> Dict[str, Any]:
        modules = self.state.get("_modules")
        return modules if isinstance(modules, dict) else {}


def load_nvlabs(path: PathLike) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """Build the generator stored under `G_ema` in an NVIDIA pickle; returns (generator, meta)."""
    snapshot = read_pickle(path)
    if not isinstance(snapshot, dict) or "G_ema" not in snapshot:
        found = sorted(map(str, snapshot)) if isinstance(snapshot, dict) else type(snapshot).__name__
        raise WeightsFormatError(path, f"is a pickle but holds no generator under 'G_ema' (found {found})")
    g_ema = snapshot["G_ema"]
    if not isinstance(g_ema, NetworkRecord):
        raise WeightsFormatError(path, f"'G_ema' is a {type(g_ema).__name__}, not a pickled network")
    try:
        architecture = _check_architecture(g_ema, path)
        tensors = dict(_tensors(g_ema, path))
        if architecture == "stylegan3":
            generator, ignored = build_stylegan3(g_ema, tensors, path), {}
        else:
            init_kwargs, ignored = _constructor_kwargs(g_ema, path)
            generator = build_generator(init_kwargs, tensors, path)
    except RecursionError:
        raise WeightsFormatError(path, "'G_ema' nests its data too deeply to be a StyleGAN2 network") from None
    meta = generator_meta(generator, "nvlabs-pickle", path)
    meta["snapshot_keys"] = sorted(map(str, snapshot))
    if ignored:
        meta["ignored_kwargs"] = ignored
    return generator, meta


def read_pickle(path: PathLike) -> Any:
    """Unpickle `path` with the restricted unpickler; every failure becomes a WeightsFormatError."""
    try:
        with open(path, "rb") as file, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="TypedStorage is deprecated")
            return RestrictedUnpickler(file).load()
    except RefusedPickle as error:
        raise WeightsFormatError(path, f"refused to load: {error}; nothing from the file was run") from None
    except (EOFError, pickle.UnpicklingError) as error:
        if isinstance(error, EOFError) or "truncated" in str(error):
            raise WeightsFormatError(path, "is truncated: the pickle ends before its data does; "
                                           "download or copy it again") from None
        raise WeightsFormatError(path, f"is not a readable StyleGAN2 pickle: {error}") from None
    except OSError as error:
        raise WeightsFormatError(path, f"cannot be read: {error}") from error
    except Exception as error:  # Any other failure inside pickle's machinery means a damaged file.
        raise WeightsFormatError(path, f"is not a readable StyleGAN2 pickle (damaged or truncated?): "
                                       f"{type(error).__name__}: {error}") from None


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose only reachable globals are the safe stand-ins in SAFE_GLOBALS."""

    def find_class(self, module: str, name: str) -> Any:
        stand_in = SAFE_GLOBALS.get((module, name))
        if stand_in is not None:
            return stand_in
        if module.startswith("dnnlib.tflib"):
            raise RefusedPickle(f"it is a TensorFlow StyleGAN pickle ('{module}.{name}'); convert it to "
                                f"PyTorch with NVIDIA's stylegan2-ada-pytorch legacy.py first")
        raise RefusedPickle(f"the pickle asks for '{module}.{name}', which a StyleGAN2 weights file "
                            f"never needs (it could run code)")

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedPickle("the pickle uses persistent ids, which NVIDIA's files never do")


# ----------------------------------------------------------------------------------------------------
# Safe stand-ins for the globals NVIDIA's pickles name.

def _reconstruct_persistent_obj(meta: Any) -> NetworkRecord:
    """Stand-in for torch_utils.persistence._reconstruct_persistent_obj: keep the data, run nothing."""
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise RefusedPickle("a persistent object is not a pickled class (unknown persistence layout)")
    if not isinstance(meta.get("class_name"), str) or not isinstance(meta.get("state"), dict):
        raise RefusedPickle("a persistent object lacks its class name or state")
    return NetworkRecord(meta["class_name"], meta["state"])


class _EasyDict(dict):
    """Stand-in for dnnlib.util.EasyDict: a plain dict (attribute access is not needed here)."""


def _load_storage(data: Any) -> torch.storage.TypedStorage:
    """Stand-in for torch.storage._load_from_bytes: each storage is a nested torch.save archive."""
    if not isinstance(data, bytes):
        raise RefusedPickle("a tensor storage is not stored as bytes")
    try:
        storage = load_tensors(io.BytesIO(data))
    except pickle.UnpicklingError as error:
        raise RefusedPickle(f"a tensor storage inside it is not plain data: "
                            f"{describe_unpickling_refusal(error)}") from None
    except Exception as error:  # torch raises RuntimeError, EOFError, ... for damaged archives.
        raise RefusedPickle(f"a tensor storage inside it is damaged ({_first_line(error)})") from None
    if not isinstance(storage, torch.storage.TypedStorage):
        raise RefusedPickle(f"a tensor storage decodes to a {type(storage).__name__}")
    return storage


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any,
                    requires_grad: Any = False, backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    """Stand-in for torch._utils._rebuild_tensor_v2: a view into a storage, bounds checked."""
    if not isinstance(storage, torch.storage.TypedStorage):
        raise RefusedPickle("a tensor refers to something that is not a storage")
    if not _is_int(storage_offset) or not _is_int_tuple(size) or not _is_int_tuple(stride):
        raise RefusedPickle("a tensor has a malformed offset, size or stride")
    try:
        return torch.empty((0,), dtype=storage.dtype).set_(storage.untyped(), storage_offset, size, stride)
    except RuntimeError as error:
        raise RefusedPickle(f"a tensor does not fit its storage ({_first_line(error)})") from None


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None,
                       state: Any = None) -> torch.Tensor:
    """Stand-in for torch._utils._rebuild_parameter(_with_state): the plain tensor is all we need."""
    if not isinstance(data, torch.Tensor):
        raise RefusedPickle("a parameter holds something that is not a tensor")
    return data


def _numpy_dtype(spec: Any, align: Any = False, copy: Any = True) -> np.dtype:
    """Stand-in for numpy.dtype: only simple type codes, always a fresh copy (pickle then sets its state)."""
    if not isinstance(spec, str):
        raise RefusedPickle(f"a NumPy dtype is described by a {type(spec).__name__}, not a type code")
    try:
        return np.dtype(spec, align=bool(align), copy=True)
    except TypeError as error:
        raise RefusedPickle(f"unknown NumPy dtype {spec!r}") from error


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    """Stand-in for numpy's scalar reconstructor: numbers only, never Python objects."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes) \
            or len(data) != dtype.itemsize:
        raise RefusedPickle("a NumPy scalar is not a plain number")
    return np.frombuffer(data, dtype=dtype)[0]


def _bytes_from_latin1(text: Any, encoding: Any = "latin1") -> bytes:
    """Stand-in for _codecs.encode, which protocol-2 pickles use to spell bytes."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise RefusedPickle("a protocol-2 bytes object is not latin-1 text")
    return text.encode("latin1")


SAFE_GLOBALS = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("numpy", "dtype"): _numpy_dtype,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    # Pickle protocols 2 and 3 (Python 3.7's default, used by the released files) spell sets this way.
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
    ("_codecs", "encode"): _bytes_from_latin1,
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_int_tuple(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and all(_is_int(item) for item in value)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


# ----------------------------------------------------------------------------------------------------
# From records to Generator arguments and an NVlabs state dict.

def _walk(record: NetworkRecord, prefix: str = "") -> Iterator[Tuple[str, NetworkRecord]]:
    yield prefix, record
    for name, child in record.modules().items():
        if child is not None:
            yield from _walk(child, f"{prefix}{name}.")


def _check_architecture(g_ema: NetworkRecord, path: PathLike) -> str:
    """'stylegan2' or 'stylegan3', by the network's structure; anything else is refused."""
    names = set()
    for prefix, record in _walk(g_ema):
        if not isinstance(record, NetworkRecord):
            raise WeightsFormatError(path, f"'G_ema.{prefix.rstrip('.')}' is not a pickled network")
        names.add(record.class_name)
    architecture, known = ("StyleGAN3", STYLEGAN3_CLASSES) if is_stylegan3(g_ema) else ("StyleGAN2", STYLEGAN2_CLASSES)
    if g_ema.class_name != "Generator":
        raise WeightsFormatError(path, f"'G_ema' is a {g_ema.class_name}, not NVIDIA's {architecture} Generator")
    unknown = sorted(names - known)
    if unknown:
        raise WeightsFormatError(path, f"'G_ema' contains networks that {architecture} does not have and StyleCam "
                                       f"cannot run: {', '.join(unknown)}")
    return architecture.lower()


def _constructor_kwargs(g_ema: NetworkRecord, path: PathLike) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """NVIDIA's Generator(...) arguments as StyleCam's Generator takes them, plus what was left out.

    stylegan2-ada-pytorch nests the synthesis options in `synthesis_kwargs`; the stylegan3 release
    passes them as extra keyword arguments, which are gathered here. Options the Generator cannot do
    (e.g. architecture='resnet') are refused when it is built.
    """
    args, kwargs = g_ema.state.get("_init_args", ()), g_ema.state.get("_init_kwargs")
    if not isinstance(kwargs, dict) or not isinstance(args, (tuple, list)) or len(args) > len(GENERATOR_ARGS):
        raise WeightsFormatError(path, "'G_ema' does not record its constructor arguments")
    merged = dict(zip(GENERATOR_ARGS, plain(args)))
    merged.update(plain(kwargs))
    merged.setdefault("mapping_kwargs", {})
    synthesis = merged.setdefault("synthesis_kwargs", {})
    for key in [key for key in merged if key not in GENERATOR_ARGS]:
        synthesis[key] = merged.pop(key)
    ignored = {key: synthesis.pop(key) for key in RUNTIME_ONLY_KWARGS & set(synthesis)}
    return merged, ignored


def _tensors(g_ema: NetworkRecord, path: PathLike) -> Iterator[Tuple[str, torch.Tensor]]:
    """The generator's parameters and persistent buffers under NVlabs state_dict names."""
    for prefix, record in _walk(g_ema):
        skipped = record.state.get("_non_persistent_buffers_set") or set()
        for group in ("_parameters", "_buffers"):
            tensors = record.state.get(group) or {}
            if not isinstance(tensors, dict) or not isinstance(skipped, (set, frozenset)):
                raise WeightsFormatError(path, f"'G_ema.{prefix}{group}' is not laid out as a PyTorch module's")
            for name, tensor in tensors.items():
                if tensor is None or name in skipped:
                    continue
                if not isinstance(tensor, torch.Tensor):
                    raise WeightsFormatError(path, f"'G_ema.{prefix}{name}' is not a tensor")
                yield prefix + name, tensor
