"""Face detector speed: milliseconds per frame for each detector OpenCV offers here.

Frames are real: the first frames of the hand-held selfie clip (640x480), and the same frames scaled
up 2x and cropped to 1280x720 (the middle 720 rows, so faces keep their shape). Each detector runs
on full-size frames and on frames shrunk to 320 px wide first (``detect_width=320``, the shrinking
included in the time). After a warm-up, each configuration cycles through the frames; the JSON gives
the median and the 10th/90th percentiles over all runs, and the mean number of faces found.

Prints one JSON object. The target: YuNet <= 15 ms per 640x480 frame on a 2-core CPU.

    python scripts/bench_detector.py
    python scripts/bench_detector.py --runs 300 --threads 1
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from detectors import DetectorUnavailable, HaarDetector, YuNetDetector

ROOT = Path(__file__).resolve().parents[1]
CLIP = "media/videos/selfie_webcam_10s.mp4"
YUNET_FILE = "weights/face_detection_yunet_2026may.onnx"
TARGET_MS = 15.0  # YuNet, 640x480, full size.


def read_frames(path: Path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    if not frames:
        sys.exit(f"could not decode {path}")
    return frames


def to_720p(frame: np.ndarray) -> np.ndarray:
    """640x480 -> 1280x960 -> the middle 1280x720."""
    large = cv2.resize(frame, (1280, 960), interpolation=cv2.INTER_LINEAR)
    return large[120:840]


def time_detector(detector, frames: list[np.ndarray], warmup: int, runs: int) -> dict:
    for index in range(warmup):
        detector.detect(frames[index % len(frames)])
    times_ms, faces = [], []
    for index in range(runs):
        frame = frames[index % len(frames)]
        start = time.perf_counter()
        found = detector.detect(frame)
        times_ms.append((time.perf_counter() - start) * 1000)
        faces.append(len(found))
    deciles = statistics.quantiles(times_ms, n=10)
    return {
        "median_ms": round(statistics.median(times_ms), 2),
        "p10_ms": round(deciles[0], 2),
        "p90_ms": round(deciles[-1], 2),
        "mean_faces": round(float(np.mean(faces)), 2),
    }


def make_detectors(yunet_model: Path, detect_width: int | None) -> dict:
    """{name: detector or the reason it cannot run here}."""
    made = {}
    for name, build in (("yunet", lambda: YuNetDetector(yunet_model, detect_width=detect_width)),
                        ("haar", lambda: HaarDetector(detect_width=detect_width))):
        try:
            made[name] = build()
        except DetectorUnavailable as error:
            made[name] = str(error)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path,
                        default=Path(os.environ.get("STYLECAM_SHARED", ROOT.parent / "shared")),
                        help="offline data folder with the clip and the YuNet model (default ../shared)")
    parser.add_argument("--model", type=Path, default=None, help="YuNet ONNX file (default: the shared copy)")
    parser.add_argument("--frames", type=int, default=60, help="distinct frames to cycle through")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--runs", type=int, default=150, help="timed detections per configuration")
    parser.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads (default: OpenCV's)")
    args = parser.parse_args()

    if args.threads is not None:
        cv2.setNumThreads(args.threads)
    frames_480 = read_frames(args.shared / CLIP, args.frames)
    resolutions = {"640x480": frames_480, "1280x720": [to_720p(frame) for frame in frames_480]}
    yunet_model = args.model or args.shared / YUNET_FILE

    results, unavailable = [], {}
    for detect_width in (None, 320):
        for name, detector in make_detectors(yunet_model, detect_width).items():
            if isinstance(detector, str):
                unavailable[name] = detector
                continue
            for resolution, frames in resolutions.items():
                timing = time_detector(detector, frames, args.warmup, args.runs)
                results.append({"detector": name, "resolution": resolution,
                                 "detect_width": detect_width or "full", **timing})

    yunet_vga = next((r["median_ms"] for r in results if r["detector"] == "yunet"
                      and r["resolution"] == "640x480" and r["detect_width"] == "full"), None)
    print(json.dumps({
        "opencv": cv2.__version__,
        "opencv_threads": cv2.getNumThreads(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "frames": f"{CLIP}, first {len(frames_480)} frames",
        "warmup": args.warmup,
        "runs": args.runs,
        "results": results,
        "unavailable": unavailable,
        "target": {"yunet_640x480_ms": TARGET_MS, "measured_ms": yunet_vga,
                   "met": yunet_vga is not None and yunet_vga <= TARGET_MS},
    }, indent=2))


if __name__ == "__main__":
    main()
