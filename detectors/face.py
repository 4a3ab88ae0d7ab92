"""The face record every detector returns, and the box overlap measure used to compare faces."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Landmark order, as YuNet gives it. "Right" and "left" are the subject's: on an upright face looking
# at the camera, the right eye is the one on the image's left.
LANDMARK_NAMES = ("right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner")


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face, in the pixel coordinates of the frame it was found in.

    Coordinates follow OpenCV: x to the right, y down, pixel centres at integers. A face cut by the
    frame edge keeps its full box, so ``x``/``y`` may be slightly negative.
    """
    box: np.ndarray                     # float32 [x, y, w, h]: top-left corner, width, height.
    landmarks: np.ndarray               # float32 (5, 2), in LANDMARK_NAMES order.
    score: float                        # Detector confidence in [0, 1].
    landmarks_estimated: bool = False   # True when derived from the box by a detector without landmarks.

    def __post_init__(self) -> None:
        box = np.asarray(self.box, dtype=np.float32).reshape(-1)
        landmarks = np.asarray(self.landmarks, dtype=np.float32)
        if box.shape != (4,) or box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"a face box is [x, y, w, h] with w, h > 0, got {self.box!r}")
        if landmarks.shape != (5, 2):
            raise ValueError(f"a face has 5 (x, y) landmarks, got an array of shape {landmarks.shape}")
        if not (np.isfinite(box).all() and np.isfinite(landmarks).all()):
            raise ValueError("a face's box and landmarks must be finite numbers")
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "landmarks", landmarks)
        object.__setattr__(self, "score", float(self.score))
        object.__setattr__(self, "landmarks_estimated", bool(self.landmarks_estimated))

    @property
    def area(self) -> float:
        return float(self.box[2] * self.box[3])

    @property
    def center(self) -> np.ndarray:
        """Centre of the box, float32 [x, y]."""
        return self.box[:2] + self.box[2:] / 2

    @property
    def size(self) -> float:
        """A single length for the face's scale: the geometric mean of the box's width and height."""
        return float(np.sqrt(self.area))


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two [x, y, w, h] boxes: 1 for identical boxes, 0 for disjoint ones."""
    ax, ay, aw, ah = (float(v) for v in a)
    bx, by, bw, bh = (float(v) for v in b)
    overlap_w = min(ax + aw, bx + bw) - max(ax, bx)
    overlap_h = min(ay + ah, by + bh) - max(ay, by)
    if overlap_w <= 0 or overlap_h <= 0:
        return 0.0
    intersection = overlap_w * overlap_h
    return intersection / (aw * ah + bw * bh - intersection)


def largest_first(faces: list[Face], max_faces: int | None = None) -> list[Face]:
    """Sort faces by box area, largest first (ties: higher score first), and keep at most ``max_faces``."""
    ordered = sorted(faces, key=lambda face: (face.area, face.score), reverse=True)
    return ordered if max_faces is None else ordered[:max_faces]
