"""The studio of a running StyleCam: what the page may ask for, checked, planned and handed to the worker.

Three sheets, each a background job (``app.studio.jobs``) that fills a labelled canvas as it renders:

- ``grid``: faces of seeds (a list, "1-8,42", or ``random`` N new ones) at truncation ``psi``;
- ``mix``: the style-mixing matrix: the row faces (default: the live face) with the ``layers``
  (coarse, middle, fine or a W+ range A:B) of the column faces, faces on both edges;
- ``interpolate``: N frames from one face to another (default from the live face), a straight line in W
  or a spherical path in Z (seeds only), as a strip, and a looping GIF when asked.

A face is a seed or a saved projection's name (never a path). "The live face" is the face the live
params show before the sliders: the seed (at the live psi unless the request gives one) or the selected
projection. Every option is checked before anything is queued: a mistake is a ``StudioOptionError``
naming the field, and the sheet's size is bounded (``MAX_CELLS`` faces, ``MAX_SHEET_SIDE`` px a side).
"""
from __future__ import annotations

import math
import random
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch

from app.live.params import SEED_MAX
from app.live.params_store import ParamsStore
from app.projection.store import ProjectionUnavailable, check_name
from app.studio.grids import GridCanvas
from app.studio.jobs import Sheet, StudioJob, StudioJobs
from app.studio.latent_sources import LatentResolver, LatentSpec, parse_latents
from stylegan2.studio.interpolation import w_transition, z_transition
from stylegan2.studio.mixing import mixing_matrix, parse_layer_spec

MAX_CELLS = 64               # faces on one sheet (an 8 x 8 grid)
MAX_SHEET_SIDE = 4096        # px on either side of a sheet
MIN_CELL, MAX_CELL = 32, 512  # px of one face on the sheet
DEFAULT_CELL = 256           # or the model's resolution, if smaller
MAX_FRAMES = 32              # frames of an interpolation
STRIP_COLUMNS = 8            # an interpolation strip wraps after this many frames
PSI_RANGE = (-2.0, 2.0)
FPS_RANGE = (1.0, 30.0)

ProjectionLoader = Callable[[str], torch.Tensor]     # saved projection name -> ws [1, num_ws, w_dim]


class StudioOptionError(ValueError):
    """A bad or too big request; ``field`` names the option at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class StudioService:
    """The studio's rules over its job worker, the live params (for the live face) and the saved projections."""

    def __init__(self, jobs: StudioJobs, params: ParamsStore, load_projection: ProjectionLoader) -> None:
        self.jobs = jobs
        self.params = params
        self.load_projection = load_projection

    def job(self, job_id: str) -> StudioJob:
        return self.jobs.get(job_id)

    def cancel(self, job_id: str) -> StudioJob:
        return self.jobs.cancel(job_id)

    # --- the three sheets -----------------------------------------------------------------------------

    def grid(self, options: Mapping[str, Any]) -> StudioJob:
        """A grid of seeds: ``seeds`` (a list or "1-8,42") or ``random`` N; ``psi``, ``columns``, ``cell``."""
        check_known(options, ("seeds", "random", "psi", "columns", "cell"))
        G = self.jobs.generator()
        if ("seeds" in options) == ("random" in options):
            raise StudioOptionError("seeds", "give either seeds (e.g. [1, 2, 3] or \"1-8,42\") or random (a count)")
        if "random" in options:
            count = whole_number(options, "random", 1, MAX_CELLS)
            seeds = [random.randint(0, SEED_MAX) for _ in range(count)]
        else:
            seeds = seed_list(options["seeds"], "seeds")
        psi = number(options, "psi", *PSI_RANGE, default=self.live_psi())
        columns = whole_number(options, "columns", 1, MAX_CELLS,
                               default=math.ceil(math.sqrt(len(seeds))))
        columns = min(columns, len(seeds))
        cell = cell_size(options, G)
        positions = [divmod(index, columns) for index in range(len(seeds))]
        canvas = sheet_canvas(math.ceil(len(seeds) / columns), columns, cell,
                              captions={position: f"seed {seed}" for position, seed in zip(positions, seeds)})
        ws = LatentResolver(G, self.load_projection, psi).ws([LatentSpec(seed=seed) for seed in seeds])
        return self.jobs.submit(Sheet("grid", ws, positions, [face_of(LatentSpec(seed=seed)) for seed in seeds],
                                      canvas, {"seeds": seeds, "psi": psi, "columns": columns, "cell": cell}))

    def mix(self, options: Mapping[str, Any]) -> StudioJob:
        """The mixing matrix: ``rows`` (default the live face), ``columns`` (required), ``layers``, ``psi``, ``cell``."""
        check_known(options, ("rows", "columns", "layers", "psi", "cell"))
        G = self.jobs.generator()
        rows = face_list(options["rows"], "rows") if "rows" in options else [self.live_face("rows")]
        if "columns" not in options:
            raise StudioOptionError("columns", "give the column faces, e.g. \"10-13\" or [10, 11, 12]")
        columns = face_list(options["columns"], "columns")
        cells = (len(rows) + 1) * (len(columns) + 1)
        if cells > MAX_CELLS:
            raise StudioOptionError("columns" if len(columns) >= len(rows) else "rows",
                                    f"a {len(rows)} x {len(columns)} matrix with its edge faces is {cells} cells, "
                                    f"more than the {MAX_CELLS} a sheet may hold")
        layer_spec = options.get("layers", "coarse")
        try:
            layers = parse_layer_spec(str(layer_spec), G.num_ws)
        except ValueError as error:
            raise StudioOptionError("layers", str(error)) from None
        psi = number(options, "psi", *PSI_RANGE, default=self.live_psi())
        cell = cell_size(options, G)
        resolver = LatentResolver(G, self.load_projection, psi)
        row_ws = self.resolve(resolver, rows, "rows")
        column_ws = self.resolve(resolver, columns, "columns")
        span = f"{layers.start}:{layers.stop}"
        named = str(layer_spec).strip().lower()
        captions = {(0, 0): span if ":" in named or named.isdigit() else f"{named} {span}"}
        captions.update({(0, c + 1): spec.label for c, spec in enumerate(columns)})
        captions.update({(r + 1, 0): spec.label for r, spec in enumerate(rows)})
        canvas = sheet_canvas(len(rows) + 1, len(columns) + 1, cell, captions=captions)
        body = torch.cat([row_ws.unsqueeze(1), mixing_matrix(row_ws, column_ws, layers)], dim=1)
        positions = ([(0, c + 1) for c in range(len(columns))]
                     + [(r + 1, c) for r in range(len(rows)) for c in range(len(columns) + 1)])
        faces = ([face_of(spec) for spec in columns]
                 + [face_of(spec) if c == 0 else None for spec in rows for c in range(len(columns) + 1)])
        return self.jobs.submit(Sheet("mix", torch.cat([column_ws, body.flatten(0, 1)]), positions, faces, canvas,
                                      {"rows": [spec.label for spec in rows],
                                       "columns": [spec.label for spec in columns],
                                       "layers": span, "psi": psi, "cell": cell}))

    def interpolate(self, options: Mapping[str, Any]) -> StudioJob:
        """Frames from ``from`` (default the live face) to ``to``: ``space`` w|z, ``frames``, ``psi``, ``cell``,
        ``animation`` (true: a looping GIF too) at ``fps``."""
        check_known(options, ("from", "to", "space", "frames", "psi", "cell", "animation", "fps"))
        G = self.jobs.generator()
        start = one_face(options["from"], "from") if "from" in options else self.live_face("from")
        if "to" not in options:
            raise StudioOptionError("to", "give the face to end on: a seed or a saved projection's name")
        end = one_face(options["to"], "to")
        space = options.get("space", "w")
        if space not in ("w", "z"):
            raise StudioOptionError("space", f"must be \"w\" (a straight line) or \"z\" (a spherical path between "
                                             f"seeds), got {shown(space)}")
        frames = whole_number(options, "frames", 2, MAX_FRAMES, default=8)
        psi = number(options, "psi", *PSI_RANGE, default=self.live_psi())
        animation = options.get("animation", False)
        if not isinstance(animation, bool):
            raise StudioOptionError("animation", f"must be true or false, got {shown(animation)}")
        fps = number(options, "fps", *FPS_RANGE, default=8.0)
        cell = cell_size(options, G)
        resolver = LatentResolver(G, self.load_projection, psi)
        if space == "z":
            for name, spec in (("from", start), ("to", end)):
                if spec.seed is None:
                    raise StudioOptionError(name, f"projection '{spec.label}' has no z (projections are fitted "
                                                  f"in W): interpolate in W, or between seeds")
            path = z_transition(G, resolver.z(start), resolver.z(end), frames, loop=False, psi=psi)
        else:
            ends = torch.cat([self.resolve(resolver, [start], "from"), self.resolve(resolver, [end], "to")])
            path = w_transition(ends[0:1], ends[1:2], frames, loop=False)
        columns = min(frames, STRIP_COLUMNS)
        positions = [divmod(index, columns) for index in range(frames)]
        captions = {position: f"{index / (frames - 1):.0%}" for index, position in enumerate(positions)}
        captions[positions[0]], captions[positions[-1]] = start.label, end.label
        canvas = sheet_canvas(math.ceil(frames / columns), columns, cell, captions=captions)
        faces: List[Optional[Dict[str, Any]]] = [None] * frames
        faces[0], faces[-1] = face_of(start), face_of(end)
        return self.jobs.submit(Sheet("interpolate", path, positions, faces, canvas,
                                      {"from": start.label, "to": end.label, "space": space, "frames": frames,
                                       "psi": psi, "cell": cell, "animation": animation, "fps": fps},
                                      animation_fps=fps if animation else None))

    # --- faces ----------------------------------------------------------------------------------------

    def live_face(self, field: str) -> LatentSpec:
        """The face the live params show (before the sliders)."""
        params = self.params.current().params
        if params.mode == "seed":
            return LatentSpec(seed=params.seed)
        if params.mode == "me" and params.projection is not None:
            return LatentSpec(projection=params.projection)
        raise StudioOptionError(field, "the live view shows no generated face now (face replacement is off): "
                                       "give the faces")

    def live_psi(self) -> float:
        return float(self.params.current().params.psi)

    @staticmethod
    def resolve(resolver: LatentResolver, specs: List[LatentSpec], field: str) -> torch.Tensor:
        """The faces' latents; a projection that cannot be used is the field's error."""
        try:
            return resolver.ws(specs)
        except ProjectionUnavailable as error:
            raise StudioOptionError(field, str(error)) from None


# --- options -------------------------------------------------------------------------------------------

def check_known(options: Mapping[str, Any], known: Sequence[str]) -> None:
    if not isinstance(options, Mapping):
        raise StudioOptionError("body", f"the body must be a JSON object with the options {', '.join(known)}")
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise StudioOptionError(unknown[0], f"unknown option; the options are {', '.join(known)}")


def whole_number(options: Mapping[str, Any], field: str, low: int, high: int, default: Optional[int] = None) -> int:
    value = options.get(field, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise StudioOptionError(field, f"must be a whole number from {low} to {high}, got {shown(value)}")
    return value


def number(options: Mapping[str, Any], field: str, low: float, high: float, default: float) -> float:
    value = options.get(field, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise StudioOptionError(field, f"must be a number from {low:g} to {high:g}, got {shown(value)}")
    return float(value)


def cell_size(options: Mapping[str, Any], G: torch.nn.Module) -> int:
    return whole_number(options, "cell", MIN_CELL, MAX_CELL, default=min(DEFAULT_CELL, G.img_resolution))


def sheet_canvas(rows: int, columns: int, cell: int, captions: Dict[Tuple[int, int], str]) -> GridCanvas:
    """The labelled canvas, unless it would be bigger than ``MAX_SHEET_SIDE`` a side (an error on ``cell``;
    checked before the canvas is made, and again with its labels)."""
    width, height = columns * cell, rows * cell
    if max(height, width) <= MAX_SHEET_SIDE:
        canvas = GridCanvas(rows, columns, cell, captions=captions)
        height, width = canvas.image.shape[:2]
    if max(height, width) > MAX_SHEET_SIDE:
        raise StudioOptionError("cell", f"a sheet of {rows} x {columns} faces of {cell} px is {width} x {height} px, "
                                        f"over the limit of {MAX_SHEET_SIDE} px a side: choose smaller cells or "
                                        f"fewer columns")
    return canvas


def face_list(value: Any, field: str) -> List[LatentSpec]:
    """Faces as a list of seeds and projection names, or a text such as "1-3,me"; at most ``MAX_CELLS``."""
    if isinstance(value, list):
        specs = [spec for item in value for spec in item_faces(item, field)]
    else:
        specs = item_faces(value, field)
    if not specs:
        raise StudioOptionError(field, "give at least one face")
    if len(specs) > MAX_CELLS:
        raise StudioOptionError(field, f"{len(specs)} faces, more than the {MAX_CELLS} a sheet may hold")
    return specs


def seed_list(value: Any, field: str) -> List[int]:
    specs = face_list(value, field)
    named = [spec.projection for spec in specs if spec.seed is None]
    if named:
        raise StudioOptionError(field, f"expected seeds such as [1, 2, 3] or \"1-8,42\", got {shown(named[0])}")
    return [spec.seed for spec in specs]


def one_face(value: Any, field: str) -> LatentSpec:
    specs = face_list(value, field)
    if len(specs) != 1:
        raise StudioOptionError(field, f"expected one face (a seed or a saved projection's name), got {len(specs)}")
    return specs[0]


def item_faces(item: Any, field: str) -> List[LatentSpec]:
    """One list item or text: a seed (number), or text of seeds, ranges and projection names."""
    if isinstance(item, int) and not isinstance(item, bool):
        if not 0 <= item <= SEED_MAX:
            raise StudioOptionError(field, f"seeds go from 0 to {SEED_MAX}, got {item}")
        return [LatentSpec(seed=item)]
    if not isinstance(item, str) or len(item) > 2000:
        raise StudioOptionError(field, f"expected seeds and saved projections' names, got {shown(item)}")
    try:
        specs = parse_latents(item)
        for spec in specs:
            if spec.projection is not None:
                check_name(spec.projection)
    except ValueError as error:
        raise StudioOptionError(field, str(error)) from None
    return specs


def face_of(spec: LatentSpec) -> Dict[str, Any]:
    """What a cell showing one face says about it (the page makes it the live face when clicked)."""
    if spec.seed is not None:
        return {"seed": spec.seed, "label": spec.label}
    return {"projection": spec.projection, "label": spec.label}


def shown(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
