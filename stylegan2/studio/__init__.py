"""The studio: what StyleCam does with a generator besides the live face.

| module | what it gives |
|---|---|
| `rendering` | many latents rendered in batches, with a callback per batch or per finished grid row |
| `sampling` | seeds (one mapping batch) and random samples to W+, truncation and truncation sweeps |
| `mixing` | coarse / middle / fine layer groups from a model's resolution; the style-mixing matrix |
| `interpolation` | transitions in W (straight) and Z (spherical), looped or open; the midpoint of two faces |
| `blending` | layer swapping between two generators of one architecture, with provenance |
| `directions` | named directions in W (`DirectionSet`): apply, preview sweep, save, load, import |
| `unsupervised_directions` | SeFa (from the weights) and PCA of w (from the mapping network) |
| `labelled_directions` | a direction per measured trait by ridge or logistic regression, with held-out correlation |

Nothing here knows about the app, face detectors, or files other than weights and directions.
"""
from .blending import IncompatibleModels, blend_files, blend_generators, block_weights
from .directions import DirectionSet, DirectionsFormatError, import_directions, load_directions, save_directions
from .interpolation import frame_times, midpoint, w_transition, z_transition
from .labelled_directions import fit_direction, fit_directions
from .mixing import LAYER_GROUPS, layer_group, mixing_matrix, parse_layer_spec
from .rendering import as_renderer, iter_batches, render, render_grid
from .sampling import sample_ws, seeds_to_ws, truncate, truncation_sweep
from .unsupervised_directions import pca, sefa

__all__ = ["LAYER_GROUPS", "DirectionSet", "as_renderer", "DirectionsFormatError", "IncompatibleModels", "blend_files",
           "blend_generators", "block_weights", "fit_direction", "fit_directions", "frame_times", "import_directions",
           "iter_batches", "layer_group", "load_directions", "midpoint", "mixing_matrix", "parse_layer_spec", "pca",
           "render", "render_grid", "sample_ws", "save_directions", "seeds_to_ws", "sefa", "truncate",
           "truncation_sweep", "w_transition", "z_transition"]
