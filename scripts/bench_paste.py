"""Where the face is pasted, against where the head is: today's method and motion compensation; prints JSON.

On the shared clips, detection runs on every K-th frame only (K = 1, 2, 3, 5), its result arriving
``--lag`` frames after the frame it was found in (0: in time for that frame, as when detection keeps
up). The detector's output is YuNet's, read from ``media/faces.json``, through the pipeline's tracker
(``detectors.FaceTracker``). For every frame, the landmarks a face would be pasted at are compared with
YuNet's own landmarks of that very frame (the reference):

- "newest": today's method, the newest detection's tracked landmarks, as found in their own frame;
- "motion": those landmarks moved to the shown frame by ``app.live.motion.FaceMotion``.

The error of a face is the mean distance of its five landmarks to the reference, in inter-ocular
distances (IOD) of the reference face; the JSON gives the median, 90th and 95th percentiles over every
face in every frame, the share of reference faces with no face pasted near them, and the milliseconds
per frame the motion step costs (grey copy, corners, flow, fit) in CPU time of its thread, which other
work on a busy machine does not inflate: the only timed figure.

Jitter: from one frame to the next, how much a pasted face moves other than as its head moves (the change
of its landmarks minus the change of the reference's, in IODs), as a 95th percentile over the frames on
which a new detection took over (``jump_p95_at_detection``: the correction) and over the others
(``jump_p95_between``). The reference's own frame-to-frame noise is in both.

``added_p90`` is how much the 90th percentile grows over detecting every frame in time (K = 1, lag 0):
what the head's motion between detections adds to the error of a face that holds still. Target: at
K = 3, motion compensation adds at most 0.05 IOD, for at most 3 ms per frame.

    python scripts/bench_paste.py
    python scripts/bench_paste.py --clips selfie_webcam_10s.mp4 --every 1 3 --lag 2
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from app.live.compositing import MAX_TRACK_AGE_S
from app.live.motion import FaceMotion
from detectors import Face, FaceTracker, Track

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ("selfie_webcam_10s.mp4", "hikers_17s.mp4", "conference_group_3s.mp4")
EVERY = (1, 2, 3, 5)
METHODS = ("newest", "motion")
TARGET_K = 3
TARGET_ADDED_P90 = 0.05
TARGET_MS = 3.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path,
                        default=Path(os.environ.get("STYLECAM_SHARED", ROOT.parent / "shared")),
                        help="offline data folder with the clips and faces.json (default ../shared)")
    parser.add_argument("--clips", nargs="+", default=list(CLIPS), help="clips in media/videos/")
    parser.add_argument("--every", nargs="+", type=int, default=list(EVERY), help="detect on every K-th frame")
    parser.add_argument("--lag", type=int, default=0, help="frames between a detected frame and its result")
    return parser.parse_args()


def reference_faces(described: dict) -> Dict[int, List[Face]]:
    """faces.json's faces of each frame of a clip, as the detector gives them."""
    return {entry["frame"]: [Face(np.array(face["box"], np.float32), np.array(face["landmarks"], np.float32),
                                  face["score"]) for face in entry["faces"]]
            for entry in described["frames"]}


@dataclass
class Run:
    """One configuration (K, method) following the clip frame by frame."""

    every: int
    method: str
    lag: int
    fps: float
    tracker: FaceTracker = field(default_factory=FaceTracker)
    motion: FaceMotion = field(default_factory=FaceMotion)
    results: Dict[int, Tuple[List[Track], np.ndarray]] = field(default_factory=dict)   # detected, not yet arrived
    newest: Optional[Tuple[int, List[Track], np.ndarray]] = None                       # (frame, tracks, image)
    errors: List[float] = field(default_factory=list)
    missed: int = 0
    references: int = 0
    motion_ms: List[float] = field(default_factory=list)
    previous: List[Tuple[Face, Face]] = field(default_factory=list)    # (reference, shown) of the last frame
    jumps: Dict[bool, List[float]] = field(default_factory=lambda: {True: [], False: []})   # by "new detection"

    def frame(self, index: int, image: np.ndarray, faces: List[Face], reference: List[Face]) -> None:
        if index % self.every == 0:
            self.results[index] = (self.tracker.update(faces, index / self.fps), image)
        arrived = [found for found in self.results if found + self.lag <= index]
        for found in sorted(arrived):
            tracks, found_image = self.results.pop(found)
            self.newest = (found, tracks, found_image)
        shown = [track.face for track in self.shown(index, image)]
        self.references += len(reference)
        pairs = []
        for face in reference:
            nearest = nearest_face(shown, face)
            if nearest is None:
                self.missed += 1
                continue
            self.errors.append(landmark_error(nearest, face))
            pairs.append((face, nearest))
        for face, nearest in pairs:
            jump = landmark_jump(self.previous, face, nearest)
            if jump is not None:
                self.jumps[bool(arrived)].append(jump)
        self.previous = pairs

    def shown(self, index: int, image: np.ndarray) -> List[Track]:
        """The tracks pasted on frame ``index``, as the compositing worker would paste them."""
        if self.newest is None:
            return []
        found, tracks, found_image = self.newest
        if (index - found) / self.fps > MAX_TRACK_AGE_S:
            return []
        if self.method == "newest":
            return tracks
        started = time.thread_time()       # CPU time: a busy machine does not inflate it
        moved = self.motion.faces_at(index, image, tracks, found, found_image)
        self.motion_ms.append((time.thread_time() - started) * 1000)
        return moved

    def summary(self) -> dict:
        errors = np.array(self.errors) if self.errors else np.array([np.nan])
        summary = {"faces": len(self.errors), "median": round(float(np.median(errors)), 4),
                   "p90": round(float(np.percentile(errors, 90)), 4),
                   "p95": round(float(np.percentile(errors, 95)), 4),
                   "missed_share": round(self.missed / max(self.references, 1), 4)}
        for corrected, key in ((True, "jump_p95_at_detection"), (False, "jump_p95_between")):
            if self.jumps[corrected]:
                summary[key] = round(float(np.percentile(self.jumps[corrected], 95)), 4)
        if self.motion_ms:
            summary["ms_per_frame"] = round(float(np.mean(self.motion_ms)), 3)
            summary["ms_per_frame_p95"] = round(float(np.percentile(self.motion_ms, 95)), 3)
        return summary


def inter_ocular(face: Face) -> float:
    return float(np.linalg.norm(face.landmarks[1] - face.landmarks[0]))


def nearest_face(shown: List[Face], reference: Face) -> Optional[Face]:
    """The shown face nearest ``reference``, or None if none is within one IOD (no face pasted on that head)."""
    iod = inter_ocular(reference)
    if iod < 1 or not shown:
        return None
    centre = reference.landmarks.mean(axis=0)
    nearest = min(shown, key=lambda face: float(np.linalg.norm(face.landmarks.mean(axis=0) - centre)))
    return nearest if np.linalg.norm(nearest.landmarks.mean(axis=0) - centre) <= iod else None


def landmark_error(face: Face, reference: Face) -> float:
    """Mean landmark distance of ``face`` to ``reference``, in IODs of ``reference``."""
    return float(np.linalg.norm(face.landmarks - reference.landmarks, axis=1).mean()) / inter_ocular(reference)


def landmark_jump(previous: List[Tuple[Face, Face]], reference: Face, face: Face) -> Optional[float]:
    """How far ``face`` moved since the last frame other than as its head (``reference``) moved, in IODs; None
    if that head was not in the last frame (nearer than half an IOD to where it is now)."""
    iod = inter_ocular(reference)
    centre = reference.landmarks.mean(axis=0)
    for last_reference, last_face in previous:
        if np.linalg.norm(last_reference.landmarks.mean(axis=0) - centre) <= iod / 2:
            moved = (face.landmarks - last_face.landmarks) - (reference.landmarks - last_reference.landmarks)
            return float(np.linalg.norm(moved, axis=1).mean()) / iod
    return None


def bench_clip(path: Path, described: dict, every: List[int], lag: int) -> Dict[str, dict]:
    fps = float(described["fps"])
    faces = reference_faces(described)
    runs = [Run(k, method, lag, fps) for k in every for method in METHODS]
    baseline = Run(1, "newest", 0, fps)
    capture = cv2.VideoCapture(str(path))
    index = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        for run in [baseline, *runs]:
            run.frame(index, image, faces.get(index, []), faces.get(index, []))
        index += 1
    capture.release()
    if index == 0:
        sys.exit(f"could not decode {path}")
    floor = baseline.summary()["p90"]
    result = {"frames": index, "detect_every_frame_p90": floor}
    for run in runs:
        summary = run.summary()
        summary["added_p90"] = round(summary["p90"] - floor, 4)
        result.setdefault(f"K={run.every}", {})[run.method] = summary
    return result


def main() -> None:
    args = parse_args()
    cv2.setNumThreads(1)
    faces_json = args.shared / "media" / "faces.json"
    if not faces_json.is_file():
        sys.exit(f"offline data not found: {faces_json} (set --shared or STYLECAM_SHARED)")
    videos = json.loads(faces_json.read_text())["videos"]
    clips = {}
    for name in args.clips:
        path = args.shared / "media" / "videos" / name
        if not path.is_file() or f"videos/{name}" not in videos:
            sys.exit(f"clip not found, or not in faces.json: {path}")
        clips[name] = bench_clip(path, videos[f"videos/{name}"], args.every, args.lag)
    targets = {}
    if TARGET_K in args.every:
        for name, result in clips.items():
            motion = result[f"K={TARGET_K}"]["motion"]
            targets[name] = {f"added_p90<={TARGET_ADDED_P90}": motion["added_p90"] <= TARGET_ADDED_P90,
                             f"ms_per_frame<={TARGET_MS}": motion["ms_per_frame"] <= TARGET_MS}
    print(json.dumps({
        "conditions": {"reference": "YuNet landmarks of every frame (media/faces.json)",
                       "error_unit": "inter-ocular distances of the reference face", "lag_frames": args.lag,
                       "opencv": cv2.__version__, "opencv_threads": 1, "cpu_count": os.cpu_count(),
                       "machine": platform.machine(), "load_average": [round(x, 2) for x in os.getloadavg()]},
        "clips": clips,
        "targets_met": targets,
    }, indent=2))


if __name__ == "__main__":
    main()
