"""Check a torch.save file against the bytes it really has before torch.load reads it, and its tensors after.

`torch.load(weights_only=True)` refuses globals that could run code, but it trusts sizes. On torch 2.13
it hashes any tuple a file uses as a dict key (a tuple nested a million deep crashes the interpreter, a
"billion laughs" of shared tuples hangs it), inflates a zip record to whatever size the archive
declares, and rebuilds tensors whose stride 0 repeats one stored number 2**40 times. torch 1.13 (the
Jetson boards) in addition takes a storage's length from the pickle, not from its zip record, and reads
past a short record. So before torch.load: the zip's central directory is bounded and every record's
declared size checked against the file and a cap; the pickle (data.pkl, or the pickles of the legacy
format) goes through `pickle_scan`; and every storage it declares must be exactly the bytes stored for
it. After torch.load every tensor must be a plain dense CPU tensor no larger than its storage.
"""
from __future__ import annotations

import mmap
import struct
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import torch

from .common import PathLike, WeightsFormatError, shown, tensor_problem, tensor_view_problem
from .pickle_scan import NOT_PLAIN, Buffer, Global, PickleRefused, PickleScan, PickleTruncated, scan_pickle

MAX_ZIP_ENTRIES = 50_000                # records in one archive; a state dict has one per tensor
MAX_CENTRAL_DIRECTORY = 4 * 2 ** 20     # bytes of zip index (~70 per record): bounds what zipfile parses
MAX_INFLATED = 64 * 2 ** 20             # bytes that compressed records may inflate to, in all
EOCD = b"PK\x05\x06"
ZIP64_LOCATOR = b"PK\x06\x07"
ZIP64_EOCD = b"PK\x06\x06"

# torch.save's legacy (pre-1.6) format: five pickles, then each storage as an element count and its bytes.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# Bytes per element of the storage classes torch.save names (torch.<Name>Storage).
STORAGE_ITEMSIZE = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
    "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
    "ComplexDoubleStorage": 16, "ComplexFloatStorage": 8, "QUInt8Storage": 1, "QInt8Storage": 1,
    "QInt32Storage": 4, "QUInt4x2Storage": 1, "QUInt2x4Storage": 1, "UntypedStorage": 1,
}
STORAGE_TYPES = frozenset(("torch", name) for name in STORAGE_ITEMSIZE)
REBUILD_TENSOR = ("torch._utils", "_rebuild_tensor_v2")
TENSOR_REBUILDS = frozenset({REBUILD_TENSOR, ("torch._utils", "_rebuild_parameter"),
                             ("torch._utils", "_rebuild_parameter_with_state")})
# The globals a weights file needs, of those torch.load(weights_only=True) allows. The others allocate what
# their arguments say (builtins.bytearray(2**31) fills 2 GB; torch.Tensor(n), and on torch 1.13 the storage
# classes, allocate n elements) or are never in a state dict (devices, dtypes, sparse and quantized tensors).
TORCH_FILE_GLOBALS = TENSOR_REBUILDS | STORAGE_TYPES | {("collections", "OrderedDict"), ("argparse", "Namespace")}


def check_torch_zip(path: PathLike) -> None:
    """Refuse a torch.save zip archive whose index, records or data.pkl declare more than the file holds."""
    records, data_pkl, pickle_bytes = _zip_contents(path)
    if data_pkl is None:
        raise WeightsFormatError(path, "is a zip archive but not a PyTorch file (it holds no data.pkl)")
    try:
        storages = _declared_storages(_checked_scan(pickle_bytes, 0).persistent_ids, view_metadata=False)
    except PickleRefused as error:
        raise WeightsFormatError(path, f"refused to load: {error}; nothing from the file was run") from None
    except PickleTruncated as error:
        raise WeightsFormatError(path, f"is damaged or truncated: its data.pkl is cut short ({error})") from None
    prefix = data_pkl[:-len("data.pkl")]
    for key, (nbytes, _) in storages.items():
        record = records.get(f"{prefix}data/{key}")
        if record is None:
            raise WeightsFormatError(path, f"is damaged: storage {shown(key)} has no record in the archive")
        if record.file_size != nbytes:
            raise WeightsFormatError(path, f"is damaged: storage {shown(key)} declares {nbytes} bytes but its "
                                           f"record holds {record.file_size}")


def check_legacy_archive(data: Buffer) -> None:
    """Check a legacy-format torch.save stream (a file, or a storage nested in an NVIDIA pickle).

    Raises PickleRefused or PickleTruncated. Every storage the main pickle declares must be one that the
    data section stores, with the same element count, inside the data.
    """
    magic = _checked_scan(data, 0)
    protocol = _checked_scan(data, magic.end)
    if magic.result != LEGACY_MAGIC or protocol.result != LEGACY_PROTOCOL:
        raise PickleRefused("its legacy PyTorch header is not PyTorch's (magic number or protocol)")
    sys_info = _checked_scan(data, protocol.end)
    main = _checked_scan(data, sys_info.end)
    keys = _checked_scan(data, main.end)
    storages = _declared_storages(main.persistent_ids, view_metadata=True)
    stored = keys.result
    if not isinstance(stored, list) or not all(isinstance(key, str) for key in stored) \
            or len(set(stored)) != len(stored) or set(stored) != set(storages):
        raise PickleRefused("its list of stored storages does not match the storages its pickle uses")
    position = keys.end
    for key in stored:
        nbytes, itemsize = storages[key]
        if len(data) - position < 8:
            raise PickleTruncated(f"storage {shown(key)} ends before its element count")
        (count,) = struct.unpack("<q", data[position:position + 8])
        if count * itemsize != nbytes:
            raise PickleRefused(f"storage {shown(key)} stores {count} elements but its pickle declares "
                                f"{nbytes // itemsize}")
        position += 8 + nbytes
        if position > len(data):
            raise PickleTruncated(f"storage {shown(key)} declares {nbytes} bytes past the end of the data")


def check_torch_legacy(path: PathLike) -> None:
    """check_legacy_archive on a file, mapped rather than read: only the opcodes are touched."""
    try:
        with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            check_legacy_archive(data)
    except PickleRefused as error:
        raise WeightsFormatError(path, f"refused to load: {error}; nothing from the file was run") from None
    except PickleTruncated as error:
        raise WeightsFormatError(path, f"is damaged or truncated: {error}; download or copy it again") from None
    except (OSError, ValueError) as error:
        raise WeightsFormatError(path, f"cannot be read: {shown(str(error), 80)}") from None


def check_loaded_tensors(content: Any, path: PathLike) -> None:
    """Every tensor torch.load returned is a dense CPU tensor whose elements are really stored."""
    for where, tensor in _tensors_in(content, ""):
        problem = tensor_problem(tensor)
        if problem:
            raise WeightsFormatError(path, f"the tensor {where[:200] or '(the whole file)'} {problem}")


# ----------------------------------------------------------------------------------------------------

def _checked_scan(data: Buffer, start: int) -> PickleScan:
    """scan_pickle, then: only TORCH_FILE_GLOBALS, storage classes only inside persistent ids (never
    called), and every tensor view bounded (see tensor_view_problem)."""
    scan = scan_pickle(data, start, watch=TENSOR_REBUILDS | STORAGE_TYPES)
    for module, name in scan.globals:
        if (module, name) not in TORCH_FILE_GLOBALS:
            raise PickleRefused(f"it asks for {shown(f'{module}.{name}', 80)}, which plain weights never need "
                                f"(it could run code or allocate what the file says)")
    for call, args in scan.calls:
        if call in STORAGE_TYPES:
            raise PickleRefused(f"it calls the storage class {shown('.'.join(call))}, which allocates what the "
                                f"file says")
        problem = tensor_view_problem(*args[1:4]) if call == REBUILD_TENSOR and len(args) >= 4 else ""
        if problem:
            raise PickleRefused(f"a tensor {problem}")
    return scan


def _zip_contents(path: PathLike) -> Tuple[Dict[str, zipfile.ZipInfo], Optional[str], bytes]:
    """The archive's records (index bounded, sizes checked against the file and MAX_INFLATED), the name of
    its data.pkl (None without one) and that pickle's bytes."""
    try:
        size = Path(path).stat().st_size
        with open(path, "rb") as file:
            _check_central_directory_size(file, size)
        with zipfile.ZipFile(path) as archive:
            records = _checked_records(archive, size)
            data_pkl = _data_pkl_name(archive)
            return records, data_pkl, archive.read(data_pkl) if data_pkl is not None else b""
    except PickleRefused as error:
        raise WeightsFormatError(path, f"refused to load: {error}; nothing from the file was read") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, RuntimeError,
            ValueError, struct.error) as error:
        raise WeightsFormatError(path, f"is a damaged or truncated zip archive ({shown(str(error), 80)}); "
                                       f"download or copy it again") from None


def _check_central_directory_size(file: Any, size: int) -> None:
    """Read the end-of-central-directory record (zip64 too) and bound the index zipfile would parse."""
    tail_start = max(0, size - 22 - 0xFFFF)
    file.seek(tail_start)
    tail = file.read(size - tail_start)
    at = tail.rfind(EOCD)
    if at < 0 or len(tail) - at < 22:
        raise zipfile.BadZipFile("its end-of-archive record is missing")
    entries, directory = struct.unpack("<HI", tail[at + 10:at + 16])
    if entries == 0xFFFF or directory == 0xFFFFFFFF:
        locator = tail[at - 20:at] if at >= 20 else b""
        if not locator.startswith(ZIP64_LOCATOR):
            raise zipfile.BadZipFile("its zip64 end-of-archive locator is missing")
        (offset,) = struct.unpack("<Q", locator[8:16])
        if offset > size - 56:
            raise zipfile.BadZipFile("its zip64 end-of-archive record lies outside the file")
        file.seek(offset)
        record = file.read(56)
        if not record.startswith(ZIP64_EOCD):
            raise zipfile.BadZipFile("its zip64 end-of-archive record is missing")
        entries, directory = struct.unpack("<QQ", record[32:48])
    if entries > MAX_ZIP_ENTRIES or directory > min(size, MAX_CENTRAL_DIRECTORY):
        raise PickleRefused(f"its zip index declares {entries} records in {directory} bytes (at most "
                            f"{MAX_ZIP_ENTRIES} records in {MAX_CENTRAL_DIRECTORY} bytes, within the file)")


def _checked_records(archive: zipfile.ZipFile, size: int) -> Dict[str, zipfile.ZipInfo]:
    """Every record stored whole inside the file, or compressed to a bounded size; names unique."""
    records: Dict[str, zipfile.ZipInfo] = {}
    inflated = 0
    for info in archive.infolist():
        name = info.filename
        if name in records:
            raise PickleRefused(f"its zip archive holds two records named {shown(name)}")
        records[name] = info
        if info.flag_bits & 0x1:
            raise PickleRefused(f"its zip record {shown(name)} is encrypted")
        if info.header_offset + 30 + info.compress_size > size:
            raise zipfile.BadZipFile(f"record {shown(name)} declares {info.compress_size} bytes past the end "
                                     f"of the file")
        if info.compress_type == zipfile.ZIP_STORED:
            if info.file_size != info.compress_size:
                raise zipfile.BadZipFile(f"stored record {shown(name)} declares two different sizes")
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            inflated += info.file_size
            if inflated > MAX_INFLATED:
                raise PickleRefused(f"its compressed zip records would inflate to more than {MAX_INFLATED} "
                                    f"bytes (record {shown(name)} alone declares {info.file_size})")
        else:
            raise PickleRefused(f"its zip record {shown(name)} uses compression method {info.compress_type}, "
                                f"which PyTorch files never use")
    return records


def _data_pkl_name(archive: zipfile.ZipFile) -> Optional[str]:
    """PyTorch reads `<first record's folder>/data.pkl`; None when there is none."""
    names = archive.namelist()
    folder = names[0].split("/", 1)[0] if names and "/" in names[0] else None
    return f"{folder}/data.pkl" if folder is not None and f"{folder}/data.pkl" in names else None


def _declared_storages(persistent_ids: list, view_metadata: bool) -> Dict[str, Tuple[int, int]]:
    """{key: (bytes, bytes per element)} from torch's persistent ids ('storage', type, key, location, numel[, view])."""
    storages: Dict[str, Tuple[int, int]] = {}
    for pid in persistent_ids:
        expected = 6 if view_metadata else 5
        if pid is NOT_PLAIN or not isinstance(pid, tuple) or len(pid) != expected or pid[0] != "storage":
            raise PickleRefused("it references something other than a tensor storage")
        storage_type, key, location, numel = pid[1:5]
        itemsize = STORAGE_ITEMSIZE.get(storage_type.name) if isinstance(storage_type, Global) \
            and storage_type.module == "torch" else None
        if itemsize is None or not isinstance(key, str) or not isinstance(location, str) \
                or not isinstance(numel, int) or isinstance(numel, bool) or numel < 0:
            raise PickleRefused("a tensor storage is described by something other than its type, key and size")
        if key in storages and storages[key] != (numel * itemsize, itemsize):
            raise PickleRefused(f"storage {shown(key)} is declared twice with different sizes")
        storages[key] = (numel * itemsize, itemsize)
        view = pid[5] if view_metadata else None
        if view is not None and not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[0], str)
                                     and all(isinstance(n, int) and n >= 0 for n in view[1:])
                                     and view[1] + view[2] <= numel):
            raise PickleRefused(f"a view of storage {shown(key)} lies outside it")
    return storages


def _tensors_in(content: Any, where: str) -> Iterator[Tuple[str, torch.Tensor]]:
    """(description, tensor) for every tensor reachable in plain containers; shared parts visited once."""
    seen = set()
    pending = [(where, content)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, torch.Tensor):
            yield where, value
            continue
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, dict):
            pending.extend((f"{where}[{shown(key)}]", item) for key, item in value.items())
        elif isinstance(value, (list, tuple, set, frozenset)):
            pending.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
        elif hasattr(value, "__dict__") and isinstance(vars(value), dict):
            pending.append((f"{where}.__dict__", vars(value)))
