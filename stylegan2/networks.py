"""The StyleGAN2 generator: mapping network (z -> w) and "skip" synthesis network (w+ -> image).

Constructor arguments and state_dict key names are those of NVlabs stylegan2-ada-pytorch
`training.networks.Generator`, so its weights load with `load_state_dict(..., strict=True)`.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from . import ops
from .layers import FullyConnectedLayer, SynthesisLayer, ToRGBLayer

NOISE_MODES = ("const", "random", "none")


class MappingNetwork(torch.nn.Module):
    """z (and an optional class label c) -> w, broadcast to every synthesis layer, with truncation."""

    def __init__(self,
        z_dim: int,                             # Input latent (Z) dimensionality, 0 = no latent.
        c_dim: int,                             # Conditioning label (C) dimensionality, 0 = no label.
        w_dim: int,                             # Intermediate latent (W) dimensionality.
        num_ws: int,                            # Number of copies of w to output.
        num_layers: int = 8,                    # Number of fully connected layers.
        embed_features: Optional[int] = None,   # Label embedding dimensionality, None = w_dim.
        layer_features: Optional[int] = None,   # Width of the hidden layers, None = w_dim.
        activation: str = "lrelu",              # 'linear', 'relu' or 'lrelu'.
        lr_multiplier: float = 0.01,            # Learning-rate multiplier the layers were trained with.
        w_avg_beta: Optional[float] = 0.995,    # Decay of the tracked average of w, None = no w_avg.
    ):
        super().__init__()
        if z_dim + c_dim <= 0:
            raise ValueError("the mapping network needs z_dim > 0 or c_dim > 0")
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        embed_features = (w_dim if embed_features is None else embed_features) if c_dim > 0 else 0
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            layer = FullyConnectedLayer(features[idx], features[idx + 1], activation=activation,
                                        lr_multiplier=lr_multiplier)
            setattr(self, f"fc{idx}", layer)
        if w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: Optional[torch.Tensor], c: Optional[torch.Tensor] = None, truncation_psi: float = 1.0,
                truncation_cutoff: Optional[int] = None) -> torch.Tensor:
        """Return ws [N, num_ws, w_dim]; truncation pulls the first `truncation_cutoff` (all if None) to w_avg."""
        parts = []
        if self.z_dim > 0:
            _check_matrix("z", z, self.z_dim)
            parts.append(ops.normalize_2nd_moment(z.to(torch.float32)))
        if self.c_dim > 0:
            _check_matrix("c", c, self.c_dim)
            parts.append(ops.normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            if self.w_avg_beta is None:
                raise ValueError("truncation needs w_avg, but this mapping network does not track it")
            cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws[:, :cutoff] = self.w_avg.lerp(ws[:, :cutoff], truncation_psi)
        return ws


class SynthesisBlock(torch.nn.Module):
    """One resolution of the synthesis network: [upsampling conv0], conv1, ToRGB added to the upsampled image."""

    def __init__(self,
        in_channels: int,                       # Number of input channels, 0 = first block (learned constant).
        out_channels: int,                      # Number of output channels.
        w_dim: int,                             # Intermediate latent (W) dimensionality.
        resolution: int,                        # Resolution of this block.
        img_channels: int,                      # Number of image channels.
        is_last: bool,                          # Is this the highest resolution?
        architecture: str = "skip",             # 'skip' (released models) or 'orig'.
        resample_filter: Sequence[float] = (1, 3, 3, 1),  # Low-pass filter taps for upsampling.
        conv_clamp: Optional[float] = None,     # Clamp conv outputs to +-conv_clamp, None = no clamping.
        use_fp16: bool = False,                 # Run this block in fp16 on CUDA?
        fp16_channels_last: bool = False,       # Use the channels-last memory format when in fp16?
        **layer_kwargs,                         # Arguments for SynthesisLayer (kernel_size, use_noise, ...).
    ):
        if architecture not in ("skip", "orig"):
            raise NotImplementedError(f"synthesis architecture {architecture!r} is not supported "
                                      "(only 'skip', used by every released StyleGAN2 model, and 'orig')")
        super().__init__()
        self.in_channels = in_channels
        self.w_dim = w_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.is_last = is_last
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.channels_last = use_fp16 and fp16_channels_last
        self.register_buffer("resample_filter", ops.setup_filter(resample_filter))
        self.num_conv = 0
        self.num_torgb = 0
        if in_channels == 0:
            self.const = torch.nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim=w_dim, resolution=resolution, up=2,
                                        resample_filter=resample_filter, conv_clamp=conv_clamp, **layer_kwargs)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim=w_dim, resolution=resolution,
                                    conv_clamp=conv_clamp, **layer_kwargs)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1

    def forward(self, x: Optional[torch.Tensor], img: Optional[torch.Tensor], ws: torch.Tensor,
                dtype: torch.dtype, noise_mode: str, fused: bool):
        """Return (features in `dtype`, image in float32); `ws` holds this block's num_conv + num_torgb ws."""
        w_iter = iter(ws.unbind(dim=1))
        channels_last = self.channels_last and dtype == torch.float16
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        layer_kwargs = dict(noise_mode=noise_mode, fused=fused)
        if self.in_channels == 0:
            x = self.const.to(dtype=dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
        else:
            x = x.to(dtype=dtype)
            x = self.conv0(x.to(memory_format=memory_format), next(w_iter), **layer_kwargs)
        x = self.conv1(x.to(memory_format=memory_format), next(w_iter), **layer_kwargs)
        if img is not None:
            img = ops.upsample2d(img, self.resample_filter)
        if self.num_torgb:
            y = self.torgb(x, next(w_iter), fused=fused)
            y = y.to(dtype=torch.float32, memory_format=torch.contiguous_format)
            img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(torch.nn.Module):
    """ws [N, num_ws, w_dim] -> image [N, img_channels, img_resolution, img_resolution]."""

    def __init__(self,
        w_dim: int,                             # Intermediate latent (W) dimensionality.
        img_resolution: int,                    # Output resolution, a power of two >= 4.
        img_channels: int,                      # Number of image channels.
        channel_base: int = 32768,              # Channels at resolution r: min(channel_base // r, channel_max).
        channel_max: int = 512,                 # Upper bound of that rule.
        num_fp16_res: int = 0,                  # Run the N highest resolutions in fp16 on CUDA.
        channels: Optional[Dict[Union[int, str], int]] = None,  # {resolution: width} overriding the rule.
        **block_kwargs,                         # Arguments for SynthesisBlock (architecture, conv_clamp, ...).
    ):
        if img_resolution < 4 or img_resolution & (img_resolution - 1):
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.block_resolutions = [2 ** i for i in range(2, img_resolution.bit_length())]
        self.channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        self.channels.update(_parse_channels(channels, self.block_resolutions))
        if min(self.channels.values()) <= 0:
            raise ValueError(f"channel_base {channel_base} leaves no channels at some resolution: {self.channels}")
        fp16_resolution = max(2 * img_resolution // 2 ** num_fp16_res, 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            is_last = res == img_resolution
            block = SynthesisBlock(self.channels[res // 2] if res > 4 else 0, self.channels[res], w_dim=w_dim,
                                   resolution=res, img_channels=img_channels, is_last=is_last,
                                   use_fp16=res >= fp16_resolution,
                                   **block_kwargs)
            self.num_ws += block.num_conv + (block.num_torgb if is_last else 0)
            setattr(self, f"b{res}", block)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", force_fp32: bool = False,
                fp16_on_cpu: bool = False, fused_modconv: Optional[bool] = None) -> torch.Tensor:
        """Render ws to float32 images in about [-1, 1], in NVIDIA's layout.

        fp16 blocks run in fp16 only on CUDA (or on the CPU when `fp16_on_cpu`, for testing) unless
        `force_fp32`. `fused_modconv` picks between per-sample weights (True) and scaled activations
        (False), None = as NVlabs. (Rendering without gradients has faster layouts: `stylegan2.inference`.)
        """
        check_noise_mode(noise_mode)
        fp16_allowed = not force_fp32 and (ws.device.type == "cuda" or fp16_on_cpu)
        x = img = None
        for block, block_ws in self.block_ws(ws):
            dtype = torch.float16 if block.use_fp16 and fp16_allowed else torch.float32
            fused = fused_modconv if fused_modconv is not None else (dtype == torch.float32 or len(block_ws) == 1)
            x, img = block(x, img, block_ws, dtype=dtype, noise_mode=noise_mode, fused=fused)
        return img

    def block_ws(self, ws: torch.Tensor) -> List[Tuple["SynthesisBlock", torch.Tensor]]:
        """Each block with its slice of `ws` (checked, as float32): a block's ToRGB shares its w with the
        next block's first conv."""
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"expected ws [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        ws = ws.to(torch.float32)
        stages, w_idx = [], 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            stages.append((block, ws.narrow(1, w_idx, block.num_conv + block.num_torgb)))
            w_idx += block.num_conv
        return stages


class Generator(torch.nn.Module):
    """StyleGAN2 generator: z -> mapping -> ws -> synthesis -> image (NVlabs constructor and key names)."""

    architecture = "stylegan2"
    has_noise = True  # Per-pixel noise inputs (noise_const buffers), chosen by noise_mode; StyleGAN3 has none.

    def __init__(self,
        z_dim: int,                             # Input latent (Z) dimensionality.
        c_dim: int,                             # Conditioning label (C) dimensionality, 0 = unconditional.
        w_dim: int,                             # Intermediate latent (W) dimensionality.
        img_resolution: int,                    # Output resolution.
        img_channels: int,                      # Number of output color channels.
        mapping_kwargs: Optional[dict] = None,  # Arguments for MappingNetwork.
        synthesis_kwargs: Optional[dict] = None,  # Arguments for SynthesisNetwork.
    ):
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        mapping_kwargs = dict(mapping_kwargs or {})
        synthesis_kwargs = dict(synthesis_kwargs or {})
        if synthesis_kwargs.get("channels") is not None:
            synthesis_kwargs["channels"] = {str(k): int(v) for k, v in synthesis_kwargs["channels"].items()}
        self.init_kwargs = copy.deepcopy(dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim,
                                              img_resolution=img_resolution, img_channels=img_channels,
                                              mapping_kwargs=mapping_kwargs,
                                              synthesis_kwargs=synthesis_kwargs))
        self.synthesis = SynthesisNetwork(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                                          **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws,
                                      **mapping_kwargs)

    def forward(self, z: torch.Tensor, c: Optional[torch.Tensor] = None, truncation_psi: float = 1.0,
                truncation_cutoff: Optional[int] = None, noise_mode: str = "const", **synthesis_kwargs,
                ) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, **synthesis_kwargs)


def check_noise_mode(noise_mode: str) -> None:
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")


def _check_matrix(name: str, value: Optional[torch.Tensor], features: int) -> None:
    if value is None or value.ndim != 2 or value.shape[1] != features:
        shape = None if value is None else list(value.shape)
        raise ValueError(f"expected {name} of shape [N, {features}], got {shape}")


def _parse_channels(channels: Optional[dict], resolutions: Sequence[int]) -> Dict[int, int]:
    """Validate an explicit {resolution: width} table (keys may be str, as after a JSON round trip)."""
    parsed = {}
    for key, width in (channels or {}).items():
        res = int(key)
        if res not in resolutions:
            raise ValueError(f"channels has resolution {key!r}, but the blocks are {list(resolutions)}")
        if int(width) <= 0:
            raise ValueError(f"channels[{key!r}] must be a positive width, got {width!r}")
        parsed[res] = int(width)
    return parsed
