"""``python -m app metrics fid|kid``: how close a generator's faces are to a dataset's.

    python -m app metrics fid --weights snapshot.pkl --data faces.zip --num 50000
    python -m app metrics kid --weights snapshot.pkl --data faces.zip --num 5000

The Inception network is the registry's "inception-fid" (fetched once, sha256 checked, loaded as a plain
state dict); the dataset's features are cached in --cache (by default StyleCam's folder in the user's
cache folder), so later runs against the same dataset only generate and measure the generator's images.
The work is ``stylegan2.metrics``'s.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import click

import weights
from app import models
from app.cli.common import ProgressBar, fetch_model, user_errors
from stylegan2.hardware import resolve_device
from stylegan2.metrics import fid, kid

DEFAULT_CACHE = weights.cache_dir() / "metrics"
STAGE_LABELS = {"dataset": "Dataset features", "generator": "Generated images"}


def metric_options(command: Callable) -> Callable:
    """The options both metrics share."""
    options = [
        click.option("--weights", "weights_name", default=models.DEFAULT_GENERATOR, show_default=True,
                     help="Generator: a registry name or a file (NVIDIA .pkl, rosinality .pt, StyleCam's own)."),
        click.option("--data", required=True, type=click.Path(exists=True, path_type=Path),
                     help="The dataset: a zip (or folder) in NVIDIA's layout, e.g. from `python -m app dataset`."),
        click.option("--num", default=50000, show_default=True, type=click.IntRange(2),
                     help="Generated images (seeds 0 to num-1, truncation psi 1); 50000 is the published "
                          "FID count, which takes hours on a CPU: use fewer, or KID, there."),
        click.option("--max-real", type=click.IntRange(2), help="Use only the dataset's first images."),
        click.option("--device", default="auto", show_default=True, help="auto (CUDA if available), cpu, cuda."),
        click.option("--batch", default=32, show_default=True, type=click.IntRange(1), help="Images per batch."),
        click.option("--noise", default="const", show_default=True, type=click.Choice(["const", "random"]),
                     help="Noise inputs: const (each seed's image fixed) or random (as NVIDIA's metrics)."),
        click.option("--inception", default=models.DEFAULT_INCEPTION, show_default=True, metavar="NAME_OR_PATH",
                     help="The FID Inception-v3: the registry's, or a state-dict file of it."),
        click.option("--cache", "cache_dir", default=str(DEFAULT_CACHE), show_default=True,
                     type=click.Path(file_okay=False, path_type=Path), help="Folder for the dataset's features."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group("metrics")
def metrics_group() -> None:
    """Measure a generator against a dataset: FID (the standard) or KID (unbiased, for small sets)."""


@metrics_group.command("fid")
@metric_options
def fid_command(weights_name: str, data: Path, num: int, max_real: Optional[int], device: str, batch: int,
                noise: str, inception: str, cache_dir: Path) -> None:
    """Fréchet Inception Distance (lower is closer; 50000 images is the usual count)."""
    G, network = load_models(weights_name, inception, device)
    with user_errors(), StageBars() as progress:
        score = fid(G, data, network, num=num, cache_dir=cache_dir, max_real=max_real, batch_size=batch,
                    noise_mode=noise, progress=progress)
    click.echo(f"FID {score:.4f} ({num} generated images against {data})")


@metrics_group.command("kid")
@metric_options
@click.option("--subsets", default=100, show_default=True, type=click.IntRange(1), help="Random subsets averaged.")
@click.option("--subset-size", default=1000, show_default=True, type=click.IntRange(2),
              help="Images per subset (fewer if a set is smaller).")
def kid_command(weights_name: str, data: Path, num: int, max_real: Optional[int], device: str, batch: int,
                noise: str, inception: str, cache_dir: Path, subsets: int, subset_size: int) -> None:
    """Kernel Inception Distance: mean and spread over random subsets (lower is closer)."""
    G, network = load_models(weights_name, inception, device)
    with user_errors(), StageBars() as progress:
        result = kid(G, data, network, num=num, cache_dir=cache_dir, max_real=max_real, batch_size=batch,
                     num_subsets=subsets, max_subset_size=subset_size, noise_mode=noise, progress=progress)
    click.echo(f"KID {result.value:.6f} ± {result.std:.6f} ({num} generated images against {data})")


def load_models(weights_name: str, inception: str, device_name: str):
    """The generator and the Inception network on one device, fetching missing registry files first."""
    for name in (weights_name, inception):
        if name in weights.REGISTRY and not weights.is_available(name):
            click.echo(f"{name} is not downloaded yet: fetching it now (once).", err=True)
            fetch_model(name)
    with user_errors():
        device = resolve_device(device_name)
        G = models.load_generator(weights_name, device).generator
        return G, models.load_inception_network(inception, device)


class StageBars:
    """One progress bar per stage of a metric (dataset features, then generated images)."""

    def __init__(self) -> None:
        self._stage: Optional[str] = None
        self._bar: Optional[ProgressBar] = None

    def __enter__(self) -> "StageBars":
        return self

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            if self._bar is not None:
                self._bar.__exit__(None, None, None)
            self._stage, self._bar = stage, ProgressBar(STAGE_LABELS.get(stage, stage))
        self._bar(done, total)

