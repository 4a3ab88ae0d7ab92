"""What the studio commands (``app.cli.studio``, ``app.cli.directions``) share: the generator options,
loading the model, checking options before any work, progress bars on stderr, filling a grid, and turning
every mistake a user can fix into one error line."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import click
import torch

from app import models
from app.cli.common import ProgressBar, user_errors
from app.images import STILL_SUFFIXES, OutputError, all_from_engine, check_output
from app.studio.grids import GridCanvas
from app.studio.latent_sources import LatentSpec, parse_latents, parse_seeds
from stylegan2.hardware import resolve_device
from stylegan2.studio.mixing import parse_layer_spec
from stylegan2.studio.rendering import iter_batches


def generator_options(command: Callable) -> Callable:
    """--weights and the runtime options, which every command that renders a --weights model takes."""
    return click.option("--weights", "weights_name", default=models.DEFAULT_GENERATOR, show_default=True,
                        metavar="NAME_OR_FILE",
                        help="Generator: a registry name (see `weights list`) or a file (NVIDIA .pkl, rosinality "
                             ".pt, StyleCam's own, a blend).")(runtime_options(command))


def runtime_options(command: Callable) -> Callable:
    """--device, --batch and --threads, which every command that renders takes."""
    options = [
        click.option("--device", default="auto", show_default=True, help="auto (CUDA if available), cpu, cuda or "
                                                                          "cuda:N."),
        click.option("--batch", "batch_size", default=8, show_default=True, type=click.IntRange(1, 256),
                     help="Faces rendered per generator call."),
        click.option("--threads", type=click.IntRange(1), help="CPU threads for PyTorch (default: all cores)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def load_generator(weights_name: str, device: str, threads: Optional[int]) -> torch.nn.Module:
    """The generator on `device`, ready for inference (the error says how to fetch a missing model)."""
    if threads:
        torch.set_num_threads(threads)
    with user_errors():
        return models.load_generator(weights_name, resolve_device(device)).generator


def still_option(ctx: click.Context, param: click.Parameter, path: Optional[Path]) -> Optional[Path]:
    """Click callback: a .png/.jpg name in a folder that exists, checked before any work."""
    if path is None:
        return None
    try:
        return check_output(path, STILL_SUFFIXES)
    except OutputError as error:
        raise click.BadParameter(str(error)) from None


def output_of(path: Path, suffixes: Sequence[str], option: str = "--out") -> Path:
    """`path` if it names a file of one of `suffixes` in a folder that exists, else a usage error."""
    try:
        return check_output(path, suffixes)
    except OutputError as error:
        raise click.BadParameter(str(error), param_hint=option) from None


def layers_of(G: torch.nn.Module, spec: str, option: str = "--layers") -> slice:
    """A layer group or range for this model, or a usage error naming the option."""
    try:
        return parse_layer_spec(spec, G.num_ws)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=option) from None


def seeds_option(ctx: click.Context, param: click.Parameter, text: Optional[str]) -> Optional[List[int]]:
    """Click callback: a seed list such as 1-8,42."""
    if text is None:
        return None
    try:
        return parse_seeds(text)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def latents_option(ctx: click.Context, param: click.Parameter, text: Optional[str]) -> Optional[List[LatentSpec]]:
    """Click callback: seeds, seed ranges and projections, such as 1-3,me."""
    if text is None:
        return None
    try:
        return parse_latents(text)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def latent_option(ctx: click.Context, param: click.Parameter, text: Optional[str]) -> Optional[LatentSpec]:
    """Click callback: exactly one seed or projection."""
    specs = latents_option(ctx, param, text)
    if specs is not None and len(specs) != 1:
        raise click.BadParameter(f"expected one seed or projection, got {len(specs)} faces in {text!r}")
    return None if specs is None else specs[0]


def fill(G: torch.nn.Module, ws: torch.Tensor, canvas: GridCanvas, positions: Sequence[Tuple[int, int]],
         batch_size: int, label: str) -> None:
    """Render ws [N, num_ws, w_dim] into the canvas cells `positions` (one per latent), with a progress bar."""
    with ProgressBar(label) as progress:
        for start, images in iter_batches(G, ws, batch_size):
            for offset, bgr in enumerate(all_from_engine(images)):
                canvas.put(*positions[start + offset], bgr)
            progress(start + len(images), len(ws))
