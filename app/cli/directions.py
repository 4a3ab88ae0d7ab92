"""``directions``: latent directions of a model as a named set the page offers as sliders, and a preview.

    python -m app directions ffhq-256 --method sefa --layers 0:8 --out sefa.pt --preview sefa.png
    python -m app directions ffhq-256 --method labelled --samples 2000 --out traits.pt

The methods are ``stylegan2.studio``'s (SeFa, PCA, import) and ``app.studio.labelled``'s (faces measured
and a direction fitted per trait); this module reads the options, refuses those the chosen method would
ignore, shows progress and writes the file (and the preview sheet) it names.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

import click
import torch
from click.core import ParameterSource

from app.cli.common import ProgressBar, user_errors
from app.cli.studio_options import (
    fill,
    layers_of,
    load_generator,
    output_of,
    runtime_options,
    seeds_option,
    still_option,
)
from app.images import write_image
from app.models import face_detector
from app.studio.direction_sheets import direction_sheet
from app.studio.labelled import find_labelled_directions
from app.studio.measurements import LANDMARK_MEASURES, FaceMeasurer
from stylegan2.studio.directions import DirectionSet, import_directions, save_directions
from stylegan2.studio.sampling import seeds_to_ws
from stylegan2.studio.unsupervised_directions import pca, sefa

PREVIEW_STRENGTHS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
METHODS = ("sefa", "pca", "labelled", "import")


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
    check_method_options(method, source)
    output_of(out, (".pt",))
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


def check_method_options(method: str, source: Optional[Path]) -> None:
    """Refuse options that the chosen method would silently ignore."""
    context = click.get_current_context()
    given = {name for name in ("regression", "detector_model", "samples", "seed", "source", "names")
             if context.get_parameter_source(name) == ParameterSource.COMMANDLINE}
    allowed = {"sefa": set(), "pca": {"samples", "seed"}, "import": {"source", "names"},
               "labelled": {"samples", "seed", "regression", "detector_model"}}[method]
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
            raise click.BadParameter(f"PCA needs more samples than w has dimensions ({G.w_dim})",
                                     param_hint="--samples")
        with ProgressBar("sampling w") as progress:
            return pca(G, layers, top_limit, count, seed, progress=progress)
    if method == "import":
        given = [name.strip() for name in names.split(",")] if names else None
        found = import_directions(source, G, given, layers)
        return found.subset(range(min(top, len(found))))
    measurer = FaceMeasurer(face_detector("yunet", model_path=detector_model))
    count = samples or 1000
    with ProgressBar("measuring faces") as progress:
        result = find_labelled_directions(G, measurer, count, layers, regression, psi, seed, batch_size=batch_size,
                                          progress=progress)
    for name, reason in result.skipped.items():
        click.echo(f"left out {name}: {reason}", err=True)
    if result.directions is None:
        raise click.ClickException(f"no trait could be fitted on {count} faces (YuNet found a face in "
                                   f"{result.measured[LANDMARK_MEASURES[0]]}); sample more with --samples")
    return result.directions.subset(range(min(top, len(result.directions))))


def describe_score(found: DirectionSet, index: int) -> str:
    """What a direction's score is and its value, e.g. "held-out r 0.82" ("" for imported directions)."""
    if found.scores is None:
        return ""
    score = float(found.scores[index])
    label = {"sefa": "eigenvalue", "pca": "variance", "ridge": "held-out r", "logistic": "held-out r"}.get(found.method)
    return f"{label} {score:.3g}" if label else ""


def write_preview(G: torch.nn.Module, found: DirectionSet, seeds: Sequence[int], psi: float, path: Path,
                  batch_size: int) -> None:
    """Each direction (rows grouped by direction, one per seed) at each of PREVIEW_STRENGTHS (columns)."""
    sheet = direction_sheet(found, seeds_to_ws(G, seeds, psi=psi), PREVIEW_STRENGTHS,
                            [f"seed {seed}" for seed in seeds], G.img_resolution)
    fill(G, sheet.latents, sheet.canvas, sheet.positions, batch_size, "preview")
    write_image(path, sheet.canvas.image)
