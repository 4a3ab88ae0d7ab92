"""The One-Euro filter: smooths a noisy signal strongly while it holds still, lightly while it moves.

Casiez, Roussel and Vogel, "1 Euro Filter: A Simple Speed-based Low-pass Filter for Noisy Input in
Interactive Systems" (CHI 2012). Each coordinate goes through an exponential low-pass filter whose
cutoff frequency rises with that coordinate's speed::

    cutoff = min_cutoff + beta * |speed| / speed_scale

A still face gets ``min_cutoff`` (heavy smoothing: jitter disappears); a moving one a high cutoff
(little smoothing: no visible lag). The speed is itself low-pass filtered at ``d_cutoff``.
``speed_scale`` lets the caller measure speed in a natural unit, such as face sizes per second, so
that one ``beta`` suits faces near and far from the camera.
"""
from __future__ import annotations

import math

import numpy as np


class OneEuroFilter:
    """Filters a vector of coordinates, each independently, sampled at increasing timestamps."""

    def __init__(
        self,
        min_cutoff: float = 1.0,  # Hz: cutoff for a still signal; lower = smoother and slower.
        beta: float = 10.0,       # Hz per (speed_scale per second): how fast the cutoff rises with speed.
        d_cutoff: float = 1.0,    # Hz: cutoff of the low-pass filter on the speed estimate.
    ):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("min_cutoff and d_cutoff must be > 0 and beta >= 0")
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.reset()

    def reset(self) -> None:
        """Forget the signal: the next value passes through unchanged."""
        self.value: np.ndarray | None = None    # Last filtered value.
        self.speed: np.ndarray | None = None    # Last filtered speed, units per second.
        self.timestamp: float | None = None

    def __call__(self, value: np.ndarray, timestamp: float, speed_scale: float = 1.0) -> np.ndarray:
        """Add a sample taken at ``timestamp`` seconds; return the filtered value (float64)."""
        value = np.asarray(value, dtype=np.float64)
        if self.value is None:
            self.value, self.speed, self.timestamp = value.copy(), np.zeros_like(value), timestamp
            return self.value.copy()
        if value.shape != self.value.shape:
            raise ValueError(f"expected a value of shape {self.value.shape}, got {value.shape}")
        elapsed = timestamp - self.timestamp
        if not elapsed > 0:
            raise ValueError(f"timestamps must increase: got {timestamp} after {self.timestamp}")
        if not speed_scale > 0:
            raise ValueError(f"speed_scale must be positive, got {speed_scale}")
        raw_speed = (value - self.value) / elapsed
        self.speed = self.speed + _smoothing_factor(self.d_cutoff, elapsed) * (raw_speed - self.speed)
        cutoff = self.min_cutoff + self.beta * np.abs(self.speed) / speed_scale
        self.value = self.value + _smoothing_factor(cutoff, elapsed) * (value - self.value)
        self.timestamp = timestamp
        return self.value.copy()


def _smoothing_factor(cutoff, elapsed: float):
    """Weight of the new sample in an exponential low-pass filter with this cutoff frequency."""
    time_constant = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + time_constant / elapsed)
