"""``python -m app train``: train a generator on a face dataset, or fine-tune one StyleCam loads.

    python -m app train --data faces.zip --out runs/toon --resume ffhq-256 --kimg 200 --mirror
    python -m app train --data faces.zip --out runs/toon --resume runs/toon/snapshot-000100.pt --kimg 400
    torchrun --nproc_per_node 4 -m app train --data faces.zip --out runs/big --batch 64 --metric fid

The work is ``stylegan2.training.train``'s; this module reads the options, fetches a missing registry
model, shows a progress bar and turns what a user can get wrong into one error line. Settings left out
take NVIDIA's automatic choices for the resolution (``stylegan2.training.auto_config``); a snapshot
continues with its own, so only the run options (length, intervals, metric, device) go with one.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Dict, Optional

import click
import torch

import weights
from app import models
from app.cli.common import fetch_model, user_errors
from app.cli.metrics import DEFAULT_CACHE
from stylegan2.metrics import fid, kid
from stylegan2.training import MetricFn, RunOptions, TrainingProgress, train


def describe(report: Optional[TrainingProgress]) -> str:
    """The progress bar's text: kimg, losses, augment p, speed."""
    if report is None:
        return ""
    losses = "  ".join(f"{name} {value:.3f}" for name, value in sorted(report.losses.items()))
    speed = f"  {report.sec_per_kimg:.1f} s/kimg" if report.sec_per_kimg is not None else ""
    return f"kimg {report.kimg:.1f}  {losses}  p {report.augment_p:.3f}{speed}"


def training_metric(name: str, data: str, num: int, inception: str, cache_dir: Path) -> MetricFn:
    """FID or KID of G_ema against the training data, the Inception network loaded on G_ema's device once."""
    networks: Dict[torch.device, torch.nn.Module] = {}

    def metric(G_ema: torch.nn.Module, kimg: float) -> Dict[str, float]:
        device = next(G_ema.parameters()).device
        if device not in networks:
            networks[device] = models.load_inception_network(inception, device)
        if name == "fid":
            return {f"fid{num}": fid(G_ema, data, networks[device], num=num, cache_dir=cache_dir)}
        return {f"kid{num}": kid(G_ema, data, networks[device], num=num, cache_dir=cache_dir).value}

    return metric


def resume_path(resume: Optional[str]) -> Optional[str]:
    """A registry name becomes its file (fetched first if missing); a file stays as it is."""
    if resume is None:
        return None
    if resume in weights.REGISTRY and not weights.is_available(resume):
        click.echo(f"{resume} is not downloaded yet: fetching it now (once).", err=True)
        fetch_model(resume)
    return str(models.model_path(resume, "--resume"))


@click.command("train")
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
@click.option("--metric", type=click.Choice(["fid", "kid"]), help="Measure G_ema against the data every "
              "--metric-kimg (logged in stats.jsonl).")
@click.option("--metric-num", default=50000, show_default=True, type=click.IntRange(2),
              help="Generated images per measurement (hours on a CPU at 50000).")
@click.option("--metric-kimg", type=click.FloatRange(min=0, min_open=True), help="Measure every this many kimg "
              "[--snap].")
@click.option("--inception", default=models.DEFAULT_INCEPTION, show_default=True, metavar="NAME_OR_PATH",
              help="The FID Inception-v3 for --metric.")
@click.option("--metric-cache", default=str(DEFAULT_CACHE), show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder for the dataset's features.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N (torchrun: one GPU "
              "per process).")
@click.option("--workers", "num_workers", default=3, show_default=True, type=click.IntRange(0),
              help="Data-loading processes.")
def train_command(data: str, out_dir: str, resume: Optional[str], total_kimg: float, snapshot_kimg: float,
                  grid_kimg: float, metric: Optional[str], metric_num: int, metric_kimg: Optional[float],
                  inception: str, metric_cache: Path, device: str, num_workers: int, **settings) -> None:
    """Train a StyleGAN2 (or the DCGAN baseline) on a dataset, or fine-tune a generator on it."""
    overrides = {name: value for name, value in settings.items() if value is not None}
    main_process = int(os.environ.get("RANK", "0")) == 0
    with user_errors():
        options = RunOptions(data=data, out_dir=out_dir, total_kimg=total_kimg, resume=resume_path(resume),
                             snapshot_kimg=snapshot_kimg, grid_kimg=grid_kimg,
                             metric_kimg=(metric_kimg or snapshot_kimg) if metric else None,
                             device=device, num_workers=num_workers)
        measure = training_metric(metric, data, metric_num, inception, metric_cache) if metric else None
        if not main_process:
            train(options, overrides, metric=measure)
            return
        total = int(total_kimg * 1000)
        with click.progressbar(length=total, label="training", file=sys.stderr, item_show_func=describe) as bar:
            update: Callable[[TrainingProgress], None] = \
                lambda report: bar.update(min(int(report.kimg * 1000), total) - bar.pos, current_item=report)
            result = train(options, overrides, progress=update, metric=measure)
    if result.snapshot is not None:
        click.echo(f"last snapshot: {result.snapshot} "
                   f"(serve it with `python -m app serve --weights {result.snapshot}`)")
