"""YuNet (OpenCV's ``cv2.FaceDetectorYN``): boxes, five landmarks and scores, fast on a CPU.

The model file is the weights registry's "yunet" by default; any other path can be given. Messages name
the file; how to get one is for the application to say (it knows its own commands and options). One detector object serves frames of any size: it resets YuNet's input size
whenever the frame size changes. A detector object is not thread-safe; give each thread its own.
"""
from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

import weights

from .base import DetectorUnavailable, Downscaler, as_bgr
from .face import Face, largest_first
from .opencv_log import quiet_opencv
from .yunet_models import min_opencv_for

# cv2.FaceDetectorYN exists from OpenCV 4.5.4, but only 4.8 and later read the YuNet models released since
# 2023 (this one included): OpenCV 4.7 loads the file and then fails on the first frame. The older 2022mar
# model runs from 4.5.4 (yunet_models.min_opencv_for).
MIN_OPENCV = (4, 8)
NEEDS = "YuNet's model needs OpenCV >= {}.{}".format(*MIN_OPENCV)
INSTALL_HINT = "install a newer OpenCV: pip install 'opencv-python-headless>={}.{}'".format(*MIN_OPENCV)
TOP_K = 5000  # Candidates kept before non-maximum suppression (YuNet's own default).


class YuNetDetector:
    name = "yunet"

    def __init__(
        self,
        model_path: str | Path | None = None,  # ONNX file or registry name; None = the registry's "yunet".
        score_threshold: float = 0.6,          # Faces scoring below this are dropped.
        nms_threshold: float = 0.3,            # Boxes overlapping a better one by more IoU are dropped.
        max_faces: int | None = None,          # Keep at most this many (the largest); None = all.
        detect_width: int | None = None,       # Detect on a copy this wide (e.g. 320) for speed.
    ):
        if not 0.0 <= score_threshold <= 1.0 or not 0.0 <= nms_threshold <= 1.0:
            raise ValueError("score_threshold and nms_threshold must lie in [0, 1]")
        if max_faces is not None and max_faces < 1:
            raise ValueError(f"max_faces must be at least 1 (or None), got {max_faces}")
        if not hasattr(cv2, "FaceDetectorYN"):
            raise DetectorUnavailable(
                f"OpenCV {cv2.__version__} has no cv2.FaceDetectorYN ({NEEDS}); {INSTALL_HINT}")
        path = weights.path_of("yunet" if model_path is None else model_path)
        if _opencv_version() < min_opencv_for(path)[:2]:
            raise DetectorUnavailable(
                f"OpenCV {cv2.__version__} is too old for YuNet ({NEEDS}); {INSTALL_HINT}")
        if not path.is_file():
            raise DetectorUnavailable(f"YuNet model file not found: {path}")
        self.model_path = path
        self.description = f"YuNet ({path.name}) in OpenCV {cv2.__version__}"
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_faces = max_faces
        self._downscaler = Downscaler(detect_width)
        self._input_size = (320, 320)
        try:
            with quiet_opencv():      # OpenCV 5 warns about compute targets
                self._yunet = cv2.FaceDetectorYN.create(
                    str(path), "", self._input_size, score_threshold, nms_threshold, TOP_K)
                # A model this OpenCV cannot run may still load: run it once, so that it fails here and not
                # on the first frame.
                self._yunet.detect(np.zeros((self._input_size[1], self._input_size[0], 3), dtype=np.uint8))
        except cv2.error as error:
            raise DetectorUnavailable(
                f"could not run the YuNet model {path} ({_first_line(error)}). Either the file is damaged "
                f"(replace it with a good copy) or OpenCV {cv2.__version__} cannot read it "
                f"({NEEDS}; {INSTALL_HINT})") from error

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an 8-bit BGR (or grayscale / BGRA) image, largest first."""
        small, scale = self._downscaler.shrink(as_bgr(image))
        size = (small.shape[1], small.shape[0])
        if size != self._input_size:
            self._yunet.setInputSize(size)
            self._input_size = size
        _, rows = self._yunet.detect(small)
        faces = [] if rows is None else [_row_to_face(row) for row in rows]
        return largest_first([Downscaler.restore(face, scale) for face in faces], self.max_faces)


def _row_to_face(row: np.ndarray) -> Face:
    """YuNet's 15 numbers per face: box x, y, w, h; five (x, y) landmarks; score."""
    return Face(box=row[0:4], landmarks=row[4:14].reshape(5, 2), score=float(row[14]))


def _opencv_version() -> tuple[int, int]:
    """(major, minor) of the OpenCV in use; "4.10.0-dev" gives (4, 10)."""
    major, minor = re.match(r"(\d+)\.(\d+)", cv2.__version__).groups()
    return int(major), int(minor)


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
