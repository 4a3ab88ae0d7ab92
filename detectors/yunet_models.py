"""Which YuNet this machine can run: the model file, and whether OpenCV or onnxruntime runs it.

``cv2.FaceDetectorYN`` appeared in OpenCV 4.5.4, and reads YuNet's current models (2023 and later) only
from 4.8; OpenCV 4.5.4 to 4.7 run the 2022mar model. JetPack 4 (the original Nano) ships OpenCV 4.1.1,
JetPack 5 ships 4.5.4, so on a Jetson the usual OpenCV cannot run the current model. onnxruntime can
(`yunet_onnxruntime`, the same detections as OpenCV's), so the choice is, in this order:

1. OpenCV >= 4.8 with FaceDetectorYN: OpenCV runs the current model ("yunet");
2. onnxruntime installed: it runs the current model;
3. OpenCV 4.5.4 to 4.7: OpenCV runs the 2022mar model ("yunet-2022mar");
4. none: no YuNet (``create_detector("auto")`` falls back to the Haar cascade, with a warning).

Every choice but the first is said at start-up (`YuNetPlan.reason`), never made silently.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import cv2

from .yunet_onnxruntime import onnxruntime

CURRENT_MODEL = "yunet"                 # Registry name of the current model (2023 and later format).
LEGACY_MODEL = "yunet-2022mar"          # Registry name of the last model OpenCV 4.5.4 to 4.7 can run.
FACE_DETECTOR_YN_SINCE = (4, 5, 4)
CURRENT_MODEL_SINCE = (4, 8, 0)
LEGACY_FILES = ("face_detection_yunet_2021dec.onnx", "face_detection_yunet_2022mar.onnx")


class YuNetChoiceWarning(RuntimeWarning):
    """YuNet runs another way than OpenCV's FaceDetectorYN with the current model (the message says why)."""


@dataclass(frozen=True)
class YuNetPlan:
    runner: str     # "opencv" (cv2.FaceDetectorYN) or "onnxruntime"
    model: str      # registry name of the model file it runs
    reason: str     # why, where this is not OpenCV with the current model; "" where it is


def parse_version(text: str) -> Tuple[int, int, int]:
    """(major, minor, patch) of a version string: "4.5.4" -> (4, 5, 4), "4.10.0-dev" -> (4, 10, 0)."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        raise ValueError(f"not a version number: {text!r}")
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def min_opencv_for(model_path: Path) -> Tuple[int, int, int]:
    """The oldest OpenCV whose FaceDetectorYN runs this model file: 4.5.4 for the 2021dec and 2022mar
    releases, 4.8 for every later one."""
    return FACE_DETECTOR_YN_SINCE if Path(model_path).name in LEGACY_FILES else CURRENT_MODEL_SINCE


def plan_yunet(opencv_version: str, has_face_detector_yn: bool, has_onnxruntime: bool) -> Optional[YuNetPlan]:
    """The YuNet to run with this OpenCV and (where installed) onnxruntime; None where none can run."""
    version = parse_version(opencv_version)
    if has_face_detector_yn and version >= CURRENT_MODEL_SINCE:
        return YuNetPlan("opencv", CURRENT_MODEL, "")
    why = (f"OpenCV {opencv_version} has no cv2.FaceDetectorYN" if not has_face_detector_yn
           else f"OpenCV {opencv_version} cannot read YuNet's current model (it needs 4.8)")
    if has_onnxruntime:
        return YuNetPlan("onnxruntime", CURRENT_MODEL, f"{why}: YuNet runs in onnxruntime instead")
    if has_face_detector_yn and version >= FACE_DETECTOR_YN_SINCE:
        return YuNetPlan("opencv", LEGACY_MODEL, f"{why}: using YuNet's older 2022mar model, which it can read "
                                                 f"(pip install onnxruntime to run the current one)")
    return None


def this_machines_plan() -> Optional[YuNetPlan]:
    """`plan_yunet` for the OpenCV and onnxruntime installed here."""
    return plan_yunet(cv2.__version__, hasattr(cv2, "FaceDetectorYN"), onnxruntime is not None)
