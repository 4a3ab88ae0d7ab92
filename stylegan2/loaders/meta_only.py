"""What a weights file holds, without reading its tensors: the meta `load` reports, for listings of many files.

A StyleCam file (and a StyleCam training snapshot) is a torch.save zip archive whose data.pkl holds the
settings and the metadata beside references to the tensors, which live in records of their own. So its
data.pkl alone says what the generator is: after the archive and its pickle pass the same checks as a full
load (`check_torch_zip`), it is unpickled with every tensor and storage replaced by a placeholder (nothing is
rebuilt, nothing is allocated for them, no other global is allowed), and the generator the checked settings
describe is built on PyTorch's "meta" device, which holds shapes but no numbers, to report `num_ws` and the
rest exactly as the network computes them. NVIDIA pickles and rosinality checkpoints keep their tensors
inside the one pickle with the settings, and a torch without the meta device context (< 2.0) cannot build
for free: for those there is no cheaper read than `load` (`stylegan2.loaders.read_meta` does that).
"""
from __future__ import annotations

import codecs
import collections
import io
import pickle
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import torch

from .common import (
    ARCHITECTURES,
    PathLike,
    WeightsFormatError,
    bounded_plain,
    checked_settings,
    first_line,
    generator_meta,
    shown,
)
from .native import FORMAT, TRAINING_SNAPSHOT_FORMAT, VERSION
from .torch_files import STORAGE_TYPES, TENSOR_REBUILDS, _zip_contents, check_torch_zip

META_DEVICE_CONTEXT = hasattr(torch.device, "__enter__")     # `with torch.device("meta"):` (torch >= 2.0)


class TensorPlaceholder:
    """Where a tensor is in the file; its numbers are never read."""


TENSOR = TensorPlaceholder()


def _placeholder(*args: Any, **kwargs: Any) -> TensorPlaceholder:
    return TENSOR


class _SettingsUnpickler(pickle.Unpickler):
    """Unpickles a torch.save data.pkl with tensors as placeholders; any global but torch's tensor and
    storage references, OrderedDict and protocol 2's bytes codec is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in TENSOR_REBUILDS:
            return _placeholder
        if (module, name) in STORAGE_TYPES:
            return TensorPlaceholder
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("_codecs", "encode"):
            return codecs.encode
        raise pickle.UnpicklingError(f"GLOBAL {module}.{name} is not allowed")

    def persistent_load(self, pid: Any) -> TensorPlaceholder:
        return TENSOR


def meta_without_tensors(path: PathLike) -> Optional[Dict[str, Any]]:
    """The meta `stylegan2.load(path)` reports, read without the file's tensors, or None where the format (or
    this torch) does not allow it (see the module docstring); every problem raises WeightsFormatError."""
    path = Path(path)
    content = _settings_content(path) if META_DEVICE_CONTEXT else None
    if content is None:
        return None
    record = content.get("G_ema") if content.get("format") == TRAINING_SNAPSHOT_FORMAT else content
    meta = _meta(record, path)
    progress = content.get("progress")
    if isinstance(progress, dict) and isinstance(progress.get("cur_nimg"), int):
        meta["training_kimg"] = progress["cur_nimg"] / 1000
    return meta


def _settings_content(path: Path) -> Optional[Mapping[str, Any]]:
    """A StyleCam file's content or a StyleCam training snapshot's, tensors as placeholders; None for a file
    of another format."""
    with open(path, "rb") as file:
        if file.read(4) != b"PK\x03\x04":
            return None
    check_torch_zip(path)
    _, _, data_pkl = _zip_contents(path)
    try:
        content = _SettingsUnpickler(io.BytesIO(data_pkl)).load()
    except Exception as error:    # Whatever the stream does wrong, the file is at fault.
        raise WeightsFormatError(path, f"refused to load: {first_line(error)}; nothing from the file was run") \
            from None
    if not isinstance(content, Mapping):
        return None
    if content.get("format") == TRAINING_SNAPSHOT_FORMAT:
        g_ema = content.get("G_ema")
        return content if isinstance(g_ema, Mapping) and g_ema.get("format") == FORMAT else None
    return content if content.get("format") == FORMAT else None


def _meta(content: Mapping[str, Any], path: Path) -> Dict[str, Any]:
    version = content.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise WeightsFormatError(path, f"is a StyleCam weights file of format version {shown(version)}; this "
                                       f"one reads 1 to {VERSION}")
    architecture = content.get("architecture", "stylegan2")
    if not isinstance(architecture, str) or architecture not in ARCHITECTURES:
        raise WeightsFormatError(path, f"is a StyleCam weights file of architecture {shown(architecture, 30)}; "
                                       f"this StyleCam runs {' and '.join(sorted(ARCHITECTURES))}")
    settings = checked_settings(content.get("init_kwargs"), path, architecture)
    stored = content.get("meta")
    stored = bounded_plain(stored if isinstance(stored, dict) else {}, "'meta'", path)
    try:
        with torch.device("meta"):
            generator = ARCHITECTURES[architecture].network(**settings)
    except (TypeError, ValueError, KeyError, NotImplementedError, RuntimeError) as error:
        raise WeightsFormatError(path, f"describes a generator StyleCam cannot build: {first_line(error)}") from None
    meta = generator_meta(generator, "stylecam", path)
    for key, value in stored.items():
        meta.setdefault(str(key), value)
    return meta
