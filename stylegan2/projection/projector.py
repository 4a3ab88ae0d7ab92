"""Projection (GAN inversion): find the latent whose generated image matches a target face.

The target is a face already aligned to the FFHQ layout at the generator's resolution (alignment is
``detectors.alignment.align_face``, called by the app and the CLI). The latent is optimised with Adam
so that ``G.synthesis(ws, noise_mode="const")`` matches the target under LPIPS (VGG16 features) plus
pixel MSE, optionally together with the per-layer noise images (kept from "explaining" the face by
NVIDIA's noise regulariser). ``ProjectionConfig`` (schedule.py) decides the stages and
weights.

The projector works on a private copy of the generator: the live pipeline keeps rendering with the
shared generator while a projection runs, so the shared one is never modified, not even briefly.

    result = project(G, aligned_target, load_perceptual("vgg16.pt"), ProjectionConfig.fast(),
                     progress=on_progress, cancel=stop_event)
    result.ws            # [1, num_ws, w_dim]: feed to G.synthesis, stylegan2.latents.mix, ...
    result.image         # [1, 3, R, R] in [-1, 1]: the generator's image of it
"""
from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch

from .perceptual import PerceptualNetwork
from .schedule import ProjectionConfig, Stage

CANDIDATE_BATCH = 4        # Candidates rendered per forward pass when scoring the start latents.
MAPPING_BATCH = 1000       # z samples mapped per forward pass for the W statistics.

class ProjectionError(ValueError):
    """The target or the inputs cannot be projected (wrong size, type, device, conditional model)."""


class ProjectionCancelled(Exception):
    """The projection was cancelled (event set or progress callback returned False); nothing is returned."""

    def __init__(self, step: int) -> None:
        super().__init__(f"projection cancelled after {step} steps")
        self.step = step


@dataclass
class ProjectionProgress:
    """What the progress callback gets after every optimisation step, and before the first one while the
    start latent is searched (``phase`` "start": no step done yet, ``phase_step`` of ``phase_steps``
    candidates scored, the best score so far as the "total" loss)."""

    step: int                       # Steps done so far over all stages (1-based; 0 while searching the start).
    num_steps: int                  # Planned total (early stopping may end sooner).
    stage: int                      # Index of the current stage in the config.
    space: str                      # "w" or "w+".
    learning_rate: float
    losses: Dict[str, float]        # "total", "lpips", "pixel", "noise" for this step.
    preview: Optional[torch.Tensor]  # [1, 3, H, W] image of the current latent every preview_every steps.
    phase: str = "optimise"         # "start" (scoring the candidate start latents) or "optimise".
    phase_step: int = 0             # Work done in this phase: candidates scored, or steps.
    phase_steps: int = 0            # Work the phase plans: candidates to score, or steps.


@dataclass
class ProjectionResult:
    """A finished projection: the latent, the images and how it was made."""

    ws: torch.Tensor                # [1, num_ws, w_dim] float32 on the CPU (W: the same row repeated).
    noise: Dict[str, torch.Tensor]  # Optimised noise images by G.state_dict() name; empty if kept.
    target: torch.Tensor            # [1, 3, R, R] in [-1, 1] on the CPU: the target as projected.
    image: torch.Tensor             # [1, 3, R, R] in [-1, 1] on the CPU: the generator's image of the result.
    losses: Dict[str, float]        # Final loss terms of the result ("total", "lpips", "pixel", "noise").
    steps: int                      # Optimisation steps run.
    seconds: float                  # Wall time of the whole projection.
    stopped_early: bool             # The last stage ended on early stopping.
    config: ProjectionConfig
    history: List[Dict[str, float]] = field(default_factory=list)   # Per step: step, stage, lr,
                                                                     # seconds since the start, losses.
    perceptual: Dict[str, str] = field(default_factory=dict)        # The network's identity (name, sha256).

    @property
    def space(self) -> str:
        return self.config.space


ProgressFn = Callable[[ProjectionProgress], Optional[bool]]


def project(G: torch.nn.Module, target: torch.Tensor, perceptual: PerceptualNetwork,
            config: Optional[ProjectionConfig] = None, *, progress: Optional[ProgressFn] = None,
            cancel: Optional[threading.Event] = None) -> ProjectionResult:
    """Optimise a latent so that G's image matches ``target``; see the module docstring.

    ``target``: see ``prepare_target``. ``progress(ProjectionProgress)`` is called after every step, and
    after every batch of start candidates scored (phase "start", which can take a while on a CPU);
    returning False cancels, as does setting ``cancel``: both raise ``ProjectionCancelled`` within one
    step. Deterministic for a fixed ``config.seed``: the same inputs give a bit-identical result on the
    same device with the same torch version and the same number of torch threads (the thread count
    changes the order of floating-point sums, so 1 and 2 threads differ by about 1e-6).
    """
    config = config or ProjectionConfig.fast()
    started = time.perf_counter()
    device = _device_of(G)
    if getattr(G, "c_dim", 0):
        raise ProjectionError("projection into a conditional generator (c_dim > 0) is not supported")
    if config.optimize_noise and not G.has_noise:
        raise ProjectionError(f"this generator ({G.architecture}) has no noise inputs to optimise: project "
                              f"without optimize_noise (ProjectionConfig.fast() does)")
    if perceptual.device != device:
        raise ProjectionError(f"the perceptual network is on {perceptual.device} but the generator "
                              f"is on {device}; load both on the same device")
    target_images = prepare_target(target, G.img_resolution).to(device)

    working = copy.deepcopy(G).eval().requires_grad_(False)
    rng = torch.Generator().manual_seed(config.seed)
    noise = _init_noise(working, rng) if config.optimize_noise else {}
    objective = _Objective(perceptual, target_images, config)
    w_avg, w_std, samples = w_statistics(working, config.w_avg_samples, rng)
    _stop_if_cancelled(cancel, 0)
    if config.start == "candidates":
        w = _best_candidate(working, objective, w_avg, samples, config, cancel, progress)
    else:
        w = w_avg.expand(1, working.num_ws, -1).clone()

    run = _StageRunner(working, objective, noise, w_std, rng, config, progress, cancel, started)
    for index, stage in enumerate(config.stages):
        w = run.stage(index, stage, w)

    with torch.no_grad():
        image = _synthesize(working, w, config)
        losses = {name: float(value) for name, value in objective.terms(image, noise).items()}
    return ProjectionResult(
        ws=w.detach().float().cpu(), noise={name: buf.detach().cpu() for name, buf in noise.items()},
        target=target_images.cpu(), image=image.detach().float().cpu(), losses=losses,
        steps=run.steps_done, seconds=time.perf_counter() - started, stopped_early=run.stopped_early,
        config=config, history=run.history, perceptual=dict(perceptual.identity))


def prepare_target(image: torch.Tensor, resolution: int) -> torch.Tensor:
    """The target as a float32 tensor [1, 3, R, R] in [-1, 1].

    Accepts an RGB tensor [3, R, R] or [1, 3, R, R]: float in [-1, 1] (the generator's own range) or
    uint8 in [0, 255].
    """
    if not isinstance(image, torch.Tensor):
        raise ProjectionError(f"the target must be an RGB image tensor, got {type(image).__name__}")
    tensor = image.detach()
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 4 or tensor.shape[:2] != (1, 3):
        raise ProjectionError(f"a target must be [3, H, W] or [1, 3, H, W], got {list(tensor.shape)}")
    if tensor.shape[2:] != (resolution, resolution):
        raise ProjectionError(
            f"the target is {tensor.shape[3]}x{tensor.shape[2]} but the generator makes "
            f"{resolution}x{resolution} images; align the face at that size first "
            f"(detectors.alignment.align_face(frame, landmarks, {resolution}))")
    if tensor.dtype == torch.uint8:
        return tensor.float() / 127.5 - 1
    if not tensor.is_floating_point():
        raise ProjectionError(f"a target must be uint8 or float, got {tensor.dtype}")
    tensor = tensor.float()
    if not torch.isfinite(tensor).all() or tensor.abs().max() > 1.5:
        raise ProjectionError("a float target must hold finite values in [-1, 1] (the generator's range)")
    return tensor.clamp(-1, 1)


def w_statistics(G: torch.nn.Module, num_samples: int,
                 rng: torch.Generator) -> Tuple[torch.Tensor, float, torch.Tensor]:
    """Mean W [1, 1, w_dim], spread (RMS distance to the mean) and the sampled w's [N, w_dim].

    Estimated from ``num_samples`` mapped z's, as NVIDIA's projector does; valid for any generator,
    including random-weight ones whose tracked ``w_avg`` was never updated.
    """
    device = _device_of(G)
    chunks = []
    with torch.no_grad():
        for start in range(0, num_samples, MAPPING_BATCH):
            count = min(MAPPING_BATCH, num_samples - start)
            z = torch.randn(count, G.z_dim, generator=rng).to(device)
            chunks.append(G.mapping(z, None)[:, 0, :].float())
    samples = torch.cat(chunks)
    w_avg = samples.mean(dim=0, keepdim=True)
    w_std = float((samples - w_avg).square().sum(dim=1).mean().sqrt())
    return w_avg.unsqueeze(0), w_std, samples


def noise_regularization(noise: Dict[str, torch.Tensor]) -> torch.Tensor:
    """NVIDIA's noise regulariser: squared autocorrelation of each noise image with its 1-pixel
    shifts, summed over an image pyramid down to 8x8. Keeps the noise white, so the face lives in W."""
    total = torch.zeros(())
    for buf in noise.values():
        image = buf[None, None, :, :]
        total = total.to(buf.device)
        while True:
            total = total + (image * torch.roll(image, shifts=1, dims=3)).mean() ** 2
            total = total + (image * torch.roll(image, shifts=1, dims=2)).mean() ** 2
            if image.shape[2] <= 8:
                break
            image = torch.nn.functional.avg_pool2d(image, kernel_size=2)
    return total


class _Objective:
    """The loss: LPIPS and pixel MSE to the fixed target, plus the noise regulariser."""

    def __init__(self, perceptual: PerceptualNetwork, target: torch.Tensor, config: ProjectionConfig):
        self.perceptual = perceptual
        self.target = target
        self.config = config
        with torch.no_grad():
            self.target_features = perceptual.features(target, config.perceptual_resolution)

    def terms(self, images: torch.Tensor, noise: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Loss terms of the first image as tensors; "total" is their weighted sum (what is minimised)."""
        lpips, pixel = self.per_image(images)
        noise_term = noise_regularization(noise).to(images.device)
        total = self.config.lpips_weight * lpips[0] + self.config.pixel_weight * pixel[0]
        if noise:
            total = total + self.config.noise_weight * noise_term
        return {"total": total, "lpips": lpips[0], "pixel": pixel[0], "noise": noise_term}

    def per_image(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """LPIPS [N] and pixel MSE [N] of a batch against the target."""
        features = self.perceptual.features(images, self.config.perceptual_resolution)
        lpips = self.perceptual.distance(features, self.target_features)
        pixel = (images.float() - self.target).square().mean(dim=(1, 2, 3))
        return lpips, pixel

    def score(self, images: torch.Tensor) -> torch.Tensor:
        """Weighted image loss per image [N] (no noise term), for ranking start candidates."""
        lpips, pixel = self.per_image(images)
        return self.config.lpips_weight * lpips + self.config.pixel_weight * pixel


class _StageRunner:
    """Runs the stages one after another, keeping step count, history and callbacks in one place."""

    def __init__(self, G: torch.nn.Module, objective: _Objective, noise: Dict[str, torch.Tensor],
                 w_std: float, rng: torch.Generator, config: ProjectionConfig,
                 progress: Optional[ProgressFn], cancel: Optional[threading.Event], started: float) -> None:
        self.G = G
        self.objective = objective
        self.noise = noise
        self.w_std = w_std
        self.rng = rng
        self.config = config
        self.progress = progress
        self.cancel = cancel
        self.started = started
        self.steps_done = 0
        self.stopped_early = False
        self.history: List[Dict[str, float]] = []

    def stage(self, index: int, stage: Stage, w: torch.Tensor) -> torch.Tensor:
        """Optimise ``w`` [1, num_ws, w_dim] for one stage; return the best latent it visited.

        "Best" counts only steps without latent noise (a noisy latent's loss says little about the
        latent itself); if every step was noisy, the last latent is returned.
        """
        num_ws = w.shape[1]
        start = w.mean(dim=1, keepdim=True) if stage.space == "w" else w
        w_opt = start.detach().clone().requires_grad_(True)
        optimizer = torch.optim.Adam([w_opt, *self.noise.values()], lr=stage.learning_rate,
                                     betas=(0.9, 0.999))
        best = _BestLatent(self.config.early_stop_tolerance)
        self.stopped_early = False
        for step in range(stage.steps):
            _stop_if_cancelled(self.cancel, self.steps_done)
            learning_rate = stage.learning_rate_at(step)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate
            w_noise_scale = self.w_std * stage.w_noise_at(step)
            w_noise = torch.randn(w_opt.shape, generator=self.rng).to(w_opt.device)
            images = _synthesize(self.G, (w_opt + w_noise * w_noise_scale).expand(-1, num_ws, -1), self.config)
            terms = self.objective.terms(images, self.noise)
            losses = {name: float(value.detach()) for name, value in terms.items()}
            if w_noise_scale == 0:
                best.offer(losses["total"], w_opt, self.noise)
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            optimizer.step()
            self._renormalize_noise()

            self.steps_done += 1
            self.history.append({"step": self.steps_done, "stage": index, "lr": learning_rate,
                                 "seconds": time.perf_counter() - self.started, **losses})
            self._report(index, stage, learning_rate, losses, images, last=step == stage.steps - 1)
            patience = self.config.early_stop_patience
            if patience and best.steps_without_improvement >= patience:
                self.stopped_early = True
                break
        return best.restore(w_opt, self.noise).expand(-1, num_ws, -1).clone()

    def _renormalize_noise(self) -> None:
        with torch.no_grad():
            for buf in self.noise.values():
                buf -= buf.mean()
                buf *= buf.square().mean().rsqrt()

    def _report(self, index: int, stage: Stage, learning_rate: float, losses: Dict[str, float],
                images: torch.Tensor, last: bool) -> None:
        if self.progress is None:
            return
        every = self.config.preview_every
        wants_preview = every > 0 and (self.steps_done % every == 0 or last)
        preview = images[:1].detach().float().cpu() if wants_preview else None
        report = ProjectionProgress(step=self.steps_done, num_steps=self.config.num_steps, stage=index,
                                    space=stage.space, learning_rate=learning_rate, losses=losses,
                                    preview=preview, phase_step=self.steps_done,
                                    phase_steps=self.config.num_steps)
        if self.progress(report) is False:
            raise ProjectionCancelled(self.steps_done)


class _BestLatent:
    """The lowest-loss latent (and noise images) of a stage, and the steps since it last improved
    by more than the tolerance (what early stopping watches)."""

    def __init__(self, tolerance: float) -> None:
        self.tolerance = tolerance
        self.loss = float("inf")
        self.w: Optional[torch.Tensor] = None
        self.noise: Dict[str, torch.Tensor] = {}
        self.steps_without_improvement = 0

    def offer(self, loss: float, w: torch.Tensor, noise: Dict[str, torch.Tensor]) -> None:
        """Record the loss of the latent ``w`` (before this step's update) and its noise images."""
        improved_enough = loss < self.loss * (1 - self.tolerance)
        self.steps_without_improvement = 0 if improved_enough else self.steps_without_improvement + 1
        if loss < self.loss:
            self.loss = loss
            self.w = w.detach().clone()
            self.noise = {name: buf.detach().clone() for name, buf in noise.items()}

    def restore(self, w: torch.Tensor, noise: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The best latent (``w`` if none was recorded); puts the matching noise images back."""
        if self.w is None:
            return w.detach()
        with torch.no_grad():
            for name, buf in noise.items():
                buf.copy_(self.noise[name])
        return self.w


def _best_candidate(G: torch.nn.Module, objective: _Objective, w_avg: torch.Tensor,
                    samples: torch.Tensor, config: ProjectionConfig,
                    cancel: Optional[threading.Event], progress: Optional[ProgressFn] = None) -> torch.Tensor:
    """The start latent [1, num_ws, w_dim] that scores best among w_avg and truncated samples."""
    sampled = samples[: config.num_candidates - 1]
    candidates = torch.cat([w_avg[0], w_avg[0] + config.candidate_psi * (sampled - w_avg[0])])
    scores = []
    with torch.no_grad():
        for batch in candidates.split(CANDIDATE_BATCH):
            _stop_if_cancelled(cancel, 0)
            images = _synthesize(G, batch[:, None, :].expand(-1, G.num_ws, -1), config)
            scores.append(objective.score(images))
            if progress is not None:
                scored = torch.cat(scores)
                report = ProjectionProgress(step=0, num_steps=config.num_steps, stage=0,
                                            space=config.stages[0].space, learning_rate=0.0,
                                            losses={"total": float(scored.min())}, preview=None, phase="start",
                                            phase_step=len(scored), phase_steps=len(candidates))
                if progress(report) is False:
                    raise ProjectionCancelled(0)
    best = int(torch.cat(scores).argmin())
    return candidates[best][None, None, :].expand(1, G.num_ws, -1).clone()


def _init_noise(G: torch.nn.Module, rng: torch.Generator) -> Dict[str, torch.Tensor]:
    """Fresh unit-Gaussian noise images (as NVIDIA's projector), made optimisable, by state_dict name."""
    noise = {name: buf for name, buf in G.named_buffers() if name.endswith("noise_const")}
    with torch.no_grad():
        for buf in noise.values():
            buf.copy_(torch.randn(buf.shape, generator=rng))
            buf.requires_grad_(True)
    return noise


def _synthesize(G: torch.nn.Module, ws: torch.Tensor, config: ProjectionConfig) -> torch.Tensor:
    """G.synthesis with the stored noise, in the modulated-conv layout and precision the config asks for
    (bf16 under autocast; the image comes back float32 for the loss)."""
    with torch.autocast(device_type=ws.device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16"):
        images = G.synthesis(ws, noise_mode="const", fused_modconv=config.fused_modconv)
    return images.float()


def _stop_if_cancelled(cancel: Optional[threading.Event], step: int) -> None:
    if cancel is not None and cancel.is_set():
        raise ProjectionCancelled(step)


def _device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device
