"""The saved-projection folder format: one folder per projection, written atomically, loaded back by folder.

    <folder>/latent.pt    {"ws": [1, num_ws, w_dim] float32, "noise": {state_dict name: tensor}}
                          (plain tensors: loads with torch.load(..., weights_only=True))
    <folder>/target.png   the aligned target the projection matched
    <folder>/result.png   the generator's image of the result
    <folder>/meta.json    format, created, source, model, perceptual (the network's name, sha256 and
                          file: "vgg16" or "stand-in"), space, steps, seconds, losses, config

Everything is written into a hidden staging folder beside the destination, flushed, and renamed into
place in one step, so a failure (disk full, crash, bad input) never leaves half a result under the real
name; the folder gets the permissions of any new folder (0755 under the usual umask). Folders whose names
start with "." are never listed; the staging folders a crash leaves behind (".partial" saves, ".old"
replaced and ".deleted" projections) are removed by ``remove_leftovers`` once nothing has touched them
for ``STALE_AFTER_S`` (a younger one may belong to a save in progress in another process).
"""
from __future__ import annotations

import datetime as _dt
import io
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import cv2
import numpy as np
import torch
from PIL import Image

from app.images import from_engine
from app.projection.targets import TargetError, decode_image
from stylegan2.files import load_tensors
from stylegan2.projection.projector import ProjectionResult

FORMAT = "stylecam-projection"
VERSION = 1
LATENT_FILE = "latent.pt"
TARGET_FILE = "target.png"
RESULT_FILE = "result.png"
META_FILE = "meta.json"
STAGING_SUFFIXES = (".partial", ".old", ".deleted")   # Hidden folders of saves, replacements and deletions.
STALE_AFTER_S = 600.0      # A staging folder untouched this long is a crash's leftover (a save takes seconds).

PathLike = Union[str, Path]


class ProjectionFormatError(RuntimeError):
    """A saved projection is missing, incomplete, corrupt, or made for another generator."""


@dataclass
class SavedProjection:
    """A projection loaded from its folder."""

    path: Path
    ws: torch.Tensor                # [1, num_ws, w_dim] float32.
    noise: Dict[str, torch.Tensor]  # Optimised noise images by G.state_dict() name; empty if none.
    target: np.ndarray              # uint8 [H, W, 3] BGR.
    image: np.ndarray               # uint8 [H, W, 3] BGR.
    meta: Dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class ProjectionRecord:
    """A saved projection as listed: its folder and metadata, without loading tensors or images."""

    path: Path
    meta: Dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name


def save_projection(result: ProjectionResult, folder: PathLike, *, source: str = "",
                    model: Optional[Dict[str, Any]] = None, overwrite: bool = False) -> Path:
    """Write ``result`` into ``folder`` atomically and return the folder.

    ``source`` says where the target came from (e.g. "camera", "upload:me.jpg"); ``model`` describes
    the generator (e.g. {"name": "ffhq-256", "sha256": ...}); both go into meta.json as given. An
    existing folder raises FileExistsError unless ``overwrite``.
    """
    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise FileExistsError(f"a projection named '{folder.name}' already exists at {folder}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = _staging_folder(folder, ".partial")
    try:
        torch.save({"ws": result.ws.detach().float().cpu().contiguous(),
                    "noise": {name: buf.detach().float().cpu().contiguous() for name, buf in result.noise.items()}},
                   staging / LATENT_FILE)
        _write_png(from_engine(result.target), staging / TARGET_FILE)
        _write_png(from_engine(result.image), staging / RESULT_FILE)
        meta = _metadata(result, source, model)
        (staging / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        for path in [*staging.iterdir(), staging]:
            _fsync(path)
        _move_into_place(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync(folder.parent)
    return folder


def load_projection(folder: PathLike, G: Optional[torch.nn.Module] = None) -> SavedProjection:
    """Load a saved projection; with ``G``, also check that it was made for a compatible generator."""
    folder = Path(folder)
    meta = read_meta(folder)
    ws, noise = load_latent(folder, meta)
    if G is not None:
        check_compatible(meta, G, folder)
    size = meta.get("model", {}).get("img_resolution")
    return SavedProjection(path=folder, ws=ws, noise=noise, target=_read_png(folder / TARGET_FILE, size),
                           image=_read_png(folder / RESULT_FILE, size), meta=meta)


def load_latent(folder: PathLike, meta: Dict[str, Any]) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Only the latent ``ws`` and noise images of a saved projection whose ``meta`` was already read."""
    latent_path = Path(folder) / LATENT_FILE
    try:
        latent = load_tensors(latent_path)
    except Exception as error:   # torch.load raises many types for missing, truncated or foreign files.
        raise ProjectionFormatError(f"{latent_path} cannot be read: {error}") from error
    return _check_latent(latent, latent_path, meta)


def read_meta(folder: PathLike) -> Dict[str, Any]:
    """The metadata of a saved projection, checked for format and version."""
    path = Path(folder) / META_FILE
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise ProjectionFormatError(f"{Path(folder)} is not a saved projection ({META_FILE} is missing)") from None
    except (OSError, ValueError) as error:
        raise ProjectionFormatError(f"{path} cannot be read: {error}") from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ProjectionFormatError(f"{path} is not StyleCam projection metadata")
    if meta.get("version") != VERSION:
        raise ProjectionFormatError(f"{path} has format version {meta.get('version')!r}; "
                                    f"this StyleCam reads version {VERSION}")
    return meta


def list_projections(root: PathLike) -> List[ProjectionRecord]:
    """The saved projections directly under ``root``, oldest first; unreadable folders are skipped."""
    root = Path(root)
    if not root.is_dir():
        return []
    records = []
    for folder in root.iterdir():
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            records.append(ProjectionRecord(path=folder, meta=read_meta(folder)))
        except ProjectionFormatError:
            continue
    return sorted(records, key=lambda record: (str(record.meta.get("created", "")), record.name))


def delete_projection(folder: PathLike) -> None:
    """Remove a saved projection: renamed out of sight first, so no reader ever sees half a folder."""
    folder = Path(folder)
    retired = _staging_name(folder, ".deleted")
    os.rename(folder, retired)
    shutil.rmtree(retired, ignore_errors=True)


def rename_projection(folder: PathLike, new_folder: PathLike) -> None:
    """Give a saved projection another folder name in one rename, so a reader sees it under the old name or
    the new one, never under neither; FileExistsError if the new name is taken."""
    folder, new_folder = Path(folder), Path(new_folder)
    if new_folder.exists():
        raise FileExistsError(f"a projection named '{new_folder.name}' already exists")
    os.rename(folder, new_folder)


def remove_leftovers(root: PathLike, stale_after_s: float = STALE_AFTER_S) -> List[str]:
    """Remove the staging folders under ``root`` that a crash left behind; return their names.

    Only hidden folders named like this module's staging folders, and only once nothing has changed
    inside them for ``stale_after_s``: a younger one may be a save in progress in another process.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    cutoff = time.time() - stale_after_s
    removed = []
    for path in root.iterdir():
        if not (path.name.startswith(".") and path.name.endswith(STAGING_SUFFIXES) and path.is_dir()):
            continue
        try:
            if path.stat().st_mtime < cutoff:
                shutil.rmtree(path)
                removed.append(path.name)
        except OSError:
            continue     # Gone already (another process cleaned it), or not ours to remove.
    return removed


def check_compatible(meta: Dict[str, Any], G: torch.nn.Module, folder: PathLike = "") -> None:
    """Raise ProjectionFormatError unless a projection's latent fits ``G`` (layers and W size)."""
    model = meta.get("model", {})
    expected = (model.get("num_ws"), model.get("w_dim"))
    if expected != (G.num_ws, G.w_dim):
        raise ProjectionFormatError(
            f"projection '{Path(folder).name}' was made for a generator with {expected[0]} layers of "
            f"{expected[1]}-d W; the loaded generator has {G.num_ws} layers of {G.w_dim}-d W")


def _metadata(result: ProjectionResult, source: str, model: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    num_ws, w_dim = result.ws.shape[1], result.ws.shape[2]
    return {
        "format": FORMAT,
        "version": VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"),
        "source": source,
        "model": {**(model or {}), "num_ws": num_ws, "w_dim": w_dim, "img_resolution": result.image.shape[-1]},
        "perceptual": result.perceptual,
        "space": result.space,
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "stopped_early": result.stopped_early,
        "losses": result.losses,
        "config": result.config.to_dict(),
        "files": {"latent": LATENT_FILE, "target": TARGET_FILE, "result": RESULT_FILE},
    }


def _check_latent(latent: Any, path: Path, meta: Dict[str, Any]):
    ws = latent.get("ws") if isinstance(latent, dict) else None
    noise = latent.get("noise", {}) if isinstance(latent, dict) else None
    model = meta.get("model", {})
    expected = [1, model.get("num_ws"), model.get("w_dim")]
    if not isinstance(ws, torch.Tensor) or list(ws.shape) != expected or not ws.is_floating_point():
        got = list(ws.shape) if isinstance(ws, torch.Tensor) else type(ws).__name__
        raise ProjectionFormatError(f"{path} must hold 'ws' as a float tensor {expected}, got {got}")
    if not torch.isfinite(ws).all():
        raise ProjectionFormatError(f"{path} holds non-finite values in 'ws'")
    if not isinstance(noise, dict) or not all(isinstance(v, torch.Tensor) for v in noise.values()):
        raise ProjectionFormatError(f"{path} must hold 'noise' as a dict of tensors")
    return ws.float(), noise


def _write_png(image: np.ndarray, path: Path) -> None:
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"cannot encode a {image.dtype} {list(image.shape)} image as PNG")
    path.write_bytes(encoded.tobytes())


def _read_png(path: Path, size: Any) -> np.ndarray:
    """A BGR image of ``size`` x ``size`` pixels (the projection's resolution): a PNG whose header says so,
    checked before anything is decoded, as an upload is: a projection from elsewhere (a remote StyleCam)
    is untrusted."""
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data), formats=["PNG"]) as header:
            declared = header.size
        if declared != (size, size):
            raise ProjectionFormatError(f"{path} is {declared[0]}x{declared[1]} pixels; this "
                                        f"projection's images are {size}x{size}")
        return decode_image(data, max_pixels=size * size, max_side=None)
    except (OSError, ValueError, Image.DecompressionBombError, TargetError) as error:
        raise ProjectionFormatError(f"{path} cannot be read: {error}") from error


def _move_into_place(staging: Path, folder: Path) -> None:
    """Rename the finished staging folder to ``folder``; an existing one is replaced only at the end."""
    if not folder.exists():
        os.rename(staging, folder)
        return
    retired = _staging_folder(folder, ".old")
    os.rename(folder, retired / folder.name)
    try:
        os.rename(staging, folder)
    except BaseException:
        os.rename(retired / folder.name, folder)
        raise
    finally:
        shutil.rmtree(retired, ignore_errors=True)


def _staging_name(folder: Path, suffix: str) -> Path:
    return folder.parent / f".{folder.name}.{secrets.token_hex(4)}{suffix}"


def _staging_folder(folder: Path, suffix: str) -> Path:
    """A new hidden folder beside ``folder``, made like any folder (the umask decides its permissions,
    unlike ``tempfile.mkdtemp``'s 0700, which a rename would carry over to the projection)."""
    while True:
        staging = _staging_name(folder, suffix)
        try:
            staging.mkdir()
            return staging
        except FileExistsError:
            continue


def _fsync(path: Path) -> None:
    """Flush a file or folder to disk, so a crash right after saving cannot lose the rename's content.

    Folders can only be flushed where they can be opened (``os.O_DIRECTORY``, i.e. not on Windows).
    """
    if path.is_dir():
        if not hasattr(os, "O_DIRECTORY"):
            return
        flags = os.O_RDONLY | os.O_DIRECTORY
    else:
        flags = os.O_RDONLY
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
