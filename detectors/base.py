"""What every detector shares: its interface, its errors, and the input checks and downscaling."""
from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from .face import Face


class DetectorUnavailable(RuntimeError):
    """A detector cannot run here: its model file or its OpenCV feature is missing. The message says
    what to install or fetch."""


class DetectorFallbackWarning(RuntimeWarning):
    """``create_detector("auto")`` could not start YuNet and fell back to another detector."""


class InvalidImageError(ValueError):
    """The image given to ``detect`` is not an 8-bit grayscale, BGR or BGRA picture."""


class Detector(Protocol):
    """What ``create_detector`` returns: a named detector with one method."""
    name: str

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an 8-bit BGR (or grayscale / BGRA) image, largest first."""
        ...


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Check a frame and return it as 8-bit BGR (grayscale is replicated, an alpha channel dropped)."""
    if not isinstance(image, np.ndarray):
        raise InvalidImageError(f"expected an image as a NumPy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InvalidImageError(f"expected an 8-bit image (uint8), got dtype {image.dtype}")
    if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
        raise InvalidImageError(f"expected an H x W or H x W x C image, got shape {image.shape}")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if channels == 3:
        return image
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise InvalidImageError(f"expected 1, 3 or 4 channels, got {channels}")


class Downscaler:
    """Optionally shrinks frames to ``detect_width`` pixels wide before detection, and maps the faces
    found there back to full-frame coordinates. Frames already that narrow are left alone.

    Detecting at 320 px wide costs about a quarter of 640 px, but faces smaller than roughly 20 px
    in the shrunken frame are lost.
    """

    def __init__(self, detect_width: int | None):
        if detect_width is not None and detect_width < 32:
            raise ValueError(f"detect_width must be at least 32 pixels (or None), got {detect_width}")
        self.detect_width = detect_width

    def shrink(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (the image to detect on, its x and y scales relative to the original). The two differ
        slightly because the shrunken height is rounded to whole pixels."""
        height, width = image.shape[:2]
        if self.detect_width is None or width <= self.detect_width:
            return image, np.ones(2)
        small_height = max(1, round(height * self.detect_width / width))
        small = cv2.resize(image, (self.detect_width, small_height), interpolation=cv2.INTER_AREA)
        return small, np.array([self.detect_width / width, small_height / height])

    @staticmethod
    def restore(face: Face, scale: np.ndarray) -> Face:
        """Map a face found on an image shrunk by ``scale`` (x, y) back to the original's pixels."""
        if (scale == 1.0).all():
            return face
        # Pixel centres sit at integers, so a point maps as (p + 0.5) / scale - 0.5; lengths as w / scale.
        corner = (face.box[:2] + 0.5) / scale - 0.5
        box = np.concatenate([corner, face.box[2:] / scale])
        landmarks = (face.landmarks + 0.5) / scale - 0.5
        return Face(box, landmarks, face.score, face.landmarks_estimated)
