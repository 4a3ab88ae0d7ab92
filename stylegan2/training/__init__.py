"""Training StyleGAN2 (and its baselines): the losses, augmentation, the loop, snapshots.

    from stylegan2.training import RunOptions, train
    result = train(RunOptions(data="faces.zip", out_dir="runs/toon", total_kimg=200, resume="ffhq-256.pkl"),
                   {"mirror": True}, progress=print, metric=...)

`train` checks everything first, then trains (one process, or one per GPU under torchrun) and writes
snapshots (`snapshot.py`: weights-only, atomic, resumable exactly, servable by `stylegan2.load`).
Augmentation (`augment.py`: ADA's pipeline, DiffAugment) is chosen by the settings' `augment`.
"""
from .config import RunOptions, TrainingConfig, auto_config
from .dataset import ImageDataset
from .errors import DatasetError, SnapshotError, TrainingError
from .loop import AugmentFactory, MetricFn, TrainingProgress, TrainingResult, train
from .loss import StyleGAN2Loss
from .snapshot import read_snapshot

__all__ = ["AugmentFactory", "DatasetError", "ImageDataset", "MetricFn", "RunOptions", "SnapshotError",
           "StyleGAN2Loss", "TrainingConfig", "TrainingError", "TrainingProgress", "TrainingResult", "auto_config",
           "read_snapshot", "train"]
