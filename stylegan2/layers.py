"""The small layers of the StyleGAN2 generator: equalised-lr linear layer, modulated conv layer, ToRGB.

Parameter and buffer names match NVlabs stylegan2-ada-pytorch so that its state dicts load unchanged.
Weights are stored unscaled ("equalised learning rate"): each layer multiplies by its gain when it runs.
"""
import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from . import inference, ops


class FullyConnectedLayer(torch.nn.Module):
    """Linear layer with equalised learning rate: y = act(x @ (W * gain).T + b * lr_multiplier)."""

    def __init__(self,
        in_features: int,                   # Number of input features.
        out_features: int,                  # Number of output features.
        bias: bool = True,                  # Add a learned bias before the activation?
        activation: str = "linear",         # 'linear', 'relu' or 'lrelu'.
        lr_multiplier: float = 1.0,         # Learning-rate multiplier the weights were trained with.
        bias_init: float = 0.0,             # Initial value of the bias.
    ):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.act_gain = ops.activation_gain(activation)
        self.weight = torch.nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = torch.nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"expected input [N, {self.in_features}], got {list(x.shape)}")
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias.to(x.dtype) * self.bias_gain if self.bias is not None else None
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return ops.bias_act(x.matmul(w.t()), b, self.activation, gain=self.act_gain)


class SynthesisLayer(torch.nn.Module):
    """Modulated 3x3 convolution (optionally upsampling 2x), per-pixel noise, bias, leaky ReLU, clamp.

    `forward(..., fast=True)` uses the CPU inference layouts of `inference` (the caller decides when).
    """

    def __init__(self,
        in_channels: int,                   # Number of input channels.
        out_channels: int,                  # Number of output channels.
        w_dim: int,                         # Dimensionality of the W latent that drives the style.
        resolution: int,                    # Output resolution of this layer.
        kernel_size: int = 3,               # Convolution kernel size.
        up: int = 1,                        # 2 = double the resolution.
        use_noise: bool = True,             # Add per-pixel noise?
        activation: str = "lrelu",          # 'linear', 'relu' or 'lrelu'.
        resample_filter: Sequence[float] = (1, 3, 3, 1),  # Low-pass filter taps for upsampling.
        conv_clamp: Optional[float] = None, # Clamp the output to +-conv_clamp, None = no clamping.
    ):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.resolution = resolution
        self.up = up
        self.use_noise = use_noise
        self.activation = activation
        self.act_gain = ops.activation_gain(activation)
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", ops.setup_filter(resample_filter))
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = torch.nn.Parameter(torch.zeros([]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.winograd = inference.use_winograd(in_channels, resolution, kernel_size, up)
        self.fast_path_supported = up == 1 or (kernel_size == 3 and len(resample_filter) == 4)
        self.cache = inference.WeightCache()

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const", fused: bool = True,
                fast: bool = False) -> torch.Tensor:
        in_resolution = self.resolution // self.up
        if x.shape[1:] != (self.in_channels, in_resolution, in_resolution):
            raise ValueError(f"expected input [N, {self.in_channels}, {in_resolution}, {in_resolution}], "
                             f"got {list(x.shape)}")
        styles = self.affine(w)
        noise = self._noise(x.shape[0], noise_mode, x.device)
        if fast and self.fast_path_supported:
            return self._forward_fast(x, styles, noise)
        x = ops.modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up,
                                 resample_filter=self.resample_filter, fused=fused)
        return ops.bias_act(x, self.bias.to(x.dtype), self.activation, gain=self.act_gain, clamp=self.conv_clamp)

    def _noise(self, batch_size: int, noise_mode: str, device: torch.device) -> Optional[torch.Tensor]:
        """[H, W] for 'const', [N, 1, H, W] for 'random', None for 'none' or a layer without noise."""
        if not self.use_noise or noise_mode == "none":
            return None
        if noise_mode == "random":
            noise = torch.randn([batch_size, 1, self.resolution, self.resolution], device=device)
            return noise * self.noise_strength
        return self.noise_const * self.noise_strength

    def _forward_fast(self, x: torch.Tensor, styles: torch.Tensor, noise: Optional[torch.Tensor]) -> torch.Tensor:
        """The same function as the reference path, in the CPU inference layouts (see `inference`)."""
        batch_size = x.shape[0]
        squared_norms = self.cache.get("squared_norms", self.weight, lambda w: w.square().sum(dim=[2, 3]))
        scale = (styles.square() @ squared_norms.t() + 1e-8).rsqrt() * self.act_gain  # demodulation [N, O]
        bias = self.bias * self.act_gain
        noise = noise * self.act_gain if noise is not None else None
        if self.winograd:
            u = self.cache.get("winograd", self.weight, lambda w: inference.winograd_weights(w, x.shape), x.shape)
            y = inference.winograd_conv3x3(x, u, styles)  # [N, H/4, 4, W/4, 4, O]
            out = torch.empty(y.shape, dtype=y.dtype, device=y.device)
            if noise is not None:
                noise = noise.reshape(-1, *y.shape[1:-1], 1)
            inference.output_pass(y, scale.view(batch_size, 1, 1, 1, 1, -1), bias, noise,
                                  self.activation, self.conv_clamp, out=out)
            return out.view(batch_size, self.resolution, self.resolution, -1).permute(0, 3, 1, 2)
        if _weight_is_smaller(x, self.weight):
            # Fold the styles and the demodulation into the weight and the bias into the convolution: the
            # output pass is then left only noise and activation.
            factors = scale.view(-1, 1) * styles.view(1, -1)  # [O, C]
            factors = factors if self.up == 1 else factors.t()  # the transposed weight is [C, O, k, k]
            y = self._conv(x, self._conv_weight() * factors[:, :, None, None], bias)
            return inference.activate_(y, noise, self.activation, self.conv_clamp)
        else:
            y = self._conv(x * styles.view(batch_size, -1, 1, 1), self._packed_conv_weight(x.shape))
        return inference.output_pass(y, scale.view(batch_size, -1, 1, 1), bias.view(1, -1, 1, 1), noise,
                                     self.activation, self.conv_clamp, out=y)

    def _conv_weight(self) -> torch.Tensor:
        """The weight `_conv` takes, channels-last: [O, C, k, k], or transposed to [C, O, k, k] for up=2."""
        if self.up == 1:
            return self.cache.get("channels_last", self.weight, _channels_last)
        return self.cache.get("transposed", self.weight, lambda w: _channels_last(w.transpose(0, 1)))

    def _packed_conv_weight(self, input_shape: torch.Size) -> torch.Tensor:
        """`_conv_weight` packed for inputs of `input_shape` (see `inference.packed_conv2d_weight`)."""
        if self.up == 1:
            return self.cache.get("packed", self.weight, lambda w: inference.packed_conv2d_weight(
                _channels_last(w), input_shape, padding=w.shape[-1] // 2), input_shape)
        return self.cache.get("packed", self.weight, lambda w: inference.packed_conv_transpose2d_weight(
            _channels_last(w.transpose(0, 1)), input_shape, stride=2), input_shape)

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        """'Same' convolution, or for up=2 the stride-2 transposed convolution followed by the low-pass filter.

        `weight` is `_conv_weight()`, scaled or packed.
        """
        if self.up == 1:
            return inference.conv2d(x, weight, bias, padding=self.weight.shape[-1] // 2)
        return self._lowpass(inference.conv_transpose2d(x, weight, stride=2), bias)

    def _lowpass(self, y: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The upsampling's low-pass filter, which also trims the transposed convolution's extra pixel."""
        lowpass = self.cache.get("lowpass", self.resample_filter,
                                 lambda f: (f * 4).flip([0, 1]).expand(self.out_channels, 1, 4, 4).contiguous())
        return F.conv2d(y, lowpass, bias, padding=1, groups=self.out_channels)


class ToRGBLayer(torch.nn.Module):
    """Modulated 1x1 convolution to image channels, without demodulation."""

    def __init__(self,
        in_channels: int,                   # Number of input channels.
        out_channels: int,                  # Number of image channels.
        w_dim: int,                         # Dimensionality of the W latent that drives the style.
        conv_clamp: Optional[float] = None, # Clamp the output to +-conv_clamp, None = no clamping.
    ):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)
        self.cache = inference.WeightCache()

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool = True, fast: bool = False) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        if fast:
            weight = self.cache.get("channels_last", self.weight, _channels_last)
            if _weight_is_smaller(x, weight):
                y = F.conv2d(x, weight * styles.view(1, -1, 1, 1), self.bias)
            else:
                y = F.conv2d(x * styles.view(*styles.shape, 1, 1), weight, self.bias)
            return y.clamp_(-self.conv_clamp, self.conv_clamp) if self.conv_clamp is not None else y
        x = ops.modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused)
        return ops.bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp)


def _channels_last(weight: torch.Tensor) -> torch.Tensor:
    """A weight in the memory format of channels-last activations, so oneDNN need not convert it per call."""
    return weight.contiguous(memory_format=torch.channels_last)


def _weight_is_smaller(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether to modulate the weight rather than the activations: one sample, whose weight has fewer elements."""
    return x.shape[0] == 1 and weight.numel() < x.numel()
