"""The sliders a presets file defines: style-mixing edits, and moves along named directions.

A presets file (``app/live/presets.json``, or a user's file of the same shape, ``serve --presets``) lists
the sliders the page shows. An entry of kind "mix" (the default) moves a range of W+ layers of the face
toward a style source (the style seed, a seed of its own, or a saved projection chosen as the style
source); its slider goes from 0 to 1. An entry of kind "direction" moves the face along one direction of a
directions file (``python -m app directions``) on a layer range; its slider goes from -1 to +1, which is
-range..+range in the file's steps (one standard deviation of w along the direction for PCA and fitted
directions)::

    {"name": "smile_found", "label": "Smile (found)", "kind": "direction", "directions": "traits.pt",
     "direction": "smile", "layers": "0:8", "range": 3}

The directions file is found beside the presets file, else in the user's directions folder
(``app.library.directions_dir``). ``serve --directions FILE`` makes a slider of every direction of a set
without a presets file (``direction_presets``). Loading with the generator checks that each set fits it.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Protocol, Sequence, Union

import torch

from app.library import directions_dir
from stylegan2.latents import parse_layers
from stylegan2.studio.directions import DirectionSet, DirectionsFormatError, load_directions

SEED_MAX = 2 ** 32 - 1
DEFAULT_PRESETS = Path(__file__).with_name("presets.json")
PRESET_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
KINDS = ("mix", "direction")
DEFAULT_RANGE = 3.0        # Strength at a direction slider's end: 3 steps (3 sigma for PCA and fitted directions).
MAX_RANGE = 20.0           # Far beyond what any direction shows as a face.
PathLike = Union[str, Path]


class PresetsError(ValueError):
    """A presets file that cannot be used; the message names the file and the entry at fault."""


class ModelShape(Protocol):
    """What a directions set must fit: the generator's W space and its layer count."""

    w_dim: int
    num_ws: int


@dataclass(frozen=True)
class DirectionSlider:
    """Which direction a slider of kind "direction" moves along, and how far its ends go."""

    set_name: str                 # The set's name: its file's stem, e.g. "traits" (shown; never the path).
    name: str                     # The direction's name in the set, e.g. "smile".
    range: float                  # Strength at the slider's ends, in the set's steps.
    path: Path = field(compare=False)                              # The directions file (server side only).
    directions: DirectionSet = field(compare=False, repr=False)   # The whole set, as loaded.

    def step(self) -> torch.Tensor:
        """[w_dim]: the change of w at strength 1 (the set's scale times the unit vector)."""
        return self.directions.steps()[self.directions.names.index(self.name)]


@dataclass(frozen=True)
class Preset:
    name: str                 # Key in Params.sliders and the API, e.g. "smile".
    label: str                # Shown beside the slider, e.g. "Smile".
    layers: slice             # W+ range it edits, for a model with `num_ws` layers.
    source: Union[str, int] = "style"   # kind "mix": "style" = the user's style seed; an int = a seed of its own.
    num_ws: int = 14          # Layer count the range was chosen on (14 = FFHQ 256x256).
    description: str = ""
    direction: Optional[DirectionSlider] = None   # kind "direction": what it moves along; None for "mix".

    @property
    def kind(self) -> str:
        """"mix" (a style-mixing slider, 0..1) or "direction" (a direction slider, -1..+1)."""
        return "mix" if self.direction is None else "direction"

    @property
    def minimum(self) -> float:
        """The slider's lowest value: 0 for style mixing, -1 for a direction (its far negative end)."""
        return 0.0 if self.direction is None else -1.0

    def to_json(self) -> dict:
        shown = {"name": self.name, "label": self.label, "kind": self.kind,
                 "layers": f"{self.layers.start}:{self.layers.stop}", "num_ws": self.num_ws,
                 "min": self.minimum, "max": 1.0}
        if self.direction is None:
            shown["source"] = self.source
        else:
            shown.update(directions=self.direction.set_name, direction=self.direction.name,
                         range=self.direction.range)
        shown["description"] = self.description
        return shown


class DirectionsLoader:
    """Reads each directions file once per presets file, checking that it fits the generator (if given)."""

    def __init__(self, folders: Sequence[Path], generator: Optional[ModelShape]) -> None:
        self.folders = list(folders)      # Where a file name is looked for, in order.
        self.generator = generator
        self.loaded: Dict[Path, DirectionSet] = {}

    def find(self, name: str) -> Path:
        """The first folder's file called ``name`` (a path as given if absolute); PresetsError if none has it."""
        candidates = [folder / name for folder in self.folders]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise PresetsError(f"no directions file {name!r} in {' or '.join(str(c.parent) for c in candidates)} "
                           f"(make one with: python -m app directions MODEL --method sefa --out {name})")

    def load(self, path: Path) -> DirectionSet:
        """The set in ``path``, checked against the generator; PresetsError naming the file and what differs."""
        if path not in self.loaded:
            try:
                directions = load_directions(path)
            except DirectionsFormatError as error:
                raise PresetsError(str(error)) from None
            if self.generator is not None:
                model = (self.generator.w_dim, self.generator.num_ws)
                if (directions.w_dim, directions.num_ws) != model:
                    raise PresetsError(f"{path.name} was made for a model with w_dim {directions.w_dim} and "
                                       f"{directions.num_ws} layers; this model has w_dim {model[0]} and "
                                       f"{model[1]} layers")
            self.loaded[path] = directions
        return self.loaded[path]


def load_presets(path: Optional[PathLike] = None, generator: Optional[ModelShape] = None,
                 models_dir: Optional[Path] = None) -> List[Preset]:
    """The slider presets from ``path`` (default ``app/live/presets.json``); PresetsError says what is wrong.

    Direction entries read their directions file from the presets file's folder, else from the user's
    directions folder (``models_dir``'s, default the user's); with ``generator``, each set must fit it."""
    path = Path(path) if path is not None else DEFAULT_PRESETS
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PresetsError(f"cannot read presets file {path}: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PresetsError(f"presets file {path} is not valid JSON: {error}") from None
    loader = DirectionsLoader([path.parent, directions_dir(models_dir)], generator)
    try:
        return parse_presets(document, loader)
    except PresetsError as error:
        raise PresetsError(f"presets file {path}: {error}") from None


def parse_presets(document: Any, loader: Optional[DirectionsLoader] = None) -> List[Preset]:
    """Validate a presets document: ``{"num_ws": 14, "presets": [{name, label, layers, source?}, ...]}``
    (entries of kind "direction": see the module docstring; they need a ``loader``)."""
    if not isinstance(document, dict) or set(document) - {"num_ws", "presets"}:
        raise PresetsError('expected an object with "presets" (a list) and optionally "num_ws"')
    num_ws = document.get("num_ws", 14)
    if isinstance(num_ws, bool) or not isinstance(num_ws, int) or num_ws < 2 or num_ws % 2:
        raise PresetsError(f"num_ws must be an even integer >= 2 (14 for a 256x256 model), got {num_ws!r}")
    entries = document.get("presets")
    if not isinstance(entries, list) or not entries:
        raise PresetsError('"presets" must be a non-empty list')
    loader = loader or DirectionsLoader([directions_dir()], None)
    presets = [parse_preset(entry, num_ws, f"presets[{index}]", loader) for index, entry in enumerate(entries)]
    check_unique(presets)
    return presets


def parse_preset(entry: Any, num_ws: int, where: str, loader: DirectionsLoader) -> Preset:
    if not isinstance(entry, dict):
        raise PresetsError(f"{where}: expected an object with name, label, layers and source")
    kind = entry.get("kind", "mix")
    if kind not in KINDS:
        raise PresetsError(f"{where}.kind: one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "direction":
        return parse_direction_preset(entry, where, loader)
    allowed = {"name", "label", "kind", "layers", "source", "description"}
    if set(entry) - allowed or not {"name", "label", "layers"} <= set(entry):
        raise PresetsError(f"{where}: needs name, label and layers, may have kind, source and description; "
                           f"got {', '.join(sorted(entry))}")
    name, label, description = check_texts(entry, where)
    try:
        layers = parse_layers(entry["layers"], num_ws)
    except ValueError as error:
        raise PresetsError(f"{where}.layers: {error}") from None
    source = entry.get("source", "style")
    if source != "style" and (isinstance(source, bool) or not isinstance(source, int)
                              or not 0 <= source <= SEED_MAX):
        raise PresetsError(f"{where}.source: \"style\" (the style seed) or a seed 0..{SEED_MAX}, got {source!r}")
    return Preset(name, label, layers, source, num_ws, description)


def parse_direction_preset(entry: Dict[str, Any], where: str, loader: DirectionsLoader) -> Preset:
    """An entry of kind "direction": its file and direction read and checked, its layers those of the set
    unless it names some (in the set's layer count), its range DEFAULT_RANGE unless given."""
    allowed = {"name", "label", "kind", "directions", "direction", "layers", "range", "description"}
    if set(entry) - allowed or not {"name", "label", "directions", "direction"} <= set(entry):
        raise PresetsError(f"{where}: a direction slider needs name, label, directions (a file) and direction "
                           f"(a name in it), may have layers, range and description; "
                           f"got {', '.join(sorted(entry))}")
    name, label, description = check_texts(entry, where)
    file_name, direction = entry["directions"], entry["direction"]
    if not isinstance(file_name, str) or not file_name.strip():
        raise PresetsError(f"{where}.directions: the name of a directions file (.pt), got {file_name!r}")
    try:
        path = loader.find(file_name.strip())
        directions = loader.load(path)
    except PresetsError as error:
        raise PresetsError(f"{where}.directions ({name}): {error}") from None
    if direction not in directions.names:
        raise PresetsError(f"{where}.direction ({name}): {path.name} has no direction {direction!r}; it has "
                           f"{', '.join(map(repr, directions.names))}")
    layers = directions.layers
    if "layers" in entry:
        try:
            layers = parse_layers(entry["layers"], directions.num_ws)
        except ValueError as error:
            raise PresetsError(f"{where}.layers ({name}): {error} (the layers of {path.name}'s model)") from None
    strength_range = entry.get("range", DEFAULT_RANGE)
    if (isinstance(strength_range, bool) or not isinstance(strength_range, (int, float))
            or not math.isfinite(strength_range) or not 0 < strength_range <= MAX_RANGE):
        raise PresetsError(f"{where}.range ({name}): the strength at the slider's end, a number above 0 and at "
                           f"most {MAX_RANGE:g} (3 = three steps of the direction), got {strength_range!r}")
    slider = DirectionSlider(path.stem, direction, float(strength_range), path, directions)
    return Preset(name, label, layers, "style", directions.num_ws, description, slider)


def direction_presets(path: PathLike, generator: Optional[ModelShape] = None) -> List[Preset]:
    """A direction slider for every direction of the set in ``path`` (``serve --directions``): named
    "<file stem>_<direction>" in lowercase letters, digits and _, labelled with the direction's name."""
    path = Path(path)
    loader = DirectionsLoader([path.parent], generator)
    try:
        directions = loader.load(path)
    except PresetsError as error:
        raise PresetsError(f"--directions {path}: {error}") from None
    presets = []
    for direction in directions.names:
        name = slider_name(path.stem, direction)
        slider = DirectionSlider(path.stem, direction, DEFAULT_RANGE, path, directions)
        presets.append(Preset(name, direction, directions.layers, "style", directions.num_ws,
                              f"{direction} ({path.stem}, layers {directions.layers.start}:"
                              f"{directions.layers.stop})", slider))
    return presets


def slider_name(set_name: str, direction: str) -> str:
    """A preset name for a direction of a set: e.g. "traits_smile", "sefa_sefa_1" (at most 32 characters)."""
    text = re.sub(r"[^a-z0-9]+", "_", f"{set_name}_{direction}".lower()).strip("_")
    return ("d_" + text if not text[:1].isalpha() else text)[:32]


def check_unique(presets: Sequence[Preset]) -> None:
    """Raise PresetsError if two sliders share a name (a presets file and --directions sets together), or two
    directions files a name (the page asks for a set's preview by its name)."""
    names = [preset.name for preset in presets]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PresetsError(f"preset names must be unique; repeated: {', '.join(duplicates)}")
    files: Dict[str, Path] = {}
    for preset in presets:
        if preset.direction is not None:
            known = files.setdefault(preset.direction.set_name, preset.direction.path)
            if known.resolve() != preset.direction.path.resolve():
                raise PresetsError(f"two directions files are called {preset.direction.set_name!r} ({known} and "
                                   f"{preset.direction.path}); rename one")


def check_texts(entry: Dict[str, Any], where: str) -> tuple:
    """An entry's name, label (stripped) and description, each checked."""
    name, label, description = entry["name"], entry["label"], entry.get("description", "")
    if not isinstance(name, str) or not PRESET_NAME.fullmatch(name):
        raise PresetsError(f"{where}.name: use lowercase letters, digits and _ (e.g. \"hair_colour\"), "
                           f"got {name!r}")
    if not isinstance(label, str) or not label.strip() or not isinstance(description, str):
        raise PresetsError(f"{where}.label and description must be text, and the label not empty")
    return name, label.strip(), description


def slider_presets(presets_path: Optional[PathLike], directions_paths: Sequence[PathLike],
                   generator: Optional[ModelShape]) -> List[Preset]:
    """Every slider of ``serve``: the presets file's (default the built-in one), then a slider for each
    direction of each ``--directions`` file; all checked against the generator, names unique."""
    presets = load_presets(presets_path, generator)
    for path in directions_paths:
        presets += direction_presets(path, generator)
    check_unique(presets)
    return presets
