"""Face detection, FFHQ alignment, tracking and smoothing for StyleCam.

Needs only OpenCV and NumPy (never torch). Typical use::

    detector = create_detector()             # YuNet, or Haar with a warning where YuNet can't run
    tracker = FaceTracker()
    for frame, timestamp in camera:
        tracks = tracker.update(detector.detect(frame), timestamp)
        for track in tracks:
            crop, matrix = align_face(frame, track.face.landmarks, 256)
"""
from __future__ import annotations

import warnings
from pathlib import Path

from .alignment import align_face, alignment_matrix, invert, transform_points, warp_to_frame
from .base import Detector, DetectorFallbackWarning, DetectorUnavailable, InvalidImageError
from .face import LANDMARK_NAMES, Face, box_iou
from .haar import HaarDetector
from .smoothing import OneEuroFilter
from .tracking import FaceTracker, Track
from .yunet import YuNetDetector
from .yunet_models import YuNetChoiceWarning, YuNetPlan, plan_yunet, this_machines_plan
from .yunet_onnxruntime import YuNetOnnxDetector

DETECTOR_NAMES = ("auto", "yunet", "haar")

__all__ = [
    "DETECTOR_NAMES", "LANDMARK_NAMES", "Detector", "DetectorFallbackWarning", "DetectorUnavailable",
    "Face", "FaceTracker", "HaarDetector", "InvalidImageError", "OneEuroFilter", "Track",
    "YuNetChoiceWarning", "YuNetDetector", "YuNetOnnxDetector", "YuNetPlan", "align_face", "alignment_matrix", "box_iou", "create_detector", "invert",
    "plan_yunet", "this_machines_plan", "transform_points", "warp_to_frame",
]


def create_detector(
    name: str = "auto",                    # "yunet", "haar", or "auto" (YuNet, else Haar with a warning).
    model_path: str | Path | None = None,  # Model file for the named detector (for "auto": YuNet's).
    score_threshold: float | None = None,  # YuNet only: minimum face score (None: 0.6).
    nms_threshold: float | None = None,    # YuNet only: overlap above which weaker boxes go (None: 0.3).
    max_faces: int | None = None,          # Keep at most this many faces, the largest; None = all.
    detect_width: int | None = None,       # Detect on a copy this many pixels wide (e.g. 320).
    *,
    scale_factor: float | None = None,     # Haar only: image pyramid step (None: 1.1).
    min_neighbors: int | None = None,      # Haar only: hits a face needs (None: 5).
) -> Detector:
    """Build a face detector by name; raise DetectorUnavailable saying what to install or fetch.

    An option the named detector does not have is an error, not silently ignored. "auto" takes both
    detectors' options and gives each the ones it has, as it cannot know in advance which will run."""
    if name not in DETECTOR_NAMES:
        raise ValueError(f"unknown detector '{name}' (choose from {', '.join(DETECTOR_NAMES)})")
    yunet_options = _given(score_threshold=score_threshold, nms_threshold=nms_threshold)
    haar_options = _given(scale_factor=scale_factor, min_neighbors=min_neighbors)
    if name == "yunet" and haar_options:
        raise ValueError(f"{' and '.join(haar_options)}: options of the Haar cascade, which YuNet does "
                         f"not have")
    if name == "haar" and yunet_options:
        raise ValueError(f"{' and '.join(yunet_options)}: options of YuNet, which the Haar cascade does "
                         f"not have (it gives no scores, and merges overlapping hits by min_neighbors)")
    if name in ("yunet", "auto"):
        try:
            return _yunet(model_path, max_faces=max_faces, detect_width=detect_width, **yunet_options)
        except DetectorUnavailable as yunet_error:
            if name == "yunet":
                raise
            try:
                detector = HaarDetector(None, max_faces, detect_width, **haar_options)
            except DetectorUnavailable as haar_error:
                raise DetectorUnavailable(
                    f"no face detector can run here. YuNet: {yunet_error} Haar: {haar_error}") from haar_error
            warnings.warn(f"YuNet is unavailable ({yunet_error}); using the Haar cascade, which finds "
                          f"fewer faces and only estimates landmarks", DetectorFallbackWarning, stacklevel=2)
            return detector
    return HaarDetector(model_path, max_faces, detect_width, **haar_options)


def _yunet(model_path: str | Path | None, **options) -> Detector:
    """YuNet as this machine can run it (`yunet_models.plan_yunet`), saying so where that is not OpenCV
    with the current model; a given model file is run by the same runner."""
    plan = this_machines_plan()
    if plan is None:
        return YuNetDetector(model_path, **options)     # raises DetectorUnavailable saying why
    if plan.reason:
        warnings.warn(plan.reason, YuNetChoiceWarning, stacklevel=3)
    runner = YuNetOnnxDetector if plan.runner == "onnxruntime" else YuNetDetector
    return runner(plan.model if model_path is None else model_path, **options)


def _given(**options) -> dict:
    """The options that were set (not None), in order."""
    return {key: value for key, value in options.items() if value is not None}
