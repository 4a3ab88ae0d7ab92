"""Differentiable augmentation for GAN training on small datasets: ADA's pipeline and DiffAugment.

A discriminator that sees only a few thousand faces memorises them. Both methods show it augmented
images, reals and fakes alike, through operations that are differentiable w.r.t. the images (so the
generator learns through them) and "non-leaking" (the generator cannot satisfy D by producing augmented
faces), and ADA adapts how often to augment to how much D overfits.

``AugmentPipe`` is the pipeline of "Training Generative Adversarial Networks with Limited Data"
(Karras et al. 2020), as NVIDIA's ``training/augment.py`` defines its transforms, written here in plain
PyTorch. Each transform is applied to each image independently with probability ``multiplier * p``;
``p`` is a scalar buffer the ADA controller sets (a float in [0, 1]). The preset "bgc" (``BGC``) is the
paper's default: pixel blitting (x-flip, 90-degree rotations, integer translation), general geometry
(isotropic scaling, arbitrary rotation, anisotropic scaling, fractional translation) and colour
(brightness, contrast, luma flip, hue rotation, saturation).

Geometry is one composed affine transform per image and one resampling, done as NVIDIA does it: reflect
padding, 2x upsampling with the orthogonal ``sym6`` wavelet's low-pass filter, bilinear sampling, and 2x
downsampling with the same filter. Because the filter is orthogonal, up- then downsampling is the
identity on the pixel grid, so integer translations come out exact up to rounding and the other
transforms do not alias. Flips and quarter turns go through the same resampling, as in NVIDIA's code;
the filter is not symmetric, so they land half a fine sample off the grid and come out slightly
interpolated (a mean error of about 2/255 on a 64-pixel face). Images that draw no geometric transform
are not resampled at all, and ``p == 0`` returns the input itself: at the start of training, when ADA's
p is still 0, the discriminator sees the data unchanged. Colour is one 4x4 affine colour matrix per image (identity for
images that draw none, which leaves them exactly unchanged).

``DiffAugment`` (Zhao et al. 2020, policy "color,translation,cutout") augments every image every time;
its ``p`` buffer stays 1 and nothing adapts it.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from stylegan2.ops import grid_sample, setup_filter, upfirdn2d, upsample2d

# Low-pass (scaling) filter of the Symlet-6 wavelet: orthogonal, so up- then downsampling with it is exact.
SYM6 = [0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148]

# NVIDIA's "bgc" preset: every blit, geometric and colour transform at full probability multiplier.
BGC: Dict[str, float] = dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
                             brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
AUGMENT_KINDS = ("ada", "diffaugment", "none")
DIFFAUGMENT_OPERATIONS = ("color", "translation", "cutout")
LUMA_AXIS = (1 / math.sqrt(3),) * 3      # Direction of grey in RGB space: lumaflip, hue and saturation act around it.


class AugmentPipe(torch.nn.Module):
    """ADA's augmentation pipeline; ``forward(images [N, C, H, W] in [-1, 1]) -> images`` (C is 1 or 3).

    The keyword arguments are probability multipliers (0 = off) and strengths, with NVIDIA's names and
    defaults; ``AugmentPipe(**BGC)`` is the paper's pipeline.
    """

    def __init__(self, xflip: float = 0, rotate90: float = 0, xint: float = 0, scale: float = 0,
                 rotate: float = 0, aniso: float = 0, xfrac: float = 0, brightness: float = 0,
                 contrast: float = 0, lumaflip: float = 0, hue: float = 0, saturation: float = 0, *,
                 xint_max: float = 0.125,      # Largest integer translation, as a fraction of the image size.
                 scale_std: float = 0.2,       # Log2 standard deviation of isotropic scaling.
                 rotate_max: float = 1.0,      # Largest arbitrary rotation, 1 = half a turn either way.
                 aniso_std: float = 0.2,       # Log2 standard deviation of anisotropic scaling.
                 xfrac_std: float = 0.125,     # Standard deviation of fractional translation, fraction of size.
                 brightness_std: float = 0.2,  # Standard deviation of the brightness offset.
                 contrast_std: float = 0.5,    # Log2 standard deviation of the contrast factor.
                 hue_max: float = 1.0,         # Largest hue rotation, 1 = half a turn either way.
                 saturation_std: float = 1.0,  # Log2 standard deviation of the saturation factor.
                 p: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("p", torch.tensor(float(p)))   # Augmentation probability, set by the ADA controller.
        self.multipliers = dict(xflip=float(xflip), rotate90=float(rotate90), xint=float(xint),
                                scale=float(scale), rotate=float(rotate), aniso=float(aniso), xfrac=float(xfrac),
                                brightness=float(brightness), contrast=float(contrast),
                                lumaflip=float(lumaflip), hue=float(hue), saturation=float(saturation))
        self.xint_max, self.scale_std, self.rotate_max = float(xint_max), float(scale_std), float(rotate_max)
        self.aniso_std, self.xfrac_std = float(aniso_std), float(xfrac_std)
        self.brightness_std, self.contrast_std = float(brightness_std), float(contrast_std)
        self.hue_max, self.saturation_std = float(hue_max), float(saturation_std)
        self.register_buffer("geometry_filter", setup_filter(SYM6), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        _check_images(images)
        if float(self.p) == 0:
            return images
        batch_size, channels, height, width = images.shape
        geometry, colour = self.sample_transforms(batch_size, height, width, images.device)
        return self.apply_colour(self.apply_geometry(images, geometry), colour)

    def sample_transforms(self, batch_size: int, height: int, width: int,
                          device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
        """Draw each image's transforms: geometry [N, 3, 3] (output pixel -> input pixel, coordinates
        centred on the image) and colour [N, 4, 4] (homogeneous RGB in -> RGB out)."""
        return (self._sample_geometry(batch_size, height, width, device),
                self._sample_colour(batch_size, device))

    def apply_geometry(self, images: torch.Tensor, geometry: torch.Tensor) -> torch.Tensor:
        """Resample each image whose matrix is not the identity; leave the others untouched."""
        moved = (geometry != torch.eye(3, device=geometry.device)).flatten(1).any(dim=1).nonzero().flatten()
        if moved.numel() == 0:
            return images
        resampled = self._resample(images.index_select(0, moved), geometry.index_select(0, moved))
        return images.index_copy(0, moved, resampled.to(images.dtype))

    @staticmethod
    def apply_colour(images: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
        """Apply each image's 4x4 colour matrix (RGB), or its effect on grey (1 channel)."""
        batch_size, channels, height, width = images.shape
        colour = colour.to(images.dtype)
        pixels = images.reshape(batch_size, channels, height * width)
        if channels == 3:
            pixels = colour[:, :3, :3] @ pixels + colour[:, :3, 3:]
        else:   # grey in, grey out: the mean of the three output channels for equal inputs
            rows = colour[:, :3, :].mean(dim=1, keepdim=True)
            pixels = pixels * rows[:, :, :3].sum(dim=2, keepdim=True) + rows[:, :, 3:]
        return pixels.reshape(batch_size, channels, height, width)

    # --- drawing the transforms ---------------------------------------------------------------------

    def _chosen(self, name: str, shape: Tuple[int, ...], device: torch.device,
                probability: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Which images get this transform: each with probability ``multiplier * p`` (or the one given)."""
        if probability is None:
            probability = self.multipliers[name] * self.p
        return torch.rand(shape, device=device) < probability

    def _sample_geometry(self, n: int, height: int, width: int, device: torch.device) -> torch.Tensor:
        """Compose the inverse geometric transforms (output -> input), in NVIDIA's order."""
        m = self.multipliers
        matrix = torch.eye(3, device=device).repeat(n, 1, 1)
        zeros, ones = torch.zeros(n, device=device), torch.ones(n, device=device)
        if m["xflip"] > 0:
            flip = torch.floor(torch.rand(n, device=device) * 2)
            flip = torch.where(self._chosen("xflip", (n,), device), flip, zeros)
            matrix = matrix @ scale2d(1 - 2 * flip, ones)
        if m["rotate90"] > 0:
            quarter = torch.floor(torch.rand(n, device=device) * 4)
            quarter = torch.where(self._chosen("rotate90", (n,), device), quarter, zeros)
            matrix = matrix @ rotate2d(math.pi / 2 * quarter)
        if m["xint"] > 0:
            shift = (torch.rand(n, 2, device=device) * 2 - 1) * self.xint_max
            shift = torch.where(self._chosen("xint", (n, 1), device), shift, torch.zeros_like(shift))
            matrix = matrix @ translate2d(-torch.round(shift[:, 0] * width), -torch.round(shift[:, 1] * height))
        if m["scale"] > 0:
            factor = torch.exp2(torch.randn(n, device=device) * self.scale_std)
            factor = torch.where(self._chosen("scale", (n,), device), factor, ones)
            matrix = matrix @ scale2d(1 / factor, 1 / factor)
        # The rotation is split into one before and one after the anisotropic scaling, each with the
        # probability that makes "either of them" happen with probability rotate * p.
        rotate_p = 1 - torch.sqrt((1 - m["rotate"] * self.p).clamp(0, 1))
        if m["rotate"] > 0:
            matrix = matrix @ rotate2d(self._random_angle(n, device, rotate_p))
        if m["aniso"] > 0:
            factor = torch.exp2(torch.randn(n, device=device) * self.aniso_std)
            factor = torch.where(self._chosen("aniso", (n,), device), factor, ones)
            matrix = matrix @ scale2d(1 / factor, factor)
        if m["rotate"] > 0:
            matrix = matrix @ rotate2d(self._random_angle(n, device, rotate_p))
        if m["xfrac"] > 0:
            shift = torch.randn(n, 2, device=device) * self.xfrac_std
            shift = torch.where(self._chosen("xfrac", (n, 1), device), shift, torch.zeros_like(shift))
            matrix = matrix @ translate2d(-shift[:, 0] * width, -shift[:, 1] * height)
        return matrix

    def _random_angle(self, n: int, device: torch.device, probability: torch.Tensor) -> torch.Tensor:
        angle = (torch.rand(n, device=device) * 2 - 1) * math.pi * self.rotate_max
        return torch.where(self._chosen("rotate", (n,), device, probability), angle, torch.zeros_like(angle))

    def _sample_colour(self, n: int, device: torch.device) -> torch.Tensor:
        """Compose the colour transforms (input -> output) as homogeneous 4x4 matrices, in NVIDIA's order."""
        m = self.multipliers
        identity = torch.eye(4, device=device)
        matrix = identity.repeat(n, 1, 1)
        zeros, ones = torch.zeros(n, device=device), torch.ones(n, device=device)
        axis = torch.tensor(LUMA_AXIS + (0.0,), device=device)
        luma = torch.outer(axis, axis)          # projection onto grey
        if m["brightness"] > 0:
            offset = torch.randn(n, device=device) * self.brightness_std
            offset = torch.where(self._chosen("brightness", (n,), device), offset, zeros)
            matrix = translate3d(offset) @ matrix
        if m["contrast"] > 0:
            factor = torch.exp2(torch.randn(n, device=device) * self.contrast_std)
            factor = torch.where(self._chosen("contrast", (n,), device), factor, ones)
            matrix = scale3d(factor) @ matrix
        if m["lumaflip"] > 0:
            flip = torch.floor(torch.rand(n, device=device) * 2)
            flip = torch.where(self._chosen("lumaflip", (n,), device), flip, zeros)
            matrix = (identity - 2 * luma * flip.reshape(n, 1, 1)) @ matrix   # reflection of the grey axis
        if m["hue"] > 0:
            angle = (torch.rand(n, device=device) * 2 - 1) * math.pi * self.hue_max
            angle = torch.where(self._chosen("hue", (n,), device), angle, zeros)
            matrix = rotate_about_axis(axis[:3], angle) @ matrix
        if m["saturation"] > 0:
            factor = torch.exp2(torch.randn(n, device=device) * self.saturation_std)
            factor = torch.where(self._chosen("saturation", (n,), device), factor, ones)
            matrix = (luma + (identity - luma) * factor.reshape(n, 1, 1)) @ matrix
        return matrix

    # --- resampling ---------------------------------------------------------------------------------

    def _resample(self, images: torch.Tensor, geometry: torch.Tensor) -> torch.Tensor:
        """Warp each image by its matrix with one bilinear sampling at twice the resolution."""
        n, channels, height, width = images.shape
        device = images.device
        taps = len(SYM6)
        filter_pad = taps // 4            # filter support at the original resolution, per side

        # Reflect-pad by as much as the warped output corners reach outside the image, plus the filter.
        cx, cy = (width - 1) / 2, (height - 1) / 2
        corners = torch.tensor([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], device=device)
        reach = (geometry @ corners.t())[:, :2, :].permute(1, 0, 2).flatten(1)      # [xy, n * 4]
        reach = torch.cat([-reach, reach]).max(dim=1).values                          # [x0, y0, x1, y1]
        reach = reach + torch.tensor([2 * filter_pad - cx, 2 * filter_pad - cy] * 2, device=device)
        limit = torch.tensor([width - 1, height - 1] * 2, device=device, dtype=reach.dtype)
        pad_x0, pad_y0, pad_x1, pad_y1 = (int(v) for v in reach.clamp(min=0).minimum(limit).ceil().tolist())
        images = F.pad(images, [pad_x0, pad_x1, pad_y0, pad_y1], mode="reflect")
        geometry = translate2d(torch.full((n,), (pad_x0 - pad_x1) / 2, device=device),
                               torch.full((n,), (pad_y0 - pad_y1) / 2, device=device)) @ geometry

        # 2x upsampling: the same transform in the upsampled image's pixel coordinates.
        images = upsample2d(images, self.geometry_filter)
        # (centred coordinates: coarse pixel p sits at fine 2p - 0.5, the upsampling filter's phase)
        to_fine = torch.tensor([[2.0, 0, -0.5], [0, 2.0, -0.5], [0, 0, 1]], device=device)
        from_fine = torch.tensor([[0.5, 0, 0.25], [0, 0.5, 0.25], [0, 0, 1]], device=device)
        geometry = to_fine @ geometry @ from_fine

        # Sample a 2x output with a margin for the downsampling filter; grid coordinates are in [-1, 1].
        out_height, out_width = (height + 2 * filter_pad) * 2, (width + 2 * filter_pad) * 2
        to_grid_in = torch.diag(torch.tensor([2 / images.shape[3], 2 / images.shape[2], 1.0], device=device))
        from_grid_out = torch.diag(torch.tensor([out_width / 2, out_height / 2, 1.0], device=device))
        theta = (to_grid_in @ geometry @ from_grid_out)[:, :2, :]
        grid = F.affine_grid(theta.to(images.dtype), [n, channels, out_height, out_width], align_corners=False)
        images = grid_sample(images, grid)     # bilinear, zero padding; differentiable twice (R1)

        # 2x downsampling with the same filter (correlation: the transpose of the upsampling) and crop.
        crop = 2 * filter_pad - (taps - 1) // 2
        filtered = upfirdn2d(images, self.geometry_filter.flip([0, 1]), padding=[-crop] * 4)
        return filtered[:, :, ::2, ::2]


class DiffAugment(torch.nn.Module):
    """DiffAugment (default policy "color,translation,cutout"); ``forward(images [N, C, H, W] in [-1, 1])``.

    "color": a random brightness offset, saturation and contrast factor per image; "translation": an
    integer shift of up to ``translation`` of the image size, zero fill; "cutout": a zeroed square of
    ``cutout`` of the image size. ``p`` is 1 and is not used: DiffAugment augments every image, and no
    controller adapts it.
    """

    def __init__(self, policy: str = "color,translation,cutout", translation: float = 0.125,
                 cutout: float = 0.5) -> None:
        super().__init__()
        self.policy = [name.strip() for name in policy.split(",") if name.strip()]
        unknown = [name for name in self.policy if name not in DIFFAUGMENT_OPERATIONS]
        if unknown:
            raise ValueError(f"unknown DiffAugment operation(s) {', '.join(unknown)}; expected a comma-separated "
                             f"list of {', '.join(DIFFAUGMENT_OPERATIONS)}")
        self.register_buffer("p", torch.tensor(1.0))
        self.translation, self.cutout = float(translation), float(cutout)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        _check_images(images)
        operations = {"color": self._colour, "translation": self._translate, "cutout": self._cutout}
        for name in self.policy:
            images = operations[name](images)
        return images

    @staticmethod
    def _colour(images: torch.Tensor) -> torch.Tensor:
        n = images.shape[0]
        draw = lambda: torch.rand(n, 1, 1, 1, device=images.device, dtype=images.dtype)  # noqa: E731
        images = images + (draw() - 0.5)                                       # brightness in [-0.5, 0.5)
        grey = images.mean(dim=1, keepdim=True)
        images = (images - grey) * (draw() * 2) + grey                         # saturation x [0, 2)
        mean = images.mean(dim=[1, 2, 3], keepdim=True)
        return (images - mean) * (draw() + 0.5) + mean                         # contrast x [0.5, 1.5)

    def _translate(self, images: torch.Tensor) -> torch.Tensor:
        n, channels, height, width = images.shape
        device = images.device
        max_y, max_x = int(height * self.translation + 0.5), int(width * self.translation + 0.5)
        shift_y = torch.randint(-max_y, max_y + 1, (n, 1, 1), device=device)
        shift_x = torch.randint(-max_x, max_x + 1, (n, 1, 1), device=device)
        # Output pixel (y, x) shows input (y - shift_y, x - shift_x); outside the image reads the zero border.
        rows = (torch.arange(height, device=device).reshape(1, -1, 1) - shift_y + 1).clamp(0, height + 1)
        cols = (torch.arange(width, device=device).reshape(1, 1, -1) - shift_x + 1).clamp(0, width + 1)
        padded = F.pad(images, [1, 1, 1, 1])
        index = (rows * (width + 2) + cols).reshape(n, 1, height * width).expand(n, channels, -1)
        return padded.flatten(2).gather(2, index).reshape(n, channels, height, width)

    def _cutout(self, images: torch.Tensor) -> torch.Tensor:
        n, _, height, width = images.shape
        device = images.device
        size_y, size_x = int(height * self.cutout + 0.5), int(width * self.cutout + 0.5)
        top = torch.randint(0, height + (1 - size_y % 2), (n, 1, 1), device=device) - size_y // 2
        left = torch.randint(0, width + (1 - size_x % 2), (n, 1, 1), device=device) - size_x // 2
        rows = torch.arange(height, device=device).reshape(1, -1, 1)
        cols = torch.arange(width, device=device).reshape(1, 1, -1)
        inside = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
        return images * (~inside).unsqueeze(1).to(images.dtype)


def build_augment(kind: str) -> Optional[torch.nn.Module]:
    """The augmentation a training run asked for: "ada" (``AugmentPipe(**BGC)``, p starts at 0),
    "diffaugment", or "none" (None: no augmentation)."""
    if kind == "ada":
        return AugmentPipe(**BGC)
    if kind == "diffaugment":
        return DiffAugment()
    if kind == "none":
        return None
    raise ValueError(f"unknown augmentation {kind!r}; expected one of {', '.join(AUGMENT_KINDS)}")


# --- homogeneous transform matrices, one per image ----------------------------------------------------

def translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    one, zero = torch.ones_like(tx), torch.zeros_like(tx)
    return _stack([[one, zero, tx], [zero, one, ty], [zero, zero, one]])


def scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    one, zero = torch.ones_like(sx), torch.zeros_like(sx)
    return _stack([[sx, zero, zero], [zero, sy, zero], [zero, zero, one]])


def rotate2d(angle: torch.Tensor) -> torch.Tensor:
    """Rotation by ``angle`` radians (x towards y: clockwise on screen, where y points down)."""
    cos, sin, one, zero = torch.cos(angle), torch.sin(angle), torch.ones_like(angle), torch.zeros_like(angle)
    return _stack([[cos, -sin, zero], [sin, cos, zero], [zero, zero, one]])


def translate3d(offset: torch.Tensor) -> torch.Tensor:
    """Add ``offset`` to all three colour channels."""
    matrix = torch.eye(4, device=offset.device).repeat(offset.shape[0], 1, 1)
    matrix[:, :3, 3] = offset.reshape(-1, 1)
    return matrix


def scale3d(factor: torch.Tensor) -> torch.Tensor:
    """Multiply all three colour channels by ``factor``."""
    diagonal = torch.stack([factor, factor, factor, torch.ones_like(factor)], dim=1)
    return torch.diag_embed(diagonal)


def rotate_about_axis(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotation by ``angle`` about the unit 3-vector ``axis`` (Rodrigues), as homogeneous 4x4 matrices."""
    cos, sin = torch.cos(angle).reshape(-1, 1, 1), torch.sin(angle).reshape(-1, 1, 1)
    x, y, z = (float(v) for v in axis)
    cross = torch.tensor([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]], device=angle.device)
    rotation = cos * torch.eye(3, device=angle.device) + sin * cross + (1 - cos) * torch.outer(axis, axis)
    matrix = torch.eye(4, device=angle.device).repeat(angle.shape[0], 1, 1)
    matrix[:, :3, :3] = rotation
    return matrix


def _stack(rows) -> torch.Tensor:
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def _check_images(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] not in (1, 3):
        shape = list(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected images [N, 1 or 3, H, W], got {shape}")
    if not images.is_floating_point():
        raise ValueError(f"expected floating-point images in [-1, 1], got {images.dtype}")
