"""Stand-in detectors for the pipeline tests: a real detector that counts (and may slow down) its calls,
and one that fails on every frame."""
from __future__ import annotations

import time

import numpy as np


class CountingDetector:
    """``detector``, counting its calls and taking at least ``delay_s`` seconds over each."""

    name = "counting"

    def __init__(self, detector, delay_s: float = 0.0):
        self.detector = detector
        self.delay_s = delay_s
        self.calls = 0

    def detect(self, image: np.ndarray):
        time.sleep(self.delay_s)
        self.calls += 1
        return self.detector.detect(image)


class BrokenDetector:
    """Fails on every frame, as a detector whose model or runtime broke would."""

    name = "broken"

    def detect(self, image: np.ndarray):
        raise RuntimeError("detector crashed")
