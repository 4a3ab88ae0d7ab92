"""Which params survive a switch to another generator, and the words that say what did not.

A seed, psi, the style seed and the sliders describe a face through the generator's W+ latents: they carry
over when the new generator has as many W layers of the same width (``num_ws``, ``w_dim``; the slider presets'
layer ranges are scaled by ``num_ws`` as always), and start over otherwise. A saved projection (mode "me"'s
face, the style source, a face's own) carries only if the new generator can show it, i.e. it was made with
the same weights (the projection store's fingerprint check); otherwise it is cleared, and mode "me" falls back
to mode "seed". How much of the mouth and eyes show is compositing, not the generator: it always carries.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, List, NamedTuple, Optional

from app.live.params import Params


class LatentShape(NamedTuple):
    """What decides whether a latent of one generator means anything to another."""

    num_ws: int
    w_dim: int

    def __str__(self) -> str:
        return f"{self.num_ws} W layers of {self.w_dim}"


@dataclass(frozen=True)
class CarriedParams:
    params: Params
    carried: List[str] = field(default_factory=list)   # What was kept, for the page.
    dropped: List[str] = field(default_factory=list)   # What was reset or cleared, and why.


def carry_params(params: Params, default: Params, old: LatentShape, new: LatentShape, new_model: str,
                 check_projection: Callable[[str], None], made_with: Callable[[str], str]) -> CarriedParams:
    """``params`` as they apply to the generator ``new_model``.

    ``default`` is the params a fresh start has (``default_params``); ``check_projection(name)`` raises
    ValueError for a projection the new generator cannot show; ``made_with(name)`` names the model a projection
    was made with.
    """
    carried: List[str] = []
    dropped: List[str] = []
    if old == new:
        carried.append(f"seed {params.seed}, psi {params.psi:g}, style seed {params.style_seed} and the sliders "
                       f"(both generators have {new})")
    else:
        params = replace(params, seed=default.seed, psi=default.psi, style_seed=default.style_seed,
                         sliders=default.sliders,
                         faces={track: choice for track, choice in params.faces.items() if choice.projection})
        dropped.append(f"seed, psi, style seed, sliders and the faces' own seeds reset: {new_model} has {new}, "
                       f"the previous generator {old}")

    def fits(name: Optional[str]) -> bool:
        if name is None:
            return True
        try:
            check_projection(name)
        except ValueError:
            return False
        return True

    if not fits(params.projection):
        if params.mode == "me":
            dropped.append(f"projection '{params.projection}' was made with {made_with(params.projection)}; "
                           f"mode set to seed")
            params = replace(params, mode="seed")
        else:
            dropped.append(f"projection '{params.projection}' was made with {made_with(params.projection)}; "
                           f"mode 'me' has no projection selected")
        params = replace(params, projection=None)
    elif params.projection is not None:
        carried.append(f"projection '{params.projection}' (made with these weights)")
    if not fits(params.style_projection):
        dropped.append(f"style projection '{params.style_projection}' was made with "
                       f"{made_with(params.style_projection)}; the sliders mix in the style seed")
        params = replace(params, style_projection=None)
    elif params.style_projection is not None:
        carried.append(f"style projection '{params.style_projection}' (made with these weights)")
    faces = {}
    for track, choice in sorted(params.faces.items()):
        if fits(choice.projection):
            faces[track] = choice
        else:
            dropped.append(f"face {track}'s projection '{choice.projection}' was made with "
                           f"{made_with(choice.projection)}; it shows everyone's face")
    params = replace(params, faces=faces)
    return CarriedParams(params, carried, dropped)

