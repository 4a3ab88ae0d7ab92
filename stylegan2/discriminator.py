"""The StyleGAN2 discriminator: image (and optional label) -> one realness logit per image.

Constructor arguments and state_dict key names are those of NVlabs stylegan2-ada-pytorch
`training.networks.Discriminator` (`b64.fromrgb.weight`, `b64.conv0.weight`, `b64.skip.weight`,
`b4.conv.weight`, `b4.fc.weight`, `b4.out.weight`, ...), so NVIDIA's discriminators load unchanged and
give the same logits. Like the generator, weights are stored unscaled and scaled by their gain when used.
"""
import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from . import ops
from .layers import FullyConnectedLayer
from .networks import MappingNetwork

ARCHITECTURES = ("orig", "skip", "resnet")


class Conv2dLayer(torch.nn.Module):
    """Equalised-lr convolution, optionally halving the resolution (low-pass FIR filter, then stride 2),
    then bias, activation and clamp.

    `trainable=False` keeps weight and bias as buffers, out of `parameters()` (NVIDIA's Freeze-D).
    """

    def __init__(self,
        in_channels: int,                   # Number of input channels.
        out_channels: int,                  # Number of output channels.
        kernel_size: int,                   # Width and height of the kernel.
        bias: bool = True,                  # Add a learned bias before the activation?
        activation: str = "linear",         # 'linear', 'relu' or 'lrelu'.
        down: int = 1,                      # 2 = halve the resolution.
        resample_filter: Sequence[float] = (1, 3, 3, 1),  # Low-pass filter taps for downsampling.
        conv_clamp: Optional[float] = None, # Clamp the output to +-conv_clamp, None = no clamping.
        channels_last: bool = False,        # Keep the weight in the channels-last memory format?
        trainable: bool = True,             # Update this layer's weights in training?
    ):
        if down not in (1, 2):
            raise ValueError(f"down must be 1 or 2, got {down}")
        super().__init__()
        self.activation = activation
        self.act_gain = ops.activation_gain(activation)
        self.down = down
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", ops.setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        weight = torch.randn([out_channels, in_channels, kernel_size, kernel_size]).to(memory_format=memory_format)
        bias_value = torch.zeros([out_channels]) if bias else None
        if trainable:
            self.weight = torch.nn.Parameter(weight)
            self.bias = torch.nn.Parameter(bias_value) if bias else None
        else:
            self.register_buffer("weight", weight)
            self.register_buffer("bias", bias_value)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        if self.down == 1:
            x = F.conv2d(x, w, padding=self.padding)
        else:
            # Filter once with the padding both steps need, then let the convolution's stride drop pixels
            # (a 1x1 kernel: subsample first, so the convolution runs on a quarter of the pixels).
            taps = self.resample_filter.shape[-1]
            before, after = self.padding + (taps - 1) // 2, self.padding + (taps - 2) // 2
            if w.shape[-1] == 1:
                x = F.conv2d(ops.upfirdn2d(x, self.resample_filter, padding=[before, after] * 2, down=2), w)
            else:
                x = F.conv2d(ops.upfirdn2d(x, self.resample_filter, padding=[before, after] * 2), w, stride=2)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        bias = self.bias.to(x.dtype) if self.bias is not None else None
        return ops.bias_act(x, bias, self.activation, gain=self.act_gain * gain, clamp=clamp)


class DiscriminatorBlock(torch.nn.Module):
    """One resolution: [FromRGB], conv0, conv1 halving the resolution; 'resnet' adds a 1x1 skip path."""

    def __init__(self,
        in_channels: int,                   # Number of input channels, 0 = first block (reads the image).
        tmp_channels: int,                  # Number of channels inside the block.
        out_channels: int,                  # Number of output channels.
        resolution: int,                    # Resolution of this block's input.
        img_channels: int,                  # Number of image channels.
        first_layer_idx: int,               # Index of this block's first layer in the whole network.
        architecture: str = "resnet",       # 'orig', 'skip' or 'resnet'.
        activation: str = "lrelu",          # 'linear', 'relu' or 'lrelu'.
        resample_filter: Sequence[float] = (1, 3, 3, 1),  # Low-pass filter taps for downsampling.
        conv_clamp: Optional[float] = None, # Clamp conv outputs to +-conv_clamp, None = no clamping.
        use_fp16: bool = False,             # Run this block in fp16 on CUDA?
        fp16_channels_last: bool = False,   # Use the channels-last memory format when in fp16?
        freeze_layers: int = 0,             # Freeze-D: layers with a lower index are not trained.
    ):
        if in_channels not in (0, tmp_channels):
            raise ValueError(f"in_channels must be 0 or tmp_channels ({tmp_channels}), got {in_channels}")
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        self.img_channels = img_channels
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.channels_last = use_fp16 and fp16_channels_last
        self.register_buffer("resample_filter", ops.setup_filter(resample_filter))
        self.num_layers = 0

        def layer(*args, **kwargs) -> Conv2dLayer:
            trainable = first_layer_idx + self.num_layers >= freeze_layers
            self.num_layers += 1
            return Conv2dLayer(*args, trainable=trainable, channels_last=self.channels_last, **kwargs)

        if in_channels == 0 or architecture == "skip":
            self.fromrgb = layer(img_channels, tmp_channels, kernel_size=1, activation=activation,
                                 conv_clamp=conv_clamp)
        self.conv0 = layer(tmp_channels, tmp_channels, kernel_size=3, activation=activation, conv_clamp=conv_clamp)
        self.conv1 = layer(tmp_channels, out_channels, kernel_size=3, activation=activation, down=2,
                           resample_filter=resample_filter, conv_clamp=conv_clamp)
        if architecture == "resnet":
            self.skip = layer(tmp_channels, out_channels, kernel_size=1, bias=False, down=2,
                              resample_filter=resample_filter)

    def forward(self, x: Optional[torch.Tensor], img: Optional[torch.Tensor], dtype: torch.dtype):
        """Return (features in `dtype`, the image halved for the next block's FromRGB or None)."""
        channels_last = self.channels_last and dtype == torch.float16
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if x is not None:
            x = x.to(dtype=dtype, memory_format=memory_format)
        if self.in_channels == 0 or self.architecture == "skip":
            img = img.to(dtype=dtype, memory_format=memory_format)
            y = self.fromrgb(img)
            x = x + y if x is not None else y
            img = ops.downsample2d(img, self.resample_filter) if self.architecture == "skip" else None
        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
            x = y + x
        else:
            x = self.conv1(self.conv0(x))
        return x, img


class MinibatchStdLayer(torch.nn.Module):
    """Append the standard deviation of the features across a group of samples as extra channels.

    Samples are grouped as NVIDIA groups them: [N, ...] reshaped to [G, N/G, ...], so sample i is in
    group i mod N/G. The group holds min(group_size, N) samples; N must be a multiple of it.
    """

    def __init__(self, group_size: Optional[int], num_channels: int = 1):
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        group = min(self.group_size, n) if self.group_size is not None else n
        if n % group:
            raise ValueError(f"the minibatch standard deviation needs a batch that is a multiple of {group} "
                             f"(mbstd_group_size {self.group_size}), got {n} images")
        f = self.num_channels
        y = x.reshape(group, -1, f, c // f, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0)      # variance over the group [n, F, c, H, W]
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])           # mean standard deviation [n, F]
        y = y.reshape(-1, f, 1, 1).repeat(group, 1, h, w)   # [N, F, H, W]
        return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(torch.nn.Module):
    """The 4x4 head: [FromRGB], minibatch std, conv, fully connected, output (projected on the label map)."""

    def __init__(self,
        in_channels: int,                   # Number of input channels.
        cmap_dim: int,                      # Dimensionality of the mapped label, 0 = unconditional.
        resolution: int,                    # Resolution of this block (4).
        img_channels: int,                  # Number of image channels.
        architecture: str = "resnet",       # 'orig', 'skip' or 'resnet'.
        mbstd_group_size: Optional[int] = 4,  # Group size of the minibatch std layer, None = whole batch.
        mbstd_num_channels: int = 1,        # Channels of the minibatch std layer, 0 = no such layer.
        activation: str = "lrelu",          # 'linear', 'relu' or 'lrelu'.
        conv_clamp: Optional[float] = None, # Clamp conv outputs to +-conv_clamp, None = no clamping.
    ):
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        super().__init__()
        self.in_channels = in_channels
        self.cmap_dim = cmap_dim
        self.resolution = resolution
        self.architecture = architecture
        if architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, in_channels, kernel_size=1, activation=activation)
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, kernel_size=3, activation=activation,
                                conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels, activation=activation)
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, img: Optional[torch.Tensor], cmap: Optional[torch.Tensor]) -> torch.Tensor:
        x = x.to(dtype=torch.float32, memory_format=torch.contiguous_format)
        if self.architecture == "skip":
            x = x + self.fromrgb(img.to(dtype=torch.float32, memory_format=torch.contiguous_format))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.out(self.fc(self.conv(x).flatten(1)))
        if self.cmap_dim > 0:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x


class Discriminator(torch.nn.Module):
    """StyleGAN2 discriminator: images [N, C, H, W] in about [-1, 1] (and labels [N, c_dim]) -> logits [N, 1]."""

    def __init__(self,
        c_dim: int,                             # Conditioning label (C) dimensionality, 0 = unconditional.
        img_resolution: int,                    # Input resolution, a power of two >= 8.
        img_channels: int,                      # Number of image channels.
        architecture: str = "resnet",           # 'orig', 'skip' or 'resnet'.
        channel_base: int = 32768,              # Channels at resolution r: min(channel_base // r, channel_max).
        channel_max: int = 512,                 # Upper bound of that rule.
        num_fp16_res: int = 0,                  # Run the N highest resolutions in fp16 on CUDA.
        conv_clamp: Optional[float] = None,     # Clamp conv outputs to +-conv_clamp, None = no clamping.
        cmap_dim: Optional[int] = None,         # Dimensionality of the mapped label, None = channels at 4x4.
        block_kwargs: Optional[dict] = None,    # Arguments for DiscriminatorBlock (freeze_layers, ...).
        mapping_kwargs: Optional[dict] = None,  # Arguments for the label's MappingNetwork.
        epilogue_kwargs: Optional[dict] = None, # Arguments for DiscriminatorEpilogue (mbstd_group_size, ...).
    ):
        if img_resolution < 8 or img_resolution & (img_resolution - 1):
            raise ValueError(f"img_resolution must be a power of two >= 8, got {img_resolution}")
        super().__init__()
        self.c_dim = c_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.init_kwargs = dict(c_dim=c_dim, img_resolution=img_resolution, img_channels=img_channels,
                                architecture=architecture, channel_base=channel_base, channel_max=channel_max,
                                num_fp16_res=num_fp16_res, conv_clamp=conv_clamp, cmap_dim=cmap_dim,
                                block_kwargs=dict(block_kwargs or {}), mapping_kwargs=dict(mapping_kwargs or {}),
                                epilogue_kwargs=dict(epilogue_kwargs or {}))
        self.block_resolutions = [2 ** i for i in range(img_resolution.bit_length() - 1, 2, -1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions + [4]}
        if min(channels.values()) <= 0:
            raise ValueError(f"channel_base {channel_base} leaves no channels at some resolution: {channels}")
        fp16_resolution = max(2 * img_resolution // 2 ** num_fp16_res, 8)
        cmap_dim = 0 if c_dim == 0 else (channels[4] if cmap_dim is None else cmap_dim)
        common = dict(img_channels=img_channels, architecture=architecture, conv_clamp=conv_clamp)
        layer_idx = 0
        for res in self.block_resolutions:
            block = DiscriminatorBlock(channels[res] if res < img_resolution else 0, channels[res], channels[res // 2],
                                       resolution=res, first_layer_idx=layer_idx, use_fp16=res >= fp16_resolution,
                                       **(block_kwargs or {}), **common)
            setattr(self, f"b{res}", block)
            layer_idx += block.num_layers
        if c_dim > 0:
            # NVIDIA's label mapping outputs one w; StyleCam's MappingNetwork broadcasts, so it gets num_ws=1.
            self.mapping = MappingNetwork(z_dim=0, c_dim=c_dim, w_dim=cmap_dim, num_ws=1, w_avg_beta=None,
                                          **(mapping_kwargs or {}))
        self.b4 = DiscriminatorEpilogue(channels[4], cmap_dim=cmap_dim, resolution=4, **(epilogue_kwargs or {}),
                                        **common)

    def forward(self, img: torch.Tensor, c: Optional[torch.Tensor] = None, force_fp32: bool = False,
                fp16_on_cpu: bool = False) -> torch.Tensor:
        """Logits [N, 1]. fp16 blocks run in fp16 only on CUDA (or on the CPU when `fp16_on_cpu`, for
        testing) unless `force_fp32`; the epilogue is always fp32."""
        expected = (self.img_channels, self.img_resolution, self.img_resolution)
        if img.ndim != 4 or tuple(img.shape[1:]) != expected:
            raise ValueError(f"expected images [N, {', '.join(map(str, expected))}], got {list(img.shape)}")
        fp16_allowed = not force_fp32 and (img.device.type == "cuda" or fp16_on_cpu)
        x = None
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            x, img = block(x, img, dtype=torch.float16 if block.use_fp16 and fp16_allowed else torch.float32)
        cmap = self.mapping(None, c)[:, 0] if self.c_dim > 0 else None
        return self.b4(x, img, cmap)
