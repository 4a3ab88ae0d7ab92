"""Directions found without labels: SeFa from the weights alone, PCA of w from the mapping network alone.

SeFa (Shen & Zhou, "Closed-Form Factorization of Latent Semantics in GANs", 2021): every synthesis layer
turns w into its styles with an affine map A (rows: one per style channel). A direction n that changes
the styles most, |A n|, changes the image most; the best k such unit directions are the top eigenvectors
of A^T A. Over a range of W+ indices the A of every layer those indices drive are stacked, each row
scaled to length 1 so that every style channel counts alike whatever its layer's weight gain. No images,
no training: the directions come out in milliseconds, ordered by eigenvalue.

PCA (Harkonen et al., "GANSpace", 2020): the principal axes of w = mapping(z) over many random z,
ordered by the variance of w along them; each keeps that standard deviation as its scale, so strength 1
is one standard deviation of the model's faces along it.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from ..latents import layer_roles
from .directions import DirectionSet, layer_bounds
from .sampling import MAPPING_BATCH, map_z

ProgressFn = Callable[[int, int], None]      # (samples done, samples in all)


def layers_by_w_index(G: torch.nn.Module) -> Dict[int, List[str]]:
    """{W+ index: names of the synthesis layers it drives} (`latents.layer_roles`; StyleGAN2 or StyleGAN3)."""
    return dict(enumerate(layer_roles(G)))


def style_affine_weights(G: torch.nn.Module, layers: slice = slice(None)) -> torch.Tensor:
    """The stacked style-affine weights [style channels, w_dim] (float64) of the layers driven by the W+
    indices `layers`, each row scaled to length 1."""
    start, stop = layer_bounds(layers, G.num_ws)
    driven = layers_by_w_index(G)
    names = list(dict.fromkeys(name for index in range(start, stop) for name in driven[index]))  # in W+ order
    rows = torch.cat([G.synthesis.get_submodule(name).affine.weight.detach().to("cpu", torch.float64)
                      for name in names])
    return rows / rows.norm(dim=1, keepdim=True)


def sefa(G: torch.nn.Module, layers: slice = slice(None), top: int = 10) -> DirectionSet:
    """The `top` SeFa directions of the W+ indices `layers`: orthonormal, by eigenvalue (largest first)."""
    start, stop = layer_bounds(layers, G.num_ws)
    _check_top(top, G.w_dim)
    weights = style_affine_weights(G, slice(start, stop))
    eigenvalues, eigenvectors = torch.linalg.eigh(weights.T @ weights)     # ascending
    order = torch.argsort(eigenvalues, descending=True)[:top]
    vectors = _fixed_signs(eigenvectors[:, order].T)
    return DirectionSet(vectors.float(), [f"sefa {i + 1}" for i in range(top)], slice(start, stop), G.num_ws,
                        scores=eigenvalues[order].float(), method="sefa",
                        meta={"style_channels": weights.shape[0]})


def pca(G: torch.nn.Module, layers: slice = slice(None), top: int = 10, samples: int = 20000, seed: int = 0,
        progress: Optional[ProgressFn] = None) -> DirectionSet:
    """The `top` principal axes of w over `samples` random faces (z from `seed`), by variance (largest first)."""
    start, stop = layer_bounds(layers, G.num_ws)
    _check_top(top, G.w_dim)
    if isinstance(samples, bool) or not isinstance(samples, int) or samples <= G.w_dim:
        raise ValueError(f"PCA of a {G.w_dim}-dimensional w needs more than {G.w_dim} samples, got {samples!r}")
    rng = np.random.RandomState(seed)       # the stream of sampling.sample_ws(G, samples, seed), in batches
    total = torch.zeros(G.w_dim, dtype=torch.float64)
    products = torch.zeros(G.w_dim, G.w_dim, dtype=torch.float64)
    for first in range(0, samples, MAPPING_BATCH):
        count = min(MAPPING_BATCH, samples - first)
        w = map_z(G, torch.from_numpy(rng.randn(count, G.z_dim)).float())[:, 0].double()
        total += w.sum(dim=0)
        products += w.T @ w
        if progress is not None:
            progress(first + count, samples)
    mean = total / samples
    covariance = (products - samples * torch.outer(mean, mean)) / (samples - 1)
    variances, axes = torch.linalg.eigh(covariance)
    order = torch.argsort(variances, descending=True)[:top]
    variances = variances[order].clamp(min=0)
    return DirectionSet(_fixed_signs(axes[:, order].T).float(), [f"pca {i + 1}" for i in range(top)],
                        slice(start, stop), G.num_ws, scales=variances.sqrt().float(), scores=variances.float(),
                        method="pca", meta={"samples": samples, "seed": seed,
                                            "explained_variance": float(variances.sum() / covariance.trace())})


def _fixed_signs(vectors: torch.Tensor) -> torch.Tensor:
    """Eigenvectors have no sign of their own: make each one's largest component positive, so the same
    model always gives the same directions."""
    largest = vectors.abs().argmax(dim=1, keepdim=True)
    return vectors * torch.sign(vectors.gather(1, largest))


def _check_top(top: int, w_dim: int) -> None:
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= w_dim:
        raise ValueError(f"the number of directions must be between 1 and w_dim ({w_dim}), got {top!r}")
