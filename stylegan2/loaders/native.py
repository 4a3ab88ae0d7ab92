"""StyleCam's own weights file: the generator's settings and state dict, nothing that needs trust to read.

One `torch.save` archive of plain types and tensors,
`{"format": "stylecam-stylegan2", "version": 1, "architecture": "stylegan2", "init_kwargs": ...,
"state_dict": ..., "meta": ...}`, so `torch.load(path, weights_only=True)` reads it without running
anything. It is written to a temporary file beside the target and moved into place, so an interrupted
save never leaves half a file.

`architecture` is "stylegan2" or "stylegan3" (absent in files from before StyleGAN3: "stylegan2").
StyleGAN3 files are version 2, so that a StyleCam without StyleGAN3 says to update rather than failing
to build the network; StyleGAN2 files stay version 1, which every StyleCam reads.

A training snapshot (`stylegan2.training.snapshot`) holds its G_ema in this same layout, so it loads as
a generator too.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import torch

from .common import (
    ARCHITECTURES,
    PathLike,
    WeightsFormatError,
    bounded_plain,
    build_generator,
    generator_meta,
    plain,
    shown,
)

FORMAT = "stylecam-stylegan2"
VERSION = 2  # The newest version this StyleCam reads and writes.
TRAINING_SNAPSHOT_FORMAT = "stylecam-training-snapshot"
PLAIN_TYPES = (type(None), bool, int, float, str)


def is_native(content: Any) -> bool:
    return isinstance(content, Mapping) and content.get("format") == FORMAT


def is_training_snapshot(content: Any) -> bool:
    return isinstance(content, Mapping) and content.get("format") == TRAINING_SNAPSHOT_FORMAT


def payload(generator: torch.nn.Module, meta: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The content of a native file for `generator` (also a training snapshot's G_ema entry)."""
    init_kwargs, meta = plain(generator.init_kwargs), plain(meta or {})
    for name, value in (("init_kwargs", init_kwargs), ("meta", meta)):
        _check_plain(value, name)
    return {
        "format": FORMAT,
        "version": 1 if generator.architecture == "stylegan2" else VERSION,
        "architecture": generator.architecture,
        "init_kwargs": init_kwargs,
        "state_dict": {key: tensor.detach().to("cpu", copy=True).contiguous()
                       for key, tensor in generator.state_dict().items()},
        "meta": meta,
    }


def save(generator: torch.nn.Module, path: PathLike, meta: Optional[Dict[str, Any]] = None) -> None:
    """Write `generator` (its init_kwargs and state dict) and `meta` (plain data) to `path` atomically."""
    content = payload(generator, meta)
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "xb") as file:
            torch.save(content, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise WeightsFormatError(path, f"cannot be written: {error}") from error
    finally:
        temporary.unlink(missing_ok=True)


def native_header(content: Mapping[str, Any], path: PathLike) -> Tuple[str, Dict[str, Any], Dict[str, Any]]:
    """The checked architecture, init_kwargs (as stored: ``build_generator`` checks them) and metadata of a
    native file's content."""
    version = content.get("version")
    if not isinstance(version, int) or version < 1:
        shown_version = repr(version) if isinstance(version, (int, float)) or version is None else shown(version)
        raise WeightsFormatError(path, f"is a StyleCam weights file with an invalid version {shown_version}")
    if version > VERSION:
        raise WeightsFormatError(path, f"was written by a newer StyleCam (format version {version}; this one "
                                       f"reads up to {VERSION}); update StyleCam")
    init_kwargs = content.get("init_kwargs")
    if not isinstance(init_kwargs, dict):
        raise WeightsFormatError(path, "is a StyleCam weights file without its init_kwargs or state_dict")
    architecture = content.get("architecture", "stylegan2")
    if not isinstance(architecture, str) or architecture not in ARCHITECTURES:
        raise WeightsFormatError(path, f"is a StyleCam weights file of architecture {shown(architecture, 30)}; "
                                       f"this StyleCam runs {' and '.join(sorted(ARCHITECTURES))}")
    stored_meta = content.get("meta")
    return architecture, init_kwargs, bounded_plain(stored_meta if isinstance(stored_meta, dict) else {}, "'meta'",
                                                    path)


def native_meta(generator: torch.nn.Module, stored_meta: Dict[str, Any], path: PathLike) -> Dict[str, Any]:
    """The meta a native file's generator reports: what every loader reports, then what the file stored."""
    meta = generator_meta(generator, "stylecam", path)
    for key, value in stored_meta.items():
        meta.setdefault(str(key), value)
    return meta


def load_native(content: Mapping[str, Any], path: PathLike) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """Build the generator from a loaded native file; returns (generator, meta)."""
    architecture, init_kwargs, stored_meta = native_header(content, path)
    state_dict = content.get("state_dict")
    if not isinstance(state_dict, dict):
        raise WeightsFormatError(path, "is a StyleCam weights file without its init_kwargs or state_dict")
    generator = build_generator(init_kwargs, state_dict, path, architecture)
    return generator, native_meta(generator, stored_meta, path)


def snapshot_generator(content: Mapping[str, Any], path: PathLike) -> Mapping[str, Any]:
    """The native content of a StyleCam training snapshot's G_ema (WeightsFormatError for another model)."""
    g_ema = content.get("G_ema")
    if not is_native(g_ema):
        raise WeightsFormatError(path, f"is a StyleCam training snapshot of a {shown(content.get('arch', 'unknown'), 30)} "
                                       f"model; only StyleGAN2 generators can be loaded from it")
    return g_ema


def add_training_progress(meta: Dict[str, Any], content: Mapping[str, Any]) -> Dict[str, Any]:
    """``meta`` with the kimg a training snapshot's ``content`` was saved at."""
    progress = content.get("progress")
    if isinstance(progress, dict) and isinstance(progress.get("cur_nimg"), int):
        meta["training_kimg"] = progress["cur_nimg"] / 1000
    return meta


def load_training_snapshot(content: Mapping[str, Any], path: PathLike) -> Tuple[torch.nn.Module, Dict[str, Any]]:
    """The G_ema of a StyleCam training snapshot (stylegan2.training.snapshot); returns (generator, meta)."""
    generator, meta = load_native(snapshot_generator(content, path), path)
    return generator, add_training_progress(meta, content)


def _check_plain(value: Any, where: str) -> None:
    """Refuse anything torch.load(weights_only=True) could not read back, naming where it is."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has a non-string key {key!r}")
            _check_plain(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
    elif not isinstance(value, PLAIN_TYPES):
        raise TypeError(f"{where} has type {type(value).__name__}; only plain data (dicts with str keys, "
                        f"lists, str, numbers, bool, None) can be saved")
