"""Named directions in W: what a slider moves along, how it is applied, and the file that keeps them.

A `DirectionSet` holds k unit vectors in W with a name each, a `scale` each (the step of strength 1:
one standard deviation of the generator's w along the vector for PCA and fitted directions, 1 for SeFa,
the vector's own length for imported ones) and the W+ layers it edits. Applying strengths s_i adds
sum_i s_i * scale_i * vector_i to those layers of a latent and leaves the others alone, so

    ws_edited = directions.apply(ws, {"smile": 1.5, "yaw": -1.0})

is all a live slider needs; a strength of about -3..3 covers what a direction does.

The file (`save_directions` / `load_directions`) is one `torch.save` archive of tensors and plain data,
read with `weights_only=True`. `import_directions` reads directions made elsewhere: a [k, w_dim] or
[w_dim] array in a .npy or .pt file, or a .pt dict of name -> [w_dim] vector.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..files import load_tensors
from ..loaders.common import describe_unpickling_refusal

FORMAT = "stylecam-directions"
VERSION = 1
PathLike = Union[str, Path]
Strengths = Union[Mapping[str, float], Sequence[float], torch.Tensor]


class DirectionsFormatError(ValueError):
    """A directions file that cannot be read, or does not fit the generator it is used with."""


@dataclass
class DirectionSet:
    """k named directions in W for a generator with `num_ws` layers (see the module docstring)."""

    vectors: torch.Tensor                 # [k, w_dim] float32, each of length 1.
    names: List[str]                      # k unique names, e.g. "smile", "sefa 1".
    layers: slice                         # The W+ indices they edit, start:stop within num_ws (None: 0 / num_ws).
    num_ws: int                           # Layers of the generator they were made for.
    scales: Optional[torch.Tensor] = None  # [k] step of strength 1 along each vector; None = all 1.
    scores: Optional[torch.Tensor] = None  # [k] eigenvalue, variance or held-out correlation; None = none.
    method: str = "unknown"               # "sefa", "pca", "ridge", "logistic" or "import".
    meta: Dict[str, Any] = field(default_factory=dict)   # Plain data: how they were made.

    def __post_init__(self) -> None:
        vectors = torch.as_tensor(self.vectors, dtype=torch.float32)
        if vectors.ndim != 2 or vectors.shape[0] == 0 or not torch.isfinite(vectors).all():
            raise ValueError(f"vectors must be a finite [k, w_dim] tensor with k >= 1, got {list(vectors.shape)}")
        norms = vectors.norm(dim=1, keepdim=True)
        if (norms == 0).any():
            raise ValueError(f"direction {int((norms == 0).nonzero()[0, 0]) + 1} is all zeros")
        self.vectors = vectors / norms
        self.names = [str(name) for name in self.names]
        if len(self.names) != len(vectors) or len(set(self.names)) != len(self.names) or not all(self.names):
            raise ValueError(f"need {len(vectors)} unique, non-empty names, got {self.names}")
        self.scales = self._per_direction("scales", self.scales, torch.ones(len(vectors)))
        self.scores = self._per_direction("scores", self.scores, None)
        self.layers = slice(*layer_bounds(self.layers, self.num_ws))

    def __len__(self) -> int:
        return len(self.names)

    @property
    def w_dim(self) -> int:
        return self.vectors.shape[1]

    def steps(self) -> torch.Tensor:
        """[k, w_dim]: the change of w at strength 1 of each direction (scale * unit vector)."""
        return self.scales.unsqueeze(1) * self.vectors

    def strength_vector(self, strengths: Strengths) -> torch.Tensor:
        """Strengths as a tensor [k] (or [N, k] per latent): from a {name: strength} dict (others 0) or a list."""
        if isinstance(strengths, Mapping):
            unknown = sorted(set(strengths) - set(self.names))
            if unknown:
                raise KeyError(f"no direction named {', '.join(map(repr, unknown))}; known: {', '.join(self.names)}")
            return torch.tensor([float(strengths.get(name, 0.0)) for name in self.names])
        vector = torch.as_tensor(strengths, dtype=torch.float32)
        if vector.ndim not in (1, 2) or vector.shape[-1] != len(self):
            raise ValueError(f"expected {len(self)} strengths (one per direction), got shape {list(vector.shape)}")
        return vector

    def apply(self, ws: torch.Tensor, strengths: Strengths) -> torch.Tensor:
        """ws [N, num_ws, w_dim] moved along the directions on `layers`; strengths [k] or [N, k] (see above)."""
        if ws.ndim != 3 or tuple(ws.shape[1:]) != (self.num_ws, self.w_dim):
            raise ValueError(f"expected ws [N, {self.num_ws}, {self.w_dim}] for these directions, "
                             f"got {list(ws.shape)}")
        offset = self.strength_vector(strengths).to(ws.device, ws.dtype) @ self.steps().to(ws.device, ws.dtype)
        edited = ws.clone()
        edited[:, self.layers] += offset.reshape(-1, 1, self.w_dim)
        return edited

    def sweep(self, ws: torch.Tensor, strengths: Sequence[float]) -> torch.Tensor:
        """Latents [k * N, len(strengths), num_ws, w_dim]: each direction (rows grouped by direction) on each
        of the N latents, at each strength (columns): the preview sheet of a directions file."""
        rows = []
        for index in range(len(self)):
            one_hot = torch.zeros(len(strengths), len(self))
            one_hot[:, index] = torch.tensor([float(s) for s in strengths])
            for w in ws.unbind(0):
                rows.append(self.apply(w.unsqueeze(0).expand(len(strengths), -1, -1), one_hot))
        return torch.stack(rows)

    def subset(self, indices: Sequence[int]) -> "DirectionSet":
        """The directions at `indices`, in that order (e.g. the best few by score)."""
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return DirectionSet(self.vectors[index], [self.names[i] for i in index.tolist()], self.layers, self.num_ws,
                            self.scales[index], None if self.scores is None else self.scores[index], self.method,
                            dict(self.meta))

    def check_fits(self, G: torch.nn.Module) -> None:
        """Raise DirectionsFormatError unless the directions fit G's W space (w_dim) and layers (num_ws)."""
        if (G.w_dim, G.num_ws) != (self.w_dim, self.num_ws):
            raise DirectionsFormatError(f"these directions were made for a model with w_dim {self.w_dim} and "
                                        f"{self.num_ws} layers; this one has w_dim {G.w_dim} and {G.num_ws} layers")

    def _per_direction(self, name: str, values: Optional[torch.Tensor], default: Optional[torch.Tensor]):
        if values is None:
            return default
        values = torch.as_tensor(values, dtype=torch.float32).reshape(-1)
        if len(values) != len(self.vectors):
            raise ValueError(f"{name} must have one value per direction ({len(self.vectors)}), got {len(values)}")
        return values


def layer_bounds(layers: slice, num_ws: int) -> Tuple[int, int]:
    """(start, stop) of a W+ index range (None ends: 0 and num_ws); it must be non-empty, step 1, in 0:num_ws."""
    start = 0 if layers.start is None else layers.start
    stop = num_ws if layers.stop is None else layers.stop
    if not (isinstance(start, int) and isinstance(stop, int) and layers.step in (None, 1)
            and 0 <= start < stop <= num_ws):
        raise ValueError(f"layers must be a non-empty range within 0:{num_ws}, got {start}:{stop}")
    return start, stop


def apply_direction(ws: torch.Tensor, step: torch.Tensor, strength: float, layers: slice) -> torch.Tensor:
    """ws + strength * step on the W+ indices `layers` (one direction, without a set around it)."""
    edited = ws.clone()
    edited[:, layers] += float(strength) * step.to(ws.device, ws.dtype)
    return edited


def save_directions(directions: DirectionSet, path: PathLike) -> None:
    """Write a directions file atomically (a temporary file beside `path`, then renamed over it)."""
    payload = {
        "format": FORMAT, "version": VERSION, "method": directions.method, "names": list(directions.names),
        "vectors": directions.vectors.detach().cpu().contiguous(),
        "scales": directions.scales.detach().cpu().contiguous(),
        "scores": None if directions.scores is None else directions.scores.detach().cpu().contiguous(),
        "layers": [directions.layers.start, directions.layers.stop], "num_ws": directions.num_ws,
        "meta": directions.meta,
    }
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "xb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_directions(path: PathLike, G: Optional[torch.nn.Module] = None) -> DirectionSet:
    """Read a directions file written by `save_directions`; with G, also check that they fit it."""
    content = _read(Path(path))
    if not (isinstance(content, dict) and content.get("format") == FORMAT):
        raise DirectionsFormatError(f"{path}: not a StyleCam directions file (use import_directions for "
                                    f"arrays made elsewhere)")
    directions = _from_payload(content, path)
    if G is not None:
        directions.check_fits(G)
    return directions


def import_directions(path: PathLike, G: torch.nn.Module, names: Optional[Sequence[str]] = None,
                      layers: slice = slice(None)) -> DirectionSet:
    """Directions made elsewhere, for G: a [k, w_dim] or [w_dim] array (.npy, or a tensor in a .pt file),
    or a .pt dict of name -> [w_dim] vector. Each keeps its length as its scale, so strength 1 adds the
    vector as given. `names` (k of them) default to the dict's keys, else "direction 1".."direction k"."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise DirectionsFormatError(f"{path}: not a readable .npy array ({error})") from None
        found_names = None
    elif path.suffix.lower() == ".pt":
        content = _read(path)
        if isinstance(content, dict) and content.get("format") == FORMAT:
            imported = _from_payload(content, path)
            array, found_names = (imported.steps(), imported.names)
        elif isinstance(content, dict) and content and all(isinstance(v, torch.Tensor) for v in content.values()):
            found_names = [str(key) for key in content]
            array = torch.stack([value.reshape(-1) for value in content.values()])
        elif isinstance(content, torch.Tensor):
            array, found_names = content, None
        else:
            raise DirectionsFormatError(f"{path}: expected a [k, w_dim] tensor or a dict of name -> [w_dim] "
                                        f"tensors, found {type(content).__name__}")
    else:
        raise DirectionsFormatError(f"{path}: directions are imported from .npy or .pt files, not "
                                    f"'{path.suffix or 'no extension'}'")
    vectors = torch.as_tensor(np.asarray(array, dtype=np.float32) if isinstance(array, np.ndarray) else array)
    vectors = vectors.to(torch.float32).cpu()
    if vectors.ndim == 1:
        vectors = vectors.unsqueeze(0)
    if vectors.ndim != 2 or vectors.shape[1] != G.w_dim:
        raise DirectionsFormatError(f"{path}: expected an array [k, {G.w_dim}] or [{G.w_dim}] for this model's "
                                    f"w_dim {G.w_dim}, got {list(vectors.shape)}")
    if not torch.isfinite(vectors).all():
        raise DirectionsFormatError(f"{path}: the directions hold NaN or infinite values")
    names = list(names) if names is not None else found_names or [f"direction {i + 1}" for i in range(len(vectors))]
    try:
        return DirectionSet(vectors, names, layers, G.num_ws, scales=vectors.norm(dim=1),
                            method="import", meta={"source_file": path.name})
    except ValueError as error:
        raise DirectionsFormatError(f"{path}: {error}") from None


def _read(path: Path) -> Any:
    try:
        return load_tensors(path)
    except FileNotFoundError:
        raise DirectionsFormatError(f"{path}: no such file") from None
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError... for bad files
        reason = describe_unpickling_refusal(error).split(". ")[0]
        raise DirectionsFormatError(f"{path}: not a readable PyTorch file of tensors ({reason}); "
                                    f"nothing from it was run") from None


def _from_payload(content: Dict[str, Any], path: PathLike) -> DirectionSet:
    version = content.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise DirectionsFormatError(f"{path}: directions file version {version!r}; this StyleCam reads "
                                    f"up to {VERSION}")
    try:
        start, stop = content["layers"]
        return DirectionSet(content["vectors"], list(content["names"]), slice(int(start), int(stop)),
                            int(content["num_ws"]), scales=content.get("scales"), scores=content.get("scores"),
                            method=str(content.get("method", "unknown")), meta=dict(content.get("meta") or {}))
    except (KeyError, TypeError, ValueError) as error:
        raise DirectionsFormatError(f"{path}: a damaged directions file ({error})") from None
