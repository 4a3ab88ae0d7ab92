"""The Inception-v3 that FID is defined with: TensorFlow's 2015-12-05 graph, as a plain PyTorch module.

FID and KID numbers are only comparable when every paper computes them with the same network: the
Inception-v3 graph TensorFlow published on 2015-12-05 (``inception-2015-12-05.tgz``), whose 2048-d
``pool_3`` features the FID paper used. pytorch-fid ported its weights to a PyTorch state dict
(``pt_inception-2015-12-05-6726825d.pth``, registry name "inception-fid"), a plain dict of tensors that
loads with ``torch.load(weights_only=True)``: nothing in the file is executed. NVIDIA's
``inception-2015-12-05.pkl`` holds the same weights as TorchScript inside a pickle and is never loaded.

The graph differs from torchvision's Inception-v3 in ways that change the features, and this module
keeps them:
- the input is resized to 299x299 the way TF1's ``ResizeBilinear`` did (no half-pixel centres: output
  pixel i samples input position ``i * size / 299``, clamped at the border), then mapped from [0, 255]
  to [-1, 1] as ``(x - 128) / 128``;
- the average pools inside the A, C and first E blocks leave the zero padding out of the average;
- the last E block (``Mixed_7c``) pools with a max instead of an average;
- the classifier has 1008 outputs. It is kept only so that the file loads strictly; features stop at
  the global average pool before it.
The module and parameter names are torchvision's, which the file uses.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..files import file_sha256, load_tensors

FEATURES = 2048
INPUT_SIZE = 299
NUM_CLASSES = 1008
EXPECTED_FILE = "pytorch-fid's pt_inception-2015-12-05-6726825d.pth"


class InceptionWeightsError(RuntimeError):
    """The Inception file is not a state dict with exactly this network's tensors."""


class ConvBN(nn.Module):
    """Convolution without bias, batch norm (TF's epsilon 0.001), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride: int = 1, padding=0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def average_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """TF's 3x3 'SAME' average pool: padding does not count towards the average."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 block: 1x1, 5x5, double 3x3 and pooled branches."""

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = ConvBN(in_channels, 64, 1)
        self.branch5x5_1 = ConvBN(in_channels, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(in_channels, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(in_channels, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(average_pool_3x3(x)),
        ], dim=1)


class InceptionB(nn.Module):
    """35x35 -> 17x17 reduction."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = ConvBN(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(in_channels, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, kernel_size=3, stride=2),
        ], dim=1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convolutions (1x7 then 7x1)."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = ConvBN(in_channels, 192, 1)
        self.branch7x7_1 = ConvBN(in_channels, c7, 1)
        self.branch7x7_2 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = ConvBN(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = ConvBN(in_channels, c7, 1)
        self.branch7x7dbl_2 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = ConvBN(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = ConvBN(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        double = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            double = layer(double)
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            double,
            self.branch_pool(average_pool_3x3(x)),
        ], dim=1)


class InceptionD(nn.Module):
    """17x17 -> 8x8 reduction."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = ConvBN(in_channels, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(in_channels, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seven = self.branch7x7x3_2(self.branch7x7x3_1(x))
        return torch.cat([
            self.branch3x3_2(self.branch3x3_1(x)),
            self.branch7x7x3_4(self.branch7x7x3_3(seven)),
            F.max_pool2d(x, kernel_size=3, stride=2),
        ], dim=1)


class InceptionE(nn.Module):
    """8x8 block with split 1x3 / 3x1 branches; ``max_pool`` marks the graph's last block."""

    def __init__(self, in_channels: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = ConvBN(in_channels, 320, 1)
        self.branch3x3_1 = ConvBN(in_channels, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvBN(in_channels, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvBN(in_channels, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else average_pool_3x3(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(single), self.branch3x3_2b(single),
            self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double),
            self.branch_pool(pooled),
        ], dim=1)


class InceptionFeatures(nn.Module):
    """``forward(images [N, 3, H, W], float, pixel values in [0, 255]) -> pool_3 features [N, 2048]``."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURES, NUM_CLASSES)   # In the file; the features stop before it.
        self.weights_sha256: Optional[str] = None    # The file the weights came from (load_inception sets it).
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected RGB images [N, 3, H, W] with values in [0, 255], got {list(images.shape)}")
        x = (resize_like_tf(images.float(), INPUT_SIZE) - 128) / 128
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return x.mean(dim=[2, 3])


def resize_like_tf(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize to ``size`` x ``size`` as TF1's ``ResizeBilinear`` (align_corners=False, no half-pixel
    centres): output pixel i samples input position ``i * in_size / size``, clamped to the last pixel."""
    batch_size, _, height, width = images.shape
    theta = torch.zeros(batch_size, 2, 3, device=images.device, dtype=images.dtype)
    # grid_sample's pixel-centre convention reads position i * in / size + (in / size - 1) / 2 at offset 0;
    # shift it back to i * in / size.
    theta[:, 0, 0], theta[:, 0, 2] = 1, 1 / width - 1 / size
    theta[:, 1, 1], theta[:, 1, 2] = 1, 1 / height - 1 / size
    grid = F.affine_grid(theta, [batch_size, images.shape[1], size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def load_inception(path: Union[str, Path], device: Union[str, torch.device] = "cpu") -> InceptionFeatures:
    """The FID Inception network from a state-dict file, in eval mode; its sha256 is ``weights_sha256``.

    A file that is missing, or is not a state dict with exactly this network's tensors, raises
    ``InceptionWeightsError``.
    """
    path = Path(path)
    try:
        sha256 = file_sha256(path)
    except OSError as error:
        raise InceptionWeightsError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        state_dict = load_tensors(path)
    except Exception as error:   # weights_only refuses pickled code with several exception types
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        message = f"{path} is not a plain PyTorch state dict ({reason}); use {EXPECTED_FILE}"
        raise InceptionWeightsError(message) from error
    if not isinstance(state_dict, dict):
        raise InceptionWeightsError(f"{path} holds a {type(state_dict).__name__}, not a state dict; use "
                                    f"{EXPECTED_FILE}")
    network = InceptionFeatures()
    problem = _mismatch(network.state_dict(), state_dict)
    if problem:
        raise InceptionWeightsError(f"{path} does not hold the FID Inception-v3's tensors ({problem}); use "
                                    f"{EXPECTED_FILE}")
    network.load_state_dict(state_dict, strict=True)
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    network.weights_sha256 = sha256
    return network.to(device).eval()


def _mismatch(expected: dict, found: dict) -> str:
    """What keeps ``found`` from loading strictly: missing, unexpected or misshapen tensors ("" if nothing)."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    misshapen = sorted(key for key in set(expected) & set(found)
                       if not isinstance(found[key], torch.Tensor) or found[key].shape != expected[key].shape)
    parts = [f"{label}: {', '.join(keys[:3])}{' and %d more' % (len(keys) - 3) if len(keys) > 3 else ''}"
             for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", misshapen))
             if keys]
    return "; ".join(parts)
