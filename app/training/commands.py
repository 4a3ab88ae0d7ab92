"""``python -m app train``: train a generator on a face dataset, or fine-tune one StyleCam loads.

    python -m app train --data faces.zip --out runs/toon --resume ffhq-256 --kimg 200 --mirror
    python -m app train --data faces.zip --out runs/toon --resume runs/toon/snapshot-000100.pt
    torchrun --nproc_per_node 4 -m app train --data faces.zip --out runs/big --batch 64

The work is ``stylegan2.training.train``'s; this module reads the options, shows a progress bar and
turns what a user can get wrong into one error line. Settings left out take NVIDIA's automatic choices
for the dataset's resolution (``stylegan2.training.config.auto_config``); a snapshot continues with
its own, so only run options (length, intervals, device) may be given with one.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, Optional

import click
import torch

import stylegan2
import weights
from app.cli_common import fetch_model
from stylegan2.training import RunOptions, TrainingError, TrainingProgress, train as run_training

# Augmentation pipelines by --aug name; each call makes a new pipeline module (with a `p` buffer for ADA).
AUGMENT_PIPES: Dict[str, Callable[[], Optional[torch.nn.Module]]] = {"none": lambda: None}


@contextmanager
def training_errors() -> Iterator[None]:
    """Bad data, checkpoints, snapshots and settings end in one line, never a traceback."""
    try:
        yield
    except (TrainingError, stylegan2.WeightsFormatError, weights.WeightsError) as error:
        raise click.ClickException(str(error)) from None


def augment_pipe(name: str) -> Optional[torch.nn.Module]:
    if name not in AUGMENT_PIPES:
        raise TrainingError(f"--aug {name} is not available in this StyleCam (available: "
                            f"{', '.join(sorted(AUGMENT_PIPES))})")
    return AUGMENT_PIPES[name]()


def describe(report: Optional[TrainingProgress]) -> str:
    """The progress bar's text: kimg, losses, augment p, speed."""
    if report is None:
        return ""
    losses = "  ".join(f"{name} {value:.3f}" for name, value in sorted(report.losses.items()))
    speed = f"  {report.sec_per_kimg:.1f} s/kimg" if report.sec_per_kimg is not None else ""
    return f"kimg {report.kimg:.1f}  {losses}  p {report.augment_p:.3f}{speed}"


@click.command()
@click.option("--data", required=True, type=click.Path(), help="Dataset: a zip from `python -m app dataset` or a "
              "folder of square images of one size.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for snapshots, sample grids and stats.jsonl.")
@click.option("--resume", metavar="SNAPSHOT|WEIGHTS", help="A snapshot to continue exactly, or a generator to "
              "fine-tune: a registry name (ffhq-256) or a file StyleCam loads.")
@click.option("--kimg", "total_kimg", default=25000, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Train until this many thousand real images have been shown.")
@click.option("--arch", type=click.Choice(["stylegan2", "dcgan"]), help="Network for a new run [stylegan2].")
@click.option("--batch", type=click.IntRange(1), help="Images per step over all GPUs [auto].")
@click.option("--batch-gpu", type=click.IntRange(1), help="Images per GPU at a time (gradient accumulation).")
@click.option("--glr", type=click.FloatRange(0), help="Generator learning rate [0.0025].")
@click.option("--dlr", type=click.FloatRange(0), help="Discriminator learning rate [0.0025].")
@click.option("--gamma", "r1_gamma", type=click.FloatRange(0), help="R1 weight [0.0002 x resolution^2 / batch].")
@click.option("--ema", "ema_kimg", type=click.FloatRange(0), help="G_ema half-life in kimg [batch x 10 / 32].")
@click.option("--map", "mapping_layers", type=click.IntRange(1), help="Mapping layers of a new generator [2].")
@click.option("--cbase", "channel_base", type=click.IntRange(1), help="channel_base of new networks [16384].")
@click.option("--cmax", "channel_max", type=click.IntRange(1), help="channel_max of new networks [512].")
@click.option("--mirror/--no-mirror", default=None, help="Also train on every image flipped left to right.")
@click.option("--aug", "augment", type=click.Choice(["ada", "diffaugment", "none"]),
              help="Augmentation of every image D sees [ada].")
@click.option("--target", "ada_target", type=click.FloatRange(0, 1), help="ADA's r_t target [0.6].")
@click.option("--freeze-d", type=click.IntRange(0), help="Freeze D's first N layers (tiny datasets) [0].")
@click.option("--seed", type=click.IntRange(0), help="Random seed [0].")
@click.option("--snap", "snapshot_kimg", default=200, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Write a snapshot every this many kimg.")
@click.option("--grid", "grid_kimg", default=200, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Write a sample grid every this many kimg.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N (torchrun: one GPU "
              "per process).")
@click.option("--workers", "num_workers", default=3, show_default=True, type=click.IntRange(0),
              help="Data-loading processes.")
def train(data: str, out_dir: str, resume: Optional[str], total_kimg: float, snapshot_kimg: float, grid_kimg: float,
          device: str, num_workers: int, **settings) -> None:
    """Train a StyleGAN2 (or the DCGAN baseline) on a dataset, or fine-tune a generator on it."""
    overrides = {name: value for name, value in settings.items() if value is not None}
    if resume in weights.REGISTRY and not weights.is_available(resume):
        click.echo(f"{resume} is not downloaded yet: fetching it now (once).", err=True)
        fetch_model(resume)
    options = RunOptions(data=data, out_dir=out_dir, total_kimg=total_kimg, resume=resume,
                         snapshot_kimg=snapshot_kimg, grid_kimg=grid_kimg, device=device, num_workers=num_workers)
    main_process = int(os.environ.get("RANK", "0")) == 0
    with training_errors():
        if not main_process:
            run_training(options, overrides, augment_factory=augment_pipe)
            return
        total = int(total_kimg * 1000)
        with click.progressbar(length=total, label="training", file=sys.stderr, item_show_func=describe) as bar:
            def progress(report: TrainingProgress) -> None:
                bar.update(min(int(report.kimg * 1000), total) - bar.pos, current_item=report)

            result = run_training(options, overrides, augment_factory=augment_pipe, progress=progress)
    if result.snapshot is not None:
        click.echo(f"last snapshot: {result.snapshot} "
                   f"(serve it with `python -m app serve --weights {result.snapshot}`)")
