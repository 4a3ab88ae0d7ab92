"""Motion compensation: between two detections, each face is moved with the head by sparse optical flow.

Detection lags the camera whenever it is slower than the camera (a busy CPU, a small board) or runs on
every K-th frame only (``serve --detect-every K``); pasted where the head was found, the face then trails
a moving head. ``FaceMotion`` measures how each head moved since the frame its landmarks were found in:
it picks corners inside the face (``cv2.goodFeaturesToTrack``), follows them into the shown frame with
pyramidal Lucas-Kanade flow, fits one similarity transform to them (rotation, uniform scale, shift;
RANSAC, so a talking mouth or a hand in front of the face does not drag it) and moves the landmarks by
that transform. Nothing is predicted: the flow measures the very frame that is shown.

When a newer detection lands, it replaces the moved landmarks (brought to the shown frame by the flow
from its own frame): each detection corrects whatever the flow has drifted, and the face never moves
further from a detection than the flow says. While detection keeps up (its result is for the shown
frame) nothing is computed but a grey copy of the frame.

It works on a grey copy no wider than ``FLOW_WIDTH`` (a 1280 px camera costs what a 640 px one does).
One object serves one stream, from one thread (the compositing worker's).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from detectors import Face, Track

FLOW_WIDTH = 640                 # Flow runs on frames shrunk to at most this width.
FLOW_WINDOW = (15, 15)           # Lucas-Kanade window, pixels of the shrunk frame.
FLOW_LEVELS = 3                  # Pyramid levels: follows moves of up to about 2**3 windows between frames.
FLOW_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 0.03)
MAX_CORNERS = 30                 # Corners followed per face.
CORNER_QUALITY = 0.01            # cv2.goodFeaturesToTrack's qualityLevel.
CORNER_SPACING = 0.08            # Least distance between corners, as a fraction of the face size.
SMALL_FACE = 48                  # Faces narrower than this many pixels (shrunk frame) are searched whole.
MARGIN = 0.5                     # The flow looks this many face sizes around a face (clipped to the frame),
MIN_MARGIN = 32                  # and at least this many pixels.
FACE_INSET = 0.12                # Corners are looked for in the box shrunk by this fraction on each side
                                 # (its edges often hold background, which does not move with the head).
MIN_CORNERS = 5                  # Fewer followed corners than this: the face is not moved (and looked at anew).
RANSAC_THRESHOLD = 0.02          # A corner farther than this fraction of the face size from the fit is an outlier.


@dataclass
class _Moving:
    """One face as the flow has moved it so far."""

    track: Track                   # The track as detected (its id, age, ...), with ``face`` moved.
    corners: Optional[np.ndarray]  # float32 (N, 1, 2) in the last frame's shrunk pixels; None = find anew.


class FaceMotion:
    """The tracked faces of the newest detection, moved to the frame that is shown."""

    def __init__(self, flow_width: int = FLOW_WIDTH) -> None:
        self.flow_width = flow_width
        self._anchor: Optional[int] = None            # Frame version of the detection being followed.
        self._faces: Dict[int, _Moving] = {}          # By track id.
        self._last: Optional[Tuple[int, np.ndarray, float]] = None   # (version, grey, scale) of the last frame.

    def reset(self) -> None:
        """Forget the faces and the last frame (the camera was lost)."""
        self._anchor, self._faces, self._last = None, {}, None

    def faces_at(self, version: int, image: np.ndarray, tracks: List[Track], tracks_version: int,
                 tracks_image: np.ndarray) -> List[Track]:
        """``tracks``, found in frame ``tracks_version`` (``tracks_image``), moved to frame ``version`` (``image``).

        Call it for every frame shown, in order, with the newest detection there is; the result is in the
        order of ``tracks``.
        """
        if tracks_version > version:
            raise ValueError(f"tracks from frame {tracks_version} cannot be moved back to frame {version}")
        if tracks_version != self._anchor:
            self._follow(tracks, tracks_version, tracks_image)
        if self._last is None or self._last[0] != version:
            grey, scale = self._grey(image)
            if self._last is not None and self._last[0] < version:
                self._move(self._last[1], grey, scale)
            self._last = (version, grey, scale)
        return [self._faces[track.id].track for track in tracks if track.id in self._faces]

    def _follow(self, tracks: List[Track], version: int, image: np.ndarray) -> None:
        """Start from a new detection: its faces as found, in its own frame."""
        self._anchor = version
        self._faces = {track.id: _Moving(track, None) for track in tracks}
        if self._last is None or self._last[0] != version:
            grey, scale = self._grey(image)
            self._last = (version, grey, scale)

    def _grey(self, image: np.ndarray) -> Tuple[np.ndarray, float]:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        width = grey.shape[1]
        if width <= self.flow_width:
            return grey, 1.0
        scale = self.flow_width / width
        return cv2.resize(grey, (self.flow_width, max(int(round(grey.shape[0] * scale)), 1)),
                          interpolation=cv2.INTER_AREA), scale

    def _move(self, before: np.ndarray, after: np.ndarray, scale: float) -> None:
        """Move every face from ``before`` to ``after``, each by the flow in a region around it."""
        for face in self._faces.values():
            matrix, face.corners = follow_face(before, after, face.track.face, face.corners, scale)
            if matrix is not None:
                face.track = replace(face.track, face=moved_face(face.track.face, matrix, scale))


def follow_face(before: np.ndarray, after: np.ndarray, face: Face, corners: Optional[np.ndarray],
                scale: float) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """How ``face`` moved from ``before`` to ``after`` (a 2x3 similarity transform in shrunk-frame pixels,
    or None if it cannot be told), and the corners to follow it by into the next frame.

    The flow runs on the face's region and a margin around it only, not the whole frame: the cost of
    Lucas-Kanade is mostly in the image pyramids, which then cover a small face's few pixels only.
    """
    x, y, width, height = face.box * scale
    margin = max(MARGIN * max(width, height), MIN_MARGIN)
    x0, y0 = int(max(x - margin, 0)), int(max(y - margin, 0))
    x1, y1 = int(min(x + width + margin, before.shape[1])), int(min(y + height + margin, before.shape[0]))
    if x1 - x0 < 16 or y1 - y0 < 16:
        return None, None
    offset = np.array([x0, y0], np.float32)
    if corners is None:
        corners = find_corners(before, face, scale)
        if corners is None:
            return None, None
    moved, found, _ = cv2.calcOpticalFlowPyrLK(before[y0:y1, x0:x1], after[y0:y1, x0:x1], corners - offset, None,
                                               winSize=FLOW_WINDOW, maxLevel=FLOW_LEVELS, criteria=FLOW_CRITERIA)
    moved += offset
    found = found.ravel().astype(bool)
    if found.sum() < MIN_CORNERS:
        return None, None
    threshold = max(RANSAC_THRESHOLD * face.size * scale, 1.0)
    matrix, inliers = cv2.estimateAffinePartial2D(corners[found], moved[found], method=cv2.RANSAC,
                                                  ransacReprojThreshold=threshold)
    if matrix is None or inliers.sum() < MIN_CORNERS:
        return None, None
    return matrix, moved[found][inliers.ravel().astype(bool)]


def find_corners(grey: np.ndarray, face: Face, scale: float) -> Optional[np.ndarray]:
    """Corners worth following inside the face (shrunk-frame pixels, float32 (N, 1, 2)); None if too few.

    A face of fewer than ``SMALL_FACE`` pixels is searched whole, and a little beyond (a cap, the hair):
    inset, it would hold too few corners."""
    x, y, width, height = face.box * scale
    inset = FACE_INSET if max(width, height) >= SMALL_FACE else -FACE_INSET
    x0, y0 = int(max(x + inset * width, 0)), int(max(y + inset * height, 0))
    x1 = int(min(x + (1 - inset) * width, grey.shape[1]))
    y1 = int(min(y + (1 - inset) * height, grey.shape[0]))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    spacing = max(CORNER_SPACING * face.size * scale, 2.0)
    corners = cv2.goodFeaturesToTrack(grey[y0:y1, x0:x1], MAX_CORNERS, CORNER_QUALITY, spacing)
    if corners is None or len(corners) < MIN_CORNERS:
        return None
    return (corners + np.array([x0, y0], np.float32)).astype(np.float32)


def moved_face(face: Face, matrix: np.ndarray, scale: float) -> Face:
    """``face`` (frame pixels) moved by ``matrix`` (a similarity transform in pixels of the frame shrunk by
    ``scale``): the landmarks exactly, the box by its centre and size."""
    full = matrix.copy()
    full[:, 2] /= scale                       # The same transform in full-frame pixels.
    landmarks = face.landmarks @ full[:, :2].T + full[:, 2]
    zoom = float(np.sqrt(abs(np.linalg.det(full[:, :2]))))
    center = full[:, :2] @ face.center + full[:, 2]
    size = face.box[2:] * zoom
    return Face(np.concatenate([center - size / 2, size]), landmarks, face.score, face.landmarks_estimated)
