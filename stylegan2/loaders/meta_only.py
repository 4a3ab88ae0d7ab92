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

from .common import ARCHITECTURES, PathLike, WeightsFormatError, checked_settings, first_line
from .native import (
    add_training_progress,
    is_native,
    is_training_snapshot,
    native_header,
    native_meta,
    snapshot_generator,
)
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
    if is_training_snapshot(content):
        return add_training_progress(_meta(snapshot_generator(content, path), path), content)
    return _meta(content, path)


def _settings_content(path: Path) -> Optional[Mapping[str, Any]]:
    """The content of a StyleCam file or training snapshot, tensors as placeholders; None for another format."""
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
    return content if is_native(content) or is_training_snapshot(content) else None


def _meta(content: Mapping[str, Any], path: Path) -> Dict[str, Any]:
    """The meta of native ``content``, its generator built on the meta device (shapes, no numbers)."""
    architecture, init_kwargs, stored_meta = native_header(content, path)
    settings = checked_settings(init_kwargs, path, architecture)
    try:
        with torch.device("meta"):
            generator = ARCHITECTURES[architecture].network(**settings)
    except (TypeError, ValueError, KeyError, NotImplementedError, RuntimeError) as error:
        raise WeightsFormatError(path, f"describes a generator StyleCam cannot build: {first_line(error)}") from None
    return native_meta(generator, stored_meta, path)
