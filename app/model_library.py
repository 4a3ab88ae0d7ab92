"""The generators a running StyleCam can switch to: the downloaded registry generators (by registry name) and
the generator files in the user's models folder (by file name), blended ones included.

Each file is described by ``stylegan2.read_meta``, with the checks of the engine's bounded, code-free
loaders: StyleCam's own files (blended, converted, trained ones) from their settings alone, without reading
their tensors; NVIDIA pickles and rosinality checkpoints, which keep their settings inside the one pickle
with their tensors, by loading them. What a file holds is kept by its size and modification time, and read
again only when it changes. A file that cannot be used is listed as unusable with its one-line reason, never
breaking the listing. Entries sent to a browser name files, never the folders they live in.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import stylegan2
import weights
from app.library import default_models_dir
from stylegan2.loaders.common import first_line

GENERATOR_SUFFIXES = (".pt", ".pth", ".pkl")


class UnknownModel(LookupError):
    """No generator of that name in the listing; the message names the ones there are."""


@dataclass(frozen=True)
class ModelEntry:
    """One generator one can switch to, as far as its file tells without running anything."""

    name: str                           # What a switch asks for: a registry name or a file name in the folder.
    source: str                         # "registry", "folder", or "started" (the file StyleCam started with).
    path: Path                          # Where it is on this machine (never sent to a browser).
    problem: Optional[str] = None       # Why it cannot be used (one line); None = usable.
    format: Optional[str] = None
    architecture: Optional[str] = None
    resolution: Optional[int] = None
    num_ws: Optional[int] = None
    w_dim: Optional[int] = None
    origin: Optional[Dict[str, Any]] = None   # Where it came from: a blend's two sources, a converted file's.

    @property
    def usable(self) -> bool:
        return self.problem is None

    def to_json(self) -> Dict[str, Any]:
        return {"name": self.name, "source": self.source, "usable": self.usable, "problem": self.problem,
                "format": self.format, "architecture": self.architecture, "resolution": self.resolution,
                "num_ws": self.num_ws, "w_dim": self.w_dim, "origin": self.origin}


def read_entry(name: str, source: str, path: Path) -> ModelEntry:
    """The entry of one generator file: its settings, or the reason it cannot be used."""
    try:
        meta = stylegan2.read_meta(path)
    except stylegan2.WeightsFormatError as error:
        return ModelEntry(name, source, path, problem=error.problem.strip().splitlines()[0][:200])
    except Exception as error:      # Whatever else a file makes a loader raise, it stays one file's problem.
        return ModelEntry(name, source, path, problem=f"cannot be read: {first_line(error)}")
    problem = None
    if meta.get("c_dim"):
        problem = "a conditional generator (c_dim > 0): the live app runs face models such as ffhq-256"
    return ModelEntry(name, source, path, problem=problem, format=meta.get("format"),
                      architecture=meta.get("architecture"), resolution=meta.get("img_resolution"),
                      num_ws=meta.get("num_ws"), w_dim=meta.get("w_dim"), origin=origin(meta, source, name))


def origin(meta: Dict[str, Any], source: str, name: str) -> Optional[Dict[str, Any]]:
    """Where a generator came from, by file names only: a blend's base and other, a converted file's source."""
    if source == "registry":
        return {"registry": weights.get(name).description}
    blend = meta.get("blend")
    if isinstance(blend, dict):
        sides = {side: blend[side].get("file") for side in ("base", "other") if isinstance(blend.get(side), dict)}
        return {"blend": {**sides, "swap_res": blend.get("swap_res"), "mapping": blend.get("mapping")}}
    if meta.get("source_file"):
        return {"converted_from": str(meta["source_file"]), "format": meta.get("source_format")}
    return None


class ModelLibrary:
    """The generators to switch to, read once per file version (size and modification time)."""

    def __init__(self, models_dir: Optional[Path] = None, started_with: Optional[Path] = None) -> None:
        self.models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
        self.started_with = started_with    # The file StyleCam started with: listed too, to switch back to.
        self._lock = threading.Lock()
        self._read: Dict[Tuple[str, str], Tuple[Tuple[int, int], ModelEntry]] = {}

    def entries(self) -> List[ModelEntry]:
        """The downloaded registry generators (registry order), then the folder's files (by name)."""
        with self._lock:
            found = [self._entry(name, source, path) for name, source, path in self.candidates()]
            self._read = {key: value for key, value in self._read.items()
                          if any((entry.source, entry.name) == key for entry in found)}
            return found

    def candidates(self) -> List[Tuple[str, str, Path]]:
        """(name, source, path) of each generator file there is: the registry's, the folder's, and the file
        StyleCam started with where it is neither (by its file name, unless one of those has that name)."""
        registry = [(name, "registry", weights.local_path(name)) for name, model in weights.REGISTRY.items()
                    if model.kind == "generator" and weights.is_available(name)]
        found = registry + [(path.name, "folder", path) for path in self.folder_files()]
        started = self.started_with
        if started is not None and all(path.resolve() != started.resolve() and name != started.name
                                       for name, _, path in found):
            found.append((started.name, "started", started))
        return found

    def folder_files(self) -> List[Path]:
        """The generator files in the models folder (not its sub-folders; a missing folder has none)."""
        try:
            children = sorted(self.models_dir.iterdir())
        except OSError:
            return []
        return [path for path in children if path.suffix.lower() in GENERATOR_SUFFIXES and path.is_file()
                and not path.name.startswith(".") and path.name not in weights.REGISTRY]

    def find(self, name: Any) -> ModelEntry:
        """The entry called ``name``; UnknownModel naming the ones there are."""
        entries = self.entries()
        for entry in entries:
            if entry.name == name:
                return entry
        known = ", ".join(entry.name for entry in entries) or "none"
        shown_name = name if isinstance(name, str) and len(name) <= 80 else "that name"
        raise UnknownModel(f"no generator named {shown_name!r} to switch to; there are: {known}")

    def _entry(self, name: str, source: str, path: Path) -> ModelEntry:
        try:
            stat = path.stat()
        except OSError as error:
            return ModelEntry(name, source, path, problem=f"cannot be read: {error.strerror}")
        version = (stat.st_size, stat.st_mtime_ns)
        kept = self._read.get((source, name))
        if kept is None or kept[0] != version:
            kept = (version, read_entry(name, source, path))
            self._read[(source, name)] = kept
        return kept[1]
