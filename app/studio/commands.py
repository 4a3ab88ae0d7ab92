"""``generate``, ``mix``, ``interpolate``, ``blend`` and ``directions``: the StyleGAN studio on the command line.

    python -m app generate --seeds 1-8,42 --psi 0.7 --out faces.png
    python -m app mix --rows 1,2,3 --cols 10,11,12 --layers coarse --out matrix.png
    python -m app interpolate --from 1 --to me --frames 60 --out morph.gif
    python -m app blend ffhq-256 toon.pkl --swap-res 32 --out toonify.pt
    python -m app directions ffhq-256 --method labelled --out traits.pt --preview traits.png

The work is ``stylegan2.studio``'s (and ``app.studio.labelled``'s for measured traits); this module reads
the options, shows progress on stderr, writes exactly the files it names, and turns mistakes into one
error line. ``COMMANDS`` lists the commands for the CLI to register.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import click
import torch
from click.core import ParameterSource

from detectors import create_detector
from stylegan2.studio.blending import blend_files
from stylegan2.studio.directions import DirectionSet, import_directions, save_directions
from stylegan2.studio.interpolation import midpoint, w_transition, z_transition
from stylegan2.studio.mixing import mixing_matrix
from stylegan2.studio.rendering import iter_batches, to_uint8
from stylegan2.studio.sampling import seeds_to_ws, truncation_sweep
from stylegan2.studio.unsupervised_directions import pca, sefa

from .command_support import (Progress, generator_options, latent_option, latents_option, layers_of,
                              load_generator, runtime_options, seeds_option, user_errors)
from .images import ANIMATION_SUFFIXES, STILL_SUFFIXES, GridCanvas, OutputError, check_output, write_animation, write_image
from .labelled import find_labelled_directions
from .latent_sources import LatentResolver, LatentSpec, StoredProjections
from .measurements import FaceMeasurer

MAX_GRID_CELLS = 1024     # a bigger grid would be a huge image: write a folder instead
PREVIEW_STRENGTHS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
METHODS = ("sefa", "pca", "labelled", "import")


def still_option(ctx: click.Context, param: click.Parameter, path: Optional[Path]) -> Optional[Path]:
    """Click callback: a .png/.jpg name in a folder that exists, checked before any work."""
    if path is None:
        return None
    try:
        return check_output(path, STILL_SUFFIXES)
    except OutputError as error:
        raise click.BadParameter(str(error)) from None


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
        raise click.BadParameter(f"expected START:STOP:COUNT with 2 to 64 values, e.g. -1:1.5:7, got {text!r}") from None
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
            with Progress(len(names), "generating") as progress:
                for start, images in iter_batches(G, ws.flatten(0, 1), batch_size):
                    for offset, rgb in enumerate(to_uint8(images)):
                        write_image(out / f"{names[start + offset]}.png", rgb[:, :, ::-1])
                    progress.to(start + len(images))
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
    try:
        check_output(out, STILL_SUFFIXES if write_midpoint else ANIMATION_SUFFIXES)
    except OutputError as error:
        raise click.BadParameter(str(error), param_hint="--out") from None
    G = load_generator(weights_name, device, threads)
    with user_errors():
        resolver = LatentResolver(G, StoredProjections(G, projections_dir), psi)
        if write_midpoint:
            ws = resolver.ws([start, end])
            images = to_uint8(next(iter_batches(G, midpoint(ws[0:1], ws[1:2])))[1])
            write_image(out, images[0][:, :, ::-1])
            click.echo(f"wrote {out} (halfway between {start.label} and {end.label})")
            return
        if space == "z":
            path = z_transition(G, resolver.z(start), resolver.z(end), frames, loop, psi)
        else:
            ws = resolver.ws([start, end])
            path = w_transition(ws[0:1], ws[1:2], frames, loop)
        rendered: List = []
        with Progress(frames, "rendering frames") as progress:
            for first, images in iter_batches(G, path, batch_size):
                rendered.extend(to_uint8(images))
                progress.to(first + len(images))
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
    """Blend two generators of one architecture: BASE's low resolutions with OTHER's high ones (toonify).

    BASE and OTHER are weight files (any format StyleCam reads) or registry names. The result records
    both sources' sha256 and the settings.

    \b
    Examples:
      python -m app blend ffhq-256 toon-256.pkl --swap-res 32 --out toonify.pt
      python -m app blend toon-256.pkl ffhq-256 --swap-res 16 --blend-width 0.5 --mapping other --out soft.pt
    """
    try:
        check_output(out, (".pt",))
    except OutputError as error:
        raise click.BadParameter(str(error), param_hint="--out") from None
    click.echo(f"blending {Path(base).name} and {Path(other).name} ...", err=True)
    with user_errors():
        try:
            provenance = blend_files(base, other, out, swap_res, blend_width, mapping)
        except ValueError as error:        # incompatible models, or a swap resolution the models do not have
            raise click.ClickException(str(error)) from None
    weights = provenance["other_weight_by_resolution"]
    if blend_width is None:
        below = [res for res, weight in weights.items() if weight == 0]
        summary = f"{below[0]}-{below[-1]} px from BASE, {swap_res} px up from OTHER"
    else:
        summary = "OTHER's share by resolution " + ", ".join(f"{res} px {weight:.2f}" for res, weight in weights.items())
    click.echo(f"wrote {out}: {summary}, mapping from {mapping}")


# --- directions --------------------------------------------------------------------------------------

@click.command("directions")
@click.argument("model", metavar="MODEL")
@click.option("--method", required=True, type=click.Choice(METHODS),
              help="sefa: from the weights alone (instant); pca: of sampled w (seconds); labelled: measure "
                   "sampled faces and fit a named direction per trait (minutes); import: read --from FILE.")
@click.option("--layers", default="0:", show_default=True, metavar="coarse|middle|fine|A:B",
              help="The W+ layers the directions act on (and SeFa factorises).")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1),
              help="Keep this many directions, the strongest first (labelled: best held-out correlation).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The directions file to write (.pt).")
@click.option("--samples", type=click.IntRange(1), help="Faces to sample (pca: 20000, labelled: 1000).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2 ** 32 - 1),
              help="Seed of the sampled faces.")
@click.option("--psi", default=0.7, show_default=True, type=float,
              help="Truncation of the preview faces and (labelled) of the sampled faces.")
@click.option("--regression", default="ridge", show_default=True, type=click.Choice(["ridge", "logistic"]),
              help="labelled: ridge for a measure, logistic for above / below its median.")
@click.option("--detector-model", metavar="PATH_OR_NAME", help="labelled: YuNet model file (default: the registry's).")
@click.option("--from", "source", type=click.Path(dir_okay=False, path_type=Path),
              help="import: a .npy or .pt file of [k, w_dim] or [w_dim] directions (or name -> vector).")
@click.option("--names", help="import: comma-separated names, one per direction.")
@click.option("--preview", type=click.Path(dir_okay=False, path_type=Path), callback=still_option,
              help="Also write a sheet of each direction at -3..+3 on the --preview-seeds (.png or .jpg).")
@click.option("--preview-seeds", default="1,2,3", show_default=True, callback=seeds_option, metavar="SEEDS",
              help="The faces of the preview sheet.")
@runtime_options
def directions(model: str, method: str, layers: str, top: int, out: Path, samples: Optional[int], seed: int,
               psi: float, regression: str, detector_model: Optional[str], source: Optional[Path],
               names: Optional[str], preview: Optional[Path], preview_seeds: List[int], device: str,
               batch_size: int, threads: Optional[int]) -> None:
    """Find latent directions of MODEL (a weights file or registry name) and write them as a named set
    the page offers as sliders.

    \b
    Examples:
      python -m app directions ffhq-256 --method sefa --layers 0:8 --out sefa.pt --preview sefa.png
      python -m app directions ffhq-256 --method pca --top 20 --out pca.pt
      python -m app directions ffhq-256 --method labelled --samples 2000 --out traits.pt --preview traits.png
      python -m app directions ffhq-256 --method import --from smile.npy --names smile --out smile.pt
    """
    check_method_options(method, source, names, samples, regression, detector_model)
    try:
        check_output(out, (".pt",))
    except OutputError as error:
        raise click.BadParameter(str(error), param_hint="--out") from None
    G = load_generator(model, device, threads)
    layer_range = layers_of(G, layers)
    with user_errors():
        found = find_directions(G, method, layer_range, top, samples, seed, psi, regression, detector_model,
                                source, names, batch_size)
        save_directions(found, out)
        click.echo(f"wrote {out}: {len(found)} directions on layers {found.layers.start}:{found.layers.stop}")
        for index, name in enumerate(found.names):
            click.echo(f"  {index + 1:2d}. {name:<18} {describe_score(found, index)}")
        if preview is not None:
            write_preview(G, found, preview_seeds, psi, preview, batch_size)
            click.echo(f"wrote {preview} ({len(found)} directions x {len(preview_seeds)} faces at "
                       f"{PREVIEW_STRENGTHS[0]:+g}..{PREVIEW_STRENGTHS[-1]:+g})")


def check_method_options(method: str, source: Optional[Path], names: Optional[str], samples: Optional[int],
                         regression: str, detector_model: Optional[str]) -> None:
    """Refuse options that the chosen method would silently ignore."""
    context = click.get_current_context()
    given = {name for name in ("regression", "detector_model", "samples", "source", "names")
             if context.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    allowed = {"sefa": set(), "pca": {"samples"}, "labelled": {"samples", "regression", "detector_model"},
               "import": {"source", "names"}}[method]
    stray = sorted(given - allowed)
    if stray:
        flags = ", ".join("--" + {"source": "from"}.get(name, name).replace("_", "-") for name in stray)
        raise click.UsageError(f"{flags} do{'es' if len(stray) == 1 else ''} not apply to --method {method}")
    if method == "import" and source is None:
        raise click.UsageError("--method import needs --from FILE")


def find_directions(G: torch.nn.Module, method: str, layers: slice, top: int, samples: Optional[int], seed: int,
                    psi: float, regression: str, detector_model: Optional[str], source: Optional[Path],
                    names: Optional[str], batch_size: int) -> DirectionSet:
    """Run the chosen method; every failure a user can fix comes out as a ClickException."""
    top_limit = min(top, G.w_dim)
    if method == "sefa":
        return sefa(G, layers, top_limit)
    if method == "pca":
        count = samples or 20000
        if count <= G.w_dim:
            raise click.BadParameter(f"PCA needs more samples than w has dimensions ({G.w_dim})", param_hint="--samples")
        with Progress(count, "sampling w") as progress:
            return pca(G, layers, top_limit, count, seed, progress=progress.to)
    if method == "import":
        given = [name.strip() for name in names.split(",")] if names else None
        found = import_directions(source, G, given, layers)
        return found.subset(range(min(top, len(found))))
    measurer = FaceMeasurer(create_detector("yunet", model_path=detector_model))
    count = samples or 1000
    with Progress(count, "measuring faces") as progress:
        result = find_labelled_directions(G, measurer, count, layers, regression, psi, seed, batch_size=batch_size,
                                          progress=progress.to)
    for name, reason in result.skipped.items():
        click.echo(f"left out {name}: {reason}", err=True)
    if result.directions is None:
        raise click.ClickException(f"no trait could be fitted on {count} faces (YuNet found faces in "
                                   f"{max(result.measured.values())}); is MODEL a face model?")
    return result.directions.subset(range(min(top, len(result.directions))))


def describe_score(found: DirectionSet, index: int) -> str:
    if found.scores is None:
        return ""
    score = float(found.scores[index])
    label = {"sefa": "eigenvalue", "pca": "variance", "ridge": "held-out r", "logistic": "held-out r"}.get(found.method)
    return f"{label} {score:.3g}" if label else ""


def write_preview(G: torch.nn.Module, found: DirectionSet, seeds: Sequence[int], psi: float, path: Path,
                  batch_size: int) -> None:
    """Each direction (rows grouped by direction, one per seed) at each of PREVIEW_STRENGTHS (columns)."""
    grid = found.sweep(seeds_to_ws(G, seeds, psi=psi), PREVIEW_STRENGTHS)
    labels = [f"{name}, seed {seed}" for name in found.names for seed in seeds]
    canvas = GridCanvas(grid.shape[0], grid.shape[1], G.img_resolution, labels,
                        [f"{strength:+g}" if strength else "0" for strength in PREVIEW_STRENGTHS])
    positions = [(row, column) for row in range(grid.shape[0]) for column in range(grid.shape[1])]
    fill(G, grid.flatten(0, 1), canvas, positions, batch_size, "preview")
    write_image(path, canvas.image)


def fill(G: torch.nn.Module, ws: torch.Tensor, canvas: GridCanvas, positions: Sequence[Tuple[int, int]],
         batch_size: int, label: str) -> None:
    """Render ws [N, num_ws, w_dim] into the canvas cells `positions` (one per latent), with a progress bar."""
    with Progress(len(ws), label) as progress:
        for start, images in iter_batches(G, ws, batch_size):
            for offset, rgb in enumerate(to_uint8(images)):
                canvas.put(*positions[start + offset], rgb)
            progress.to(start + len(images))


COMMANDS: List[click.Command] = [generate, mix, interpolate, blend, directions]
