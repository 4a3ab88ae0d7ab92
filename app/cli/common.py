"""What the command-line modules share: the options several commands take, fetching missing models with a
progress bar, and turning the errors a user can fix into one clean line."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import click

import stylegan2
import weights
from app import models
from app.images import OutputError
from app.live.presets import PresetsError
from app.live.sources import SourceError
from app.live.virtual_camera import VirtualCameraError
from app.projection.store import ProjectionUnavailable
from app.projection.targets import TargetError
from app.rendering import RenderingUnavailable
from detectors import DetectorUnavailable
from stylegan2.hardware import DeviceError
from stylegan2.inference import BackendUnavailable
from stylegan2.metrics import DatasetReadError, InceptionWeightsError, UnsupportedGenerator
from stylegan2.projection.perceptual import PerceptualNetworkError
from stylegan2.projection.projector import ProjectionError
from stylegan2.studio.directions import DirectionsFormatError
from stylegan2.training import TrainingError

PERCEPTUAL_ENV = "STYLECAM_PERCEPTUAL"   # The perceptual network for projection can also come from here.
# The mistakes a user can make and fix (bad source, weights, photo, projection, output file, ...).
USER_ERRORS = (SourceError, stylegan2.WeightsFormatError, weights.WeightsError, PresetsError, DeviceError,
               DetectorUnavailable, TargetError, ProjectionUnavailable, PerceptualNetworkError, ProjectionError,
               DirectionsFormatError, OutputError, DatasetReadError, InceptionWeightsError, UnsupportedGenerator,
               TrainingError, RenderingUnavailable, BackendUnavailable, VirtualCameraError)


def model_options(command: Callable) -> Callable:
    """The options every command that runs the generator takes: models, device, projections folder."""
    options = [
        click.option("--weights", "weights_name", default=models.DEFAULT_GENERATOR, show_default=True,
                     help="Generator: a registry name (see `weights list`) or a file (NVIDIA .pkl, rosinality "
                          ".pt, StyleCam's own)."),
        click.option("--device", default="auto", show_default=True, help="auto (CUDA if available), cpu, cuda or "
                                                                          "cuda:N."),
        click.option("--detector-model", metavar="PATH_OR_NAME", help="Detector model file (default: the "
                                                                      "registry's)."),
        click.option("--perceptual", default=models.DEFAULT_PERCEPTUAL, show_default=True, envvar=PERCEPTUAL_ENV,
                     help=f"Perceptual network for projection: a registry name or a TorchScript file. "
                          f"Also ${PERCEPTUAL_ENV}."),
        click.option("--projections", "projections_dir", type=click.Path(file_okay=False),
                     help="Folder of saved projections (default: $STYLECAM_PROJECTIONS, or "
                          "~/.local/share/stylecam/projections)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def models_to_fetch(weights_name: str, detector: str, detector_model: Optional[str]) -> List[str]:
    """The registry models this run needs that are not downloaded yet."""
    needed = [weights_name] if weights_name in weights.REGISTRY else []
    if detector in ("auto", "yunet") and detector_model is None:
        needed.append(models.yunet_model())
    return [name for name in needed if not weights.is_available(name)]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can cause and fix (``USER_ERRORS``) into one clean line."""
    try:
        yield
    except USER_ERRORS as error:
        raise click.ClickException(str(error)) from None


def fetch_model(name: str, force: bool = False, url: Optional[str] = None) -> Path:
    """Download one registry model with a progress bar, or say that a verified copy is already there."""
    try:
        model = weights.get(name)
        if weights.is_available(name) and not force:
            weights.verify(name)
            click.echo(f"{name}: already present and verified ({weights.local_path(name)})")
            return weights.local_path(name)
        with ProgressBar(f"{name} ({model.filename})") as progress:
            path = weights.fetch(name, progress=progress, force=force, url=url)
    except weights.WeightsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{name}: saved {path}")
    if model.sha256 is None:
        click.secho(f"warning: {name} has no published checksum; its sha256 {weights.expected_sha256(name)} "
                    f"was recorded now and every later check compares against it (trust on first use)",
                    fg="yellow", err=True)
    return path


class ProgressBar:
    """A click progress bar on stderr fed by ``(done, total)`` calls, shown from the first call; without a
    total (a download whose size is unknown) it counts bytes instead."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar = None
        self._shown = 0

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)
        elif self._shown:
            click.echo(err=True)

    def __call__(self, done: int, total: Optional[int] = None) -> None:
        if total and self._bar is None:
            self._bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self._bar.__enter__()
        if self._bar is not None:
            self._bar.update(max(done - self._shown, 0))
        else:
            click.echo(f"\r{self.label}: {human_size(done)}", nl=False, err=True)
        self._shown = done


def human_size(size: Optional[int]) -> str:
    if size is None:
        return "?"
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
