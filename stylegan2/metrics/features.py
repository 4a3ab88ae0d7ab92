"""Inception features of a dataset and of a generator, and the cache that spares recomputing the dataset's.

Datasets are zips (or folders) in the layout NVIDIA's ``dataset_tool.py`` writes: image files, read in
sorted name order, never mirrored (FID compares against the data as it is). Generated images are drawn
from the seeds 0, 1, 2, ... (``latents.seed_to_z``: the same z on every device), at truncation psi 1,
in batches, and quantised to 8 bits as a saved image would be before the network sees them. Noise
inputs are the generator's constant noise images by default, so each seed's image is the same whatever
the batch size; ``noise_mode="random"`` draws fresh noise as NVIDIA's metrics do, seeded per batch in
a forked RNG (reproducible for one batch size, and the caller's random state is left alone).

A dataset's features are cached in a folder the caller names, one ``.npz`` per dataset and setting
(features float32, their mean and covariance float64), keyed by the dataset file's sha256 and size,
the image limit, and the Inception file's sha256; a network with no file behind it (random weights in
tests) is never cached. Cache files are written atomically and read without unpickling.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple, Union

import numpy as np
import torch
from PIL import Image

from stylegan2.latents import seed_to_z

from .distances import FeatureStatistics, MomentAccumulator

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
CACHE_FORMAT = 1
ProgressFn = Callable[[int, int], None]     # (images done, images in all)
PathLike = Union[str, Path]


class DatasetReadError(ValueError):
    """A dataset that cannot be read as images; the message names the file and the problem."""


class UnsupportedGenerator(ValueError):
    """A generator these metrics cannot sample (a conditional one)."""


class ImageDataset:
    """The images of a dataset zip or folder, as uint8 batches [N, 3, H, W] (RGB; grey is repeated)."""

    def __init__(self, path: PathLike, max_images: Optional[int] = None) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            names = [str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file()]
        elif zipfile.is_zipfile(self.path):
            with zipfile.ZipFile(self.path) as archive:
                names = archive.namelist()
        elif self.path.exists():
            raise DatasetReadError(f"{self.path} is neither a zip file nor a folder of images")
        else:
            raise DatasetReadError(f"{self.path} does not exist")
        self.names: List[str] = sorted(n for n in names if n.lower().endswith(IMAGE_SUFFIXES))
        if not self.names:
            raise DatasetReadError(f"{self.path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        if max_images is not None:
            if max_images < 1:
                raise ValueError(f"max_images must be at least 1, got {max_images}")
            self.names = self.names[:max_images]

    def __len__(self) -> int:
        return len(self.names)

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        archive = zipfile.ZipFile(self.path) if not self.path.is_dir() else None
        try:
            for start in range(0, len(self.names), batch_size):
                images = [self._read(archive, name) for name in self.names[start:start + batch_size]]
                shapes = {image.shape for image in images}
                if len(shapes) > 1:
                    raise DatasetReadError(f"{self.path}: images of different sizes {sorted(shapes)}; a dataset's "
                                           f"images must all be the same size")
                yield np.stack(images).transpose(0, 3, 1, 2)
        finally:
            if archive is not None:
                archive.close()

    def _read(self, archive: Optional[zipfile.ZipFile], name: str) -> np.ndarray:
        try:
            data = archive.read(name) if archive is not None else (self.path / name).read_bytes()
            with Image.open(io.BytesIO(data)) as image:
                return np.asarray(image.convert("RGB"))
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            raise DatasetReadError(f"{self.path}: cannot read {name}: {error}") from None


def image_features(network: torch.nn.Module, batches: Iterator[np.ndarray], total: int,
                   device: Union[str, torch.device] = "cpu",
                   progress: Optional[ProgressFn] = None) -> Iterator[np.ndarray]:
    """Features [n, 2048] float32 of each uint8 batch [n, 3, H, W], batch by batch."""
    done = 0
    for batch in batches:
        with torch.no_grad():
            features = network(torch.from_numpy(np.ascontiguousarray(batch)).to(device).float())
        done += batch.shape[0]
        if progress:
            progress(done, total)
        yield features.float().cpu().numpy()


def generated_images(G: torch.nn.Module, num: int, batch_size: int = 32, first_seed: int = 0,
                     noise_mode: str = "const") -> Iterator[np.ndarray]:
    """``num`` images of seeds first_seed, first_seed + 1, ... at psi 1, as uint8 batches [n, 3, H, W]."""
    if getattr(G, "c_dim", 0):
        raise UnsupportedGenerator("FID and KID here are for unconditional generators; this one expects "
                                   f"{G.c_dim} class labels")
    device = next(G.parameters()).device
    for start in range(first_seed, first_seed + num, batch_size):
        seeds = range(start, min(start + batch_size, first_seed + num))
        z = torch.cat([seed_to_z(seed, G.z_dim) for seed in seeds]).to(device)
        with torch.no_grad(), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(start)
            images = G(z, truncation_psi=1.0, noise_mode=noise_mode)
        pixels = (images.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
        if pixels.shape[1] == 1:
            pixels = pixels.repeat(1, 3, 1, 1)
        yield pixels.cpu().numpy()


def generator_features(G: torch.nn.Module, network: torch.nn.Module, num: int, batch_size: int = 32,
                       noise_mode: str = "const", progress: Optional[ProgressFn] = None) -> Iterator[np.ndarray]:
    """Features of ``num`` generated images (``generated_images``), batch by batch, on G's device."""
    device = next(G.parameters()).device
    return image_features(network, generated_images(G, num, batch_size, noise_mode=noise_mode), num, device,
                          progress)


class DatasetFeatures:
    """A dataset's features and their statistics, computed once and cached in ``cache_dir`` (if given)."""

    def __init__(self, dataset: PathLike, network: torch.nn.Module, cache_dir: Optional[PathLike] = None,
                 max_images: Optional[int] = None, batch_size: int = 64,
                 device: Union[str, torch.device] = "cpu") -> None:
        self.images = ImageDataset(dataset, max_images)
        self.network, self.batch_size, self.device = network, batch_size, device
        self.max_images = max_images
        self.cache_path = self._cache_path(Path(cache_dir)) if cache_dir is not None else None

    def load(self, progress: Optional[ProgressFn] = None) -> Tuple[np.ndarray, FeatureStatistics]:
        """(features [N, 2048] float32, their statistics), from the cache or computed now (and cached)."""
        if self.cache_path is not None and self.cache_path.is_file():
            with np.load(self.cache_path, allow_pickle=False) as cached:
                return cached["features"], FeatureStatistics(cached["mean"], cached["cov"], int(cached["count"]))
        features = np.concatenate(list(image_features(
            self.network, self.images.batches(self.batch_size), len(self.images), self.device, progress)))
        statistics = MomentAccumulator().add_all([features]).statistics()
        if self.cache_path is not None:
            _save_atomically(self.cache_path, features=features, mean=statistics.mean, cov=statistics.cov,
                             count=np.int64(statistics.count))
        return features, statistics

    def _cache_path(self, cache_dir: Path) -> Optional[Path]:
        network_sha256 = getattr(self.network, "weights_sha256", None)
        if network_sha256 is None:
            return None
        path = self.images.path
        key = {"format": CACHE_FORMAT, "dataset_sha256": _content_sha256(path),
               "dataset_bytes": path.stat().st_size if path.is_file() else None,
               "max_images": self.max_images, "network_sha256": network_sha256}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        return cache_dir / f"{path.stem}-{digest}.npz"


def _content_sha256(path: Path) -> str:
    """sha256 of a file, or of a folder's file names and contents in sorted order."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if file != path:
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _save_atomically(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            np.savez(f, **arrays)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
