"""How a projection spends its steps: stages, learning-rate and latent-noise curves, and presets.

A projection is a list of stages. Each stage optimises the latent in one space ("w": a single vector
broadcast to every layer, which stays on the generator's face manifold; "w+": one vector per layer,
which fits details W cannot) for a number of steps, with its own learning-rate curve. A W stage
followed by a W+ stage is the W -> W+ refinement.

Two presets: ``ProjectionConfig.reference()`` reproduces NVIDIA's stylegan2-ada-pytorch projector
schedule (the quality baseline), ``ProjectionConfig.fast()`` is StyleCam's interactive default.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

SPACES = ("w", "w+")
STARTS = ("w_avg", "candidates")
PROJECTION_PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class Stage:
    """One optimisation phase: a latent space, a step count, and the curves that shape it."""

    space: str                    # "w" (one vector for all layers) or "w+" (one vector per layer).
    steps: int                    # Optimisation steps in this stage.
    learning_rate: float = 0.1    # Peak Adam learning rate.
    lr_rampup: float = 0.05       # Fraction of the stage spent ramping the rate up linearly from 0.
    lr_rampdown: float = 0.25     # Fraction at the end spent ramping it down to 0 along a cosine.
    w_noise: float = 0.0          # Noise added to the latent at the start, in units of the W spread.
    w_noise_ramp: float = 0.75    # Fraction of the stage over which that noise fades (quadratically) to 0.

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise ValueError(f"stage space must be one of {SPACES}, got {self.space!r}")
        if self.steps < 1:
            raise ValueError(f"a stage needs at least 1 step, got {self.steps}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        for name in ("lr_rampup", "lr_rampdown", "w_noise_ramp"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a fraction of the stage and must lie in [0, 1], got {value}")
        if self.w_noise < 0:
            raise ValueError(f"w_noise must be >= 0, got {self.w_noise}")

    def learning_rate_at(self, step: int) -> float:
        """The rate for ``step`` (0-based): linear warm-up, plateau, cosine decay (NVIDIA's curve)."""
        t = step / self.steps
        ramp = 1.0 if self.lr_rampdown == 0 else min(1.0, (1.0 - t) / self.lr_rampdown)
        ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
        if self.lr_rampup > 0:
            ramp *= min(1.0, t / self.lr_rampup)
        return self.learning_rate * ramp

    def w_noise_at(self, step: int) -> float:
        """The latent noise scale for ``step``, in units of the W spread (0 once the ramp is over)."""
        if self.w_noise == 0 or self.w_noise_ramp == 0:
            return 0.0
        t = step / self.steps
        return self.w_noise * max(0.0, 1.0 - t / self.w_noise_ramp) ** 2


@dataclass(frozen=True)
class ProjectionConfig:
    """Everything that decides a projection's result; saved with it, so a result can be reproduced."""

    stages: Tuple[Stage, ...]               # Run in order; each starts from the previous stage's latent.
    start: str = "w_avg"                    # "w_avg", or "candidates": the best-scoring sampled latent.
    num_candidates: int = 16                # Latents scored for the "candidates" start (w_avg is one).
    candidate_psi: float = 0.7              # Truncation of the sampled candidates toward w_avg.
    w_avg_samples: int = 10000              # z samples used to estimate the W mean and spread.
    lpips_weight: float = 1.0               # Weight of the perceptual (LPIPS) distance.
    pixel_weight: float = 0.0               # Weight of the pixel MSE (images in the generator's [-1, 1]).
    optimize_noise: bool = True             # Optimise the per-layer noise images too (NVIDIA does).
    noise_weight: float = 1e5               # Weight of the noise regulariser (only with optimize_noise).
    perceptual_resolution: int = 256        # Images larger than this are area-downsampled for LPIPS.
    early_stop_patience: int = 0            # End a stage after this many steps without improvement; 0 = never.
    early_stop_tolerance: float = 1e-3      # Relative loss decrease that counts as an improvement.
    preview_every: int = 10                 # Steps between preview images passed to the progress callback.
    fused_modconv: Optional[bool] = None    # Modulated-conv layout for G.synthesis; None = the generator's
                                            # choice. False skips conv weight gradients (same result, faster).
    seed: int = 0                           # Seeds every random draw: same inputs + seed = same result
                                            # (on the same device, torch version and thread count).
    precision: str = "fp32"                 # The generator's forward pass: "fp32", or "bf16" (autocast; CPUs
                                            # with AVX512-BF16 or AMX, torch 2). The loss is always fp32.

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        if not self.stages:
            raise ValueError("a projection needs at least one stage")
        if any(not isinstance(stage, Stage) for stage in self.stages):
            raise ValueError("stages must be Stage objects")
        if self.precision not in PROJECTION_PRECISIONS:
            raise ValueError(f"precision must be one of {PROJECTION_PRECISIONS}, got {self.precision!r}")
        if self.start not in STARTS:
            raise ValueError(f"start must be one of {STARTS}, got {self.start!r}")
        if self.num_candidates < 1:
            raise ValueError(f"num_candidates must be >= 1, got {self.num_candidates}")
        if self.w_avg_samples < 2:
            raise ValueError(f"w_avg_samples must be >= 2, got {self.w_avg_samples}")
        if min(self.lpips_weight, self.pixel_weight, self.noise_weight) < 0:
            raise ValueError("loss weights must be >= 0")
        if self.lpips_weight == 0 and self.pixel_weight == 0:
            raise ValueError("at least one of lpips_weight and pixel_weight must be positive")
        if self.early_stop_patience < 0 or self.preview_every < 0:
            raise ValueError("early_stop_patience and preview_every must be >= 0")
        if not 0.0 <= self.candidate_psi <= 1.0:
            raise ValueError(f"candidate_psi must lie in [0, 1], got {self.candidate_psi}")
        if self.perceptual_resolution < 1:
            raise ValueError(f"perceptual_resolution must be positive, got {self.perceptual_resolution}")

    @property
    def num_steps(self) -> int:
        """The planned number of steps over all stages (early stopping may run fewer)."""
        return sum(stage.steps for stage in self.stages)

    @property
    def space(self) -> str:
        """The space of the returned latent: that of the last stage."""
        return self.stages[-1].space

    def to_dict(self) -> Dict[str, Any]:
        """Plain JSON-ready dict (stages as a list of dicts)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ProjectionConfig":
        """Inverse of ``to_dict``; unknown keys are an error, so a typo never passes silently."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown projection setting(s): {', '.join(unknown)}")
        values = dict(data)
        values["stages"] = tuple(Stage(**stage) for stage in data.get("stages", ()))
        return cls(**values)

    def replace(self, **changes: Any) -> "ProjectionConfig":
        """A copy with some settings changed (the config itself is immutable)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def reference(cls, steps: int = 1000, seed: int = 0) -> "ProjectionConfig":
        """NVIDIA's projector: W space from w_avg, lr 0.1 with 5 % warm-up and 25 % cosine decay,
        latent noise 0.05 fading over 75 % of the steps, noise regularisation 1e5, LPIPS only."""
        stage = Stage(space="w", steps=steps, learning_rate=0.1, lr_rampup=0.05, lr_rampdown=0.25,
                      w_noise=0.05, w_noise_ramp=0.75)
        return cls(stages=(stage,), start="w_avg", w_avg_samples=10000, lpips_weight=1.0,
                   pixel_weight=0.0, optimize_noise=True, noise_weight=1e5, seed=seed)

    @classmethod
    def fast(cls, steps: int = 100, space: str = "w+", seed: int = 0,
             early_stop: bool = True) -> "ProjectionConfig":
        """StyleCam's interactive default (scripts/bench_projection.py measures it against reference()).

        Starts from the best of 16 sampled latents; fits in W for a third of the steps (the coarse
        face, robustly), then refines in W+ (details) at a fifth of the rate with a longer warm-up,
        because Adam's first steps move every coordinate of the 14x larger W+ latent by about the
        learning rate. LPIPS plus pixel MSE. The generator's own noise is kept, so the latent alone
        reproduces the result in the live app. The unfused modulated-conv layout computes the same
        function but its backward pass needs no conv weight gradients.
        ``space="w"`` keeps everything in W (a latent that mixes most predictably).
        """
        if space not in SPACES:
            raise ValueError(f"space must be one of {SPACES}, got {space!r}")
        if steps < 2:
            raise ValueError(f"steps must be >= 2, got {steps}")
        if space == "w":
            stages = (Stage(space="w", steps=steps, learning_rate=0.1, lr_rampup=0.02, lr_rampdown=0.3),)
        else:
            w_steps = max(1, steps // 3)
            stages = (Stage(space="w", steps=w_steps, learning_rate=0.1, lr_rampup=0.05, lr_rampdown=0.3),
                      Stage(space="w+", steps=steps - w_steps, learning_rate=0.02, lr_rampup=0.1,
                            lr_rampdown=0.3))
        return cls(stages=stages, start="candidates", num_candidates=16, w_avg_samples=2000,
                   lpips_weight=1.0, pixel_weight=1.0, optimize_noise=False,
                   early_stop_patience=15 if early_stop else 0, fused_modconv=False, seed=seed)
