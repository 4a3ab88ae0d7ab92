"""A whole training run: check everything, then step until total_kimg, writing as it goes.

Everything that can be wrong with the request (dataset, checkpoint or snapshot, resolution, settings,
output folder) is checked before anything is written. The main process (rank 0) then writes, into the
output folder: reals.png (training images), fakes<kimg>.png (G_ema on fixed latents) every grid_kimg,
snapshot-<kimg>.pt every snapshot_kimg and at the end (atomically), and a stats.jsonl line every
tick_kimg (mean losses, augment p, s/kimg, metric results). The optional metric callback gets G_ema every
metric_kimg and at the end; what it returns is logged.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import torch

from .. import loaders
from . import distributed, models
from .augment import build_augment
from .config import RunOptions, TrainingConfig, auto_config
from .dataset import ImageDataset, StepSampler
from .errors import DatasetError, TrainingError
from .grid import save_grid, to_uint8
from .snapshot import kimg_label, read_if_snapshot, snapshot_name, write_snapshot
from .trainer import Trainer, derived_seed

AugmentFactory = Callable[[str], Optional[torch.nn.Module]]   # 'ada' | 'diffaugment' | 'none' -> pipeline
MetricFn = Callable[[torch.nn.Module, float], Dict[str, float]]  # (G_ema, kimg) -> {name: value}
GRID_SEED = 1


@dataclass
class TrainingProgress:
    """What the loop reports after every step (main process only)."""

    kimg: float
    total_kimg: float
    step: int
    losses: Dict[str, float]                # Mean losses of the last step: G_loss, G_reg, D_loss, D_reg.
    augment_p: float
    sec_per_kimg: Optional[float]           # Training time per thousand images in this run so far.
    written: List[str] = field(default_factory=list)     # Files written after this step.
    metrics: Dict[str, float] = field(default_factory=dict)


@dataclass
class TrainingResult:
    snapshot: Optional[Path]                # The last snapshot written (main process), None elsewhere.
    kimg: float
    history: List[Dict[str, Any]]           # The stats.jsonl lines of this run.
    G: torch.nn.Module                      # This process's networks at the end (on its device).
    D: torch.nn.Module
    G_ema: torch.nn.Module


def train(options: RunOptions, overrides: Optional[Dict[str, Any]] = None, *,
          augment_factory: AugmentFactory = build_augment,
          progress: Optional[Callable[[TrainingProgress], None]] = None,
          metric: Optional[MetricFn] = None) -> TrainingResult:
    """Train as `options` say; `overrides` set TrainingConfig fields over the automatic choices (None = auto).

    A new run uses `auto_config` for the dataset's resolution; fine-tuning (`options.resume` a generator)
    the same with NVIDIA's fine-tuning changes; continuing a snapshot uses the snapshot's own settings,
    and then `overrides` must be empty. `augment_factory` makes the pipeline the settings' `augment`
    names (default: `augment.build_augment`). Runs under torchrun as one process per GPU (or CPU).
    """
    group = distributed.start(options.device)
    try:
        return _Run(options, dict(overrides or {}), group, augment_factory, progress, metric).run()
    finally:
        distributed.stop(group)


class _Run:
    def __init__(self, options: RunOptions, overrides: Dict[str, Any], group: distributed.ProcessGroup,
                 augment_factory: AugmentFactory, progress, metric):
        self.options, self.group, self.progress, self.metric = options, group, progress, metric
        self.out_dir = Path(options.out_dir)
        self.history: List[Dict[str, Any]] = []
        self.last_snapshot: Optional[Path] = None
        self.dataset = ImageDataset(options.data)
        self.meta: Dict[str, Any] = {"dataset": str(options.data)}
        snapshot = read_if_snapshot(options.resume) if options.resume else None
        self.config, G, D, G_ema = self._networks(snapshot, overrides)
        if (self.dataset.resolution, self.dataset.num_channels) != (G.img_resolution, G.img_channels):
            raise DatasetError(f"{options.data}: images are {self.dataset.resolution}x{self.dataset.resolution} with "
                               f"{self.dataset.num_channels} channels, the generator makes {G.img_resolution}x"
                               f"{G.img_resolution} with {G.img_channels}; make the dataset with --size "
                               f"{G.img_resolution}")
        self.dataset.mirror = self.config.mirror
        if G.c_dim > 0:
            self.dataset.read_labels()
        self._check_out_dir(resuming=snapshot is not None)
        labels = torch.from_numpy(self.dataset.labels) if G.c_dim > 0 else None
        self.trainer = Trainer(self.config, G, D, group, augment_factory(self.config.augment), G_ema=G_ema,
                               labels=labels)
        if snapshot is not None:
            self.trainer.load_state(snapshot)
        self.fresh_start = snapshot is None

    def _networks(self, snapshot: Optional[Dict[str, Any]], overrides: Dict[str, Any]):
        """(config, G, D, G_ema or None) of a continued snapshot, a generator to fine-tune, or a new run."""
        resume, world_size = self.options.resume, self.group.world_size
        if snapshot is not None:
            if overrides:
                raise TrainingError(f"a snapshot continues with its own settings; leave out {sorted(overrides)}")
            self.meta.update({key: value for key, value in snapshot["meta"].items() if key != "dataset"},
                             resumed_from=str(resume))
            return (TrainingConfig.from_dict(snapshot["config"]),) + models.snapshot_networks(snapshot)
        if resume:
            loaded = loaders.load(resume)
            config = auto_config(loaded.generator.img_resolution, world_size, fine_tuning=True, **overrides)
            G, D, description = models.fine_tuning_networks(loaded, resume, config)
            self.meta.update(description)
            return config, G, D, None
        config = auto_config(self.dataset.resolution, world_size, **overrides)
        G, D = models.new_networks(config, self.dataset.resolution, self.dataset.num_channels, c_dim=0)
        return config, G, D, None

    def _check_out_dir(self, resuming: bool) -> None:
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise TrainingError(f"{self.out_dir}: exists and is not a folder")
        if not resuming and self.out_dir.is_dir() and any(self.out_dir.glob("snapshot-*.pt")):
            raise TrainingError(f"{self.out_dir}: already holds the snapshots of a run; continue one with --resume "
                                f"or choose another output folder")

    def run(self) -> TrainingResult:
        options, trainer, group = self.options, self.trainer, self.group
        if group.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        if group.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        sampler = StepSampler(len(self.dataset), self.config.batch, self.config.seed, trainer.step, group.rank,
                              group.world_size)
        batches = iter(torch.utils.data.DataLoader(self.dataset, batch_sampler=sampler,
                                                   num_workers=options.num_workers,
                                                   pin_memory=group.device.type == "cuda"))
        grid_z, grid_c = self._grid_latents(sampler)
        if self.fresh_start and group.is_main and options.grid_kimg is not None:
            self._write_reals(sampler)
            self._write_fakes(grid_z, grid_c)
        total_nimg = int(options.total_kimg * 1000)
        run_start_nimg, train_seconds = trainer.cur_nimg, 0.0
        tick_losses: Dict[str, List[float]] = {}
        while trainer.cur_nimg < total_nimg:
            started = time.perf_counter()
            real_img, real_c = next(batches)
            losses = trainer.train_step(real_img, real_c)
            train_seconds += time.perf_counter() - started
            for name, value in losses.items():
                tick_losses.setdefault(name, []).append(value)
            report = TrainingProgress(kimg=trainer.cur_nimg / 1000, total_kimg=options.total_kimg, step=trainer.step,
                                      losses=losses, augment_p=trainer.augment_p,
                                      sec_per_kimg=train_seconds / ((trainer.cur_nimg - run_start_nimg) / 1000))
            if self._maintain(report, grid_z, grid_c, tick_losses, done=trainer.cur_nimg >= total_nimg):
                tick_losses = {}
            if self.progress is not None and group.is_main:
                self.progress(report)
        return TrainingResult(self.last_snapshot, trainer.cur_nimg / 1000, self.history, trainer.G, trainer.D,
                              trainer.G_ema)

    def _maintain(self, report: TrainingProgress, grid_z: torch.Tensor, grid_c: torch.Tensor,
                  tick_losses: Dict[str, List[float]], done: bool) -> bool:
        """After a step: the grid, snapshot, metric and stats line that are due; True if a line was logged."""
        options, previous_nimg = self.options, self.trainer.cur_nimg - self.config.batch
        if self._due(options.grid_kimg, previous_nimg, done) and self.group.is_main:
            report.written.append(str(self._write_fakes(grid_z, grid_c)))
        if self._due(options.snapshot_kimg, previous_nimg, done):
            self._write_snapshot(report)
        if self.metric is not None and self._due(options.metric_kimg, previous_nimg, done):
            report.metrics = self._evaluate()
        if self._due(options.tick_kimg, previous_nimg, done) or report.metrics:
            self._log(report, tick_losses)
            return True
        return False

    def _due(self, every_kimg: Optional[float], previous_nimg: int, done: bool) -> bool:
        if every_kimg is None:
            return False
        every = max(int(every_kimg * 1000), 1)
        return done or previous_nimg // every != self.trainer.cur_nimg // every

    def _grid_latents(self, sampler: StepSampler):
        columns, rows = self.options.grid_size
        generator = torch.Generator().manual_seed(derived_seed(self.config.seed, GRID_SEED))
        z = torch.randn([columns * rows, self.trainer.G.z_dim], generator=generator)
        c = torch.stack([self.dataset[index][1] for index in self._grid_indices(sampler)])
        return z, c

    def _grid_indices(self, sampler: StepSampler) -> List[int]:
        columns, rows = self.options.grid_size
        order = sampler.epoch_order(0).tolist()
        return [order[i % len(order)] for i in range(columns * rows)]

    def _write_reals(self, sampler: StepSampler) -> None:
        pixels = torch.stack([self.dataset[index][0] for index in self._grid_indices(sampler)])
        save_grid(pixels.permute(0, 2, 3, 1).numpy(), self.out_dir / "reals.png", self.options.grid_size)

    @torch.no_grad()
    def _write_fakes(self, grid_z: torch.Tensor, grid_c: torch.Tensor) -> Path:
        device, G_ema = self.group.device, self.trainer.G_ema
        images = [G_ema(z.to(device), c.to(device)).cpu() for z, c in zip(grid_z.split(self.trainer.batch_gpu),
                                                                           grid_c.split(self.trainer.batch_gpu))]
        name = f"fakes{kimg_label(self.trainer.cur_nimg)}.png"
        return save_grid(to_uint8(torch.cat(images)), self.out_dir / name, self.options.grid_size)

    def _write_snapshot(self, report: TrainingProgress) -> None:
        if self.group.is_main:
            self.last_snapshot = write_snapshot(self.trainer.state(self.meta),
                                                self.out_dir / snapshot_name(self.trainer.cur_nimg))
            report.written.append(str(self.last_snapshot))

    def _evaluate(self) -> Dict[str, float]:
        results = {}
        if self.group.is_main:
            results = {name: float(value) for name, value in
                       self.metric(self.trainer.G_ema, self.trainer.cur_nimg / 1000).items()}
        self.group.barrier()
        return results

    def _log(self, report: TrainingProgress, tick_losses: Dict[str, List[float]]) -> None:
        line = {"kimg": report.kimg, "step": report.step, "sec_per_kimg": report.sec_per_kimg,
                "augment_p": report.augment_p, **{name: sum(values) / len(values)
                                                  for name, values in tick_losses.items()},
                **{f"metric/{name}": value for name, value in report.metrics.items()},
                "timestamp": time.time()}
        self.history.append(line)
        if self.group.is_main:
            with open(self.out_dir / "stats.jsonl", "a") as file:
                file.write(json.dumps(line) + "\n")
