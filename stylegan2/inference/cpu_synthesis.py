"""StyleGAN2 synthesis in the fastest layout for a CPU, for a generator whose weights no longer change.

It computes the function of `networks.SynthesisNetwork` (NVIDIA's layout; the tests hold the two to
about 2e-5 of the image range) with less work, because on a CPU nearly all the time goes into the
convolutions and into passes over memory:

- Everything derived from the weights is computed once, when the layout is built: the style affines'
  scaled weights, demodulation norms, Winograd kernels, transposed and channels-last weights, filters,
  the constant noise (with its strength and gain). Weights packed
  for oneDNN are made at the first call with an input shape (packing depends on it), and kept for it.
- Activations are kept channels-last, in which oneDNN runs the transposed and depthwise convolutions
  several times faster.
- For a single sample whose weight is smaller than its activations (the high resolutions), styles and
  demodulation are folded into the weight and the bias into the convolution, which saves a pass over
  the output; in an upsampling layer they go into the per-channel low-pass filter after the transposed
  convolution instead, whose weight then stays packed; otherwise demodulation, bias, noise and
  activation are one pass (`cpu_ops.output_pass`).
- In bfloat16 (``dtype=torch.bfloat16``, for CPUs with AVX512-BF16 or AMX) the activations and the
  convolution weights are bf16 and oneDNN accumulates in fp32; styles and demodulation are computed in
  fp32 and the image is summed in fp32. Winograd's 36 products are then one batched bf16 matrix
  product (`cpu_ops.winograd_conv3x3`): 1.3-2x faster than oneDNN's direct bf16 convolution at 32-128 px
  on the development CPU, at a cost of 1.5-3 dB of the image's PSNR against fp32 (53-54 dB remain).
- A batch runs together until a block's features for the whole batch would pass BATCH_MAX_BYTES, then
  one sample at a time: as fast (measured at 256 and 512 px, batch 8), and the memory stays that of one
  sample (a batch of 8 at 512 px in fp32 grew the process by 0.8 GB instead of 3.0 GB).

The layout reads the network's tensors when it is built: after changing the weights, build it again.
It runs without autograd only (`InferenceGenerator` calls it under `torch.inference_mode`).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F

from .. import ops
from ..layers import FullyConnectedLayer, SynthesisLayer, ToRGBLayer
from ..networks import SynthesisBlock, SynthesisNetwork, check_noise_mode
from . import cpu_ops

BATCH_MAX_BYTES = 64 * 2**20  # Above this a batch's features render one sample at a time.


class Affine:
    """A style affine layer (`FullyConnectedLayer`, linear) with its gains applied once, and an extra
    ``gain`` folded in: styles = gain * (w @ W^T * weight_gain + b * bias_gain)."""

    def __init__(self, layer: FullyConnectedLayer, gain: float = 1.0) -> None:
        if layer.activation != "linear" or layer.bias is None:
            raise ValueError("a style affine layer is linear with a bias")
        self.weight_t = (layer.weight.detach() * (layer.weight_gain * gain)).t().contiguous()
        self.bias = layer.bias.detach() * (layer.bias_gain * gain)

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, w, self.weight_t)


class CpuSynthesisLayer:
    """`SynthesisLayer` in the CPU layout: modulated 3x3 conv (maybe 2x up), noise, bias, activation, clamp.

    Activations are ``dtype`` (float32 or bfloat16) in and out.
    """

    def __init__(self, layer: SynthesisLayer, dtype: torch.dtype = torch.float32) -> None:
        weight = layer.weight.detach()
        self.layer = layer                       # Its noise mode handling and settings.
        self.dtype = dtype
        self.affine = Affine(layer.affine)
        self.up = layer.up
        self.resolution = layer.resolution
        self.activation = layer.activation
        self.conv_clamp = layer.conv_clamp
        self.padding = weight.shape[-1] // 2
        self.act_gain = layer.act_gain
        self.squared_norms = weight.square().sum(dim=[2, 3])           # [O, C]: the demodulation's sums.
        self.bias = (layer.bias.detach() * layer.act_gain).to(dtype)
        self.winograd = cpu_ops.use_winograd(layer.in_channels, layer.resolution, weight.shape[-1], layer.up)
        # The weight `conv` takes, channels-last: [O, C, k, k], or transposed to [C, O, k, k] for up=2; in
        # float32 for folding styles into it, and in the activations' dtype.
        self.conv_weight = _channels_last(weight if layer.up == 1 else weight.transpose(0, 1))
        self.conv_weight_lowp = self.conv_weight.to(dtype)
        self.weight = weight
        if layer.up == 2:
            taps = layer.resample_filter.shape[-1]
            self.lowpass = (layer.resample_filter * 4).flip([0, 1]).expand(layer.out_channels, 1, taps, taps)
            self.lowpass = self.lowpass.contiguous().to(dtype)
        self._packed: Tuple[Optional[torch.Size], Optional[torch.Tensor]] = (None, None)
        # The constant noise image times its strength and the activation gain, made once.
        self.const_noise = self._scaled_noise(1, "const", weight.device)

    @staticmethod
    def supports(layer: SynthesisLayer) -> bool:
        """Upsampling layers only in the released shape: 3x3 kernels with a 4-tap filter."""
        return layer.up == 1 or (layer.weight.shape[-1] == 3 and layer.resample_filter.shape[-1] == 4)

    def __call__(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str) -> torch.Tensor:
        batch_size = x.shape[0]
        styles = self.affine(w)
        noise = self._noise(batch_size, noise_mode, x.device)
        scale = (styles.square() @ self.squared_norms.t() + 1e-8).rsqrt() * self.act_gain  # demodulation [N, O]
        if self.winograd:
            y = cpu_ops.winograd_conv3x3(x, self._packed_weight(x.shape), styles)  # [N, H/4, 4, W/4, 4, O]
            out = torch.empty(y.shape, dtype=y.dtype, device=y.device)
            if noise is not None:
                noise = noise.reshape(-1, *y.shape[1:-1], 1)
            cpu_ops.output_pass(y, scale.to(self.dtype).view(batch_size, 1, 1, 1, 1, -1), self.bias, noise,
                                self.activation, self.conv_clamp, out=out)
            return out.view(batch_size, self.resolution, self.resolution, -1).permute(0, 3, 1, 2)
        if self.up == 2 and batch_size == 1:
            # Demodulation and bias move into the low-pass filter that follows the transposed convolution
            # (both act per channel, and the filter is per channel): the weight stays packed, and no pass
            # over the output is needed for them.
            y = cpu_ops.conv_transpose2d(x * styles.to(self.dtype).view(1, -1, 1, 1), self._packed_weight(x.shape),
                                         stride=2)
            lowpass = self.lowpass * scale.to(self.dtype).view(-1, 1, 1, 1)
            y = F.conv2d(y, lowpass, self.bias, padding=1, groups=lowpass.shape[0])
            return cpu_ops.activate_(y, noise, self.activation, self.conv_clamp)
        if self.up == 1 and _weight_is_smaller(x, self.weight):
            # Styles and demodulation folded into the weight, the bias into the convolution: the output
            # pass is then left only noise and activation.
            factors = scale.view(-1, 1) * styles.view(1, -1)  # [O, C]
            weight = (self.conv_weight * factors[:, :, None, None]).to(self.dtype)
            y = self._conv(x, cpu_ops.packed_conv2d_weight(weight, x.shape, padding=self.padding), self.bias)
            return cpu_ops.activate_(y, noise, self.activation, self.conv_clamp)
        y = self._conv(x * styles.to(self.dtype).view(batch_size, -1, 1, 1), self._packed_weight(x.shape))
        return cpu_ops.output_pass(y, scale.to(self.dtype).view(batch_size, -1, 1, 1), self.bias.view(1, -1, 1, 1),
                                   noise, self.activation, self.conv_clamp, out=y)

    def _noise(self, batch_size: int, noise_mode: str, device: torch.device) -> Optional[torch.Tensor]:
        """The noise to add, times the activation gain, in the activations' dtype (None for none)."""
        if noise_mode == "const":
            return self.const_noise
        return self._scaled_noise(batch_size, noise_mode, device)

    def _scaled_noise(self, batch_size: int, noise_mode: str, device: torch.device) -> Optional[torch.Tensor]:
        noise = self.layer.noise(batch_size, noise_mode, device)
        return (noise * self.act_gain).to(self.dtype) if noise is not None else None

    def _packed_weight(self, input_shape: torch.Size) -> torch.Tensor:
        """The convolution's weight packed for inputs of `input_shape` (the Winograd kernels for Winograd
        layers); packed again only when the input shape changes, and never for bf16 Winograd kernels,
        which are plain matrices that any input takes."""
        shape, packed = self._packed
        if packed is not None and (shape == input_shape or (self.winograd and self.dtype == torch.bfloat16)):
            return packed
        if self.winograd:
            packed = cpu_ops.winograd_weights(self.weight, input_shape, self.dtype)
        elif self.up == 1:
            packed = cpu_ops.packed_conv2d_weight(self.conv_weight_lowp, input_shape, padding=self.padding)
        else:
            packed = cpu_ops.packed_conv_transpose2d_weight(self.conv_weight_lowp, input_shape, stride=2)
        self._packed = (input_shape, packed)
        return packed

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        """'Same' convolution, or for up=2 the stride-2 transposed convolution followed by the low-pass
        filter, which also trims the transposed convolution's extra pixel."""
        if self.up == 1:
            return cpu_ops.conv2d(x, weight, bias, padding=self.padding)
        y = cpu_ops.conv_transpose2d(x, weight, stride=2)
        return F.conv2d(y, self.lowpass, bias, padding=1, groups=self.lowpass.shape[0])


class CpuToRGB:
    """`ToRGBLayer` in the CPU layout: modulated 1x1 conv without demodulation, bias in the conv, clamp.

    Takes activations in ``dtype``, returns a float32 image.
    """

    def __init__(self, layer: ToRGBLayer, dtype: torch.dtype = torch.float32) -> None:
        self.layer = layer
        self.dtype = dtype
        self.affine = Affine(layer.affine, gain=layer.weight_gain)
        self.weight = _channels_last(layer.weight.detach())
        self.bias = layer.bias.detach().to(dtype)

    def __call__(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        if _weight_is_smaller(x, self.weight):
            y = F.conv2d(x, (self.weight * styles.view(1, -1, 1, 1)).to(self.dtype), self.bias)
        else:
            y = F.conv2d(x * styles.to(self.dtype).view(*styles.shape, 1, 1), self.weight.to(self.dtype), self.bias)
        y = y.float()
        clamp = self.layer.conv_clamp
        return y.clamp_(-clamp, clamp) if clamp is not None else y


class CpuSynthesisBlock:
    """`SynthesisBlock` in the CPU layout: channels-last features in ``dtype``, the image in float32."""

    def __init__(self, block: SynthesisBlock, dtype: torch.dtype = torch.float32) -> None:
        self.block = block
        self.resolution = block.resolution
        self.const = block.const.detach().to(dtype) if block.in_channels == 0 else None
        self.conv0 = _layer(block.conv0, dtype) if block.in_channels != 0 else None
        self.conv1 = _layer(block.conv1, dtype)
        self.torgb = CpuToRGB(block.torgb, dtype) if block.num_torgb else None

    def __call__(self, x: Optional[torch.Tensor], img: Optional[torch.Tensor], ws: torch.Tensor,
                 noise_mode: str) -> Tuple[torch.Tensor, torch.Tensor]:
        w_iter = iter(ws.unbind(dim=1))
        if self.conv0 is None:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
        else:
            x = self.conv0(x.contiguous(memory_format=torch.channels_last), next(w_iter), noise_mode)
        x = self.conv1(x.contiguous(memory_format=torch.channels_last), next(w_iter), noise_mode)
        if img is not None:
            img = ops.upsample2d(img, self.block.resample_filter)
        if self.torgb is not None:
            y = self.torgb(x, next(w_iter)).contiguous()
            img = img + y if img is not None else y
        return x, img


class CpuSynthesis:
    """`SynthesisNetwork` in the CPU layout: ws [N, num_ws, w_dim] -> float32 images [N, C, R, R].

    ``dtype``: the activations' and convolutions' precision, torch.float32 or torch.bfloat16.
    """

    def __init__(self, synthesis: SynthesisNetwork, dtype: torch.dtype = torch.float32) -> None:
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"the CPU layout runs in float32 or bfloat16, not {dtype}")
        self.synthesis = synthesis
        self.dtype = dtype
        self.blocks = [CpuSynthesisBlock(getattr(synthesis, f"b{res}"), dtype)
                       for res in synthesis.block_resolutions]

    def __call__(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        check_noise_mode(noise_mode)
        stages = list(zip(self.blocks, (block_ws for _, block_ws in self.synthesis.block_ws(ws))))
        # The first block (from the constant input) runs batched: it is the smallest, and it makes the batch.
        split = next((i for i in range(1, len(stages)) if self._batch_bytes(stages[i][0], len(ws)) > BATCH_MAX_BYTES),
                     len(stages))
        x, img = _run(stages[:split], None, None, slice(None), noise_mode)
        if split == len(stages):
            return img
        return torch.cat([_run(stages[split:], x[i:i + 1], img[i:i + 1], slice(i, i + 1), noise_mode)[1]
                          for i in range(len(ws))])

    def _batch_bytes(self, block: CpuSynthesisBlock, batch_size: int) -> int:
        """The size of a block's output features for the whole batch."""
        channels = block.conv1.layer.out_channels if isinstance(block.conv1, CpuSynthesisLayer) else 0
        return batch_size * channels * block.resolution ** 2 * torch.finfo(self.dtype).bits // 8


def _run(stages: List[Tuple[CpuSynthesisBlock, torch.Tensor]], x: Optional[torch.Tensor],
         img: Optional[torch.Tensor], samples: slice, noise_mode: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """Run (block, block_ws) stages on the samples `samples` of the ws; returns (features, image)."""
    for block, block_ws in stages:
        x, img = block(x, img, block_ws[samples], noise_mode)
    return x, img


def _layer(layer: SynthesisLayer, dtype: torch.dtype):
    """The layer in the CPU layout, or the layer itself (NVIDIA's layout, in float32) where that layout has
    no form."""
    if CpuSynthesisLayer.supports(layer):
        return CpuSynthesisLayer(layer, dtype)
    return lambda x, w, noise_mode: layer(x.float(), w, noise_mode=noise_mode, fused=True).to(dtype)


def _channels_last(weight: torch.Tensor) -> torch.Tensor:
    """A weight in the memory format of channels-last activations, so oneDNN need not convert it per call."""
    return weight.contiguous(memory_format=torch.channels_last)


def _weight_is_smaller(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether to modulate the weight rather than the activations: one sample, whose weight has fewer elements."""
    return x.shape[0] == 1 and weight.numel() < x.numel()
