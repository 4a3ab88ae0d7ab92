"""Model registry: the files StyleCam downloads, where they come from and how they are checked.

Every model file is fetched from its official URL into the user's cache folder
(``~/.cache/stylecam/models``, or ``$XDG_CACHE_HOME/stylecam/models``; ``$STYLECAM_WEIGHTS`` overrides
it), hashed while it streams, and moved into place only when the sha256 matches; a failed or
interrupted download leaves nothing behind. Nothing is written inside the installed package, so a
read-only install works.

Where upstream publishes no checksum and none could be pinned here (``sha256=None``), the first
download records the hash it saw next to the file (``<file>.sha256``) and every later check compares
against that record ("trust on first use"), and the command line says so loudly.
"""
from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Union

CHUNK_BYTES = 1 << 20


class WeightsError(RuntimeError):
    """A model file is unknown, missing, or failed its checksum."""


@dataclass(frozen=True)
class ModelFile:
    name: str               # Short name used on the command line, e.g. "ffhq-256".
    filename: str           # File name inside the weights folder.
    url: str                # Official download address.
    sha256: Optional[str]   # Pinned checksum; None = recorded on first download.
    size: Optional[int]     # Expected size in bytes where known (progress bars, early checks).
    kind: str               # "generator", "detector", "perceptual" or "metric".
    description: str
    license: str


REGISTRY: Dict[str, ModelFile] = {m.name: m for m in [
    ModelFile(
        name="ffhq-256",
        filename="ffhq-res256-mirror-paper256-noaug.pkl",
        url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/"
            "transfer-learning-source-nets/ffhq-res256-mirror-paper256-noaug.pkl",
        sha256=None,
        size=None,
        kind="generator",
        description="NVIDIA StyleGAN2 (stylegan2-ada-pytorch) trained on FFHQ at 256x256; 14 W layers",
        license="NVIDIA Source Code License (non-commercial)",
    ),
    ModelFile(
        name="stylegan3-t-ffhqu-256",
        filename="stylegan3-t-ffhqu-256x256.pkl",
        url="https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/"
            "stylegan3-t-ffhqu-256x256.pkl",
        sha256=None,
        size=None,
        kind="generator",
        description="NVIDIA StyleGAN3-T (translation equivariant) trained on unaligned FFHQ at 256x256; 16 W layers",
        license="NVIDIA Source Code License (non-commercial)",
    ),
    ModelFile(
        name="stylegan3-r-ffhqu-256",
        filename="stylegan3-r-ffhqu-256x256.pkl",
        url="https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/"
            "stylegan3-r-ffhqu-256x256.pkl",
        sha256=None,
        size=None,
        kind="generator",
        description="NVIDIA StyleGAN3-R (translation and rotation equivariant) trained on unaligned FFHQ at "
                    "256x256; 16 W layers",
        license="NVIDIA Source Code License (non-commercial)",
    ),
    ModelFile(
        name="yunet",
        filename="face_detection_yunet_2026may.onnx",
        url="https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
            "face_detection_yunet_2026may.onnx",
        sha256="ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0",
        size=229738,
        kind="detector",
        description="YuNet face detector (boxes + 5 landmarks) from the OpenCV Zoo",
        license="MIT",
    ),
    ModelFile(
        name="yunet-2022mar",
        filename="face_detection_yunet_2022mar.onnx",
        url="https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
            "face_detection_yunet_2022mar.onnx",
        # The OpenCV Zoo keeps its models in Git LFS: these are the oid and size of the file's LFS pointer in
        # that repository (an LFS oid is the sha256 of the file's content).
        sha256="50ef07f702a31741ca46a4c0d947773b64143b9362780237bf0d427d6c79bab7",
        size=345478,
        kind="detector",
        description="YuNet's 2022mar release, for OpenCV 4.5.4 to 4.7 (which cannot read the current one) "
                    "where onnxruntime is not installed",
        license="MIT",
    ),
    ModelFile(
        name="haarcascade",
        filename="haarcascade_frontalface_default.xml",
        url="https://raw.githubusercontent.com/opencv/opencv/4.x/data/haarcascades/"
            "haarcascade_frontalface_default.xml",
        sha256="0f7d4527844eb514d4a4948e822da90fbb16a34a0bbbbc6adc6498747a5aafb0",
        size=930127,
        kind="detector",
        description="OpenCV Haar cascade for frontal faces (fallback detector, no landmarks)",
        license="Intel License Agreement (BSD-style), shipped with OpenCV",
    ),
    ModelFile(
        name="vgg16",
        filename="vgg16.pt",
        url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/vgg16.pt",
        sha256="b437eb095feaeb0b83eb3fa11200ebca4548ee39a07fb944a417ddc516cc07c3",
        size=553469545,
        kind="perceptual",
        description="NVIDIA's TorchScript VGG16 with LPIPS feature weights (for projection)",
        license="NVIDIA Source Code License (non-commercial)",
    ),
    ModelFile(
        name="inception-fid",
        filename="pt_inception-2015-12-05-6726825d.pth",
        url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
            "pt_inception-2015-12-05-6726825d.pth",
        # Not published by pytorch-fid; the same value is recorded by many independent projects, and it
        # starts with the 6726825d that torch.hub put in the file name.
        sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
        size=95628359,
        kind="metric",
        description="TensorFlow's FID Inception-v3 (2015-12-05 graph) as a PyTorch state dict, ported by "
                    "pytorch-fid (for FID and KID)",
        license="Apache-2.0",
    ),
]}


def weights_dir() -> Path:
    """The folder model files are stored in: ``$STYLECAM_WEIGHTS``, else ``stylecam/models`` in the user's
    cache folder (``$XDG_CACHE_HOME``, by default ``~/.cache``)."""
    if os.environ.get("STYLECAM_WEIGHTS"):
        return Path(os.environ["STYLECAM_WEIGHTS"]).expanduser()
    return cache_dir() / "models"


def cache_dir() -> Path:
    """StyleCam's folder in the user's cache folder: ``$XDG_CACHE_HOME/stylecam``, by default ``~/.cache/stylecam``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stylecam"


def get(name: str) -> ModelFile:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise WeightsError(f"unknown model '{name}' (known: {known})") from None


def local_path(name: str) -> Path:
    return weights_dir() / get(name).filename


def is_available(name: str) -> bool:
    return local_path(name).is_file()


def path_of(name_or_path: Union[str, Path]) -> Path:
    """Where a registry name's file is (or would be downloaded to), or the given path; may not exist."""
    if str(name_or_path) in REGISTRY:
        return local_path(str(name_or_path))
    return Path(name_or_path).expanduser()


def resolve(name_or_path: Union[str, Path]) -> Path:
    """Turn a registry name or a file path into the path of an existing file, or explain what to do."""
    path = path_of(name_or_path)
    if str(name_or_path) in REGISTRY:
        if not path.is_file():
            raise WeightsError(
                f"model '{name_or_path}' is not downloaded yet ({path} is missing); "
                f"run: python -m app weights fetch {name_or_path}")
        return path
    if not path.is_file():
        known = ", ".join(sorted(REGISTRY))
        raise WeightsError(f"'{name_or_path}' is neither an existing file nor a known model ({known})")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def expected_sha256(name: str) -> Optional[str]:
    """The pinned checksum, else the one recorded at the first download, else None."""
    model = get(name)
    if model.sha256:
        return model.sha256
    record = _record_path(local_path(name))
    return record.read_text().split()[0] if record.is_file() else None


def verify(name: str) -> str:
    """Check a downloaded file against its checksum; return the sha256 or raise WeightsError."""
    path = local_path(name)
    if not path.is_file():
        raise WeightsError(f"{path} is missing; run: python -m app weights fetch {name}")
    actual = file_sha256(path)
    expected = expected_sha256(name)
    if expected and actual != expected:
        raise WeightsError(f"{path} has sha256 {actual}, expected {expected}; delete it and fetch again")
    return actual


ProgressFn = Callable[[int, Optional[int]], None]


def fetch(name: str, progress: Optional[ProgressFn] = None, force: bool = False,
          url: Optional[str] = None) -> Path:
    """Download a registry model into the weights folder and check its sha256.

    ``progress(bytes_so_far, total_or_None)`` is called after every chunk. ``url`` overrides the
    official address (a mirror, or a local file in tests). An existing file that passes its check is
    kept unless ``force``.
    """
    model = get(name)
    target = local_path(name)
    if target.is_file() and not force:
        verify(name)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url or model.url, timeout=60) as response, open(partial, "wb") as out:
            total = _content_length(response) or model.size
            done = 0
            for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        actual = digest.hexdigest()
        if model.sha256 and actual != model.sha256:
            raise WeightsError(
                f"download of '{name}' from {url or model.url} has sha256 {actual}, "
                f"expected {model.sha256}; nothing was saved")
        os.replace(partial, target)
    except OSError as error:
        raise WeightsError(f"could not download '{name}' from {url or model.url}: {error}") from error
    finally:
        partial.unlink(missing_ok=True)
    if not model.sha256:
        _record_path(target).write_text(f"{actual}  {target.name}\n")
    return target


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _content_length(response) -> Optional[int]:
    length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
    return int(length) if length and length.isdigit() else None
