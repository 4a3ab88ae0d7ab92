"""Tensor operations of the StyleGAN2 and StyleGAN3 generators, in plain PyTorch (no custom CUDA or C++ code).

They reproduce the arithmetic of NVlabs stylegan2-ada-pytorch and stylegan3 (`torch_utils/ops` and the
functions at the top of `training/networks*.py`) so that weights trained there give the same images here.
"""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

# Activation name -> (function, gain that keeps the signal's magnitude, as NVlabs `def_gain`).
ACTIVATIONS = {
    "linear": (lambda x: x, 1.0),
    "relu": (F.relu, math.sqrt(2)),
    "lrelu": (lambda x: F.leaky_relu(x, 0.2), math.sqrt(2)),
}


def activation_gain(activation: str) -> float:
    """The default gain of an activation; raises ValueError naming the supported ones."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unsupported activation {activation!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[activation][1]


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale each vector to unit root-mean-square (the mapping network's input normalisation)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def bias_act(
    x: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    activation: str = "linear",
    gain: float = 1.0,
    clamp: Optional[float] = None,
) -> torch.Tensor:
    """Add a per-channel bias (dimension 1), apply the activation, scale by `gain`, clamp to +-clamp."""
    activation_gain(activation)
    if bias is not None:
        x = x + bias.reshape([1, -1] + [1] * (x.ndim - 2))
    x = ACTIVATIONS[activation][0](x)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def setup_filter(taps: Sequence[float]) -> torch.Tensor:
    """The 2-D low-pass filter of the resampling steps: outer product of `taps`, normalised to sum 1."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim != 1 or f.numel() == 0:
        raise ValueError(f"resample_filter must be a non-empty list of taps, got {taps!r}")
    f = torch.outer(f, f)
    return f / f.sum()


def upfirdn2d(
    x: torch.Tensor, f: Optional[torch.Tensor], up: int = 1, down: int = 1,
    padding: Sequence[int] = (0, 0, 0, 0), gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by inserting zeros, pad (negative = crop), convolve each channel with the FIR `f`, downsample.

    `f` is a 2-D filter, a 1-D one applied separably (along x, then y), or None for none at all.
    `padding` is (left, right, top, bottom) in the upsampled image; `gain` scales the result; `down`
    keeps every down-th pixel of the filtered image.
    """
    left, right, top, bottom = padding
    if f is None:
        f = torch.ones([1, 1], dtype=x.dtype, device=x.device)
    if f.ndim == 1:
        f = f * math.sqrt(gain)
        x = _upfirdn_depthwise(x, f.view(1, -1), (1, up), (1, down), (left, right, 0, 0))
        return _upfirdn_depthwise(x, f.view(-1, 1), (up, 1), (down, 1), (0, 0, top, bottom))
    return _upfirdn_depthwise(x, f * gain, (up, up), (down, down), padding)


def _upfirdn_depthwise(x: torch.Tensor, f: torch.Tensor, up: Tuple[int, int], down: Tuple[int, int],
                       padding: Sequence[int]) -> torch.Tensor:
    """upfirdn2d with a 2-D filter [kh, kw] and (y, x) factors. Upsampling is a transposed convolution,
    which computes the convolution of the zero-stuffed image without multiplying the zeros; downsampling
    is the convolution's stride, which computes only the pixels kept."""
    num_channels = x.shape[1]
    kh, kw = f.shape
    weight = f.to(x.dtype).expand(num_channels, 1, kh, kw)
    left, right, top, bottom = padding
    if up == (1, 1):
        return F.conv2d(_pad(x, [left, right, top, bottom]), weight.flip([2, 3]), stride=down, groups=num_channels)
    # The transposed convolution's output starts k - 1 pixels before the zero-stuffed image and ends
    # k - up pixels after it; equal crops on both sides are its own `padding`, the rest is padded after.
    crops = [kw - 1 - left, kw - up[1] - right, kh - 1 - top, kh - up[0] - bottom]
    shared = (max(min(crops[2:]), 0), max(min(crops[:2]), 0))
    x = F.conv_transpose2d(x, weight, stride=up, padding=shared, groups=num_channels)
    x = _pad(x, [shared[1] - crops[0], shared[1] - crops[1], shared[0] - crops[2], shared[0] - crops[3]])
    return x[:, :, ::down[0], ::down[1]]


def _pad(x: torch.Tensor, padding: Sequence[int]) -> torch.Tensor:
    """F.pad (negative = crop) that leaves `x` alone, uncopied, when there is nothing to do."""
    return F.pad(x, list(padding)) if any(padding) else x


def filtered_lrelu(
    x: torch.Tensor,                            # Convolution output [N, C, H, W].
    fu: Optional[torch.Tensor],                 # Upsampling filter (1-D separable, 2-D, or None).
    fd: Optional[torch.Tensor],                 # Downsampling filter (1-D separable, 2-D, or None).
    bias: Optional[torch.Tensor],               # Per-channel bias [C], added first.
    up: int = 1,                                # Upsampling factor before the nonlinearity.
    down: int = 1,                              # Downsampling factor after it.
    padding: Sequence[int] = (0, 0, 0, 0),      # (left, right, top, bottom) in the upsampled image.
    activation: str = "lrelu",                  # 'lrelu' (with its gain), or 'linear' for bias and clamp only.
    clamp: Optional[float] = None,              # Clamp the activation's output to +-clamp.
) -> torch.Tensor:
    """StyleGAN3's alias-free nonlinearity: bias, upsample, activate and clamp at the higher rate, downsample.

    The reference arithmetic of NVlabs stylegan3 `filtered_lrelu` (its `_filtered_lrelu_ref`): the
    nonlinearity's new high frequencies are created at `up` times the sampling rate and removed by `fd`
    before the signal returns to the lower rate. Returns a contiguous tensor.
    """
    # The steps run channels-last, where oneDNN's depthwise (transposed) convolutions are several times faster.
    x = bias_act(x.contiguous(memory_format=torch.channels_last), bias)
    # The activation's gain joins the upsampling's: both activations commute with positive scaling.
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up ** 2 * activation_gain(activation))
    x = bias_act(x, None, activation, clamp=clamp)
    return upfirdn2d(x, fd, down=down).contiguous()


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Double the resolution of `x` with the low-pass filter `f` (the skip path's image upsampling)."""
    taps = f.shape[-1]
    return upfirdn2d(x, f, up=2, padding=[(taps + 1) // 2, (taps - 2) // 2] * 2, gain=4)


def downsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """Halve the resolution of `x` with the low-pass filter `f` (the skip discriminator's image path)."""
    taps = f.shape[-1]
    return upfirdn2d(x, f, down=2, padding=[(taps - 1) // 2, (taps - 2) // 2] * 2)


def modulated_conv2d(
    x: torch.Tensor,                            # Input activations [N, in_channels, H, W].
    weight: torch.Tensor,                       # Convolution weight [out_channels, in_channels, k, k].
    styles: torch.Tensor,                       # Per-sample scale of each input channel [N, in_channels].
    noise: Optional[torch.Tensor] = None,       # Added to the output; broadcasts to [N, out_channels, H, W].
    up: int = 1,                                # 1 or 2: upsample the output 2x (transposed conv + low-pass).
    resample_filter: Optional[torch.Tensor] = None,  # 2-D low-pass filter for up=2 (from setup_filter).
    demodulate: bool = True,                    # Normalise each output channel's per-sample weight to unit norm?
    fused: bool = True,                         # One grouped convolution with per-sample weights (True), or
                                                # scale activations before and after a shared-weight convolution.
    padding: Optional[int] = None,              # Zero padding for up=1; None = 'same' (kernel // 2).
) -> torch.Tensor:
    """StyleGAN2's modulated convolution: conv with weights scaled per sample by `styles`, then demodulated.

    The two layouts compute the same function; `fused` suits small batches, the unfused one large batches
    and fp16 (it never materialises per-sample weights).
    """
    batch_size = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise ValueError(f"expected input [N, {in_channels}, H, W], got {list(x.shape)}")
    if styles.shape != (batch_size, in_channels):
        raise ValueError(f"expected styles [{batch_size}, {in_channels}], got {list(styles.shape)}")

    # Pre-normalise so that fp16 cannot overflow (demodulation cancels these factors exactly).
    if x.dtype == torch.float16 and demodulate:
        weight = weight * (1 / math.sqrt(in_channels * kh * kw) / weight.abs().amax(dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.abs().amax(dim=1, keepdim=True)

    w = weight.unsqueeze(0) * styles.reshape(batch_size, 1, in_channels, 1, 1)  # [N, O, I, k, k]
    dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt() if demodulate else None  # [N, O]

    if fused:
        if dcoefs is not None:
            w = w * dcoefs.reshape(batch_size, out_channels, 1, 1, 1)
        x = x.reshape(1, batch_size * in_channels, *x.shape[2:])
        x = _conv2d(x, w.reshape(batch_size * out_channels, in_channels, kh, kw).to(x.dtype), up,
                    resample_filter, groups=batch_size, padding=padding)
        x = x.reshape(batch_size, out_channels, *x.shape[2:])
    else:
        x = x * styles.to(x.dtype).reshape(batch_size, in_channels, 1, 1)
        x = _conv2d(x, weight.to(x.dtype), up, resample_filter, groups=1, padding=padding)
        if dcoefs is not None:
            x = x * dcoefs.to(x.dtype).reshape(batch_size, out_channels, 1, 1)
    if noise is not None:
        x = x + noise.to(x.dtype)
    return x


def _conv2d(x: torch.Tensor, w: torch.Tensor, up: int, f: Optional[torch.Tensor], groups: int,
            padding: Optional[int] = None) -> torch.Tensor:
    """Convolution (correlation), 'same' unless `padding` says otherwise, or for up=2 a stride-2 transposed
    convolution and a low-pass.

    The upsampling variant matches NVlabs `conv2d_resample` with flip_weight=False: the transposed
    convolution gives 2H+1 pixels and the padded filter brings them back to 2H.
    """
    kernel = w.shape[-1]
    if up == 1:
        return F.conv2d(x, w, padding=kernel // 2 if padding is None else padding, groups=groups)
    if up != 2 or f is None:
        raise ValueError(f"only up=1, or up=2 with a resample filter, are supported (got up={up})")
    out_per_group, in_per_group = w.shape[0] // groups, w.shape[1]
    w = w.reshape(groups, out_per_group, in_per_group, kernel, kernel).transpose(1, 2)
    w = w.reshape(groups * in_per_group, out_per_group, kernel, kernel)
    x = F.conv_transpose2d(x, w, stride=2, groups=groups)
    taps = f.shape[-1]
    pad_before = kernel // 2 + (taps + 1) // 2 - (kernel - 1)
    pad_after = kernel // 2 + (taps - 2) // 2 - (kernel - 2)
    return upfirdn2d(x, f, padding=[pad_before, pad_after] * 2, gain=4)
