"""What a viewer can choose to see, each viewer for themselves: the stylized stream, the camera's own
picture, or both side by side (before | after).

Choosing a view changes nothing for anyone else: what the face looks like (the params) is shared, what a
viewer looks at is not. Each view a viewer watches is made and JPEG-encoded once per frame for all of
its viewers (``app.live.compositing``), and only while someone watches it (``app.live.viewers``).
"""
from __future__ import annotations

import numpy as np

STYLIZED = "stylized"      # The camera's picture with the generated faces pasted on (the default).
CAMERA = "camera"          # The camera's picture as it came.
SIDE = "side"              # Both, the camera's on the left: before | after.
VIEWS = (STYLIZED, CAMERA, SIDE)
VIRTUAL_CAMERA = "virtual-camera"   # Not a view but an output: takes the stylized frames unencoded.


class ViewError(ValueError):
    """A view that does not exist; the message lists those that do."""


def check_view(view: str) -> str:
    if view not in VIEWS:
        raise ViewError(f"no view {view!r}; the views are {', '.join(VIEWS)}")
    return view


def needs_stylized(view: str) -> bool:
    """Whether a view (or output) shows the composited picture, which costs the compositing of the frame."""
    return view != CAMERA


def view_image(view: str, camera: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """The picture of ``view`` (BGR) from the camera's frame and the composited one (same size)."""
    if view == STYLIZED:
        return stylized
    if view == CAMERA:
        return camera
    if view == SIDE:
        return np.hstack([camera, stylized])
    raise ViewError(f"no view {view!r}; the views are {', '.join(VIEWS)}")
