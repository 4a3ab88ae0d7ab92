"""What the user controls (seed, truncation, style sliders, mode, per-face choices), validated in one place.

``Params`` is immutable: an update builds a new one, so the worker threads that read the current params
never see half an update. ``apply_update`` checks a whole partial update from the API first and raises
``ParamsError`` naming the first bad field before anything changes.

The sliders are defined by presets (``app.live.presets``): a style-mixing slider (0..1) moves a range of
W+ layers of the face toward a style source: the style seed, or a saved projection chosen as
``style_projection``; a direction slider (-1..+1) moves the face along a named direction.

Mode "me" shows a saved projection (the user's own face, ``projection``) instead of a seed's face. Which
projections exist is not the params' business: the caller passes a ``check_projection`` function that
raises ValueError, with the reason, for a name that cannot be selected.

``keep_mouth`` and ``keep_eyes`` say how much of the person's own mouth and eyes show through the pasted
face (``app.live.face_paste``); they change the compositing only, never the generated face.

``faces`` gives tracked faces (by track id, ``detectors.Track.id``) a face of their own instead of the one
the mode shows: ``{"3": {"seed": 42}, "5": {"projection": "me"}}``; an update merges into the choices there
are, and ``null`` removes one. At most ``MAX_FACE_CHOICES`` faces have one (each costs a render of its own),
and a choice is forgotten when its track ends (``without_tracks_other_than``).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Collection, Dict, List, Mapping, NamedTuple, Optional

from app.live.presets import SEED_MAX, Preset

MODES = ("seed", "me", "passthrough")   # "me": a saved projection of the user's face.
PSI_MAX = 1.0                      # Truncation above 1 pushes away from the average face: mostly artefacts.
MAX_FACE_CHOICES = 4               # Tracked faces that may have a face of their own (each is a render).
TRACK_ID = re.compile(r"[1-9][0-9]{0,8}")


class ParamsError(ValueError):
    """A rejected params update; ``field`` names the offending input (``sliders.smile`` for a slider)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class FaceChoice:
    """The face one tracked face gets instead of everyone's: a seed's or a saved projection's."""

    seed: Optional[int] = None
    projection: Optional[str] = None

    def to_json(self) -> dict:
        return {"seed": self.seed} if self.projection is None else {"projection": self.projection}


@dataclass(frozen=True)
class Params:
    mode: str = "seed"                       # One of MODES.
    seed: int = 0                            # The generated face, 0 .. SEED_MAX.
    psi: float = 0.7                         # Truncation: 0 = the average face, 1 = untruncated.
    style_seed: int = 1                      # The style source the sliders mix in.
    sliders: Mapping[str, float] = field(default_factory=dict)   # Preset name -> [0, 1] (mix) or [-1, 1].
    projection: Optional[str] = None         # The saved projection mode "me" shows.
    style_projection: Optional[str] = None   # A saved projection as the style source instead of style_seed.
    keep_mouth: float = 0.0                  # How much of the person's own mouth shows, 0 .. 1.
    keep_eyes: float = 0.0                   # How much of the person's own eyes show, 0 .. 1.
    faces: Mapping[int, FaceChoice] = field(default_factory=dict)   # Track id -> its own face.

    def __post_init__(self) -> None:
        object.__setattr__(self, "sliders", MappingProxyType(dict(self.sliders)))
        object.__setattr__(self, "faces", MappingProxyType(dict(self.faces)))

    def to_json(self) -> dict:
        return {"mode": self.mode, "seed": self.seed, "psi": self.psi, "style_seed": self.style_seed,
                "sliders": dict(self.sliders), "projection": self.projection,
                "style_projection": self.style_projection, "keep_mouth": self.keep_mouth,
                "keep_eyes": self.keep_eyes,
                "faces": {str(track): choice.to_json() for track, choice in sorted(self.faces.items())}}

    def projections_in_use(self) -> Dict[str, str]:
        """Each saved projection these params show, with the role it has (for refusing to delete it)."""
        roles = {}
        for track, choice in sorted(self.faces.items()):
            if choice.projection is not None:
                roles.setdefault(choice.projection, f"the face of face {track}")
        if self.style_projection is not None:
            roles[self.style_projection] = "the style source"
        if self.projection is not None and self.mode == "me":
            roles[self.projection] = "the face shown"
        elif self.projection is not None:
            roles.setdefault(self.projection, "the face of mode 'me'")
        return roles

    def renamed(self, old: str, new: str) -> "Params":
        """These params with every reference to projection ``old`` made to ``new``."""
        def name(value: Optional[str]) -> Optional[str]:
            return new if value == old else value

        faces = {track: FaceChoice(choice.seed, name(choice.projection)) for track, choice in self.faces.items()}
        return replace(self, projection=name(self.projection), style_projection=name(self.style_projection),
                       faces=faces)

    def without_tracks_other_than(self, tracks: Collection[int]) -> "Params":
        """These params with the face choices of every track not in ``tracks`` forgotten."""
        return replace(self, faces={track: choice for track, choice in self.faces.items() if track in tracks})


class VersionedParams(NamedTuple):
    """Params and the version a pipeline gave them: what ``X-Params-Version`` says on the frames that show them."""

    params: Params
    version: int


def default_params(presets: List[Preset]) -> Params:
    """Seed mode with every slider at 0 (the plain generated face)."""
    return Params(sliders={preset.name: 0.0 for preset in presets})


def no_projections(name: str) -> None:
    """The ``check_projection`` of a caller without saved projections: none can be selected."""
    raise ValueError("there are no saved projections here")


@dataclass(frozen=True)
class UpdateContext:
    """What the field checks need besides the value: the slider presets and which projections exist."""

    presets: List[Preset]
    check_projection: Callable[[str], None]


def apply_update(current: Params, payload: Any, presets: List[Preset],
                 check_projection: Callable[[str], None] = no_projections) -> Params:
    """``current`` with the fields in ``payload`` changed, or ParamsError for the first bad field.

    ``payload`` is a partial update as the API receives it, e.g. ``{"seed": 7, "sliders": {"smile": 0.5}}``;
    ``sliders`` may name only the presets it changes. ``check_projection(name)`` raises ValueError for a
    projection that cannot be selected (it is asked only about the names in ``payload``).
    """
    if not isinstance(payload, dict):
        raise ParamsError("body", f"expected a JSON object of fields to change, got {type(payload).__name__}")
    context = UpdateContext(presets, check_projection)
    changes: Dict[str, Any] = {}
    for name, value in payload.items():
        if name not in FIELD_CHECKS:
            raise ParamsError(str(name), f"unknown field; the fields are {', '.join(FIELD_CHECKS)}")
        changes[name] = FIELD_CHECKS[name](name, value, current, context)
    updated = replace(current, **changes)
    if updated.mode == "me" and updated.projection is None:
        raise ParamsError("projection", "mode 'me' shows a saved projection: select one with \"projection\" "
                                        "(see GET /api/projections) or make one (POST /api/project)")
    return updated


def check_mode(name: str, value: Any, current: Params, context: UpdateContext) -> str:
    if value not in MODES:
        raise ParamsError(name, f"must be one of {', '.join(MODES)}, got {shown(value)}")
    return value


def check_seed(name: str, value: Any, current: Params, context: UpdateContext) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamsError(name, f"must be an integer, got {shown(value)}")
    if not 0 <= value <= SEED_MAX:
        raise ParamsError(name, f"must be between 0 and {SEED_MAX}, got {shown(value)}")
    return value


def check_psi(name: str, value: Any, current: Params, context: UpdateContext) -> float:
    return check_fraction(name, value, PSI_MAX)


def check_sliders(name: str, value: Any, current: Params, context: UpdateContext) -> Dict[str, float]:
    if not isinstance(value, dict):
        raise ParamsError(name, f"must be an object of preset name -> strength, got {shown(value)}")
    known = [preset.name for preset in context.presets]
    sliders = dict(current.sliders)
    for preset_name, strength in value.items():
        if preset_name not in known:
            raise ParamsError(f"{name}.{preset_name}", f"no such preset; the presets are {', '.join(known)}")
        preset = context.presets[known.index(preset_name)]
        sliders[preset_name] = check_fraction(f"{name}.{preset_name}", strength, 1.0, preset.minimum)
    return sliders


def check_projection(name: str, value: Any, current: Params, context: UpdateContext) -> Optional[str]:
    """A saved projection's name, or null (none: the style seed, for ``style_projection``)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParamsError(name, f"must be the name of a saved projection or null, got {shown(value)}")
    try:
        context.check_projection(value)
    except ValueError as error:
        raise ParamsError(name, str(error)) from None
    return value


def check_keep(name: str, value: Any, current: Params, context: UpdateContext) -> float:
    return check_fraction(name, value, 1.0)


def check_faces(name: str, value: Any, current: Params, context: UpdateContext) -> Dict[int, FaceChoice]:
    """Per-face choices merged into the current ones: track id -> {"seed": n} or {"projection": name}, or
    null to give that face everyone's face again."""
    if not isinstance(value, dict):
        raise ParamsError(name, 'must be an object of track id -> {"seed": n} or {"projection": name} or null, '
                                f"got {shown(value)}")
    faces = dict(current.faces)
    for key, choice in value.items():
        where = f"{name}.{key}"
        if not isinstance(key, str) or not TRACK_ID.fullmatch(key):
            raise ParamsError(where, "a track id is a whole number from 1 (see GET /api/faces)")
        if choice is None:
            faces.pop(int(key), None)
            continue
        if not isinstance(choice, dict) or len(choice) != 1 or not {"seed", "projection"} & set(choice):
            raise ParamsError(where, f'must be {{"seed": n}} or {{"projection": name}} or null, got {shown(choice)}')
        if "seed" in choice:
            faces[int(key)] = FaceChoice(seed=check_seed(f"{where}.seed", choice["seed"], current, context))
        else:
            projection = check_projection(f"{where}.projection", choice["projection"], current, context)
            if projection is None:
                raise ParamsError(f"{where}.projection", "must be the name of a saved projection")
            faces[int(key)] = FaceChoice(projection=projection)
    if len(faces) > MAX_FACE_CHOICES:
        raise ParamsError(name, f"at most {MAX_FACE_CHOICES} faces can have a face of their own; give one "
                                f"back (null) first")
    return faces


def check_fraction(name: str, value: Any, maximum: float, minimum: float = 0.0) -> float:
    """A number in [minimum, maximum]. JSON integers have no size limit, so ``value`` may be far beyond any float:
    it is compared as it is (Python compares int and float exactly) and converted only once in range."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not is_number or isinstance(value, float) and not math.isfinite(value):
        raise ParamsError(name, f"must be a number, got {shown(value)}")
    if not minimum <= value <= maximum:
        raise ParamsError(name, f"must be between {minimum:g} and {maximum:g}, got {shown(value)}")
    return float(value)


def shown(value: Any, limit: int = 40) -> str:
    """``value`` as JSON for an error message, shortened: a rejected input may be thousands of digits long."""
    text = json.dumps(value)
    return text if len(text) <= limit else f"{text[:limit - 12]}... ({len(text)} characters)"


FIELD_CHECKS = {"mode": check_mode, "seed": check_seed, "psi": check_psi, "style_seed": check_seed,
                "sliders": check_sliders, "projection": check_projection, "style_projection": check_projection,
                "keep_mouth": check_keep, "keep_eyes": check_keep, "faces": check_faces}
