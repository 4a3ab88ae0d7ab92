"""The StyleGAN3 generator ("Alias-Free GAN", configs T and R): mapping, Fourier-feature input, alias-free layers.

Constructor arguments and state_dict key names are those of NVlabs stylegan3
`training.networks_stylegan3.Generator`, so its weights load with `load_state_dict(..., strict=True)`.
Config T is the default (3x3 convolutions, separable filters); config R is `conv_kernel=1,
use_radial_filters=True` (1x1 convolutions, radially symmetric downsampling filters). Filters that are
the identity are None, as in NVIDIA's code, and so absent from the state dict.

The interface is StyleGAN2's (`stylegan2.networks.Generator`): `G.mapping(z, c, truncation_psi,
truncation_cutoff)`, `G.synthesis(ws, noise_mode=...)`, `num_ws`, `img_resolution`, `init_kwargs`, with
two differences:
- StyleGAN3 has no noise inputs: `has_noise` is False and `noise_mode` is accepted and ignored.
- W+ index 0 drives the Fourier-feature input, index i + 1 the synthesis layer `layer_names[i]` (the last
  is ToRGB); `num_ws` is `num_layers + 2`, 16 for every released model.

The input's `transform` rotates and translates the generated image continuously (the visualizer's
"rotate" and "translate"): `G.set_input_transform(rotate_translate(angle, (tx, ty)))` for the whole
generator, or `G.synthesis(ws, transform=...)` for one call.
"""
import copy
from typing import NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from . import filter_design, networks, ops
from .layers import FullyConnectedLayer

Matrix = Union[torch.Tensor, np.ndarray, Sequence[Sequence[float]]]


def rotate_translate(angle: float = 0.0, translate: Sequence[float] = (0.0, 0.0)) -> torch.Tensor:
    """The input transform [3, 3] that turns the image `angle` degrees about its centre, then moves it.

    Seen on screen, a positive angle turns counter-clockwise and `translate` (x, y) moves right and down,
    in image widths (the image spans one unit). The arguments are those of NVIDIA's gen_images.py
    (`--rotate`, `--translate`); the result is the inverse of its `make_transform(translate, angle)`,
    which is what the input's `transform` holds.
    """
    radians = np.deg2rad(float(angle))
    c, s = np.cos(radians), np.sin(radians)
    tx, ty = (float(value) for value in translate)
    forward = np.array([[c, s, tx], [-s, c, ty], [0.0, 0.0, 1.0]])
    return torch.from_numpy(np.linalg.inv(forward)).to(torch.float32)


class MappingNetwork(networks.MappingNetwork):
    """StyleGAN2's mapping network with StyleGAN3's defaults (2 layers, w_avg_beta 0.998).

    `freeze_layers` and `freeze_embed` only choose which layers train; they change nothing at inference.
    """

    def __init__(self,
        z_dim: int,                             # Input latent (Z) dimensionality.
        c_dim: int,                             # Conditioning label (C) dimensionality, 0 = no label.
        w_dim: int,                             # Intermediate latent (W) dimensionality.
        num_ws: int,                            # Number of copies of w to output.
        num_layers: int = 2,                    # Number of fully connected layers.
        lr_multiplier: float = 0.01,            # Learning-rate multiplier the layers were trained with.
        w_avg_beta: float = 0.998,              # Decay of the tracked average of w.
        freeze_layers: int = 0,                 # Training only: number of frozen layers.
        freeze_embed: bool = False,             # Training only: freeze the label embedding?
    ):
        super().__init__(z_dim, c_dim, w_dim, num_ws, num_layers=num_layers, lr_multiplier=lr_multiplier,
                         w_avg_beta=w_avg_beta)


class SynthesisInput(torch.nn.Module):
    """Fourier features: sinusoids of fixed frequencies and phases, rotated and shifted per sample by w."""

    def __init__(self,
        w_dim: int,                             # Intermediate latent (W) dimensionality.
        channels: int,                          # Number of output channels (frequencies).
        size: Union[int, Sequence[int]],        # Output size: int or [width, height], margins included.
        sampling_rate: float,                   # Output sampling rate.
        bandwidth: float,                       # Output bandwidth (largest frequency).
    ):
        super().__init__()
        self.w_dim = w_dim
        self.channels = channels
        self.size = _pair(size)
        self.sampling_rate = float(sampling_rate)
        self.bandwidth = float(bandwidth)
        # Frequencies drawn uniformly from a disc of radius `bandwidth` (NVIDIA's initialisation).
        freqs = torch.randn([channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.weight = torch.nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4)
        with torch.no_grad():  # Start at the identity transform: rotation (1, 0), translation (0, 0).
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.register_buffer("transform", torch.eye(3))  # Inverse of the user's transform of the image.
        self.register_buffer("freqs", freqs)            # [channels, 2]
        self.register_buffer("phases", torch.rand([channels]) - 0.5)  # [channels]

    def forward(self, w: torch.Tensor, transform: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Features [N, channels, height, width] in float32; `transform` [3, 3] or [N, 3, 3] replaces the buffer."""
        batch_size = w.shape[0]
        user = (self.transform if transform is None else transform.to(w.device, torch.float32)).expand(
            batch_size, 3, 3)
        # The learned rotation (normalised cos, sin) and translation, as inverse transforms of the image.
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        rotation = torch.eye(3, device=w.device).repeat([batch_size, 1, 1])
        rotation[:, 0, 0] = t[:, 0]
        rotation[:, 0, 1] = -t[:, 1]
        rotation[:, 1, 0] = t[:, 1]
        rotation[:, 1, 1] = t[:, 0]
        translation = torch.eye(3, device=w.device).repeat([batch_size, 1, 1])
        translation[:, 0, 2] = -t[:, 2]
        translation[:, 1, 2] = -t[:, 3]
        transforms = rotation @ translation @ user

        # Move the frequencies and phases; fade out frequencies a transform pushed past the bandwidth.
        freqs = self.freqs.unsqueeze(0)
        phases = self.phases.unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)

        # Sample the sinusoids on the pixel grid, then mix the channels.
        width, height = self.size
        theta = torch.eye(2, 3, device=w.device)
        theta[0, 0] = 0.5 * width / self.sampling_rate
        theta[1, 1] = 0.5 * height / self.sampling_rate
        grid = torch.nn.functional.affine_grid(theta.unsqueeze(0), [1, 1, height, width], align_corners=False)
        x = (grid.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)  # [N, H, W, C]
        x = torch.sin((x + phases.unsqueeze(1).unsqueeze(2)) * (2 * np.pi))
        x = x * amplitudes.unsqueeze(1).unsqueeze(2)
        x = x @ (self.weight / np.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)


class SynthesisLayer(torch.nn.Module):
    """Modulated convolution, then the filtered leaky ReLU: one alias-free layer (or, `is_torgb`, ToRGB)."""

    def __init__(self,
        w_dim: int,                             # Intermediate latent (W) dimensionality.
        is_torgb: bool,                         # Is this the final ToRGB layer?
        is_critically_sampled: bool,            # Does this layer use critical sampling?
        use_fp16: bool,                         # Run this layer in fp16 on CUDA?
        in_channels: int,                       # Number of input channels.
        out_channels: int,                      # Number of output channels.
        in_size: Union[int, Sequence[int]],     # Input size: int or [width, height].
        out_size: Union[int, Sequence[int]],    # Output size: int or [width, height].
        in_sampling_rate: float,                # Input sampling rate.
        out_sampling_rate: float,               # Output sampling rate.
        in_cutoff: float,                       # Input cutoff frequency.
        out_cutoff: float,                      # Output cutoff frequency.
        in_half_width: float,                   # Input transition band half-width.
        out_half_width: float,                  # Output transition band half-width.
        conv_kernel: int = 3,                   # Convolution kernel size (ToRGB: always 1).
        filter_size: int = 6,                   # Filter taps per factor of up- or downsampling.
        lrelu_upsampling: int = 2,              # How much higher a sampling rate the nonlinearity runs at.
        use_radial_filters: bool = False,       # Radially symmetric downsampling filter (not when critically sampled)?
        conv_clamp: Optional[float] = 256,      # Clamp the output to +-conv_clamp, None = no clamping.
        magnitude_ema_beta: float = 0.999,      # Training only: decay of the tracked input magnitude.
    ):
        super().__init__()
        self.w_dim = w_dim
        self.is_torgb = is_torgb
        self.is_critically_sampled = is_critically_sampled
        self.use_fp16 = use_fp16
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.in_size = _pair(in_size)
        self.out_size = _pair(out_size)
        self.in_sampling_rate = in_sampling_rate
        self.out_sampling_rate = out_sampling_rate
        self.tmp_sampling_rate = max(in_sampling_rate, out_sampling_rate) * (1 if is_torgb else lrelu_upsampling)
        self.in_cutoff = in_cutoff
        self.out_cutoff = out_cutoff
        self.in_half_width = in_half_width
        self.out_half_width = out_half_width
        self.conv_kernel = 1 if is_torgb else conv_kernel
        self.conv_clamp = conv_clamp
        self.magnitude_ema_beta = magnitude_ema_beta
        self.activation = "linear" if is_torgb else "lrelu"

        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, self.conv_kernel, self.conv_kernel]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))  # Mean square of the input, seen in training.

        self.up_factor = _rate_ratio(self.tmp_sampling_rate, in_sampling_rate, "up")
        self.up_taps = filter_size * self.up_factor if self.up_factor > 1 and not is_torgb else 1
        self.register_buffer("up_filter", filter_design.lowpass_filter(
            self.up_taps, in_cutoff, in_half_width * 2, self.tmp_sampling_rate))
        self.down_factor = _rate_ratio(self.tmp_sampling_rate, out_sampling_rate, "down")
        self.down_taps = filter_size * self.down_factor if self.down_factor > 1 and not is_torgb else 1
        self.down_radial = use_radial_filters and not is_critically_sampled
        self.register_buffer("down_filter", filter_design.lowpass_filter(
            self.down_taps, out_cutoff, out_half_width * 2, self.tmp_sampling_rate, radial=self.down_radial))

        # Padding that makes the output `out_size`, centred as in the paper's appendix C.3.
        self.padding = []
        for in_length, out_length in zip(self.in_size, self.out_size):
            total = (out_length - 1) * self.down_factor + 1
            total -= (in_length + self.conv_kernel - 1) * self.up_factor
            total += self.up_taps + self.down_taps - 2
            low = (total + self.up_factor) // 2
            self.padding += [low, total - low]

    def forward(self, x: torch.Tensor, w: torch.Tensor, dtype: torch.dtype = torch.float32,
                fused: bool = True) -> torch.Tensor:
        width, height = self.in_size
        if x.shape[1:] != (self.in_channels, height, width):
            raise ValueError(f"expected input [N, {self.in_channels}, {height}, {width}], got {list(x.shape)}")
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles * (1 / np.sqrt(self.in_channels * self.conv_kernel ** 2))
        x = ops.modulated_conv2d(x.to(dtype), self.weight, styles, demodulate=not self.is_torgb, fused=fused,
                                 padding=self.conv_kernel - 1)
        x = x * self.magnitude_ema.rsqrt().to(dtype)  # The input's gain, applied after the (linear) convolution.
        return ops.filtered_lrelu(x, self.up_filter, self.down_filter, self.bias.to(dtype), up=self.up_factor,
                                  down=self.down_factor, padding=self.padding, activation=self.activation,
                                  clamp=self.conv_clamp)


class SynthesisLayout(NamedTuple):
    """What the synthesis network's settings make of each layer i in 0..num_layers (the last is ToRGB; a
    layer's input is its predecessor's output, layer 0's and the Fourier input's are index 0)."""

    cutoffs: np.ndarray         # cutoff frequency
    sampling_rates: np.ndarray  # sampling rate, a power of two
    half_widths: np.ndarray     # half-width of the transition band
    sizes: np.ndarray           # output size, margins included
    channels: np.ndarray        # output channels


def synthesis_layout(img_resolution: int, img_channels: int, channel_base: int, channel_max: int, num_layers: int,
                     num_critical: int, first_cutoff: float, first_stopband: float, last_stopband_rel: float,
                     margin_size: int) -> SynthesisLayout:
    """The layout `SynthesisNetwork` builds from these arguments, without building it.

    Cutoffs and minimum stopbands grow geometrically to the last critically sampled layers; each layer
    samples at the smallest power of two above twice its stopband.
    """
    if num_layers <= num_critical or num_critical < 0:
        raise ValueError(f"num_layers ({num_layers}) must exceed num_critical ({num_critical}) >= 0")
    last_cutoff = img_resolution / 2
    last_stopband = last_cutoff * last_stopband_rel
    exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
    cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
    stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
    sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
    half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
    sizes = sampling_rates + margin_size * 2
    sizes[-2:] = img_resolution
    channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
    channels[-1] = img_channels
    if channels.min() <= 0:
        raise ValueError(f"channel_base {channel_base} leaves a layer without channels: {channels.tolist()}")
    return SynthesisLayout(cutoffs, sampling_rates, half_widths, sizes, channels)


class SynthesisNetwork(torch.nn.Module):
    """ws [N, num_ws, w_dim] -> image: the input, `num_layers` alias-free layers, then ToRGB."""

    def __init__(self,
        w_dim: int,                             # Intermediate latent (W) dimensionality.
        img_resolution: int,                    # Output resolution.
        img_channels: int,                      # Number of image channels.
        channel_base: int = 32768,              # Channels at cutoff f: min(channel_base / 2 / f, channel_max).
        channel_max: int = 512,                 # Upper bound of that rule.
        num_layers: int = 14,                   # Number of layers, excluding the input and ToRGB.
        num_critical: int = 2,                  # Number of critically sampled layers at the end.
        first_cutoff: float = 2,                # Cutoff frequency of the first layer.
        first_stopband: float = 2 ** 2.1,       # Minimum stopband of the first layer.
        last_stopband_rel: float = 2 ** 0.3,    # Minimum stopband of the last layer, relative to its cutoff.
        margin_size: int = 10,                  # Pixels computed beyond the image on each side.
        output_scale: float = 0.25,             # Scale of the output image.
        num_fp16_res: int = 4,                  # Run the layers of the N highest sampling rates in fp16 on CUDA.
        **layer_kwargs,                         # Arguments for SynthesisLayer (conv_kernel, use_radial_filters, ...).
    ):
        layout = synthesis_layout(img_resolution, img_channels, channel_base, channel_max, num_layers, num_critical,
                                  first_cutoff, first_stopband, last_stopband_rel, margin_size)
        cutoffs, sampling_rates, half_widths, sizes, channels = layout
        super().__init__()
        self.w_dim = w_dim
        self.num_ws = num_layers + 2
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.num_layers = num_layers
        self.num_critical = num_critical
        self.margin_size = margin_size
        self.output_scale = output_scale
        self.num_fp16_res = num_fp16_res

        self.input = SynthesisInput(w_dim=w_dim, channels=int(channels[0]), size=int(sizes[0]),
                                    sampling_rate=float(sampling_rates[0]), bandwidth=float(cutoffs[0]))
        self.layer_names = []
        for idx in range(num_layers + 1):
            prev = max(idx - 1, 0)
            layer = SynthesisLayer(
                w_dim=w_dim, is_torgb=idx == num_layers, is_critically_sampled=idx >= num_layers - num_critical,
                use_fp16=bool(sampling_rates[idx] * 2 ** num_fp16_res > img_resolution),
                in_channels=int(channels[prev]), out_channels=int(channels[idx]),
                in_size=int(sizes[prev]), out_size=int(sizes[idx]),
                in_sampling_rate=int(sampling_rates[prev]), out_sampling_rate=int(sampling_rates[idx]),
                in_cutoff=float(cutoffs[prev]), out_cutoff=float(cutoffs[idx]),
                in_half_width=float(half_widths[prev]), out_half_width=float(half_widths[idx]),
                **layer_kwargs)
            name = f"L{idx}_{layer.out_size[0]}_{layer.out_channels}"
            setattr(self, name, layer)
            self.layer_names.append(name)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", force_fp32: bool = False,
                fp16_on_cpu: bool = False, fused_modconv: Optional[bool] = None,
                transform: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Render ws to float32 images in about [-1, 1].

        `noise_mode` is checked as StyleGAN2's and otherwise ignored: StyleGAN3 has no noise. fp16 layers
        run in fp16 only on CUDA (or on the CPU when `fp16_on_cpu`, for testing) unless `force_fp32`.
        `fused_modconv` picks per-sample weights (True) or scaled activations (False), None = as StyleGAN2.
        `transform` ([3, 3] or [N, 3, 3], see `rotate_translate`) replaces the input's for this call.
        """
        if noise_mode not in networks.NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {networks.NOISE_MODES}, got {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"expected ws [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        if transform is not None:
            _check_transform(transform, ws.shape[0])
        fp16_allowed = not force_fp32 and (ws.device.type == "cuda" or fp16_on_cpu)
        ws = ws.to(torch.float32).unbind(dim=1)
        x = self.input(ws[0], transform)
        for name, w in zip(self.layer_names, ws[1:]):
            layer = getattr(self, name)
            dtype = torch.float16 if layer.use_fp16 and fp16_allowed else torch.float32
            fused = fused_modconv if fused_modconv is not None else (dtype == torch.float32 or len(w) == 1)
            x = layer(x, w, dtype=dtype, fused=fused)
        if self.output_scale != 1:
            x = x * self.output_scale
        return x.to(torch.float32)


class Generator(torch.nn.Module):
    """StyleGAN3 generator: z -> mapping -> ws -> synthesis -> image (NVlabs constructor and key names)."""

    architecture = "stylegan3"
    has_noise = False  # No per-pixel noise inputs: noise_mode is accepted and ignored.

    def __init__(self,
        z_dim: int,                             # Input latent (Z) dimensionality.
        c_dim: int,                             # Conditioning label (C) dimensionality, 0 = unconditional.
        w_dim: int,                             # Intermediate latent (W) dimensionality.
        img_resolution: int,                    # Output resolution.
        img_channels: int,                      # Number of output color channels.
        mapping_kwargs: Optional[dict] = None,  # Arguments for MappingNetwork.
        **synthesis_kwargs,                     # Arguments for SynthesisNetwork and its layers.
    ):
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        mapping_kwargs = dict(mapping_kwargs or {})
        self.init_kwargs = copy.deepcopy(dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
                                              img_channels=img_channels, mapping_kwargs=mapping_kwargs,
                                              **synthesis_kwargs))
        self.synthesis = SynthesisNetwork(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                                          **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping_kwargs)

    def forward(self, z: torch.Tensor, c: Optional[torch.Tensor] = None, truncation_psi: float = 1.0,
                truncation_cutoff: Optional[int] = None, noise_mode: str = "const", **synthesis_kwargs,
                ) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, **synthesis_kwargs)

    def set_input_transform(self, matrix: Optional[Matrix] = None) -> None:
        """Set the input transform every later synthesis uses (None = identity); see `rotate_translate`.

        It is the `synthesis.input.transform` buffer, so it is saved with the state dict, and it is shared
        by every thread using this generator: pass `transform=` to `synthesis` to change one call only.
        """
        matrix = torch.eye(3) if matrix is None else torch.as_tensor(matrix, dtype=torch.float32)
        _check_transform(matrix, None)
        with torch.no_grad():
            self.synthesis.input.transform.copy_(matrix)


def _check_transform(matrix: torch.Tensor, batch_size: Optional[int]) -> None:
    """A transform is a finite affine [3, 3] matrix, or one per sample [N, 3, 3]."""
    shapes = [(3, 3)] + ([(batch_size, 3, 3)] if batch_size is not None else [])
    if not isinstance(matrix, torch.Tensor) or tuple(matrix.shape) not in shapes:
        shape = list(matrix.shape) if isinstance(matrix, torch.Tensor) else type(matrix).__name__
        raise ValueError(f"expected an input transform of shape {' or '.join(map(str, shapes))}, got {shape}")
    last_row = matrix[..., 2, :].to("cpu", torch.float64)
    identity_row = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64).expand_as(last_row)
    if not torch.isfinite(matrix).all() or not torch.equal(last_row, identity_row):
        raise ValueError("an input transform must be a finite affine matrix with last row [0, 0, 1]")


def _pair(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """An int or [width, height] (NVIDIA keeps a NumPy array) as a (width, height) tuple of ints."""
    values = np.broadcast_to(np.asarray(size), [2])
    return int(values[0]), int(values[1])


def _rate_ratio(high: float, low: float, what: str) -> int:
    factor = int(np.rint(high / low))
    if low * factor != high:
        raise ValueError(f"the {what}sampling factor {high} / {low} is not an integer")
    return factor
