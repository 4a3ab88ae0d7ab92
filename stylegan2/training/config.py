"""The settings of a training run.

`TrainingConfig` is everything that defines what is computed (networks, objective, optimiser, EMA,
augmentation); it is saved in every snapshot, and resuming a snapshot continues with it. `RunOptions`
is where and for how long the run goes (data, output folder, length, intervals, device), which a resumed
run may change. `auto_config` fills in NVIDIA's `--cfg=auto` choices for a resolution and batch.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

from .dcgan import DEFAULTS as DCGAN_DEFAULTS
from .errors import TrainingError

ARCHITECTURES = ("stylegan2", "dcgan")
AUGMENTATIONS = ("ada", "diffaugment", "none")
ADA_TARGET = 0.6


@dataclass
class TrainingConfig:
    """What a run computes. Defaults are stylegan2-ada-pytorch's (train.py and training_loop.py)."""

    arch: str = "stylegan2"                 # 'stylegan2' or 'dcgan' (the 64 px baseline).
    batch: int = 32                         # Images per step, over all processes.
    batch_gpu: Optional[int] = None         # Images per process per accumulation round, None = batch / processes.
    glr: float = 0.0025                     # Generator learning rate.
    dlr: float = 0.0025                     # Discriminator learning rate.
    betas: Tuple[float, float] = (0.0, 0.99)  # Adam betas.
    eps: float = 1e-8                       # Adam epsilon.
    r1_gamma: float = 10.0                  # R1 weight.
    pl_weight: float = 2.0                  # Path-length regularisation weight, 0 = off.
    pl_batch_shrink: int = 2                # Path-length batch = batch / this.
    pl_decay: float = 0.01                  # Decay of the path-length running mean.
    style_mixing_prob: float = 0.9          # Probability of style mixing per batch.
    G_reg_interval: Optional[int] = 4       # Lazy regularisation interval of G, None = every step, with the main loss.
    D_reg_interval: Optional[int] = 16      # Lazy regularisation interval of D, None = every step.
    ema_kimg: float = 10.0                  # Half-life of G_ema in thousands of images.
    ema_rampup: Optional[float] = 0.05      # Half-life at most this times the images seen, None = no ramp-up.
    mirror: bool = False                    # Also train on every image flipped left to right.
    augment: str = "none"                   # 'ada', 'diffaugment' or 'none' (the pipeline is passed in).
    augment_p: float = 0.0                  # Initial augmentation probability.
    ada_target: Optional[float] = None      # ADA's r_t target (0.6), None = p stays as it is.
    ada_interval: int = 4                   # Adjust p every this many steps.
    ada_kimg: float = 500                   # p can move by 1 in this many thousand images.
    freeze_d: int = 0                       # Freeze-D: train none of D's first layers (tiny datasets).
    mbstd_group: int = 4                    # D's minibatch-std group size.
    seed: int = 0                           # Seeds the networks, the data order and every random draw.
    # A new generator's architecture (fine-tuning reads it from the checkpoint instead).
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 2
    channel_base: int = 16384
    channel_max: int = 512
    num_fp16_res: int = 4                   # fp16 for the top resolutions of G and D on CUDA.
    conv_clamp: Optional[float] = 256       # Clamp conv outputs (keeps fp16 finite), None = off.
    dcgan_width: int = 64                   # DCGAN: channels next to the image, doubling towards 4x4.

    def __post_init__(self):
        self.betas = tuple(self.betas)
        self.validate()

    def validate(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise TrainingError(f"unknown architecture {self.arch!r}; expected one of {', '.join(ARCHITECTURES)}")
        if self.augment not in AUGMENTATIONS:
            raise TrainingError(f"unknown augmentation {self.augment!r}; expected one of {', '.join(AUGMENTATIONS)}")
        if self.batch < 1 or (self.batch_gpu is not None and (self.batch_gpu < 1 or self.batch % self.batch_gpu)):
            raise TrainingError(f"batch {self.batch} must be a positive multiple of batch_gpu {self.batch_gpu}")
        for name in ("glr", "dlr", "ema_kimg", "ada_kimg"):
            if getattr(self, name) < 0:
                raise TrainingError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.r1_gamma < 0 or self.pl_weight < 0:
            raise TrainingError("r1_gamma and pl_weight must not be negative")
        if self.arch == "dcgan" and self.ada_target is not None:
            raise TrainingError("adaptive augmentation is for StyleGAN2; train the DCGAN baseline with --aug none "
                                "or diffaugment")

    def to_dict(self) -> Dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "TrainingConfig":
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TrainingError(f"unknown training settings {unknown} (written by a newer StyleCam?)")
        return cls(**values)


@dataclass
class RunOptions:
    """Where a run reads and writes, how long it goes, how often it reports."""

    data: Union[str, Path]                  # Dataset zip or folder.
    out_dir: Union[str, Path]               # Snapshots, sample grids and stats.jsonl go here.
    total_kimg: float                       # Stop after this many thousand real images.
    resume: Optional[str] = None            # A training snapshot to continue, or a generator file to fine-tune.
    tick_kimg: float = 4                    # Write a stats.jsonl line every this many kimg.
    snapshot_kimg: Optional[float] = 200    # Write a snapshot every this many kimg (and at the end).
    grid_kimg: Optional[float] = 200        # Write a sample grid every this many kimg (and at the end).
    metric_kimg: Optional[float] = None     # Call the metric every this many kimg (and at the end).
    device: str = "auto"                    # 'auto', 'cpu', 'cuda' or 'cuda:N' (torchrun: one GPU per process).
    num_workers: int = 3                    # Data-loading processes.
    grid_size: Tuple[int, int] = field(default=(8, 4))  # Sample grid columns, rows.


def auto_config(resolution: int, num_gpus: int = 1, fine_tuning: bool = False, **overrides: Any) -> TrainingConfig:
    """NVIDIA's `--cfg=auto` for this resolution and GPU count, then `overrides` (a None value keeps auto's).

    batch = max(min(gpus * min(4096 // res, 32), 64), gpus); minibatch-std group min(batch / gpus, 4);
    channel_base 16384 below 512 px, else 32768; lr 0.0025 (0.002 at 1024); gamma 0.0002 res^2 / batch;
    EMA half-life batch * 10 / 32 kimg with ramp-up 0.05; 2 mapping layers; ADA with target 0.6 (another
    `augment` turns ADA's controller off). Fine-tuning, as NVIDIA's
    train.py does with --resume: no EMA ramp-up, and ADA reacts in 100 kimg instead of 500.
    arch='dcgan' starts from the DCGAN paper's settings instead (dcgan.DEFAULTS).
    """
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if overrides.get("arch") == "dcgan":
        return TrainingConfig(**{**DCGAN_DEFAULTS, **overrides})
    batch = overrides.get("batch", max(min(num_gpus * min(4096 // resolution, 32), 64), num_gpus))
    lr = 0.002 if resolution >= 1024 else 0.0025
    settings: Dict[str, Any] = dict(
        batch=batch, mbstd_group=min(batch // num_gpus, 4), channel_base=16384 if resolution < 512 else 32768,
        glr=lr, dlr=lr, r1_gamma=0.0002 * resolution ** 2 / batch, ema_kimg=batch * 10 / 32, ema_rampup=0.05,
        mapping_layers=2, augment="ada", ada_target=ADA_TARGET)
    if fine_tuning:
        settings.update(ema_rampup=None, ada_kimg=100)
    settings.update(overrides)
    if settings["augment"] != "ada":
        settings["ada_target"] = None
    return TrainingConfig(**settings)
