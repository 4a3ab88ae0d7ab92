"""Training snapshots: everything a run needs to continue exactly where it stopped, in one safe file.

One `torch.save` archive of plain types and tensors, read back with `torch.load(weights_only=True)`:

    {"format": "stylecam-training-snapshot", "version": 1,
     "arch": "stylegan2" | "dcgan",
     "config": TrainingConfig as a dict,
     "progress": {"step": steps done, "cur_nimg": real images shown},
     "G": {"init_kwargs", "state_dict"}, "D": {"init_kwargs", "state_dict"},
     "G_ema": a StyleCam weights file's content (stylegan2.loaders.native) for StyleGAN2,
              {"format": "stylecam-dcgan", "init_kwargs", "state_dict"} for DCGAN,
     "optimizers": {"G": Adam state_dict, "D": Adam state_dict},
     "loss": {"pl_mean": tensor},
     "augment": {"p": tensor, "signs": tensor} (the ADA state) or None,
     "meta": plain data (dataset, what the run started from)}

Random numbers need no saved state: the training loop derives every draw from (seed, step), so the
step count is enough. `stylegan2.load` reads a StyleGAN2 snapshot's G_ema like any weights file, so a
snapshot can be served directly. Files are written beside the target and renamed into place.
"""
from __future__ import annotations

import os
import pickle
import uuid
import zipfile
from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch

from ..loaders.native import TRAINING_SNAPSHOT_FORMAT, is_training_snapshot
from .errors import SnapshotError

VERSION = 1
REQUIRED = ("arch", "config", "progress", "G", "D", "G_ema", "optimizers", "loss", "augment")
PathLike = Union[str, Path]


def network_entry(module: torch.nn.Module) -> Dict[str, Any]:
    """A network as plain data: its constructor arguments and a CPU copy of its state dict."""
    return {"init_kwargs": module.init_kwargs,
            "state_dict": {key: value.detach().to("cpu", copy=True) for key, value in module.state_dict().items()}}


def write_snapshot(content: Dict[str, Any], path: PathLike) -> Path:
    """Write a snapshot (the fields of the module docstring but format/version) atomically; returns the path."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "xb") as file:
            torch.save({"format": TRAINING_SNAPSHOT_FORMAT, "version": VERSION, **content}, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise SnapshotError(f"{path}: cannot be written: {error}") from error
    finally:
        temporary.unlink(missing_ok=True)
    return path


def read_snapshot(path: PathLike) -> Dict[str, Any]:
    """Read and check a snapshot; SnapshotError says what is wrong with a damaged or foreign file."""
    content = read_if_snapshot(path)
    if content is None:
        raise SnapshotError(f"{path}: is not a StyleCam training snapshot")
    return content


def read_if_snapshot(path: PathLike) -> Optional[Dict[str, Any]]:
    """The snapshot at `path`, checked; None when the file is something else (e.g. a generator to fine-tune).

    A file that is a damaged zip archive or a snapshot with missing parts raises SnapshotError.
    """
    path = Path(path)
    if not path.is_file():
        return None
    with open(path, "rb") as file:
        if file.read(4) != b"PK\x03\x04":
            return None
    try:
        with zipfile.ZipFile(path) as archive:
            archive.namelist()
        content = torch.load(path, map_location="cpu", weights_only=True)
    except (zipfile.BadZipFile, EOFError, RuntimeError, pickle.UnpicklingError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SnapshotError(f"{path}: is a damaged or truncated file ({first_line})") from None
    if not is_training_snapshot(content):
        return None
    version = content.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise SnapshotError(f"{path}: snapshot format version {version!r}; this StyleCam reads up to {VERSION}")
    missing = [key for key in REQUIRED if key not in content]
    if missing:
        raise SnapshotError(f"{path}: snapshot lacks {', '.join(missing)}")
    return content


def kimg_label(cur_nimg: int) -> str:
    """How file names count progress: 000200 after 200 kimg, 000000-512 after 512 images (short runs)."""
    extra = f"-{cur_nimg % 1000:03d}" if cur_nimg % 1000 else ""
    return f"{cur_nimg // 1000:06d}{extra}"


def snapshot_name(cur_nimg: int) -> str:
    return f"snapshot-{kimg_label(cur_nimg)}.pt"
