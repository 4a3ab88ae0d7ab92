"""Fallback detector: OpenCV's Haar cascade for frontal faces, for machines where YuNet cannot run.

``cv2.CascadeClassifier`` exists in OpenCV 4.x (whose wheels also ship the cascade XML under
``cv2.data.haarcascades``) but not in OpenCV 5. Where the wheel lacks the XML, the registry's
"haarcascade" file is used.

The cascade finds frontal faces only, misses small and turned ones, gives no landmarks and no
confidence. Every face it returns has score 1.0 and five landmarks placed at fixed proportions of its
box (``LANDMARKS_IN_BOX``), marked ``landmarks_estimated=True``, so that alignment still works.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

import weights

from .base import DetectorUnavailable, Downscaler, as_bgr
from .face import Face, largest_first

CASCADE_FILE = "haarcascade_frontalface_default.xml"

# Where YuNet puts the five landmarks inside a Haar box, as fractions of its width and height
# (right eye, left eye, nose tip, right mouth corner, left mouth corner). Fitted as the median over
# 106 faces found by both detectors (faces.json stills plus every 5th frame of the selfie and
# conference clips, OpenCV 4.14), then made left-right symmetric. The typical error of these guesses
# against YuNet's real landmarks is about 4% of the box width; head tilt is not captured at all.
LANDMARKS_IN_BOX = np.array([
    [0.31, 0.39],
    [0.69, 0.39],
    [0.50, 0.60],
    [0.34, 0.76],
    [0.66, 0.76],
], dtype=np.float32)


class HaarDetector:
    name = "haar"

    def __init__(
        self,
        model_path: str | Path | None = None,  # Cascade XML or registry name; None = see _default_cascade.
        max_faces: int | None = None,          # Keep at most this many (the largest); None = all.
        detect_width: int | None = None,       # Detect on a copy this wide (e.g. 320) for speed.
        scale_factor: float = 1.1,             # Image pyramid step between the sizes searched.
        min_neighbors: int = 5,                # Overlapping hits a face needs; higher = fewer false faces.
    ):
        if max_faces is not None and max_faces < 1:
            raise ValueError(f"max_faces must be at least 1 (or None), got {max_faces}")
        if scale_factor <= 1.0 or min_neighbors < 0:
            raise ValueError("scale_factor must be > 1 and min_neighbors >= 0")
        if not hasattr(cv2, "CascadeClassifier"):
            raise DetectorUnavailable(
                f"OpenCV {cv2.__version__} has no Haar cascades (cv2.CascadeClassifier was removed in "
                f"OpenCV 5); use YuNet, or install OpenCV 4: pip install 'opencv-python-headless<5'")
        path = weights.path_of(model_path) if model_path is not None else _default_cascade()
        try:
            cascade = cv2.CascadeClassifier(str(path)) if path.is_file() else None
        except (cv2.error, SystemError):  # OpenCV 4 raises SystemError for a file that is not a cascade.
            cascade = None
        if cascade is None or cascade.empty():
            raise DetectorUnavailable(
                f"could not load the Haar cascade {path} (missing or not a cascade XML)")
        self.model_path = path
        self.max_faces = max_faces
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self._cascade = cascade
        self._downscaler = Downscaler(detect_width)

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an 8-bit BGR (or grayscale / BGRA) image, largest first."""
        small, scale = self._downscaler.shrink(as_bgr(image))
        gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
        boxes = self._cascade.detectMultiScale(gray, self.scale_factor, self.min_neighbors)
        faces = [_box_to_face(np.asarray(box, dtype=np.float32)) for box in boxes]
        return largest_first([Downscaler.restore(face, scale) for face in faces], self.max_faces)


def _box_to_face(box: np.ndarray) -> Face:
    landmarks = box[:2] + LANDMARKS_IN_BOX * box[2:]
    return Face(box=box, landmarks=landmarks, score=1.0, landmarks_estimated=True)


def _default_cascade() -> Path:
    """OpenCV's own copy of the cascade where the installed wheel ships one, else the registry's."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if folder and (Path(folder) / CASCADE_FILE).is_file():
        return Path(folder) / CASCADE_FILE
    return weights.local_path("haarcascade")
