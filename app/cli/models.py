"""``python -m app weights``: list, download and convert model files."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import click

import stylegan2
import weights
from app.cli.common import fetch_model, human_size


@click.group("weights")
def weights_group() -> None:
    """List, download and convert model files (stored in ~/.cache/stylecam/models or $STYLECAM_WEIGHTS)."""


@weights_group.command("list")
def weights_list() -> None:
    """Show every known model: file, whether it is present and passes its checksum, size, URL."""
    rows = [("NAME", "FILE", "PRESENT", "VERIFIED", "SIZE", "URL")]
    for name, model in weights.REGISTRY.items():
        path = weights.local_path(name)
        present = path.is_file()
        size = path.stat().st_size if present else model.size
        rows.append((name, model.filename, "yes" if present else "no", _verification(name) if present else "-",
                     human_size(size), model.url))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    click.echo(f"\nfolder: {weights.weights_dir()}")


@weights_group.command("fetch")
@click.argument("names", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Download again even if a verified copy is present.")
@click.option("--url", metavar="URL", help="Download from this address instead (a mirror); one NAME only.")
def weights_fetch(names: List[str], force: bool, url: Optional[str]) -> None:
    """Download models by NAME (see `weights list`) and check their sha256."""
    if url and len(names) > 1:
        raise click.UsageError("--url gives the address of one model: name exactly one")
    for name in names:
        fetch_model(name, force=force, url=url)


@weights_group.command("convert")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def weights_convert(source: Path, target: Path) -> None:
    """Convert an NVIDIA pickle or a rosinality checkpoint into StyleCam's own safe format."""
    try:
        meta = stylegan2.convert(source, target)
    except (stylegan2.WeightsFormatError, weights.WeightsError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {target} (from the {meta['source_format']} file {source.name})")


def _verification(name: str) -> str:
    try:
        weights.verify(name)
    except weights.WeightsError:
        return "MISMATCH"
    if weights.get(name).sha256:
        return "yes"
    return "first-use record" if weights.expected_sha256(name) else "no checksum"
