"""What the command-line modules share: the default models, fetching missing ones with a progress bar,
and turning the errors a user can fix into one clean line (``app.cli`` and ``app.cli_projection``)."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import click

import weights

DEFAULT_GENERATOR = "ffhq-256"
DEFAULT_DETECTOR_MODEL = "yunet"


def models_to_fetch(weights_name: str, detector: str, detector_model: Optional[str]) -> List[str]:
    """The registry models this run needs that are not downloaded yet."""
    needed = [weights_name] if weights_name in weights.REGISTRY else []
    if detector in ("auto", "yunet") and detector_model is None:
        needed.append(DEFAULT_DETECTOR_MODEL)
    return [name for name in needed if not weights.is_available(name)]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can cause and fix (bad source, weights, presets, device) into one clean line."""
    import stylegan2
    from app.params import PresetsError
    from app.pipeline import PipelineConfigError
    from app.sources import SourceError
    from detectors import DetectorUnavailable

    try:
        yield
    except (SourceError, stylegan2.WeightsFormatError, weights.WeightsError, PresetsError, PipelineConfigError,
            DetectorUnavailable) as error:
        raise click.ClickException(str(error)) from None


def fetch_model(name: str, force: bool = False, url: Optional[str] = None) -> Path:
    """Download one registry model with a progress bar, or say that a verified copy is already there."""
    try:
        model = weights.get(name)
        if weights.is_available(name) and not force:
            weights.verify(name)
            click.echo(f"{name}: already present and verified ({weights.local_path(name)})")
            return weights.local_path(name)
        with DownloadProgress(f"{name} ({model.filename})") as progress:
            path = weights.fetch(name, progress=progress, force=force, url=url)
    except weights.WeightsError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{name}: saved {path}")
    if model.sha256 is None:
        click.secho(f"warning: {name} has no published checksum; its sha256 {weights.expected_sha256(name)} "
                    f"was recorded now and every later check compares against it (trust on first use)",
                    fg="yellow", err=True)
    return path


class DownloadProgress:
    """Feeds ``weights.fetch``'s progress callback into a click progress bar (or a byte count)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar = None
        self._shown = 0

    def __enter__(self) -> "DownloadProgress":
        return self

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)
        elif self._shown:
            click.echo(err=True)

    def __call__(self, done: int, total: Optional[int]) -> None:
        if total and self._bar is None:
            self._bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self._bar.__enter__()
        if self._bar is not None:
            self._bar.update(done - self._shown)
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
