"""``python -m app dataset SRC... --out faces.zip``: a training dataset of aligned faces.

    python -m app dataset photos/ holiday.mp4 --out faces.zip --size 256
    python -m app dataset talk.mp4 --out talk.zip --size 128 --frame-step 5

The work is ``app.training.dataset_builder``'s; this module reads the options, fetches YuNet when it is
missing (as ``serve`` does), shows a progress bar, prints the counts, and turns every mistake into one
error line.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import click

import weights
from app.cli.common import ProgressBar, fetch_model, user_errors
from app.models import DEFAULT_DETECTOR, face_detector
from app.training.dataset_builder import DatasetOptions, DatasetSourceError, NoUsableFaces, build_dataset


@click.command("dataset")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The dataset zip to write, in the layout of NVIDIA's dataset_tool.py.")
@click.option("--size", default=256, show_default=True, type=int,
              help="Side of the aligned faces in pixels: a power of two from 32 to 1024.")
@click.option("--min-face", type=click.IntRange(1), metavar="PIXELS",
              help="Leave out faces whose aligned square spans fewer source pixels (default: half of --size, "
                   "so no face is enlarged more than 2x).")
@click.option("--frame-step", default=1, show_default=True, type=click.IntRange(1),
              help="Search every n-th frame of videos (near-duplicate frames are left out anyway).")
@click.option("--detector-model", metavar="PATH_OR_NAME", help="YuNet model file (default: the registry's).")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
def dataset_command(sources: Sequence[Path], out: Path, size: int, min_face: Optional[int], frame_step: int,
                    detector_model: Optional[str], force: bool) -> None:
    """Make a training dataset from photos, videos and folders of them: every face found (YuNet),
    aligned to the FFHQ layout, leaving out faces that are too small, blurred, cut off by the frame
    edge, or near-duplicates of a face already taken from the same video.

    Mirroring is not stored in the dataset: it is the trainer's --mirror option.
    """
    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; choose another --out, or add --force to replace it")
    if detector_model is None and not weights.is_available(DEFAULT_DETECTOR):
        click.echo(f"{DEFAULT_DETECTOR} is not downloaded yet: fetching it now (once).", err=True)
        fetch_model(DEFAULT_DETECTOR)
    options = DatasetOptions(size=size, min_side=min_face, frame_step=frame_step)
    with user_errors():
        detector = face_detector("yunet", detector_model)
        try:
            with ProgressBar("Finding faces") as bar:
                report = build_dataset(sources, out, detector, options, progress=bar)
        except (DatasetSourceError, NoUsableFaces) as error:
            raise click.ClickException(str(error)) from None
    for line in report.summary():
        click.echo(line)
