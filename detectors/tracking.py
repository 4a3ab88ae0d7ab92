"""Face tracking: stable ids from frame to frame, smoothed boxes and landmarks, a short hold, and a
longer memory for faces that drop out.

Each frame's detections are matched to the existing tracks in two passes, both greedy (best pair
first; a handful of faces needs nothing cleverer):

1. By overlap: a detection's score for a track is the larger of its IoU with the track's last box
   and with that box moved on by the track's velocity (so a face that moves half its width per
   frame still matches). Pairs below ``iou_threshold`` are not matched.
2. By distance, for what is left: a detection whose centre lies within ``max_jump`` face sizes of a
   track's last centre, with a similar size, continues that track. This keeps the id through a whip
   pan, where a face can move most of its width between two frames.

The tracks on show (seen in this frame or held) are matched first; the detections left over are then
matched, by the same two passes, to the lost tracks, looked for where they were last seen.

A track that finds no detection is *held* where it was and still returned, with ``missed > 0``, for
``max_missed`` frames in a row: the detector misses a face now and then, and a face that blinks out for
a frame should not flicker on screen. The hold counts frames, not seconds: each frame it covers is
one missed detection whatever the frame rate, where a hold in seconds would cover none at a low
detection rate. After the hold the track is *lost*: no longer returned, but remembered for
``memory_s`` seconds since it was last seen, so that a face which comes back near where it was (a
small face the detector finds only every few frames, a face behind a passer-by) gets its old id back
instead of a new one. A detection that matches nothing starts a new track.

Smoothing runs a One-Euro filter on where the face is (the centroid of its landmarks) separately
from what shape it has (the landmarks and box relative to that centroid). When a hand-held camera
shakes, the whole face moves: the position follows at once, while the shape, which only the
detector's noise and real expression change, stays heavily smoothed. Speeds are measured in face
sizes per second, so the same settings suit near and far faces. A lost face that comes back starts
its smoothing afresh: it is shown where it is, not drawn over from where it was.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .face import Face, box_iou
from .smoothing import OneEuroFilter


@dataclass(frozen=True)
class Track:
    """One tracked face as of the latest update (a snapshot: later updates do not change it)."""
    id: int        # Unique within one tracker, never reused.
    face: Face     # Smoothed box and landmarks (held in place while the face is missing).
    raw: Face      # The latest detection matched to this track, unsmoothed.
    missed: int    # Frames in a row without a matching detection; 0 = seen in this frame.
    age: int       # Frames since the track started (1 in its first frame).


@dataclass(eq=False)  # Compared and hashed by identity.
class _TrackState:
    id: int
    face: Face                                                          # Smoothed.
    raw: Face                                                           # Latest matched detection.
    filter: OneEuroFilter
    seen_at: float                                                      # Timestamp of `raw`.
    missed: int = 0
    age: int = 1
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))   # Box shift, pixels per second.

    def snapshot(self) -> Track:
        return Track(id=self.id, face=self.face, raw=self.raw, missed=self.missed, age=self.age)


class FaceTracker:
    """Gives each face a stable id across frames, smooths it, holds it briefly when it drops out, and
    remembers it a while longer so that it keeps its id when it comes back. Feed it every frame's
    detections with ``update``; one tracker per video stream."""

    def __init__(
        self,
        iou_threshold: float = 0.3,  # Least overlap for a detection to continue a track.
        max_missed: int = 2,         # Frames a missing face is still shown (held) before it is lost.
        memory_s: float = 1.0,       # Seconds since last seen that a lost face can come back with its id.
        max_jump: float = 1.0,       # Farthest a face may move between frames, in face sizes (pass 2).
        min_cutoff: float = 1.0,     # One-Euro cutoff for a still face, Hz; lower = smoother.
        beta: float = 10.0,          # One-Euro speed coefficient, Hz per (face size per second).
        d_cutoff: float = 1.0,       # One-Euro cutoff for the speed estimate, Hz.
    ):
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must lie in (0, 1], got {iou_threshold}")
        if max_missed < 0 or memory_s < 0 or max_jump < 0:
            raise ValueError("max_missed, memory_s and max_jump must be >= 0")
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self.memory_s = memory_s
        self.max_jump = max_jump
        self.filter_settings = dict(min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff)
        OneEuroFilter(**self.filter_settings)  # Reject bad filter settings now, not at the first face.
        self._states: list[_TrackState] = []
        self._next_id = 1
        self._last_timestamp: float | None = None

    def reset(self) -> None:
        """Forget every track, lost ones included (ids keep counting up)."""
        self._states = []
        self._last_timestamp = None

    def known_ids(self) -> set[int]:
        """The ids of every track still followed: on show, held, or lost but remembered (it may come back).
        An id not in it has ended for good."""
        return {state.id for state in self._states}

    def update(self, faces: list[Face], timestamp: float) -> list[Track]:
        """Feed one frame's detections, taken at ``timestamp`` seconds; return the tracks on show,
        largest (smoothed) face first: those seen in this frame and those held with ``missed > 0``."""
        if self._last_timestamp is not None and not timestamp > self._last_timestamp:
            raise ValueError(f"timestamps must increase: got {timestamp} after {self._last_timestamp}")
        self._last_timestamp = timestamp
        shown = [state for state in self._states if not self._is_lost(state)]
        lost = [state for state in self._states if self._is_lost(state)]
        matches = self._match(faces, shown, {}, timestamp)
        matches.update(self._match(faces, lost, matches, timestamp))
        for detection_index, state in matches.items():
            if self._is_lost(state):
                self._recall(state, faces[detection_index], timestamp)
            else:
                self._continue(state, faces[detection_index], timestamp)
        matched = set(matches.values())
        for state in self._states:
            if state not in matched:
                state.missed += 1
                state.age += 1
                if self._is_lost(state):
                    state.velocity = np.zeros(2)  # Looked for where it was last seen, not extrapolated.
        self._states = [state for state in self._states if not self._is_lost(state)
                        or timestamp - state.seen_at <= self.memory_s]
        for index, face in enumerate(faces):
            if index not in matches:
                self._states.append(self._start(face, timestamp))
        tracks = [state.snapshot() for state in self._states if not self._is_lost(state)]
        return sorted(tracks, key=lambda track: (track.face.area, track.face.score), reverse=True)

    def _is_lost(self, state: _TrackState) -> bool:
        return state.missed > self.max_missed

    def _match(self, faces: list[Face], states: list[_TrackState], taken: dict[int, _TrackState],
               timestamp: float) -> dict[int, _TrackState]:
        """Pair the detections not in ``taken`` with ``states``: by overlap, then by distance."""
        matches = self._match_by_overlap(faces, states, taken, timestamp)
        matches.update(self._match_by_distance(faces, states, {**taken, **matches}))
        return matches

    def _match_by_overlap(self, faces: list[Face], states: list[_TrackState], taken: dict[int, _TrackState],
                          timestamp: float) -> dict[int, _TrackState]:
        candidates = []
        for state in states:
            last_box = state.raw.box
            predicted_box = last_box.copy()
            predicted_box[:2] += state.velocity * (timestamp - state.seen_at)
            for index, face in enumerate(faces):
                if index in taken:
                    continue
                overlap = max(box_iou(last_box, face.box), box_iou(predicted_box, face.box))
                if overlap >= self.iou_threshold:
                    candidates.append((-overlap, index, state))
        return _greedy(candidates)

    def _match_by_distance(self, faces: list[Face], states: list[_TrackState],
                           taken: dict[int, _TrackState]) -> dict[int, _TrackState]:
        taken_states = set(taken.values())
        candidates = []
        for state in states:
            if state in taken_states:
                continue
            last = state.raw
            for index, face in enumerate(faces):
                if index in taken or not 2 / 3 <= face.size / last.size <= 3 / 2:
                    continue
                jump = float(np.hypot(*(face.center - last.center))) / last.size
                if jump <= self.max_jump:
                    candidates.append((jump, index, state))
        return _greedy(candidates)

    def _start(self, face: Face, timestamp: float) -> _TrackState:
        smoother, smoothed = self._new_smoothing(face, timestamp)
        state = _TrackState(id=self._next_id, face=smoothed, raw=face, filter=smoother, seen_at=timestamp)
        self._next_id += 1
        return state

    def _new_smoothing(self, face: Face, timestamp: float) -> tuple[OneEuroFilter, Face]:
        """A filter that starts at ``face``, and the smoothed face it gives (``face`` itself, in effect)."""
        smoother = OneEuroFilter(**self.filter_settings)
        return smoother, _vector_to_face(smoother(_face_to_vector(face), timestamp), face)

    def _continue(self, state: _TrackState, face: Face, timestamp: float) -> None:
        state.velocity = (face.box[:2] - state.raw.box[:2]) / (timestamp - state.seen_at)
        state.seen_at = timestamp
        vector = state.filter(_face_to_vector(face), timestamp, speed_scale=face.size)
        state.face = _vector_to_face(vector, face)
        state.raw = face
        state.missed = 0
        state.age += 1

    def _recall(self, state: _TrackState, face: Face, timestamp: float) -> None:
        """A lost track found again keeps its id and age; its smoothing starts afresh (its velocity was
        dropped when it was lost), so it is shown where it is now."""
        state.filter, state.face = self._new_smoothing(face, timestamp)
        state.raw, state.seen_at, state.missed = face, timestamp, 0
        state.age += 1


def _greedy(candidates: list[tuple[float, int, _TrackState]]) -> dict[int, _TrackState]:
    """Pair (cost, detection index, track) candidates, lowest cost first, each side at most once."""
    used_states: set[_TrackState] = set()
    matches: dict[int, _TrackState] = {}
    for _, index, state in sorted(candidates, key=lambda candidate: candidate[0]):
        if index in matches or state in used_states:
            continue
        matches[index] = state
        used_states.add(state)
    return matches


def _face_to_vector(face: Face) -> np.ndarray:
    """16 numbers: landmark centroid (2), box centre minus centroid (2), box size (2), landmarks
    minus centroid (10). Position first, shape after, so that each is filtered at its own speed."""
    centroid = face.landmarks.mean(axis=0)
    return np.concatenate([centroid, face.center - centroid, face.box[2:],
                           (face.landmarks - centroid).ravel()]).astype(np.float64)


def _vector_to_face(vector: np.ndarray, detection: Face) -> Face:
    centroid, box_offset, box_size = vector[0:2], vector[2:4], vector[4:6]
    box_corner = centroid + box_offset - box_size / 2
    landmarks = vector[6:16].reshape(5, 2) + centroid
    return Face(np.concatenate([box_corner, box_size]), landmarks, detection.score,
                detection.landmarks_estimated)
