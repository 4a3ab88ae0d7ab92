"""The small layers of the StyleGAN2 generator: equalised-lr linear layer, modulated conv layer, ToRGB.

Parameter and buffer names match NVlabs stylegan2-ada-pytorch so that its state dicts load unchanged.
Weights are stored unscaled ("equalised learning rate"): each layer multiplies by its gain when it runs.
"""
import math
from typing import Optional, Sequence

import torch

from . import ops


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
    """Modulated 3x3 convolution (optionally upsampling 2x), per-pixel noise, bias, leaky ReLU, clamp."""

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

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const", fused: bool = True) -> torch.Tensor:
        in_resolution = self.resolution // self.up
        if x.shape[1:] != (self.in_channels, in_resolution, in_resolution):
            raise ValueError(f"expected input [N, {self.in_channels}, {in_resolution}, {in_resolution}], "
                             f"got {list(x.shape)}")
        styles = self.affine(w)
        noise = self.noise(x.shape[0], noise_mode, x.device)
        x = ops.modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up,
                                 resample_filter=self.resample_filter, fused=fused)
        return ops.bias_act(x, self.bias.to(x.dtype), self.activation, gain=self.act_gain, clamp=self.conv_clamp)

    def noise(self, batch_size: int, noise_mode: str, device: torch.device) -> Optional[torch.Tensor]:
        """[H, W] for 'const', [N, 1, H, W] for 'random', None for 'none' or a layer without noise."""
        if not self.use_noise or noise_mode == "none":
            return None
        if noise_mode == "random":
            noise = torch.randn([batch_size, 1, self.resolution, self.resolution], device=device)
            return noise * self.noise_strength
        return self.noise_const * self.noise_strength


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

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool = True) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = ops.modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused)
        return ops.bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp)
