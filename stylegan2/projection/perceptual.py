"""Perceptual distance for projection: LPIPS computed by NVIDIA's TorchScript VGG16.

NVIDIA publishes VGG16 with the LPIPS layer weights folded in as a TorchScript archive (``vgg16.pt``).
Called as ``net(images, resize_images=False, return_lpips=True)`` on images in [0, 255] it returns one
flat feature vector per image, scaled so that the squared L2 distance between two vectors is their
LPIPS distance. No torchvision is needed.

Loading is deliberately narrow: every file is opened with ``torch.jit.load`` (a TorchScript archive),
never with ``torch.load`` or pickle, so a file that is really a pickle is refused instead of executed.
Any TorchScript module with the same call signature loads through the same path (the tests use a
small random-weight stand-in).

Every network carries an ``identity`` that a projection saves with its result: the file's sha256, and
the name "vgg16" only when that checksum is NVIDIA's pinned one; any other file is a "stand-in", so a
projection made with one can never pass for a VGG16 projection.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Dict, Optional, Union

import torch
import torch.nn.functional as F

from ..files import file_sha256

VGG16_NAME = "vgg16"
VGG16_SHA256 = "b437eb095feaeb0b83eb3fa11200ebca4548ee39a07fb944a417ddc516cc07c3"   # NVIDIA's published file.
MAX_RESOLUTION = 256    # NVIDIA's projector downsamples larger images to 256 before VGG16.
REQUIRED_ARGUMENTS = ("img", "resize_images", "return_lpips")
STAND_IN = "stand-in"   # The name of every perceptual network that is not NVIDIA's VGG16.


class PerceptualNetworkError(RuntimeError):
    """The perceptual network file is missing, fails its checksum, or is not a usable TorchScript net."""


class PerceptualNetwork:
    """LPIPS features and distances for images in the generator's [-1, 1] range."""

    def __init__(self, module: torch.jit.ScriptModule, max_resolution: int = MAX_RESOLUTION,
                 identity: Optional[Dict[str, str]] = None) -> None:
        self.module = module.eval()
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)   # Gradients flow to the images only.
        self.max_resolution = max_resolution
        self.identity = identity or {"name": STAND_IN}   # {"name", "sha256", "file"}: saved with projections.

    @property
    def device(self) -> torch.device:
        first = next(iter(self.module.parameters()), None)
        return first.device if first is not None else torch.device("cpu")

    def features(self, images: torch.Tensor, resolution: int = 0) -> torch.Tensor:
        """LPIPS feature vectors [N, D] of images [N, 3, H, W] in [-1, 1] (differentiable).

        Images larger than ``resolution`` (default: ``max_resolution``) are area-downsampled first.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape [N, 3, H, W], got {list(images.shape)}")
        size = min(resolution or self.max_resolution, self.max_resolution)
        pixels = (images.float() + 1) * 127.5
        if pixels.shape[2] > size or pixels.shape[3] > size:
            pixels = F.interpolate(pixels, size=(size, size), mode="area")
        return self.module(pixels, resize_images=False, return_lpips=True)

    @staticmethod
    def distance(features_a: torch.Tensor, features_b: torch.Tensor) -> torch.Tensor:
        """LPIPS distance per image [N]: squared L2 between feature vectors (broadcasts over N)."""
        return (features_a - features_b).square().sum(dim=1)


def load_perceptual(path: Union[str, Path], device: Union[str, torch.device] = "cpu") -> PerceptualNetwork:
    """Load the perceptual network from a TorchScript file.

    A file that is missing, or is not a TorchScript network with NVIDIA's call signature, raises
    ``PerceptualNetworkError``.
    """
    path = Path(path)
    sha256 = checksum(path)
    try:
        with warnings.catch_warnings():   # TorchScript is deprecated, but it is the format NVIDIA publishes.
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location=torch.device(device))
    except Exception as error:   # TorchScript raises several types for foreign or corrupt files.
        reason = str(error).strip().split(". ")[0] or type(error).__name__
        raise PerceptualNetworkError(f"{path} is not a TorchScript perceptual network ({reason}); "
                                     f"use NVIDIA's {VGG16_NAME}.pt") from error
    _check_signature(module, path)
    return PerceptualNetwork(module, identity=identify(path, sha256))


def identify(path: Path, sha256: str) -> Dict[str, str]:
    """What a projection records about the network: "vgg16" only for NVIDIA's file, by its checksum."""
    name = VGG16_NAME if sha256 == VGG16_SHA256 else STAND_IN
    return {"name": name, "sha256": sha256, "file": path.name}


def checksum(path: Path) -> str:
    """The file's sha256; PerceptualNetworkError when it cannot be read."""
    try:
        return file_sha256(path)
    except OSError as error:
        raise PerceptualNetworkError(f"cannot read the perceptual network {path}: "
                                     f"{error.strerror or error}") from None


def _check_signature(module: torch.jit.ScriptModule, path: Path) -> None:
    try:
        arguments = {argument.name for argument in module.forward.schema.arguments}
    except (AttributeError, RuntimeError) as error:
        raise PerceptualNetworkError(f"{path} has no TorchScript forward method; use NVIDIA's "
                                     f"{VGG16_NAME}.pt") from error
    missing = [name for name in REQUIRED_ARGUMENTS if name not in arguments]
    if missing:
        raise PerceptualNetworkError(
            f"{path} does not take NVIDIA's VGG16 arguments (missing: {', '.join(missing)}); "
            f"use NVIDIA's {VGG16_NAME}.pt")
