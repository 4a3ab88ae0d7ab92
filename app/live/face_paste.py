"""Pasting the generated face onto each face in the frame so that it reads as that person's face.

The generated face is in the FFHQ aligned layout at the generator's resolution. For each tracked face
the compositor takes the alignment transform of that face (frame -> aligned, ``detectors.alignment``),
inverts it, and warps the generated face and a feathered face-shaped mask back onto the frame; before
blending it moves the face's colours toward the skin it covers (mean and spread per channel in Lab), so
light and skin tone match instead of looking like a sticker.

The colour statistics come from skin only, on both sides: the cheeks and the forehead, at the same
points of the aligned layout in the generated face and in the camera's face (``SKIN_REGIONS``). Measured
under the whole mask they would count eyes, brows, mouth, glasses and beard, and a face with sunglasses
would be given a skin as dark as its lenses.

The person's own mouth and eyes can be kept (``keep_mouth``, ``keep_eyes``: how much, 0 to 1), so that
talking and blinking show through the generated face: the face's mask is cut back, with a feathered edge,
over ellipses drawn from that frame's landmarks (``feature_mask``), and the camera's pixels show there.
They need no colour matching of their own: the generated face around them has just been matched to this
very skin, so the person's lips and eyes sit in a face of their own colour.

It runs for every frame, so everything that depends only on the generated face (the mask, the face's
colour statistics, the mask's bounding box) is computed once per face by ``prepare_face``, and the
per-frame work touches only each face's region of interest and a few hundred skin samples, never the
full frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Optional, Tuple

import cv2
import numpy as np

from detectors.alignment import alignment_matrix, invert, transform_points

# The pasted region in the FFHQ layout, as fractions of the image size: an oval from the forehead to the
# chin and cheek to cheek (detectors.alignment.FFHQ_TEMPLATE: eyes at y = 0.475, mouth at y = 0.727).
MASK_CENTER = (0.5, 0.585)
MASK_AXES = (0.235, 0.305)
MASK_FEATHER = 0.035          # Gaussian sigma of the soft edge, as a fraction of the size.
STD_RATIO_LIMITS = (0.6, 1.4)  # Contrast matching is limited, so a dark or flat frame cannot wash a face out.
MEASURE_THRESHOLD = 0.5       # The face's colour range is measured where the mask is at least this opaque.
# Skin in the FFHQ layout, as ellipses (centre x, centre y, half-width, half-height, fractions of the size):
# both cheeks, below the eyes (and glasses) and beside the nose, above the mouth and most beards; and the
# forehead, above the brows and below most fringes.
SKIN_REGIONS = ((0.35, 0.65, 0.055, 0.04), (0.65, 0.65, 0.055, 0.04), (0.5, 0.335, 0.09, 0.025))
SKIN_SAMPLE_STEP = 0.01       # Spacing of the skin samples, as a fraction of the size: about 200 samples.
MIN_SKIN_SAMPLES = 20         # A face with fewer skin samples inside the frame is not pasted (nothing to match).
# The person's features that can be kept, as ellipses sized by the face's own landmarks: each eye around its
# landmark (half-axes as fractions of the eye-to-eye distance), the mouth around the mouth corners' midpoint,
# moved down (a mouth opens downwards), with half-axes as fractions of the corner-to-corner distance.
EYE_AXES = (0.32, 0.2)
MOUTH_AXES = (0.7, 0.42)
MOUTH_DROP = 0.15             # The mouth ellipse's centre lies this fraction of the mouth width below the corners.
FEATURE_FEATHER = 0.07        # Gaussian sigma of their soft edge, as a fraction of the eye-to-eye distance.
FEATURE_MASK_EYE_DISTANCE = 24  # The mask is drawn at a scale where the eyes are this many pixels apart.


@dataclass(frozen=True)
class PreparedFace:
    image: np.ndarray                 # BGR uint8 [R, R, 3], FFHQ layout.
    lab: np.ndarray                   # The same in OpenCV's 8-bit Lab (what gets warped and colour-matched).
    mask: np.ndarray                  # float32 [R, R] in [0, 1]: how much of the face to paste, per pixel.
    lab_mean: np.ndarray              # float32 (3,): the face's skin colour (SKIN_REGIONS), in Lab,
    lab_std: np.ndarray               # its spread,
    lab_low: np.ndarray               # and the 1st and 99th percentiles of the whole face inside the mask:
    lab_high: np.ndarray              # colour matching must not push those past 0 or 255.
    box: Tuple[int, int, int, int]    # x0, y0, x1, y1: where the mask is non-zero (the part worth warping).


@lru_cache(maxsize=4)
def face_mask(size: int) -> np.ndarray:
    """The feathered oval face mask for an aligned face of ``size`` pixels (read-only, cached)."""
    hard = np.zeros((size, size), np.float32)
    center = (int(round(MASK_CENTER[0] * size)), int(round(MASK_CENTER[1] * size)))
    axes = (int(round(MASK_AXES[0] * size)), int(round(MASK_AXES[1] * size)))
    cv2.ellipse(hard, center, axes, 0, 0, 360, 1.0, thickness=-1, lineType=cv2.LINE_AA)
    mask = cv2.GaussianBlur(hard, (0, 0), MASK_FEATHER * size)
    mask[mask < 1 / 255] = 0  # Nothing invisible is left to warp and blend.
    mask.flags.writeable = False
    return mask


def skin_points() -> np.ndarray:
    """(N, 2) float64: the skin samples in the aligned layout, as fractions of the size (x, y)."""
    steps = np.arange(0.0, 1.0, SKIN_SAMPLE_STEP) + SKIN_SAMPLE_STEP / 2
    xs, ys = np.meshgrid(steps, steps)
    inside = np.zeros(xs.shape, bool)
    for cx, cy, ax, ay in SKIN_REGIONS:
        inside |= ((xs - cx) / ax) ** 2 + ((ys - cy) / ay) ** 2 <= 1
    return np.stack([xs[inside], ys[inside]], axis=1)


SKIN_POINTS = skin_points()


def sample_lab(bgr: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(M, 3) uint8 Lab of ``bgr`` at the pixels nearest ``points`` (N, 2), leaving out those outside it."""
    pixels = np.rint(points).astype(int)
    height, width = bgr.shape[:2]
    inside = (pixels[:, 0] >= 0) & (pixels[:, 0] < width) & (pixels[:, 1] >= 0) & (pixels[:, 1] < height)
    samples = bgr[pixels[inside, 1], pixels[inside, 0]]
    return cv2.cvtColor(samples[:, None, :], cv2.COLOR_BGR2LAB)[:, 0, :]


def lab_statistics(samples: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of (M, 3) Lab samples."""
    samples = samples.astype(np.float32)
    return samples.mean(axis=0), samples.std(axis=0)


def prepare_face(image: np.ndarray) -> PreparedFace:
    """Everything the compositor needs about one generated face, computed once when it is generated."""
    size = image.shape[0]
    if image.shape != (size, size, 3) or image.dtype != np.uint8:
        raise ValueError(f"expected a square BGR uint8 face, got {image.shape} {image.dtype}")
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    mask = face_mask(size)
    mean, std = lab_statistics(sample_lab(image, SKIN_POINTS * size))
    low, high = np.percentile(lab[mask >= MEASURE_THRESHOLD], [1, 99], axis=0).astype(np.float32)
    ys, xs = np.nonzero(mask)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return PreparedFace(image, lab, mask, mean, std, low, high, box)


def composite(frame: np.ndarray, landmarks: Iterable[np.ndarray], face: PreparedFace, keep_mouth: float = 0.0,
              keep_eyes: float = 0.0) -> np.ndarray:
    """A copy of ``frame`` with ``face`` pasted onto every face given by its five landmarks."""
    out = frame.copy()
    for points in landmarks:
        paste_face(out, points, face, keep_mouth, keep_eyes)
    return out


def paste_face(frame: np.ndarray, landmarks: np.ndarray, face: PreparedFace, keep_mouth: float = 0.0,
               keep_eyes: float = 0.0) -> None:
    """Warp, colour-match and blend ``face`` onto the face at ``landmarks``, in place, inside its ROI only;
    ``keep_mouth`` and ``keep_eyes`` (0 to 1) let that much of the person's own mouth and eyes show."""
    size = face.image.shape[0]
    to_frame = invert(alignment_matrix(landmarks, size))
    roi = region_of_interest(to_frame, face.box, frame.shape)
    if roi is None:
        return
    skin = sample_lab(frame, transform_points(to_frame, SKIN_POINTS * size))
    if len(skin) < MIN_SKIN_SAMPLES:
        return
    skin_mean, skin_std = lab_statistics(skin)
    x0, y0, x1, y1 = roi
    to_roi = to_frame - np.array([[0, 0, x0], [0, 0, y0]], np.float64)
    width, height = x1 - x0, y1 - y0
    warped = cv2.warpAffine(face.lab, to_roi, (width, height), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(face.mask, to_roi, (width, height), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if keep_mouth > 0 or keep_eyes > 0:
        roi_landmarks = np.asarray(landmarks, np.float32) - np.array([x0, y0], np.float32)
        alpha = alpha * (1 - feature_mask(roi_landmarks, (height, width), keep_mouth, keep_eyes))
    target = frame[y0:y1, x0:x1]
    matched = cv2.cvtColor(cv2.transform(warped, colour_transfer(face, skin_mean, skin_std)), cv2.COLOR_LAB2BGR)
    target[:] = cv2.blendLinear(matched, target, alpha, 1 - alpha)


def feature_mask(landmarks: np.ndarray, shape: Tuple[int, int], keep_mouth: float, keep_eyes: float) -> np.ndarray:
    """float32 ``shape`` mask: ``keep_eyes`` over each eye, ``keep_mouth`` over the mouth, feathered; the
    ellipses follow the five ``landmarks`` (pixels of the mask), so they turn and scale with the face.

    A soft mask needs no detail: it is drawn and blurred at a scale where the eyes are
    ``FEATURE_MASK_EYE_DISTANCE`` pixels apart, then stretched to ``shape``."""
    points = np.asarray(landmarks, np.float64)
    eye_distance = float(np.hypot(*(points[1] - points[0])))
    if eye_distance < 2:
        return np.zeros(shape, np.float32)
    scale = min(FEATURE_MASK_EYE_DISTANCE / eye_distance, 1.0)
    small_shape = (max(int(round(shape[0] * scale)), 1), max(int(round(shape[1] * scale)), 1))
    mask = np.zeros(small_shape, np.float32)
    right_eye, left_eye, _, right_mouth, left_mouth = points * scale
    small_eye_distance = eye_distance * scale
    if keep_eyes > 0:
        eye_line = left_eye - right_eye
        angle = float(np.degrees(np.arctan2(eye_line[1], eye_line[0])))
        for eye in (right_eye, left_eye):
            draw_ellipse(mask, eye, (EYE_AXES[0] * small_eye_distance, EYE_AXES[1] * small_eye_distance), angle,
                         keep_eyes)
    if keep_mouth > 0:
        mouth_line = left_mouth - right_mouth
        mouth_width = float(np.hypot(*mouth_line))
        down = np.array([-mouth_line[1], mouth_line[0]]) / max(mouth_width, 1e-6)   # Towards the chin.
        centre = (right_mouth + left_mouth) / 2 + MOUTH_DROP * mouth_width * down
        angle = float(np.degrees(np.arctan2(mouth_line[1], mouth_line[0])))
        draw_ellipse(mask, centre, (MOUTH_AXES[0] * mouth_width, MOUTH_AXES[1] * mouth_width), angle, keep_mouth)
    mask = cv2.GaussianBlur(mask, (0, 0), FEATURE_FEATHER * small_eye_distance)
    if small_shape == tuple(shape):
        return mask
    return cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def draw_ellipse(mask: np.ndarray, centre: np.ndarray, axes: Tuple[float, float], angle: float, value: float) -> None:
    """A filled, anti-aliased ellipse of ``value`` (sub-pixel centre and axes)."""
    shift = 4                                     # cv2.ellipse takes fixed-point coordinates with this many bits.
    scale = 1 << shift
    cv2.ellipse(mask, (int(round(centre[0] * scale)), int(round(centre[1] * scale))),
                (max(int(round(axes[0] * scale)), 1), max(int(round(axes[1] * scale)), 1)), angle, 0, 360,
                float(value), thickness=-1, lineType=cv2.LINE_AA, shift=shift)


def region_of_interest(to_frame: np.ndarray, box: Tuple[int, int, int, int],
                       frame_shape: Tuple[int, ...]) -> Optional[Tuple[int, int, int, int]]:
    """The frame rectangle the mask box lands on, clipped to the frame; None if it is outside."""
    x0, y0, x1, y1 = box
    corners = transform_points(to_frame, [[x0, y0], [x1, y0], [x0, y1], [x1, y1]])
    left, top = np.floor(corners.min(axis=0)).astype(int)
    right, bottom = np.ceil(corners.max(axis=0)).astype(int)
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, frame_shape[1]), min(bottom, frame_shape[0])
    if right - left < 2 or bottom - top < 2:
        return None
    return left, top, right, bottom


def colour_transfer(face: PreparedFace, skin_mean: np.ndarray, skin_std: np.ndarray) -> np.ndarray:
    """The 3x4 Lab transform (per-channel gain and offset, for cv2.transform) that gives the face the
    skin's mean and, within limits, its spread.

    The spread is also limited so that the face's darkest and brightest parts stay inside 0..255: on a
    dark, backlit face a full stretch would clip the shadows to black and leave only their colour, which
    shows as coloured streaks.
    """
    gain = np.clip(skin_std / np.maximum(face.lab_std, 1.0), *STD_RATIO_LIMITS)
    gain = np.minimum(gain, skin_mean / np.maximum(face.lab_mean - face.lab_low, 1.0))
    gain = np.minimum(gain, (255 - skin_mean) / np.maximum(face.lab_high - face.lab_mean, 1.0))
    offset = skin_mean - face.lab_mean * gain
    return np.hstack([np.diag(gain), offset[:, None]]).astype(np.float32)
