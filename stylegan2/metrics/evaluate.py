"""FID and KID of a generator against a dataset: the two calls a training loop or the CLI makes."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np
import torch

from .distances import KID, MomentAccumulator, frechet_distance, kernel_inception_distance
from .features import DatasetFeatures, generator_features

StageProgressFn = Callable[[str, int, int], None]     # ("dataset" or "generator", images done, images in all)
PathLike = Union[str, Path]


def fid(G: torch.nn.Module, dataset: PathLike, network: torch.nn.Module, num: int = 50000,
        cache_dir: Optional[PathLike] = None, max_real: Optional[int] = None, batch_size: int = 32,
        noise_mode: str = "const", progress: Optional[StageProgressFn] = None) -> float:
    """FID between ``num`` images of G (seeds 0..num-1, psi 1) and the dataset's images (all, or the
    first ``max_real``). ``network`` (``load_inception``) must be on G's device; ``cache_dir`` keeps the
    dataset's features between calls."""
    if num < 2:
        raise ValueError(f"FID needs at least 2 generated images, got num={num}")
    _, real = _dataset(dataset, network, cache_dir, max_real, G).load(_stage(progress, "dataset"))
    generated = MomentAccumulator().add_all(
        generator_features(G, network, num, batch_size, noise_mode, _stage(progress, "generator"))).statistics()
    return frechet_distance(real, generated)


def kid(G: torch.nn.Module, dataset: PathLike, network: torch.nn.Module, num: int = 50000,
        cache_dir: Optional[PathLike] = None, max_real: Optional[int] = None, batch_size: int = 32,
        num_subsets: int = 100, max_subset_size: int = 1000, noise_mode: str = "const",
        progress: Optional[StageProgressFn] = None) -> KID:
    """KID (mean and spread over subsets) between ``num`` images of G and the dataset's images."""
    real, _ = _dataset(dataset, network, cache_dir, max_real, G).load(_stage(progress, "dataset"))
    generated = np.concatenate(list(generator_features(G, network, num, batch_size, noise_mode,
                                                       _stage(progress, "generator"))))
    return kernel_inception_distance(real, generated, num_subsets, max_subset_size)


def _dataset(dataset: PathLike, network: torch.nn.Module, cache_dir: Optional[PathLike],
             max_real: Optional[int], G: torch.nn.Module) -> DatasetFeatures:
    return DatasetFeatures(dataset, network, cache_dir, max_real, device=next(G.parameters()).device)


def _stage(progress: Optional[StageProgressFn], stage: str):
    return (lambda done, total: progress(stage, done, total)) if progress else None
