"""Which detected faces make good training images: big enough, sharp, inside the frame, and new.

Each check is measured on the face in the FFHQ layout, so it means the same for every photo size:

- size: the side of the aligned square in source pixels. A face whose square spans fewer pixels than
  ``min_side`` would be enlarged into the dataset and look blurred; the default is half the dataset size
  (at most a 2x enlargement).
- sharpness: the variance of the Laplacian of the aligned face in grey, at the dataset size, or at 256
  for larger datasets (a 256 copy is cut from the source, so that one threshold serves every size).
  Below ``BLUR_THRESHOLD`` (40) a face counts as blurred. At 256, motion-blurred webcam frames in the
  test media score 8-35 and sharp faces 80-1400; at 64 and 128 the same faces score higher, as a face
  that small hides blur, so small datasets keep more of them.
- frame edge: the fraction of the aligned square that lies inside the frame. Alignment fills the rest
  with a reflection of the frame, which shows mirrored copies of the face once the face nears the edge;
  below ``MIN_INSIDE`` (0.8) a face counts as cut off.
- novelty: consecutive frames of a video give nearly the same face again and again. Each face is
  compared with the faces already kept from the same video as 32x32 grey thumbnails; a mean absolute
  difference below ``DUPLICATE_THRESHOLD`` (15 grey levels) makes it a near-duplicate. In the test clips,
  the same person in consecutive frames differs by 2-15 levels, two different people by 40 or more: a
  face that stays still is kept once, a moving one again each time it has changed that much (a 3-second
  clip of five people talking gives about 40 faces, not 450).
"""
from __future__ import annotations

import cv2
import numpy as np

from detectors.alignment import invert, transform_points

SHARPNESS_SIZE = 256
BLUR_THRESHOLD = 40.0
MIN_INSIDE = 0.8
THUMBNAIL_SIZE = 32
DUPLICATE_THRESHOLD = 15.0
INSIDE_SAMPLES = 16        # The frame-edge check samples this many points along each side of the square.


def square_side(matrix: np.ndarray, size: int) -> float:
    """Side, in source pixels, of the square that ``matrix`` (frame -> aligned, 2x3) maps onto size x size."""
    return float(size / np.sqrt(abs(np.linalg.det(np.asarray(matrix)[:, :2]))))


def inside_fraction(matrix: np.ndarray, size: int, frame_shape: tuple) -> float:
    """The fraction of the aligned square that lies inside the frame (sampled on a 16x16 grid)."""
    centres = (np.arange(INSIDE_SAMPLES) + 0.5) * size / INSIDE_SAMPLES - 0.5
    grid = np.stack(np.meshgrid(centres, centres), axis=-1).reshape(-1, 2)
    points = transform_points(invert(matrix), grid)
    height, width = frame_shape[:2]
    inside = ((points[:, 0] >= -0.5) & (points[:, 0] <= width - 0.5)
              & (points[:, 1] >= -0.5) & (points[:, 1] <= height - 0.5))
    return float(inside.mean())


def sharpness(aligned_bgr: np.ndarray) -> float:
    """Variance of the Laplacian, in grey, of an aligned face (BGR) at most 256 pixels wide."""
    if aligned_bgr.shape[0] > SHARPNESS_SIZE:
        raise ValueError(f"sharpness is measured on faces aligned at {SHARPNESS_SIZE}x{SHARPNESS_SIZE} or "
                         f"smaller, got {aligned_bgr.shape[1]}x{aligned_bgr.shape[0]}")
    return float(cv2.Laplacian(cv2.cvtColor(aligned_bgr, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def thumbnail(aligned_bgr: np.ndarray) -> np.ndarray:
    """The 32x32 grey thumbnail (float32, grey levels) that near-duplicates are judged by."""
    small = cv2.resize(aligned_bgr, (THUMBNAIL_SIZE, THUMBNAIL_SIZE), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)


class NearDuplicates:
    """The thumbnails of the faces kept from one video; ``seen(face)`` tells whether one is nearly the same."""

    def __init__(self, threshold: float = DUPLICATE_THRESHOLD) -> None:
        self.threshold = threshold
        self._kept = np.empty((16, THUMBNAIL_SIZE, THUMBNAIL_SIZE), np.float32)   # grows by doubling
        self._count = 0

    def seen(self, aligned_bgr: np.ndarray) -> bool:
        """True if the face is a near-duplicate of a kept one; otherwise remember it and return False."""
        candidate = thumbnail(aligned_bgr)
        if self._count and np.abs(self._kept[:self._count] - candidate).mean(axis=(1, 2)).min() < self.threshold:
            return True
        if self._count == len(self._kept):
            self._kept = np.concatenate([self._kept, np.empty_like(self._kept)])
        self._kept[self._count] = candidate
        self._count += 1
        return False
