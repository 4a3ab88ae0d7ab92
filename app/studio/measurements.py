"""Measuring a face with what StyleCam already has: YuNet's five landmarks and the FFHQ layout.

These are the labels for fitting trait directions (`stylegan2.studio.labelled_directions`): numbers that
rise with a trait across many faces, not calibrated units. Each one and how it is taken:

| measure | from | what |
|---|---|---|
| smile | landmarks | mouth width / eye distance (a smile widens the mouth) |
| mouth open | aligned crop | spread of brightness between the mouth corners (teeth and the dark mouth vs. even lips) |
| eyes open | aligned crop | spread of brightness around the eyes (white and iris vs. an even lid) |
| yaw | landmarks | sideways offset of the nose from the eye-mouth midline, in eye distances (+: to image right) |
| pitch | landmarks | how far down the nose lies from the eye line to the mouth line (0..1) |
| roll | landmarks | angle of the eye line, degrees (+: the subject's left eye lower in the image) |
| face size | detection box | square root of the box area / image side |
| hair brightness | FFHQ layout | L* (CIELAB lightness, 0-100) of the band above the forehead |
| hair redness | FFHQ layout | a* (green - / red +) of that band |
| skin brightness | FFHQ layout | L* of the two cheeks |
| beard | FFHQ layout | L* of the cheeks minus L* of the chin (a beard or stubble darkens the chin) |

A generated face is already in the FFHQ layout, so its colour measures need no detection and the
landmark ones are NaN when YuNet finds no face; a photo is aligned to the layout from its largest face
first, and measures nothing (all NaN) without one.
"""
from __future__ import annotations

import math
from typing import Dict, Optional

import cv2
import numpy as np

from detectors import Face, align_face, transform_points

LANDMARK_MEASURES = ("smile", "mouth open", "eyes open", "yaw", "pitch", "roll", "face size")
COLOUR_MEASURES = ("hair brightness", "hair redness", "skin brightness", "beard")
MEASURES = LANDMARK_MEASURES + COLOUR_MEASURES
MEASURE_SIZE = 256        # side of the aligned crop the measures are taken on
# Regions of an FFHQ-aligned face as (x0, y0, x1, y1) fractions of the side; eyes lie at y 0.475, the
# mouth at 0.727 (detectors.alignment.FFHQ_TEMPLATE).
HAIR = (0.35, 0.10, 0.65, 0.19)
CHEEKS = ((0.31, 0.56, 0.41, 0.64), (0.59, 0.56, 0.69, 0.64))
CHIN = (0.40, 0.78, 0.60, 0.86)


class FaceMeasurer:
    """The measures of one face at a time; `detector` is a `detectors` Detector (YuNet for landmarks)."""

    def __init__(self, detector) -> None:
        self.detector = detector

    def measure_generated(self, bgr: np.ndarray) -> Dict[str, float]:
        """Measures of a generated face (BGR in the FFHQ layout, any size)."""
        aligned = cv2.resize(bgr, (MEASURE_SIZE, MEASURE_SIZE), interpolation=cv2.INTER_AREA)
        faces = self.detector.detect(bgr)
        return _in_order({**colour_measures(aligned), **landmark_measures(bgr, faces[0] if faces else None)})

    def measure_photo(self, bgr: np.ndarray) -> Dict[str, float]:
        """Measures of the largest face in a BGR photo, aligned to the FFHQ layout first (all NaN without one)."""
        faces = self.detector.detect(bgr)
        if not faces:
            return {name: math.nan for name in MEASURES}
        aligned, _ = align_face(bgr, faces[0].landmarks, MEASURE_SIZE)
        return _in_order({**colour_measures(aligned), **landmark_measures(bgr, faces[0])})


def landmark_measures(bgr: np.ndarray, face: Optional[Face]) -> Dict[str, float]:
    """The landmark measures of `face` in the BGR image it was found in (NaN for each without a face)."""
    if face is None:
        return {name: math.nan for name in LANDMARK_MEASURES}
    points = np.asarray(face.landmarks, dtype=np.float64)
    right_eye, left_eye, nose, right_mouth, left_mouth = points
    eye_line = left_eye - right_eye
    eye_distance = float(np.hypot(*eye_line))
    if eye_distance < 1e-6:
        return {name: math.nan for name in LANDMARK_MEASURES}
    roll = math.atan2(eye_line[1], eye_line[0])
    upright = _rotate(points - (right_eye + left_eye) / 2, -roll)    # eyes on the x axis, centred
    eye_mid, mouth_mid, nose_up = np.zeros(2), (upright[3] + upright[4]) / 2, upright[2]
    mouth_drop = mouth_mid[1] - eye_mid[1]
    aligned, matrix = align_face(bgr, points, MEASURE_SIZE)
    crop_points = transform_points(matrix, points)
    lightness = _lightness(aligned)
    crop_eye_distance = float(np.hypot(*(crop_points[1] - crop_points[0])))
    crop_mouth_width = float(np.hypot(*(crop_points[4] - crop_points[3])))
    box_area = float(face.box[2]) * float(face.box[3])
    return {
        "smile": float(np.hypot(*(left_mouth - right_mouth))) / eye_distance,
        "mouth open": _spread(lightness, (crop_points[3] + crop_points[4]) / 2, 0.6 * crop_mouth_width,
                              0.35 * crop_mouth_width),
        "eyes open": float(np.mean([_spread(lightness, eye, 0.45 * crop_eye_distance, 0.2 * crop_eye_distance)
                                    for eye in crop_points[:2]])),
        "yaw": float(nose_up[0] - (eye_mid[0] + mouth_mid[0]) / 2) / eye_distance,
        "pitch": float(nose_up[1] / mouth_drop) if abs(mouth_drop) > 1e-6 else math.nan,
        "roll": math.degrees(roll),
        "face size": math.sqrt(max(box_area, 0.0)) / max(bgr.shape[:2]),
    }


def colour_measures(aligned_bgr: np.ndarray) -> Dict[str, float]:
    """The colour measures of a face in the FFHQ layout (uint8 BGR, square)."""
    lab = cv2.cvtColor(aligned_bgr.astype(np.float32) / 255, cv2.COLOR_BGR2LAB)
    hair = _region(lab, HAIR)
    cheeks = np.concatenate([_region(lab, cheek) for cheek in CHEEKS])
    chin = _region(lab, CHIN)
    return {
        "hair brightness": float(hair[:, 0].mean()),
        "hair redness": float(hair[:, 1].mean()),
        "skin brightness": float(cheeks[:, 0].mean()),
        "beard": float(cheeks[:, 0].mean() - chin[:, 0].mean()),
    }


def _in_order(measures: Dict[str, float]) -> Dict[str, float]:
    return {name: measures[name] for name in MEASURES}


def _region(lab: np.ndarray, box: tuple) -> np.ndarray:
    """The Lab pixels [n, 3] of a box given in fractions of the side."""
    side = lab.shape[0]
    x0, y0, x1, y1 = (int(round(fraction * side)) for fraction in box)
    return lab[y0:y1, x0:x1].reshape(-1, 3)


def _lightness(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr.astype(np.float32) / 255, cv2.COLOR_BGR2LAB)[:, :, 0]


def _spread(lightness: np.ndarray, centre: np.ndarray, width: float, height: float) -> float:
    """Standard deviation of L* in a box of `width` x `height` around `centre` (clipped to the image)."""
    x0, x1 = (int(round(centre[0] + sign * width / 2)) for sign in (-1, 1))
    y0, y1 = (int(round(centre[1] + sign * height / 2)) for sign in (-1, 1))
    patch = lightness[max(y0, 0):max(y1, 1), max(x0, 0):max(x1, 1)]
    return float(patch.std()) if patch.size else math.nan


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    cos, sin = math.cos(angle), math.sin(angle)
    return points @ np.array([[cos, sin], [-sin, cos]])
