"""Design of StyleGAN3's low-pass filters, in NumPy: the same taps NVIDIA's code gets from SciPy.

NVlabs stylegan3 builds each layer's up- and downsampling filter with `scipy.signal.firwin` (a separable
Kaiser-windowed sinc) or, for config R, a radially symmetric Kaiser-windowed jinc using
`scipy.special.j1`. SciPy is not a StyleCam dependency, so both are written out here from their
definitions. A loaded model brings its filters in its state dict; the design matters for building a
generator from its settings alone (tests, benchmarks) and for checking that a file's filters are the
ones its settings describe.
"""
import math
from typing import Optional

import numpy as np
import torch

# Points of the trapezoidal rule for Bessel's integral: exact to float64 rounding for |x| < 100, far
# beyond the arguments the filters need (below 15 for StyleGAN3's filter sizes).
BESSEL_POINTS = 256


def lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False,
                   ) -> Optional[torch.Tensor]:
    """A low-pass FIR filter with `numtaps` taps, cutoff and transition band `width` in the units of `fs`.

    Returns None for a single tap (the identity, which NVIDIA's layers keep as None), a 1-D float32
    filter to apply separably, or for `radial` a 2-D [numtaps, numtaps] radially symmetric one.
    """
    if numtaps < 1:
        raise ValueError(f"a filter needs at least one tap, got {numtaps}")
    if numtaps == 1:
        return None
    nyquist = fs / 2
    if not 0 < cutoff < nyquist:
        raise ValueError(f"cutoff {cutoff} must lie between 0 and the Nyquist frequency {nyquist}")
    beta = kaiser_beta(kaiser_attenuation(numtaps, width / nyquist))
    if not radial:
        return torch.as_tensor(_kaiser_sinc(numtaps, cutoff / nyquist, beta), dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    # J1(2 pi c r) / (pi r); its limit at r = 0 (only reached with an odd number of taps) is c.
    safe_r = np.where(r > 0, r, 1.0)
    f = np.where(r > 0, bessel_j1(2 * cutoff * np.pi * safe_r) / (np.pi * safe_r), cutoff)
    window = np.kaiser(numtaps, beta)
    f = f * np.outer(window, window)
    return torch.as_tensor(f / np.sum(f), dtype=torch.float32)


def kaiser_attenuation(numtaps: int, width: float) -> float:
    """Stopband attenuation in dB of a Kaiser filter with `numtaps` taps and a transition band `width`
    (as a fraction of the Nyquist frequency): Kaiser's empirical formula, as `scipy.signal.kaiser_atten`."""
    return 2.285 * (numtaps - 1) * np.pi * width + 7.95


def kaiser_beta(attenuation: float) -> float:
    """The Kaiser window's beta for a stopband attenuation in dB, as `scipy.signal.kaiser_beta`."""
    if attenuation > 50:
        return 0.1102 * (attenuation - 8.7)
    if attenuation > 21:
        return 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21)
    return 0.0


def bessel_j1(x: np.ndarray) -> np.ndarray:
    """The Bessel function of the first kind of order 1 (NumPy has none), from Bessel's integral
    J1(x) = 1/(2 pi) * integral over one period of cos(t - x sin t), whose trapezoidal rule converges
    exponentially because the integrand is smooth and periodic."""
    t = np.arange(BESSEL_POINTS) * (2 * math.pi / BESSEL_POINTS)
    x = np.asarray(x, dtype=np.float64)
    return np.cos(t - x[..., None] * np.sin(t)).mean(axis=-1)


def _kaiser_sinc(numtaps: int, cutoff: float, beta: float) -> np.ndarray:
    """`scipy.signal.firwin(numtaps, cutoff, window=('kaiser', beta))` for a cutoff relative to Nyquist:
    the windowed ideal low-pass, scaled to unit gain at frequency 0."""
    m = np.arange(numtaps) - (numtaps - 1) / 2
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(numtaps, beta)
    return h / np.sum(h)
