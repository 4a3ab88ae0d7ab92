"""The saved projections of the live app: one folder, one sub-folder per projection, by name.

The folder format and its atomic saves are ``app.projection.folders``'s; this store adds what the
app needs on top: names that are safe as folder names and URL parts, a listing for the API, a check
that a projection fits the loaded generator, and the latents of the selected projections, loaded once.

A projection fits the generator when it was made with the same weights: the store fingerprints the
generator's tensors (``generator_fingerprint``) and saves the fingerprint in each projection's
metadata, so a projection made with other weights of the same shape (another model, a fine-tune) is
listed but cannot be selected: its latent would show a stranger's face.

Only the latent of a projection reaches the live generator: it renders with its own noise images
(``noise_mode="const"``, the buffers it shares with the projector's copy and its cached CPU layouts),
and taking another set per projection would mean swapping those shared buffers under a running
pipeline. So the app's projections keep the generator's noise (``ProjectionConfig.fast``: the latent
alone reproduces result.png), the store refuses to save one that carries optimised noise, and one made
elsewhere with optimised noise is listed but cannot be selected: it would not look like its result.png.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import torch

from app.projection.folders import (
    ProjectionFormatError,
    ProjectionRecord,
    check_compatible,
    delete_projection,
    list_projections,
    load_latent,
    read_meta,
    remove_leftovers,
    rename_projection,
    save_projection,
)
from stylegan2.projection.projector import ProjectionResult

PROJECTIONS_ENV = "STYLECAM_PROJECTIONS"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
NAME_RULE = "1-64 letters, digits, '-' and '_', starting with a letter or digit"
FINGERPRINT_CHARS = 16
NOISE_PROBLEM = ("was made with optimised noise images, which the live generator cannot show (it would not "
                 "look like its result.png); project the face again in StyleCam")


class ProjectionUnavailable(ValueError):
    """A projection that cannot be used: missing, unreadable, or made for other generator weights."""


class ProjectionNotFound(ProjectionUnavailable):
    """No saved projection of that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no saved projection named '{name}'")
        self.name = name


def default_projections_dir() -> Path:
    """Where projections are kept: ``$STYLECAM_PROJECTIONS``, else StyleCam's folder in the user's data
    folder (``$XDG_DATA_HOME/stylecam/projections``, by default ``~/.local/share/stylecam/projections``)."""
    if os.environ.get(PROJECTIONS_ENV):
        return Path(os.environ[PROJECTIONS_ENV]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "stylecam" / "projections"


def check_name(name: Any) -> str:
    """``name`` if it can name a projection (a folder, a URL part), else ValueError saying the rule."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"a projection name must be {NAME_RULE}, got {name!r}")
    return name


def new_name(prefix: str = "face") -> str:
    """A fresh name that sorts by time, e.g. ``face-20240521-142233-3fa2``."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{prefix}-{stamp}-{secrets.token_hex(2)}"


def generator_fingerprint(G: torch.nn.Module) -> str:
    """A short sha256 of every tensor of ``G`` by name: equal for the same weights in any file format."""
    digest = hashlib.sha256()
    for name, tensor in sorted(G.state_dict().items()):
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:FINGERPRINT_CHARS]


class ProjectionStore:
    """The projections folder, for one generator: save, list, check, load latents, delete.

    Opening a store removes the staging folders a crash left in it (``folders.remove_leftovers``).
    """

    def __init__(self, root: Union[str, Path], generator: torch.nn.Module, model: Optional[Dict[str, Any]] = None,
                 cache_size: int = 8) -> None:
        self.root = Path(root)
        self.generator = generator
        self.fingerprint = generator_fingerprint(generator)
        self.model = {**(model or {}), "fingerprint": self.fingerprint}   # saved in each projection's meta
        self.load_ws = lru_cache(maxsize=cache_size)(self._load_ws)
        remove_leftovers(self.root)

    def path(self, name: str) -> Path:
        return self.root / check_name(name)

    def exists(self, name: str) -> bool:
        return NAME_PATTERN.fullmatch(name) is not None and (self.root / name).is_dir()

    def list(self) -> List[Dict[str, Any]]:
        """Every saved projection, oldest first, as JSON-ready summaries (see ``summary``)."""
        return [self.summary(record) for record in list_projections(self.root)
                if NAME_PATTERN.fullmatch(record.name)]

    def get(self, name: str) -> Dict[str, Any]:
        """The summary of one projection (ProjectionUnavailable if it is missing or unreadable)."""
        folder = self._existing(name)
        return self.summary(ProjectionRecord(path=folder, meta=self._meta(folder)))

    def summary(self, record: ProjectionRecord) -> Dict[str, Any]:
        meta = record.meta
        return {"name": record.name, "created": meta.get("created"), "source": meta.get("source"),
                "space": meta.get("space"), "steps": meta.get("steps"), "seconds": meta.get("seconds"),
                "losses": meta.get("losses", {}), "model": meta.get("model", {}),
                "perceptual": meta.get("perceptual") or {"name": "unknown"},
                "compatible": self.incompatibility(meta, record.name) is None}

    def check(self, name: str) -> None:
        """Raise unless ``name`` is a saved projection the loaded generator can show (the message says why)."""
        self._compatible_meta(name)

    def incompatibility(self, meta: Dict[str, Any], name: str) -> Optional[str]:
        """Why a projection cannot be used with this generator, or None if it can."""
        try:
            check_compatible(meta, self.generator, name)
        except ProjectionFormatError as error:
            return str(error)
        fingerprint = meta.get("model", {}).get("fingerprint")
        if fingerprint != self.fingerprint:
            return (f"projection '{name}' was made with other generator weights (fingerprint {fingerprint}, "
                    f"loaded {self.fingerprint}); project the face again with this model")
        if meta.get("config", {}).get("optimize_noise"):
            return f"projection '{name}' {NOISE_PROBLEM}"
        return None

    def _load_ws(self, name: str) -> torch.Tensor:
        """The latent [1, num_ws, w_dim] (CPU, float32) of a compatible projection (``load_ws`` caches it)."""
        meta = self._compatible_meta(name)
        try:
            ws, noise = load_latent(self.path(name), meta)
        except ProjectionFormatError as error:
            raise ProjectionUnavailable(str(error)) from error
        if noise:
            raise ProjectionUnavailable(f"projection '{name}' {NOISE_PROBLEM}")
        return ws

    def save(self, result: ProjectionResult, name: str, source: str) -> Path:
        """Save a finished projection atomically under ``name`` (FileExistsError if that name is taken;
        ValueError if it carries optimised noise, which the live generator could not show)."""
        if result.noise:
            raise ValueError(f"projection '{name}' {NOISE_PROBLEM}")
        return save_projection(result, self.path(name), source=source, model=self.model)

    def latent(self, spec: str) -> torch.Tensor:
        """The latent [1, num_ws, w_dim] (CPU) of a projection given by name in this folder, or as a projection
        folder (or its latent.pt) elsewhere, made with this generator's weights; ProjectionUnavailable says
        why one cannot be used."""
        if self.exists(spec):
            return self.load_ws(spec)
        path = Path(spec)
        folder = path.parent if path.is_file() else path
        if not folder.is_dir():
            raise ProjectionUnavailable(f"{spec!r} is neither a saved projection in {self.root} nor a "
                                        f"projection folder")
        try:
            meta = read_meta(folder)
            ws, _ = load_latent(folder, meta)
        except ProjectionFormatError as error:
            raise ProjectionUnavailable(str(error)) from None
        problem = self.incompatibility(meta, folder.name)
        if problem:
            raise ProjectionUnavailable(problem)
        return ws

    def file(self, name: str, filename: str) -> Path:
        """One of a projection's files (latent.pt, target.png, result.png), for download."""
        path = self._existing(name) / filename
        if not path.is_file():
            raise ProjectionUnavailable(f"projection '{name}' has no {filename}")
        return path

    def delete(self, name: str) -> None:
        """Remove a projection (``folders.delete_projection``) and forget its cached latent."""
        delete_projection(self._existing(name))
        self.load_ws.cache_clear()

    def rename(self, name: str, new_name: str) -> None:
        """Give projection ``name`` the name ``new_name`` (ValueError for a bad name, FileExistsError if taken)."""
        folder = self._existing(name)
        rename_projection(folder, self.path(check_name(new_name)))
        self.load_ws.cache_clear()

    def _compatible_meta(self, name: str) -> Dict[str, Any]:
        """The metadata of ``name``, or ProjectionUnavailable saying why the generator cannot show it."""
        meta = self._meta(self._existing(name))
        problem = self.incompatibility(meta, name)
        if problem:
            raise ProjectionUnavailable(problem)
        return meta

    def _existing(self, name: str) -> Path:
        if not self.exists(name):
            raise ProjectionNotFound(name)
        return self.root / name

    @staticmethod
    def _meta(folder: Path) -> Dict[str, Any]:
        try:
            return read_meta(folder)
        except ProjectionFormatError as error:
            raise ProjectionUnavailable(str(error)) from error
