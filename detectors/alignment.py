"""FFHQ alignment: put a face into the layout StyleGAN2's FFHQ models were trained on, and back.

FFHQ's recipe, as its dataset script applies it to dlib's 68 landmarks, in our words. It needs
three points: the midpoint of the eyes, the midpoint of the mouth corners, and the vector between
the eyes.

1. ``eye_to_eye`` runs from the subject's right eye to their left eye (left to right on an upright
   face); ``eye_to_mouth`` runs from the eye midpoint to the mouth midpoint.
2. The crop is a square turned to the face. Its x axis averages two estimates of the face's
   horizontal: the eye line, and the eye-to-mouth line turned a quarter turn
   (``x = eye_to_eye - rot90(eye_to_mouth)``, where ``rot90((a, b)) = (-b, a)``). The y axis is the
   x axis turned a quarter turn, so it points from the eyes towards the mouth.
3. Its centre lies a tenth of the way from the eye midpoint to the mouth midpoint.
4. Its half-side is ``max(2.0 * |eye_to_eye|, 1.8 * |eye_to_mouth|)``: wide faces are sized by their
   eyes, long faces by their eye-to-mouth distance.

The square's four corners map to the corners of the output image. The result is a similarity
transform (rotation, uniform scale, shift), built here as a 2x3 matrix in OpenCV's pixel
convention (pixel centres at integers): the square's centre lands on ``((size-1)/2, (size-1)/2)``.

From YuNet's five points: FFHQ averages dlib's six contour points of each eye, which gives about the
pupil centre; YuNet's eye points are the pupil centres, so they stand in directly. dlib's outer
mouth corners (points 48 and 54) are what YuNet's mouth corners mark. The nose tip is not used.

Where the output square reaches past the frame edge, FFHQ padded with a blurred reflection;
``align_face`` reflects the frame (``cv2.BORDER_REFLECT``) without the blur.
"""
from __future__ import annotations

import cv2
import numpy as np

EYE_SCALE = 2.0     # The half-side is at least this many eye-to-eye distances,
MOUTH_SCALE = 1.8   # and at least this many eye-to-mouth distances.
CENTER_SHIFT = 0.1  # The centre lies this fraction of the way from the eyes to the mouth.

# Where the recipe puts the five landmarks of a typical upright face, as (x, y) fractions of the
# output side (0 = left/top edge, 1 = right/bottom edge), in the order right eye, left eye, nose tip,
# right mouth corner, left mouth corner. Medians over the 2938 YuNet faces in the test media; for
# wide faces (about 70% of them) the eyes sit exactly 0.25 of the side apart, and the point 10% of the
# way from the eyes to the mouth is always the centre (0.5, 0.5). Individual faces differ from these
# by about 0.01-0.04 (most in the nose and the mouth, least in the eyes).
FFHQ_TEMPLATE = np.array([
    [0.375, 0.475],
    [0.625, 0.475],
    [0.505, 0.613],
    [0.400, 0.727],
    [0.600, 0.727],
], dtype=np.float32)


def alignment_matrix(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The 2x3 float64 similarity transform taking frame pixels to a ``size`` x ``size`` FFHQ crop."""
    if int(size) != size or size < 1:
        raise ValueError(f"the output size must be a positive whole number of pixels, got {size!r}")
    points = _check_landmarks(landmarks)
    eye_mid = (points[0] + points[1]) / 2
    eye_to_eye = points[1] - points[0]
    eye_to_mouth = (points[3] + points[4]) / 2 - eye_mid
    x_axis = eye_to_eye - _rot90(eye_to_mouth)
    half_side = max(EYE_SCALE * np.hypot(*eye_to_eye), MOUTH_SCALE * np.hypot(*eye_to_mouth))
    if np.hypot(*x_axis) < 1e-6 or half_side < 1e-6:
        raise ValueError("the landmarks are degenerate (eyes and mouth on top of each other)")
    x_unit = x_axis / np.hypot(*x_axis)
    y_unit = _rot90(x_unit)
    top_left = eye_mid + CENTER_SHIFT * eye_to_mouth - half_side * (x_unit + y_unit)
    linear = (size / (2 * half_side)) * np.stack([x_unit, y_unit])
    # The square's outer edges land on the crop's outer pixel edges, hence the half-pixel shift.
    shift = -linear @ top_left - 0.5
    return np.hstack([linear, shift[:, None]])


def align_face(frame: np.ndarray, landmarks: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut the FFHQ-aligned ``size`` x ``size`` crop of a face; return (crop, frame-to-crop matrix).

    When the crop is much smaller than the face, the frame is first shrunk with area averaging, so
    that the crop is not aliased.
    """
    matrix = alignment_matrix(landmarks, size)
    source, source_matrix = _shrunk_source(frame, matrix, size)
    crop = cv2.warpAffine(source, source_matrix, (int(size), int(size)),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return crop, matrix


def warp_to_frame(image: np.ndarray, matrix: np.ndarray, frame_shape: tuple[int, ...],
                  interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Put an image in aligned layout back onto the frame: the inverse of ``align_face``.

    ``image`` is square, of the size ``matrix`` was made for, with any dtype OpenCV warps (uint8,
    float32, ...) and 1 to 4 channels: a stylised face, or a mask to blend it with. Frame pixels the
    square does not cover come out 0.
    """
    if image.ndim not in (2, 3) or image.shape[0] != image.shape[1]:
        raise ValueError(f"expected a square H x W or H x W x C image in aligned layout, got {image.shape}")
    height, width = frame_shape[:2]
    warped = cv2.warpAffine(image, np.asarray(matrix, dtype=np.float64), (int(width), int(height)),
                            flags=interpolation | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return warped.reshape(warped.shape[:2] + image.shape[2:])


def invert(matrix: np.ndarray) -> np.ndarray:
    """The inverse 2x3 transform (crop pixels back to frame pixels)."""
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 transform to an (N, 2) array of points."""
    matrix = np.asarray(matrix, dtype=np.float64)
    return np.asarray(points, dtype=np.float64) @ matrix[:, :2].T + matrix[:, 2]


def _rot90(vector: np.ndarray) -> np.ndarray:
    return np.array([-vector[1], vector[0]])


def _check_landmarks(landmarks: np.ndarray) -> np.ndarray:
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (5, 2) or not np.isfinite(points).all():
        raise ValueError(f"expected 5 finite (x, y) landmarks, got an array of shape {points.shape}")
    return points


def _shrunk_source(frame: np.ndarray, matrix: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The part of the frame under the crop, shrunk by a whole factor when the crop is at least two
    times smaller than the face, and the matrix adjusted to it. Otherwise the frame itself."""
    shrink = int(1 / np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if shrink < 2:
        return frame, matrix
    corners = transform_points(invert(matrix), [[-0.5, -0.5], [size, -0.5], [-0.5, size], [size, size]])
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)) - shrink, 0).astype(int)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)) + shrink, frame.shape[1::-1]).astype(int)
    if x1 - x0 < 2 * shrink or y1 - y0 < 2 * shrink:
        return frame, matrix
    region = frame[y0:y1, x0:x1]
    small = cv2.resize(region, ((x1 - x0) // shrink, (y1 - y0) // shrink), interpolation=cv2.INTER_AREA)
    # A pixel q of the shrunk region shows frame pixel (q + 0.5) * step - 0.5 + origin.
    step_x, step_y = (x1 - x0) / small.shape[1], (y1 - y0) / small.shape[0]
    small_to_frame = np.array([[step_x, 0.0, 0.5 * step_x - 0.5 + x0],
                               [0.0, step_y, 0.5 * step_y - 0.5 + y0],
                               [0.0, 0.0, 1.0]])
    return small, matrix @ small_to_frame
