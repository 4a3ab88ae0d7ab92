"""Directions fitted to labels: a linear model of a measured trait in W, checked on faces it never saw.

Given the w of many faces and a measure of each (mouth width, head yaw, hair brightness, ... measured
on the generated images by the caller), a linear model measure ~ w . beta + b is fitted on most of the
faces and its predictions are correlated with the measure on the rest (the held-out correlation: near 1,
the direction moves the trait; near 0, it found nothing). The direction is beta, as a unit vector whose
positive side raises the measure, with the standard deviation of w along it as its scale.

- ridge: least squares with an L2 penalty `alpha` (> 0) times the mean variance of w (so alpha is unitless).
- logistic: for a yes/no trait; labels that are not already 0/1 become "above the median". Fitted by
  Newton's method with the same penalty; its held-out correlation is that of the decision value with
  the 0/1 labels.

Faces whose measure is NaN (no face found, say) are left out of that measure's fit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple

import numpy as np
import torch

from .directions import DirectionSet

METHODS = ("ridge", "logistic")
MIN_SAMPLES = 20          # per measure, before the split: fewer cannot say anything held out
NEWTON_STEPS = 50


@dataclass
class DirectionFit:
    """One fitted direction and how well it predicts its measure on the held-out faces."""

    vector: torch.Tensor          # [w_dim] float64, length 1, pointing to higher measures.
    scale: float                  # Standard deviation of the faces' w along `vector`.
    heldout_correlation: float    # Pearson r of prediction and measure on the held-out faces (NaN: undefined).
    train_count: int
    test_count: int


def fit_direction(w: torch.Tensor, labels: torch.Tensor, method: str = "ridge", alpha: float = 0.1,
                  holdout: float = 0.2, seed: int = 0) -> DirectionFit:
    """Fit one direction: w [N, w_dim], labels [N] (NaN = not measured); see the module docstring."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not 0 < holdout < 1:
        raise ValueError(f"holdout must be a fraction between 0 and 1, got {holdout!r}")
    if not alpha > 0:
        raise ValueError(f"alpha must be positive (without a penalty, fewer faces than w has dimensions leave "
                         f"ridge undetermined, and separable faces drive logistic to infinity), got {alpha!r}")
    w = torch.as_tensor(w, dtype=torch.float64)
    labels = torch.as_tensor(labels, dtype=torch.float64).reshape(-1)
    if w.ndim != 2 or len(w) != len(labels):
        raise ValueError(f"expected w [N, w_dim] and N labels, got {list(w.shape)} and {len(labels)}")
    measured = torch.isfinite(labels)
    w, labels = w[measured], labels[measured]
    if len(labels) < MIN_SAMPLES:
        raise ValueError(f"only {len(labels)} faces were measured; a fit needs at least {MIN_SAMPLES}")
    if method == "logistic":
        labels = _binary(labels)
    order = torch.from_numpy(np.random.RandomState(seed).permutation(len(labels)))
    test_count = max(int(round(holdout * len(labels))), 2)
    test, train = order[:test_count], order[test_count:]
    penalty = alpha * float(w[train].var(dim=0).mean()) * len(train)
    if method == "ridge":
        beta, intercept = _ridge(w[train], labels[train], penalty)
    else:
        beta, intercept = _logistic(w[train], labels[train], penalty)
    norm = float(beta.norm())
    if norm == 0:
        raise ValueError("the fit found no direction (every coefficient is zero)")
    vector = beta / norm
    correlation = _pearson(w[test] @ beta + intercept, labels[test])
    return DirectionFit(vector, float((w @ vector).std()), correlation, len(train), test_count)


def fit_directions(w: torch.Tensor, measures: Mapping[str, torch.Tensor], layers: slice, num_ws: int,
                   method: str = "ridge", alpha: float = 0.1, holdout: float = 0.2, seed: int = 0,
                   ) -> Tuple[Optional[DirectionSet], Dict[str, str]]:
    """Fit a direction per measure; returns (the directions, best held-out correlation first, or None if
    none could be fitted; {measure: why it was left out} for those that could not)."""
    fits, skipped = {}, {}
    for name, labels in measures.items():
        try:
            fits[name] = fit_direction(w, labels, method, alpha, holdout, seed)
        except ValueError as error:
            skipped[name] = str(error)
    if not fits:
        return None, skipped
    ranked = sorted(fits, key=lambda name: -_finite_or(fits[name].heldout_correlation, -2.0))
    directions = DirectionSet(
        torch.stack([fits[name].vector for name in ranked]).float(), ranked, layers, num_ws,
        scales=torch.tensor([fits[name].scale for name in ranked]),
        scores=torch.tensor([fits[name].heldout_correlation for name in ranked]), method=method,
        meta={"alpha": alpha, "holdout": holdout, "seed": seed,
              "faces": {name: {"train": fits[name].train_count, "test": fits[name].test_count} for name in ranked}})
    return directions, skipped


def _ridge(w: torch.Tensor, labels: torch.Tensor, penalty: float) -> Tuple[torch.Tensor, float]:
    mean_w, mean_label = w.mean(dim=0), labels.mean()
    centred = w - mean_w
    gram = centred.T @ centred + penalty * torch.eye(w.shape[1], dtype=w.dtype)
    beta = torch.linalg.solve(gram, centred.T @ (labels - mean_label))
    return beta, float(mean_label - mean_w @ beta)


def _logistic(w: torch.Tensor, labels: torch.Tensor, penalty: float) -> Tuple[torch.Tensor, float]:
    """L2-penalised logistic regression (the intercept unpenalised) by Newton's method."""
    design = torch.cat([w, torch.ones(len(w), 1, dtype=w.dtype)], dim=1)
    regulariser = penalty * torch.eye(design.shape[1], dtype=w.dtype)
    regulariser[-1, -1] = 0
    coefficients = torch.zeros(design.shape[1], dtype=w.dtype)
    for _ in range(NEWTON_STEPS):
        probability = torch.sigmoid(design @ coefficients)
        gradient = design.T @ (probability - labels) + regulariser @ coefficients
        curvature = (probability * (1 - probability)).clamp(min=1e-9)
        hessian = design.T @ (design * curvature.unsqueeze(1)) + regulariser
        step = torch.linalg.solve(hessian + 1e-9 * torch.eye(len(hessian), dtype=w.dtype), gradient)
        coefficients -= step
        if float(step.abs().max()) < 1e-10:
            break
    return coefficients[:-1], float(coefficients[-1])


def _binary(labels: torch.Tensor) -> torch.Tensor:
    """0/1 labels as they are; any other measure as 1 above its median, else 0. Both classes must occur."""
    if not bool(((labels == 0) | (labels == 1)).all()):
        labels = (labels > labels.median()).to(labels.dtype)
    if labels.min() == labels.max():
        raise ValueError("every face has the same label, so there is nothing to tell apart")
    return labels


def _pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = float(a.norm() * b.norm())
    return float(a @ b) / denominator if denominator > 0 else float("nan")


def _finite_or(value: float, default: float) -> float:
    return value if np.isfinite(value) else default
