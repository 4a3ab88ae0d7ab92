"""YuNet run by onnxruntime, for an OpenCV without ``cv2.FaceDetectorYN`` (before 4.5.4, e.g. JetPack 4's
4.1.1) or too old for YuNet's current model (before 4.8).

The same model file and the same arithmetic as OpenCV's FaceDetectorYN (``objdetect/src/face_detect.cpp``):
the BGR frame, unscaled, padded at the right and bottom to a multiple of 32; for each of the three output
strides (8, 16, 32) a score sqrt(cls * obj) per cell, a box (centre offset in cells, log size) and five
landmarks (offsets in cells); then non-maximum suppression of the boxes above the score threshold. The
tests hold it to OpenCV's detections on real photos.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import weights

from .base import DetectorUnavailable, Downscaler, as_bgr
from .face import Face, largest_first

try:
    import onnxruntime
except ImportError:         # Optional: only machines whose OpenCV cannot run YuNet need it.
    onnxruntime = None

STRIDES = (8, 16, 32)
PAD_MULTIPLE = 32
TOP_K = 5000
INSTALL_HINT = "pip install onnxruntime"


class YuNetOnnxDetector:
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
        if onnxruntime is None:
            raise DetectorUnavailable(f"onnxruntime is not installed, which runs YuNet where OpenCV cannot: "
                                      f"{INSTALL_HINT}")
        path = weights.path_of("yunet" if model_path is None else model_path)
        if not path.is_file():
            raise DetectorUnavailable(f"YuNet model file not found: {path}; run: python -m app weights fetch yunet")
        try:
            self._session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as error:    # onnxruntime raises its own exception classes for unreadable files
            raise DetectorUnavailable(f"onnxruntime cannot load the YuNet model {path}: {error}") from error
        outputs = {output.name for output in self._session.get_outputs()}
        expected = {f"{kind}_{stride}" for kind in ("cls", "obj", "bbox", "kps") for stride in STRIDES}
        if not expected <= outputs:
            raise DetectorUnavailable(
                f"{path.name} is not a YuNet model of the 2023 and later format (outputs cls_8, obj_8, bbox_8, "
                f"kps_8, ... for strides 8, 16, 32): use the registry's 'yunet'")
        self._input = self._session.get_inputs()[0].name
        self.model_path = path
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_faces = max_faces
        self.description = f"YuNet ({path.name}) in onnxruntime {onnxruntime.__version__}"
        self._downscaler = Downscaler(detect_width)

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an 8-bit BGR (or grayscale / BGRA) image, largest first."""
        small, scale = self._downscaler.shrink(as_bgr(image))
        height, width = small.shape[:2]
        padded = np.zeros((1, 3, _padded(height), _padded(width)), dtype=np.float32)
        padded[0, :, :height, :width] = small.transpose(2, 0, 1)
        names = [f"{kind}_{stride}" for stride in STRIDES for kind in ("cls", "obj", "bbox", "kps")]
        outputs = dict(zip(names, self._session.run(names, {self._input: padded})))
        rows = np.concatenate([_decode(outputs, stride, padded.shape[3] // stride) for stride in STRIDES])
        rows = rows[rows[:, 14] >= self.score_threshold]
        rows = rows[_nms(rows[:, :4], rows[:, 14], self.nms_threshold, TOP_K)]
        faces = [Face(box=row[0:4], landmarks=row[4:14].reshape(5, 2), score=float(row[14])) for row in rows]
        return largest_first([Downscaler.restore(face, scale) for face in faces], self.max_faces)


def _padded(size: int) -> int:
    return (size - 1) // PAD_MULTIPLE * PAD_MULTIPLE + PAD_MULTIPLE


def _decode(outputs: dict, stride: int, cols: int) -> np.ndarray:
    """The rows [x, y, w, h, 10 landmark coordinates, score] of every cell of one stride."""
    cls = np.clip(outputs[f"cls_{stride}"][0, :, 0], 0, 1)
    obj = np.clip(outputs[f"obj_{stride}"][0, :, 0], 0, 1)
    bbox = outputs[f"bbox_{stride}"][0]
    kps = outputs[f"kps_{stride}"][0]
    cells = np.arange(len(cls))
    cell_xy = np.stack([cells % cols, cells // cols], axis=1).astype(np.float32)     # (column, row)
    centre = (cell_xy + bbox[:, :2]) * stride
    size = np.exp(bbox[:, 2:4]) * stride
    landmarks = (kps.reshape(-1, 5, 2) + cell_xy[:, None, :]) * stride
    score = np.sqrt(cls * obj)
    return np.concatenate([centre - size / 2, size, landmarks.reshape(-1, 10), score[:, None]], axis=1)


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, top_k: int) -> list[int]:
    """Greedy non-maximum suppression: indices of the kept boxes [x, y, w, h], best first."""
    order = list(np.argsort(-scores, kind="stable")[:top_k])
    corners = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
    areas = boxes[:, 2] * boxes[:, 3]
    kept: list[int] = []
    for index in order:
        if kept:
            others = corners[kept]
            overlap = np.clip(np.minimum(others[:, 2:], corners[index, 2:]) -
                              np.maximum(others[:, :2], corners[index, :2]), 0, None).prod(axis=1)
            iou = overlap / (areas[kept] + areas[index] - overlap)
            if (iou > threshold).any():
                continue
        kept.append(index)
    return kept
