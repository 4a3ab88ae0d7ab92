"""``python -m app project`` and ``python -m app stylize``: projection and style mixing for photos.

    python -m app project me.jpg --out me            # projections/me/ (selectable in the app) + me.jpg
    python -m app stylize group.jpg --style 42 --layers 7:14 --out group-styled.jpg
    python -m app stylize me.jpg --face me --style friend --layers 4:14 --strength 0.7 --out out.jpg

The work is ``app.projection.photos``'s; this module reads the options, shows progress bars and turns
user mistakes into one error line. The perceptual network is NVIDIA's vgg16 by default (``python -m app
weights fetch vgg16``); ``--perceptual PATH`` (or ``$STYLECAM_PERCEPTUAL``) takes any TorchScript network
with its call signature, such as the stand-in the tests use.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import click
import cv2
import torch

from app.cli.common import fetch_model, model_options, models_to_fetch, user_errors
from app.composition import photo_projector
from app.images import write_image
from app.projection.jobs import DEFAULT_STEPS, MAX_STEPS, MIN_STEPS, JobOptions
from app.projection.photos import PhotoProjector, read_photo, side_by_side
from app.projection.store import check_name
from app.projection.targets import Target, aligned_target
from stylegan2.latents import parse_layers
from stylegan2.projection.projector import ProjectionResult


def projection_options(command):
    """The options of a projection: steps, latent space, CPU threads."""
    options = [
        click.option("--steps", default=DEFAULT_STEPS, show_default=True, type=click.IntRange(MIN_STEPS, MAX_STEPS),
                     help="Optimisation steps per face (early stopping may end sooner)."),
        click.option("--space", default="w+", show_default=True, type=click.Choice(["w", "w+"]),
                     help="w+ fits a face best; w mixes most predictably."),
        click.option("--threads", type=click.IntRange(1), help="CPU threads for PyTorch (default: all cores)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def load_tools(weights_name: str, device: str, perceptual: str, detector_model: Optional[str],
               projections_dir: Optional[str], threads: Optional[int]) -> PhotoProjector:
    """Fetch missing registry models (as ``serve`` does; not vgg16, which says how), then load them."""
    if threads:
        torch.set_num_threads(threads)
    for name in models_to_fetch(weights_name, "auto", detector_model):
        click.echo(f"{name} is not downloaded yet: fetching it now (once).", err=True)
        fetch_model(name)
    return photo_projector(weights_name, device, perceptual, detector_model, projections_dir)


def project_with_bar(tools: PhotoProjector, target: Target, options: JobOptions, label: str) -> ProjectionResult:
    """Project one aligned face with a progress bar on stderr (early stopping completes it)."""
    steps = options.config().num_steps
    with click.progressbar(length=steps, label=label, file=sys.stderr) as bar:
        result = tools.project(target, options, progress=lambda progress: bar.update(progress.step - bar.pos))
        bar.update(steps - bar.pos)
    return result


def image_path(ctx: click.Context, param: click.Parameter, path: Optional[Path]) -> Optional[Path]:
    """Check an output image option when the options are read, before any work: a format OpenCV writes
    (told by the extension) in a folder that exists, so a mistake never costs a projection."""
    if path is None:
        return None
    if not cv2.haveImageWriter(str(path)):
        raise click.BadParameter(f"cannot write {path.name!r}: use a .jpg or .png name")
    if not path.absolute().parent.is_dir():
        raise click.BadParameter(f"the folder {path.absolute().parent} does not exist")
    return path


@click.command("project")
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "name", required=True, help="Name to save the projection under, e.g. me.")
@click.option("--comparison", type=click.Path(dir_okay=False, path_type=Path), callback=image_path,
              help="Where to write the side-by-side target | result image (default: NAME.jpg here).")
@model_options
@projection_options
def project_command(photo: Path, name: str, comparison: Optional[Path], weights_name: str, device: str,
                    perceptual: str, detector_model: Optional[str], projections_dir: Optional[str], steps: int,
                    space: str, threads: Optional[int]) -> None:
    """Project the largest face of PHOTO into the generator's latent space and save it as NAME."""
    try:
        check_name(name)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--out") from None
    comparison = comparison or Path(f"{name}.jpg")
    with user_errors():
        tools = load_tools(weights_name, device, perceptual, detector_model, projections_dir, threads)
        if tools.store.exists(name):
            raise click.ClickException(f"a projection named '{name}' already exists in {tools.store.root}; "
                                       f"choose another --out")
        tools.perceptual()                  # a missing network fails before the photo is even read
        source = f"file:{photo.name}"
        target = tools.finder.target(read_photo(photo), source)
        result = project_with_bar(tools, target, JobOptions(steps=steps, space=space),
                                  f"projecting {photo.name}")
        folder = tools.store.save(result, name, source=source)
    with user_errors():
        write_image(comparison, side_by_side(result))
    click.echo(f"saved projection '{name}' in {folder} ({result.steps} steps, {result.seconds:.1f} s, "
               f"LPIPS {result.losses['lpips']:.3f})")
    click.echo(f"wrote {comparison} (target | result)")


@click.command("stylize")
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--style", required=True, metavar="SEED_OR_PROJECTION",
              help="Style source: a seed (e.g. 42), a saved projection's name, or a projection folder.")
@click.option("--layers", required=True, metavar="START:STOP",
              help="W+ layers taken from the style source, in this model's numbering (7:14 = the fine layers "
                   "of a 256 px model).")
@click.option("--strength", default=1.0, show_default=True, type=click.FloatRange(0, 1),
              help="How far those layers move toward the style source.")
@click.option("--psi", default=0.7, show_default=True, type=click.FloatRange(0, 1),
              help="Truncation of a seed style source.")
@click.option("--face", "face_spec", metavar="PROJECTION",
              help="Use this saved projection for every face instead of projecting each one.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), callback=image_path,
              help="The stylized photo to write (.jpg or .png).")
@model_options
@projection_options
def stylize_command(photo: Path, style: str, layers: str, strength: float, psi: float, face_spec: Optional[str],
                    out: Path, weights_name: str, device: str, perceptual: str, detector_model: Optional[str],
                    projections_dir: Optional[str], steps: int, space: str, threads: Optional[int]) -> None:
    """Stylize every face in PHOTO: its latent, with LAYERS taken from the style source, pasted back."""

    with user_errors():
        tools = load_tools(weights_name, device, perceptual, detector_model, projections_dir, threads)
        try:
            layer_range = parse_layers(layers, tools.generator.num_ws)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--layers") from None
        style_ws = tools.style_latent(style, psi)
        given_ws = tools.latent(face_spec) if face_spec else None
        frame = read_photo(photo)
        faces = tools.finder.faces(frame)
        if not faces:
            raise click.ClickException(f"no face found in {photo}")
        latents: List[torch.Tensor] = []
        for number, face in enumerate(faces, start=1):
            if given_ws is not None:
                latents.append(given_ws)
                continue
            target = aligned_target(frame, face.landmarks, tools.generator.img_resolution, "")
            options = JobOptions(steps=steps, space=space)
            latents.append(project_with_bar(tools, target, options, f"face {number}/{len(faces)}").ws)
        stylized = tools.stylize(frame, faces, [ws.to(tools.device) for ws in latents], style_ws, layer_range,
                                 strength)
    with user_errors():
        write_image(out, stylized)
    click.echo(f"wrote {out} ({len(faces)} face{'s' if len(faces) != 1 else ''} stylized)")
