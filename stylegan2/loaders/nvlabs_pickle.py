"""Read NVIDIA's training snapshots (stylegan2-ada-pytorch, stylegan3) into inert records, safely and bounded.

A pickle can name any Python function and have it called while loading, so these files are read by an
unpickler that knows only the handful of globals NVIDIA's files really use and maps each to a safe
stand-in; every other global is refused before anything runs. Before that, `pickle_scan` walks the
opcodes and refuses streams that would make the unpickler allocate, recurse or hash without bound.

NVIDIA pickles each network through `torch_utils.persistence`: the file carries the network's source
code (`module_src`, never executed here) and its `__dict__` (`state`). Each network becomes a
`NetworkRecord`; `network_settings` and `network_state_dict` give a record's constructor arguments and
its tensors under state_dict names, so any network of the snapshot (G_ema, G, D) can be rebuilt from them.
"""
from __future__ import annotations

import collections
import io
import mmap
import pickle
import warnings
from typing import Any, Dict, Iterator, NamedTuple, Sequence, Tuple

import torch

from . import numpy_values
from .common import (
    PathLike,
    WeightsFormatError,
    bounded_plain,
    describe_unpickling_refusal,
    first_line,
    shown,
    tensor_problem,
    tensor_view_extent,
    tensor_view_problem,
)
from .pickle_scan import PickleRefused, PickleTruncated, scan_pickle
from .torch_files import check_legacy_archive

MAX_NETWORK_RECORDS = 10_000      # modules in one network; a 1024 px StyleGAN2 generator has about 90


class NetworkRecord(NamedTuple):
    """What a pickled NVIDIA network holds, as plain data: its class name and its `__dict__`."""

    class_name: str
    state: Dict[str, Any]

    def modules(self) -> Dict[str, Any]:
        modules = self.state.get("_modules")
        return modules if isinstance(modules, dict) else {}


def read_snapshot(path: PathLike) -> Dict[str, Any]:
    """The snapshot dict of an NVIDIA pickle (`G`, `D`, `G_ema`, ...: networks as NetworkRecords).

    Every failure is a WeightsFormatError naming the file; nothing in the file is ever run.
    """
    try:
        with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            scan_pickle(data, watch=TENSOR_REBUILDS)
        with open(path, "rb") as file, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="TypedStorage is deprecated")
            snapshot = RestrictedUnpickler(file).load()
    except PickleRefused as error:
        raise WeightsFormatError(path, f"refused to load: {error}; nothing from the file was run") from None
    except PickleTruncated as error:
        raise WeightsFormatError(path, f"is truncated: the pickle ends before its data does ({error}); "
                                       f"download or copy it again") from None
    except (EOFError, pickle.UnpicklingError) as error:
        if isinstance(error, EOFError) or "truncated" in str(error):
            raise WeightsFormatError(path, "is truncated: the pickle ends before its data does; "
                                           "download or copy it again") from None
        raise WeightsFormatError(path, f"is not a readable StyleGAN pickle: {first_line(error)}") from None
    except OSError as error:
        raise WeightsFormatError(path, f"cannot be read: {first_line(error)}") from None
    except Exception as error:  # Any other failure inside pickle's machinery means a damaged file.
        raise WeightsFormatError(path, f"is not a readable StyleGAN pickle (damaged or truncated?): "
                                       f"{type(error).__name__}: {first_line(error)}") from None
    if not isinstance(snapshot, dict):
        raise WeightsFormatError(path, f"is a pickle but not an NVIDIA snapshot (it holds {shown(snapshot)}, "
                                       f"not a dict of networks)")
    return snapshot


def snapshot_network(snapshot: Dict[str, Any], key: str, path: PathLike, kind: str = "network") -> NetworkRecord:
    """The network stored under `key` (e.g. 'G_ema', 'D'), else a WeightsFormatError naming what is there."""
    if key not in snapshot:
        found = sorted(name for name in snapshot if isinstance(name, str))[:10]
        raise WeightsFormatError(path, f"is a pickle but holds no {kind} under {key!r} (found "
                                       f"{', '.join(shown(name, 30) for name in found) or 'nothing'})")
    record = snapshot[key]
    if not isinstance(record, NetworkRecord):
        raise WeightsFormatError(path, f"{key!r} is {shown(record)}, not a pickled network")
    return record


def walk_network(record: NetworkRecord, name: str, path: PathLike) -> Iterator[Tuple[str, NetworkRecord]]:
    """(prefix, record) for the network and every submodule, parents first: 'G_ema.' style prefixes
    without the network's own name ('' for the root, 'synthesis.', 'synthesis.b8.', ...).

    A real network is a tree of at most MAX_NETWORK_RECORDS modules; a record reached twice is refused,
    so a file cannot make this walk (or anything built on it) visit shared parts exponentially often.
    """
    seen = set()
    pending = [("", record)]
    while pending:
        prefix, current = pending.pop()
        if not isinstance(current, NetworkRecord):
            raise WeightsFormatError(path, f"'{name}.{prefix.rstrip('.')}' is not a pickled network")
        if id(current) in seen:
            raise WeightsFormatError(path, f"'{name}.{prefix.rstrip('.')}' appears twice in '{name}' "
                                           f"(a network is a tree of modules)")
        seen.add(id(current))
        if len(seen) > MAX_NETWORK_RECORDS:
            raise WeightsFormatError(path, f"'{name}' has more than {MAX_NETWORK_RECORDS} modules")
        yield prefix, current
        children = [(child_name, child) for child_name, child in current.modules().items() if child is not None]
        for child_name, child in reversed(children):
            if not isinstance(child_name, str) or len(child_name) > 200:
                raise WeightsFormatError(path, f"'{name}.{prefix}' names a submodule with {shown(child_name)}")
            pending.append((f"{prefix}{child_name}.", child))


def network_settings(record: NetworkRecord, name: str, path: PathLike,
                     positional: Sequence[str] = ()) -> Dict[str, Any]:
    """The record's constructor arguments as one dict of plain, bounded data.

    `positional` names the constructor's positional parameters in order (NVIDIA records `_init_args`
    and `_init_kwargs`). Dicts (EasyDict) become dict, tuples list, NumPy numbers Python numbers;
    anything else (tensors, records, deep or huge containers) is refused naming the setting.
    """
    args, kwargs = record.state.get("_init_args", ()), record.state.get("_init_kwargs")
    if not isinstance(kwargs, dict) or not isinstance(args, (tuple, list)) or len(args) > len(positional):
        raise WeightsFormatError(path, f"'{name}' does not record its constructor arguments")
    named = list(zip(positional, args)) + list(kwargs.items())
    if not all(isinstance(key, str) and len(key) <= 100 for key, _ in named):
        raise WeightsFormatError(path, f"'{name}' has a constructor argument not named by a short string")
    return bounded_plain(dict(named), f"'{name}' arguments", path)


def network_state_dict(record: NetworkRecord, name: str, path: PathLike) -> Dict[str, torch.Tensor]:
    """The network's parameters and persistent buffers under PyTorch state_dict names."""
    tensors: Dict[str, torch.Tensor] = {}
    for prefix, module in walk_network(record, name, path):
        skipped = module.state.get("_non_persistent_buffers_set") or set()
        if not isinstance(skipped, (set, frozenset)):
            raise WeightsFormatError(path, f"'{name}.{prefix}_non_persistent_buffers_set' is not a set")
        for group in ("_parameters", "_buffers"):
            entries = module.state.get(group) or {}
            if not isinstance(entries, dict):
                raise WeightsFormatError(path, f"'{name}.{prefix}{group}' is not laid out as a PyTorch module's")
            for key, tensor in entries.items():
                if not isinstance(key, str) or len(key) > 200:
                    raise WeightsFormatError(path, f"'{name}.{prefix}{group}' names a tensor with {shown(key)}")
                if tensor is None or key in skipped:
                    continue
                if not isinstance(tensor, torch.Tensor):
                    raise WeightsFormatError(path, f"'{name}.{prefix}{key}' is {shown(tensor)}, not a tensor")
                # Checked again where every network's tensors pass, whatever produced them: the pre-scan
                # refuses a BUILD on a rebuilt tensor (Tensor.__setstate__ would call set_() with any view).
                problem = tensor_problem(tensor)
                if problem:
                    raise WeightsFormatError(path, f"'{name}.{prefix}{key}' {problem}")
                tensors[prefix + key] = tensor
    return tensors


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose only reachable globals are the safe stand-ins in SAFE_GLOBALS."""

    def find_class(self, module: str, name: str) -> Any:
        stand_in = SAFE_GLOBALS.get((module, name))
        if stand_in is not None:
            return stand_in
        if module.startswith("dnnlib.tflib"):
            raise PickleRefused(f"it is a TensorFlow StyleGAN pickle ({shown(f'{module}.{name}', 80)}); convert "
                                f"it to PyTorch with NVIDIA's stylegan2-ada-pytorch legacy.py first")
        raise PickleRefused(f"the pickle asks for {shown(f'{module}.{name}', 80)}, which a StyleGAN weights "
                            f"file never needs (it could run code)")

    def persistent_load(self, pid: Any) -> Any:
        raise PickleRefused("the pickle uses persistent ids, which NVIDIA's files never do")


# ----------------------------------------------------------------------------------------------------
# Safe stand-ins for the globals NVIDIA's pickles name (NumPy's are in numpy_values.py).

def _reconstruct_persistent_obj(meta: Any) -> NetworkRecord:
    """Stand-in for torch_utils.persistence._reconstruct_persistent_obj: keep the data, run nothing."""
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise PickleRefused("a persistent object is not a pickled class (unknown persistence layout)")
    class_name, state = meta.get("class_name"), meta.get("state")
    if not isinstance(class_name, str) or len(class_name) > 200 or not isinstance(state, dict):
        raise PickleRefused("a persistent object lacks its class name or state")
    return NetworkRecord(class_name, state)


class _EasyDict(dict):
    """Stand-in for dnnlib.util.EasyDict: a plain dict (attribute access is not needed here)."""


def _load_storage(data: Any) -> torch.storage.TypedStorage:
    """Stand-in for torch.storage._load_from_bytes: each storage is a nested legacy torch.save archive,
    checked like a legacy file, then read with weights_only=True."""
    if not isinstance(data, bytes):
        raise PickleRefused("a tensor storage is not stored as bytes")
    try:
        check_legacy_archive(data)
    except (PickleRefused, PickleTruncated) as error:
        raise PickleRefused(f"a tensor storage inside it is refused: {error}") from None
    try:
        storage = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise PickleRefused(f"a tensor storage inside it is not plain data: "
                            f"{describe_unpickling_refusal(error)}") from None
    except Exception as error:  # torch raises RuntimeError, EOFError, ... for damaged archives.
        raise PickleRefused(f"a tensor storage inside it is damaged ({first_line(error)})") from None
    if not isinstance(storage, torch.storage.TypedStorage):
        raise PickleRefused(f"a tensor storage decodes to {shown(storage)}")
    return storage


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any,
                    requires_grad: Any = False, backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    """Stand-in for torch._utils._rebuild_tensor_v2: a view into a storage, no larger than the storage."""
    if not isinstance(storage, torch.storage.TypedStorage):
        raise PickleRefused("a tensor refers to something that is not a storage")
    problem = tensor_view_problem(storage_offset, size, stride)
    if problem:
        raise PickleRefused(f"a tensor {problem}")
    if tensor_view_extent(storage_offset, size, stride) > storage.size():
        raise PickleRefused(f"a tensor reaches past its storage of {storage.size()} elements")
    try:
        tensor = torch.empty((0,), dtype=storage.dtype).set_(storage.untyped(), storage_offset, size, stride)
    except RuntimeError as error:
        raise PickleRefused(f"a tensor does not fit its storage ({first_line(error)})") from None
    problem = tensor_problem(tensor)
    if problem:
        raise PickleRefused(f"a tensor {problem}")
    return tensor


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None,
                       state: Any = None) -> torch.Tensor:
    """Stand-in for torch._utils._rebuild_parameter(_with_state): the plain tensor is all we need."""
    if not isinstance(data, torch.Tensor):
        raise PickleRefused("a parameter holds something that is not a tensor")
    return data


def _bytes_from_latin1(text: Any, encoding: Any = "latin1") -> bytes:
    """Stand-in for _codecs.encode, which protocol-2 pickles use to spell bytes."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise PickleRefused("a protocol-2 bytes object is not latin-1 text")
    return text.encode("latin1")


# Globals whose results are tensors: the pre-scan refuses a BUILD on them (Tensor.__setstate__ calls set_()).
TENSOR_REBUILDS = frozenset({("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
                             ("torch._utils", "_rebuild_parameter_with_state")})

SAFE_GLOBALS = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    # Pickle protocols 2 and 3 (Python 3.7's default, used by the released files) spell sets and bytes so.
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
    ("_codecs", "encode"): _bytes_from_latin1,
    # NumPy 2 names its internals numpy._core, NumPy 1 numpy.core.
    ("numpy", "dtype"): numpy_values.make_dtype,
    ("numpy", "ndarray"): numpy_values.NdarrayName,
    **{(f"numpy.{core}.multiarray", "scalar"): numpy_values.make_scalar for core in ("core", "_core")},
    **{(f"numpy.{core}.multiarray", "_reconstruct"): numpy_values.reconstruct_array for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): numpy_values.array_from_buffer for core in ("core", "_core")},
}
