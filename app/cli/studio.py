"""``generate``, ``mix``, ``interpolate`` and ``blend``: the StyleGAN studio on the command line.

    python -m app generate --seeds 1-8,42 --psi 0.7 --out faces.png
    python -m app mix --rows 1,2,3 --cols 10,11,12 --layers coarse --out matrix.png
    python -m app interpolate --from 1 --to me --frames 60 --out morph.gif
    python -m app blend toon.pkl ffhq-256 --swap-res 32 --out toonify.pt

The work is ``stylegan2.studio``'s; this module reads the options, shows progress on stderr, writes
exactly the files it names, and turns mistakes into one error line.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import List, Optional

import click
import torch
from click.core import ParameterSource

from app import models
from app.cli.common import ProgressBar, user_errors
from app.cli.studio_options import (
    fill,
    generator_options,
    latent_option,
    latents_option,
    layers_of,
    load_generator,
    output_of,
    seeds_option,
    still_option,
)
from app.images import (
    ANIMATION_SUFFIXES,
    STILL_SUFFIXES,
    OutputError,
    all_from_engine,
    check_output,
    from_engine,
    write_animation,
    write_image,
)
from app.studio.grids import GridCanvas
from app.studio.latent_sources import LatentResolver, LatentSpec, StoredProjections
from stylegan2.studio.blending import blend_files
from stylegan2.studio.interpolation import midpoint, w_transition, z_transition
from stylegan2.studio.mixing import mixing_matrix
from stylegan2.studio.rendering import iter_batches
from stylegan2.studio.sampling import truncation_sweep

MAX_GRID_CELLS = 1024     # a bigger grid would be a huge image: write a folder instead


def psi_sweep_option(ctx: click.Context, param: click.Parameter, text: Optional[str]) -> Optional[List[float]]:
    """Click callback: START:STOP:COUNT -> COUNT evenly spaced psi values, both ends included."""
    if text is None:
        return None
    parts = text.split(":")
    try:
        start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
        if len(parts) != 3 or not 2 <= count <= 64 or not all(map(math.isfinite, (start, stop))):
            raise ValueError
    except (ValueError, IndexError):
        raise click.BadParameter(f"expected START:STOP:COUNT with 2 to 64 values, e.g. -1:1.5:7, "
                                 f"got {text!r}") from None
    return [start + (stop - start) * index / (count - 1) for index in range(count)]


# --- generate ----------------------------------------------------------------------------------------

@click.command("generate")
@click.option("--seeds", required=True, callback=seeds_option, metavar="SEEDS", help="Seeds and ranges, e.g. 1-8,42.")
@click.option("--psi", default=0.7, show_default=True, type=float,
              help="Truncation: 1 = as sampled, 0 = the average face, below 0 = past it.")
@click.option("--cutoff", type=click.IntRange(1), help="Truncate only the first N layers (default: all).")
@click.option("--psi-sweep", metavar="START:STOP:COUNT", callback=psi_sweep_option,
              help="Instead of --psi: each seed at COUNT psi values from START to STOP, e.g. -1:1.5:7.")
@click.option("--columns", type=click.IntRange(1), help="Faces per grid row (default: about square).")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="A .png/.jpg grid, or a folder (no extension) for one PNG per face.")
@generator_options
def generate(seeds: List[int], psi: float, cutoff: Optional[int], psi_sweep: Optional[List[float]],
             columns: Optional[int], out: Path, weights_name: str, device: str, batch_size: int,
             threads: Optional[int]) -> None:
    """Render faces from seeds: one PNG each into a folder, or one labelled grid.

    \b
    Examples:
      python -m app generate --seeds 1-8,42 --out faces.png
      python -m app generate --seeds 0-99 --psi 0.5 --out faces
      python -m app generate --seeds 1,2,3 --psi-sweep -1:1.5:7 --out sweep.png
    """
    if psi_sweep is not None and click.get_current_context().get_parameter_source("psi") == ParameterSource.COMMANDLINE:
        raise click.UsageError("--psi and --psi-sweep contradict each other: give one")
    grid = bool(out.suffix)
    if grid:
        try:
            check_output(out, STILL_SUFFIXES)
        except OutputError as error:
            raise click.BadParameter(f"{error} for a grid, or a folder name without one", param_hint="--out") from None
    elif not out.absolute().parent.is_dir() or (out.exists() and not out.is_dir()):
        raise click.BadParameter(f"cannot make the folder {out}: its parent folder is missing or a file has its name",
                                 param_hint="--out")
    psis = psi_sweep or [psi]
    if grid:
        if len(seeds) * len(psis) > MAX_GRID_CELLS:
            raise click.BadParameter(f"{len(seeds) * len(psis)} faces make too big a grid (at most {MAX_GRID_CELLS}); "
                                     f"write them to a folder instead", param_hint="--out")
    G = load_generator(weights_name, device, threads)
    if cutoff is not None and cutoff > G.num_ws:
        raise click.BadParameter(f"this model has {G.num_ws} layers, got {cutoff}", param_hint="--cutoff")
    ws = truncation_sweep(G, seeds, psis, cutoff)                  # [seeds, psis, num_ws, w_dim]
    names = [f"seed{seed:04d}" + (f"-psi{value:+.2f}" if psi_sweep else "") for seed in seeds for value in psis]
    with user_errors():
        if not grid:
            out.mkdir(exist_ok=True)
            with ProgressBar("generating") as progress:
                for start, images in iter_batches(G, ws.flatten(0, 1), batch_size):
                    for offset, bgr in enumerate(all_from_engine(images)):
                        write_image(out / f"{names[start + offset]}.png", bgr)
                    progress(start + len(images), len(names))
            click.echo(f"wrote {len(names)} images to {out}")
            return
        if psi_sweep:
            canvas = GridCanvas(len(seeds), len(psis), G.img_resolution, [f"seed {seed}" for seed in seeds],
                                [f"psi {value:.2f}" for value in psis])
            positions = [(row, column) for row in range(len(seeds)) for column in range(len(psis))]
        else:
            width = columns or math.ceil(math.sqrt(len(seeds)))
            positions = [divmod(index, width) for index in range(len(seeds))]
            canvas = GridCanvas(math.ceil(len(seeds) / width), min(width, len(seeds)), G.img_resolution,
                                captions={position: f"seed {seed}" for position, seed in zip(positions, seeds)})
        fill(G, ws.flatten(0, 1), canvas, positions, batch_size, "generating")
        write_image(out, canvas.image)
    click.echo(f"wrote {out} ({len(names)} faces)")


# --- mix ---------------------------------------------------------------------------------------------

@click.command("mix")
@click.option("--rows", required=True, callback=latents_option, metavar="FACES",
              help="The faces of the rows, which keep all but --layers: seeds, ranges or projections, e.g. 1-3,me.")
@click.option("--cols", "columns", required=True, callback=latents_option, metavar="FACES",
              help="The faces of the columns, whose --layers the rows take.")
@click.option("--layers", required=True, metavar="coarse|middle|fine|A:B",
              help="The styles taken from the columns: coarse (4-8 px: pose, face shape), middle (16-32 px: "
                   "features, hair style), fine (64 px up: colours), or a W+ range such as 4:8.")
@click.option("--psi", default=0.7, show_default=True, type=float, help="Truncation of the seeds.")
@click.option("--projections", "projections_dir", type=click.Path(file_okay=False),
              help="Folder of saved projections (default: the live app's).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), callback=still_option,
              help="The matrix to write (.png or .jpg).")
@generator_options
def mix(rows: List[LatentSpec], columns: List[LatentSpec], layers: str, psi: float, projections_dir: Optional[str],
        out: Path, weights_name: str, device: str, batch_size: int, threads: Optional[int]) -> None:
    """Write a style-mixing matrix: the column faces on top, the row faces on the left, and in each cell
    the row's face with the column's LAYERS.

    \b
    Examples:
      python -m app mix --rows 1,2,3 --cols 10,11,12 --layers coarse --out matrix.png
      python -m app mix --rows me --cols 1-6 --layers fine --out my-colours.png
      python -m app mix --rows 1,2 --cols 3,4 --layers 4:8 --psi 0.5 --out middle.png
    """
    if (len(rows) + 1) * (len(columns) + 1) > MAX_GRID_CELLS:
        raise click.BadParameter(f"a {len(rows)} x {len(columns)} matrix is too big (at most {MAX_GRID_CELLS} "
                                 f"cells)", param_hint="--rows")
    G = load_generator(weights_name, device, threads)
    layer_range = layers_of(G, layers)
    with user_errors():
        resolver = LatentResolver(G, StoredProjections(G, projections_dir), psi)
        row_ws, column_ws = resolver.ws(rows), resolver.ws(columns)
        body = torch.cat([row_ws.unsqueeze(1), mixing_matrix(row_ws, column_ws, layer_range)], dim=1)
        span = f"{layer_range.start}:{layer_range.stop}"
        captions = {(0, 0): span if ":" in layers else f"{layers.strip().lower()} {span}"}
        captions.update({(0, c + 1): spec.label for c, spec in enumerate(columns)})
        captions.update({(r + 1, 0): spec.label for r, spec in enumerate(rows)})
        canvas = GridCanvas(len(rows) + 1, len(columns) + 1, G.img_resolution, captions=captions)
        positions = ([(0, c + 1) for c in range(len(columns))]
                     + [(r + 1, c) for r in range(len(rows)) for c in range(len(columns) + 1)])
        fill(G, torch.cat([column_ws, body.flatten(0, 1)]), canvas, positions, batch_size, "mixing")
        write_image(out, canvas.image)
    click.echo(f"wrote {out} ({len(rows)} rows x {len(columns)} columns, layers {layer_range.start}:"
               f"{layer_range.stop} from the columns)")


# --- interpolate -------------------------------------------------------------------------------------

@click.command("interpolate")
@click.option("--from", "start", required=True, callback=latent_option, metavar="SEED_OR_PROJECTION",
              help="The first face: a seed or a saved projection.")
@click.option("--to", "end", required=True, callback=latent_option, metavar="SEED_OR_PROJECTION",
              help="The second face.")
@click.option("--frames", default=60, show_default=True, type=click.IntRange(2, 600), help="Frames in all.")
@click.option("--space", default="w", show_default=True, type=click.Choice(["w", "z"]),
              help="w: a straight line between the latents (seeds or projections); z: a spherical path "
                   "between two seeds' z.")
@click.option("--psi", default=0.7, show_default=True, type=float, help="Truncation of the seeds.")
@click.option("--fps", default=30.0, show_default=True, type=click.FloatRange(1, 60), help="Frames per second.")
@click.option("--loop/--no-loop", default=True, show_default=True,
              help="Go there and back (a seamless loop), or once from the first face to the second.")
@click.option("--midpoint", "write_midpoint", is_flag=True,
              help="Write only the face halfway, (w1 + w2) / 2, as a still (--out .png or .jpg).")
@click.option("--projections", "projections_dir", type=click.Path(file_okay=False),
              help="Folder of saved projections (default: the live app's).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A .gif or .mp4 (or with --midpoint a .png or .jpg).")
@generator_options
def interpolate(start: LatentSpec, end: LatentSpec, frames: int, space: str, psi: float, fps: float, loop: bool,
                write_midpoint: bool, projections_dir: Optional[str], out: Path, weights_name: str, device: str,
                batch_size: int, threads: Optional[int]) -> None:
    """Animate the transition from one face to another, or write the face halfway between them.

    \b
    Examples:
      python -m app interpolate --from 1 --to 2 --out morph.gif
      python -m app interpolate --from 7 --to 42 --space z --frames 90 --no-loop --out morph.mp4
      python -m app interpolate --from me --to 42 --midpoint --out between.png
    """
    output_of(out, STILL_SUFFIXES if write_midpoint else ANIMATION_SUFFIXES)
    G = load_generator(weights_name, device, threads)
    with user_errors():
        resolver = LatentResolver(G, StoredProjections(G, projections_dir), psi)
        if write_midpoint:
            ws = resolver.ws([start, end])
            write_image(out, from_engine(next(iter_batches(G, midpoint(ws[0:1], ws[1:2])))[1]))
            click.echo(f"wrote {out} (halfway between {start.label} and {end.label})")
            return
        if space == "z":
            path = z_transition(G, resolver.z(start), resolver.z(end), frames, loop, psi)
        else:
            ws = resolver.ws([start, end])
            path = w_transition(ws[0:1], ws[1:2], frames, loop)
        rendered: List = []
        with ProgressBar("rendering frames") as progress:
            for first, images in iter_batches(G, path, batch_size):
                rendered.extend(all_from_engine(images))
                progress(first + len(images), frames)
        write_animation(out, rendered, fps, loop)
    click.echo(f"wrote {out} ({frames} frames, {start.label} to {end.label} in {space.upper()})")


# --- blend -------------------------------------------------------------------------------------------

@click.command("blend")
@click.argument("base", metavar="BASE")
@click.argument("other", metavar="OTHER")
@click.option("--swap-res", required=True, type=int, metavar="PX",
              help="The first resolution taken from OTHER (e.g. 32): below it BASE, from it on OTHER.")
@click.option("--blend-width", type=click.FloatRange(min=0, min_open=True), metavar="OCTAVES",
              help="Blend smoothly over about this many resolution doublings around the swap (e.g. 0.5) "
                   "instead of swapping hard.")
@click.option("--mapping", default="base", show_default=True, type=click.Choice(["base", "other"]),
              help="Which model's mapping network (and average face) the blend uses.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The blended generator to write (.pt, StyleCam's format; loads like any generator).")
def blend(base: str, other: str, swap_res: int, blend_width: Optional[float], mapping: str, out: Path) -> None:
    """Blend two generators of one architecture: BASE's low resolutions with OTHER's high ones.

    BASE and OTHER are weight files (any format StyleCam reads) or registry names, one fine-tuned from
    the other. A cartoon model as BASE and FFHQ as OTHER gives cartoon shapes with photo textures (the
    "toonify" blend); the other way round, real faces drawn in the cartoon's style. The result records
    both sources' sha256 and the settings.

    \b
    Examples:
      python -m app blend toon-256.pkl ffhq-256 --swap-res 32 --out toonify.pt
      python -m app blend ffhq-256 toon-256.pkl --swap-res 16 --blend-width 0.5 --mapping other --out soft.pt
    """
    output_of(out, (".pt",))
    click.echo(f"blending {Path(base).name} and {Path(other).name} ...", err=True)
    with user_errors():
        try:
            provenance = blend_files(models.model_path(base, "BASE"), models.model_path(other, "OTHER"), out,
                                     swap_res, blend_width, mapping)
        except ValueError as error:        # incompatible models, or a swap resolution the models do not have
            raise click.ClickException(str(error)) from None
    weights = provenance["other_weight_by_resolution"]
    if blend_width is None:
        below = [res for res, weight in weights.items() if weight == 0]
        summary = f"{below[0]}-{below[-1]} px from BASE, {swap_res} px up from OTHER"
    else:
        shares = ", ".join(f"{res} px {weight:.2f}" for res, weight in weights.items())
        summary = f"OTHER's share by resolution {shares}"
    click.echo(f"wrote {out}: {summary}, mapping from {mapping}")



