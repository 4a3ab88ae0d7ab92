"""The operations of the fast CPU layout (`cpu_synthesis`): Winograd convolutions, packed weights and
one-pass output, each computing what the plain PyTorch operation it replaces computes.

- 3x3 convolutions with many channels at 16x16 and above use Winograd's F(4x4, 3x3) algorithm:
  2.25 instead of 9 multiplications per output; the same result up to float rounding (differences of
  about 1e-5 of the output range). In bfloat16 the transformed tiles and kernels are rounded to bf16:
  a convolution keeps about 49 dB against fp32 where the direct bf16 one keeps 70, and whole images
  1.5-3 dB less than with direct bf16 convolutions (53-54 dB, `scripts/bench_generator.py`).
- Weights that stay the same from call to call are reordered once into oneDNN's own blocked layout
  ("packed"), which oneDNN would otherwise do on every call; this most speeds up the convolutions of
  few pixels, where moving the weight is most of the work. Packing uses private oneDNN operators of
  PyTorch (`torch.ops.mkldnn`: torch 2.2 has them, 2.0.1 and 1.13 do not); where they are missing or
  misbehave (`ONEDNN_PACKING` is False) the plain weight is used and the result is the same, only slower.
- Demodulation, noise, bias, activation gain and clamping are applied in one pass over the output
  (`output_pass`), with the gain folded into the other factors (lrelu(a) * g == lrelu(a * g) for g > 0).
"""
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

# Winograd F(4x4, 3x3) with interpolation points 0, 1, -1, 2, -2 and infinity (Lavin & Gray, 2016):
# for a 6x6 input tile d and a 3x3 kernel g, the 4x4 output tile is AT [(G g G^T) * (BT d BT^T)] AT^T.
_WINOGRAD_BT = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
_WINOGRAD_G = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
               [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]
_WINOGRAD_AT = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
_WINOGRAD_INPUT_TRANSFORM = torch.kron(torch.tensor(_WINOGRAD_BT, dtype=torch.float32),
                                       torch.tensor(_WINOGRAD_BT, dtype=torch.float32))  # [36, 36]
_WINOGRAD_OUTPUT_TRANSFORM = torch.kron(torch.tensor(_WINOGRAD_AT, dtype=torch.float32),
                                        torch.tensor(_WINOGRAD_AT, dtype=torch.float32))  # [16, 36]
WINOGRAD_MIN_CHANNELS = 128     # Below this the tile transforms cost more than the multiplications saved.
WINOGRAD_TILES_PER_STEP = 256   # Tiles transformed and multiplied together: enough for the products, few
                                # enough to stay in the CPU caches from step to step.
WINOGRAD_MIN_RESOLUTION = 16    # Below this the 4x larger Winograd weights cost more memory traffic.


def has_onednn_packing() -> bool:
    """Whether this PyTorch's oneDNN packing operators (private, `torch.ops.mkldnn`; in torch 2.2, not in
    2.0.1 or 1.13) are there and compute what F.conv2d and F.conv_transpose2d compute.

    Being private they may change from release to release (a Jetson's torch 2.x is not the one tested here),
    so a small convolution of each kind is tried once; a missing operator (torch 1.x raises RuntimeError,
    not AttributeError, for one), a changed signature or a different result means plain convolutions.
    """
    if not torch.backends.mkldnn.is_available():
        return False
    generator = torch.Generator().manual_seed(0)
    x, weight = torch.randn(1, 4, 5, 5, generator=generator), torch.randn(4, 4, 3, 3, generator=generator)
    try:
        with torch.no_grad():
            packed = _onednn_conv2d_weight(weight, x.shape, padding=1, groups=1)
            packed_transposed = _onednn_conv_transpose2d_weight(weight, x.shape, stride=2)
            return (packed.is_mkldnn and packed_transposed.is_mkldnn
                    and torch.allclose(conv2d(x, packed, padding=1), F.conv2d(x, weight, padding=1), atol=1e-4)
                    and torch.allclose(conv_transpose2d(x, packed_transposed, stride=2),
                                       F.conv_transpose2d(x, weight, stride=2), atol=1e-4))
    except (AttributeError, RuntimeError, TypeError):
        return False


_INPLACE_ACTIVATIONS: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": lambda x: x,
    "relu": torch.relu_,
    "lrelu": lambda x: F.leaky_relu_(x, 0.2),
}


def use_winograd(in_channels: int, resolution: int, kernel_size: int, up: int) -> bool:
    """Whether a modulated convolution is faster as Winograd F(4x4, 3x3) on the CPU.

    Only stride-1 3x3 convolutions: the upsampling ones, rewritten as four 3x3 phase convolutions, have as
    many multiplications in Winograd form as the transposed convolution has directly.
    """
    return (up == 1 and kernel_size == 3 and in_channels >= WINOGRAD_MIN_CHANNELS
            and resolution >= WINOGRAD_MIN_RESOLUTION and resolution % 4 == 0)


def winograd_weights(weight: torch.Tensor, input_shape: Optional[torch.Size] = None,
                     dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """[O, C, 3, 3] -> the transformed kernels G g G^T, one [O, C] matrix per tile position, in the form
    `winograd_conv3x3` multiplies them in ``dtype``: in float32 the weight of a grouped 1x1 convolution,
    [36 * O, C, 1, 1] (packed for inputs x of `input_shape`, see `packed_conv2d_weight`, where that is
    given); in bfloat16 the right-hand sides of a batched matrix product, [36, C, O], for any input.

    Computed in float32 (rounding of about 1e-7 of the kernels, far below the layout's tolerance), 64 output
    channels at a time: the memory made and freed on the way stays small.
    """
    out_channels, in_channels = weight.shape[:2]
    g = torch.tensor(_WINOGRAD_G, dtype=torch.float32, device=weight.device)
    bf16 = dtype == torch.bfloat16
    u = torch.empty([36, in_channels, out_channels] if bf16 else [36, out_channels, in_channels], dtype=dtype,
                    device=weight.device)
    for first in range(0, out_channels, 64):
        part = torch.matmul(torch.matmul(g, weight[first:first + 64].float()), g.t())      # [o, C, 6, 6]
        part = part.view(-1, in_channels, 36)
        if bf16:
            u[:, :, first:first + 64] = part.permute(2, 1, 0)
        else:
            u[:, first:first + 64] = part.permute(2, 0, 1)
    if bf16:
        return u
    u = u.view(36 * out_channels, in_channels, 1, 1)
    if input_shape is None:
        return u
    batch_size, _, height, width = input_shape
    samples, band = winograd_step(batch_size, height // 4, width // 4)
    return packed_conv2d_weight(u, (1, 36 * in_channels, samples * band * (width // 4), 1), groups=36)


def winograd_conv3x3(x: torch.Tensor, u: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
    """'Same' 3x3 correlation of `x * styles` with the kernels that `u` was made from (winograd_weights).

    Works tile by tile and channels-innermost (x is best channels-last), in steps of at most
    WINOGRAD_TILES_PER_STEP tiles (`winograd_step`), which stay in the CPU caches from the gathering of the
    6x6 tiles [tiles, 36, C] through the input transform and the products (`_winograd_products`) to the
    output transform (all the tiles at once had been up to 1.7x slower at 128 and 256 px). Returns the
    output as a strided view [N, H/4, 4, W/4, 4, O] (tile row, row in tile, tile column, column in tile,
    channel) for the caller's output pass to write out in channels-last order.
    """
    batch_size, in_channels, height, width = x.shape
    rows, cols = height // 4, width // 4
    out_channels = u.shape[-1] if u.dim() == 3 else u.shape[0] // 36
    input_transform = _WINOGRAD_INPUT_TRANSFORM.to(x.dtype)
    output_transform = _WINOGRAD_OUTPUT_TRANSFORM.to(x.dtype)
    # Overlapping 6x6 tiles, stride 4, gathered (and modulated) in one pass.
    padded = F.pad(x, [1, 1, 1, 1])
    s_n, s_c, s_h, s_w = padded.stride()
    tiles = padded.as_strided([batch_size, rows, cols, 6, 6, in_channels], [s_n, 4 * s_h, 4 * s_w, s_h, s_w, s_c])
    y = torch.empty([batch_size, rows, cols, 16, out_channels], dtype=x.dtype, device=x.device)
    samples, band = winograd_step(batch_size, rows, cols)
    gathered = torch.empty([samples, band, *tiles.shape[2:]], dtype=x.dtype, device=x.device)
    styles = styles.to(x.dtype).view(batch_size, 1, 1, 1, 1, in_channels)
    for first in range(0, batch_size, samples):
        for top in range(0, rows, band):
            torch.mul(tiles[first:first + samples, top:top + band], styles[first:first + samples], out=gathered)
            v = torch.matmul(input_transform, gathered.view(-1, 36, in_channels))
            step_out = y[first:first + samples, top:top + band].view(-1, 16, out_channels)
            torch.matmul(output_transform, _winograd_products(v, u), out=step_out)
    return y.view(batch_size, rows, cols, 4, 4, out_channels).transpose(2, 3)


def winograd_step(batch_size: int, rows: int, cols: int) -> Tuple[int, int]:
    """(samples, rows of tiles) that `winograd_conv3x3` transforms and multiplies together: as many as
    divide the batch (or a sample's rows) evenly and hold at most WINOGRAD_TILES_PER_STEP tiles; whole
    samples where one fits, else bands of rows of one sample (at least a row)."""
    if rows * cols <= WINOGRAD_TILES_PER_STEP:
        return _largest_divisor(batch_size, WINOGRAD_TILES_PER_STEP // (rows * cols)), rows
    return 1, _largest_divisor(rows, WINOGRAD_TILES_PER_STEP // cols)


def _largest_divisor(n: int, at_most: int) -> int:
    """The largest divisor of n that is at most `at_most` (1 if none is)."""
    return max(d for d in range(1, max(1, min(n, at_most)) + 1) if n % d == 0)


def _winograd_products(v: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The 36 matrix products of transformed tiles v [tiles, 36, C] and kernels u: [tiles, 36, O].

    In float32 one grouped 1x1 convolution in oneDNN (one group per tile position, channels-last), faster
    than the same products batched in MKL; in bfloat16 a batched matrix product, faster than oneDNN's
    bf16 grouped convolution.
    """
    if u.dim() == 3:
        return torch.bmm(v.transpose(0, 1), u).transpose(0, 1)
    tiles, _, in_channels = v.shape
    m = conv2d(v.view(1, tiles, 1, 36 * in_channels).permute(0, 3, 1, 2), u, groups=36)  # [1, 36 * O, tiles, 1]
    return m.permute(0, 2, 3, 1).view(tiles, 36, -1)


def packed_conv2d_weight(weight: torch.Tensor, input_shape: Sequence[int], padding: int = 0,
                         groups: int = 1) -> torch.Tensor:
    """`weight` reordered once into oneDNN's layout for convolving inputs of `input_shape` with `conv2d`.

    The weight itself where PyTorch has no oneDNN packing (`ONEDNN_PACKING`) or the weight is not on the CPU.
    """
    if not ONEDNN_PACKING or weight.device.type != "cpu":
        return weight
    return _onednn_conv2d_weight(weight, input_shape, padding, groups)


def _onednn_conv2d_weight(weight: torch.Tensor, input_shape: Sequence[int], padding: int,
                          groups: int) -> torch.Tensor:
    """The packing itself, unconditionally (`has_onednn_packing` tries it)."""
    return torch.ops.mkldnn._reorder_convolution_weight(weight, [padding] * 2, [1, 1], [1, 1], groups, list(input_shape))


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None, padding: int = 0,
           groups: int = 1) -> torch.Tensor:
    """F.conv2d (stride 1) that also takes a weight from `packed_conv2d_weight`."""
    if weight.is_mkldnn:
        return torch.ops.mkldnn._convolution_pointwise(x, weight, bias, [padding] * 2, [1, 1], [1, 1], groups,
                                                       "none", [], None)
    return F.conv2d(x, weight, bias, padding=padding, groups=groups)


def packed_conv_transpose2d_weight(weight: torch.Tensor, input_shape: Sequence[int], stride: int) -> torch.Tensor:
    """`packed_conv2d_weight` for `conv_transpose2d` (weight [C, O, k, k], no padding)."""
    if not ONEDNN_PACKING or weight.device.type != "cpu":
        return weight
    return _onednn_conv_transpose2d_weight(weight, input_shape, stride)


def _onednn_conv_transpose2d_weight(weight: torch.Tensor, input_shape: Sequence[int], stride: int) -> torch.Tensor:
    """The packing itself, unconditionally (`has_onednn_packing` tries it)."""
    return torch.ops.mkldnn._reorder_convolution_transpose_weight(weight, [0, 0], [0, 0], [stride] * 2, [1, 1], 1,
                                                                  list(input_shape))


def conv_transpose2d(x: torch.Tensor, weight: torch.Tensor, stride: int) -> torch.Tensor:
    """F.conv_transpose2d (no padding, no bias) that also takes a weight from `packed_conv_transpose2d_weight`."""
    if weight.is_mkldnn:
        return torch.ops.mkldnn._convolution_transpose_pointwise(x, weight, None, [0, 0], [0, 0], [stride] * 2,
                                                                 [1, 1], 1, "none", [], None)
    return F.conv_transpose2d(x, weight, stride=stride)


ONEDNN_PACKING = has_onednn_packing()  # Checked once, when the functions it tries are defined.


def output_pass(y: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor, noise: Optional[torch.Tensor],
                activation: str, clamp: Optional[float], out: torch.Tensor) -> torch.Tensor:
    """out = clamp(act(y * scale + bias + noise)): one write of `out`, then in-place passes over it.

    The caller folds the activation gain into scale, bias and noise; all must broadcast to `out`.
    """
    torch.addcmul(bias, y, scale, out=out)
    return activate_(out, noise, activation, clamp)


def activate_(x: torch.Tensor, noise: Optional[torch.Tensor], activation: str, clamp: Optional[float]) -> torch.Tensor:
    """x = clamp(act(x + noise)) in place: the end of `output_pass`, for a convolution that applied scale and bias."""
    if noise is not None:
        x.add_(noise)
    _INPLACE_ACTIVATIONS[activation](x)
    if clamp is not None:
        x.clamp_(-clamp, clamp)
    return x
