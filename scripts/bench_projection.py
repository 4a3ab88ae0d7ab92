"""Projection quality and speed: NVIDIA's reference schedule against StyleCam's fast configuration.

The generator has random weights in the FFHQ-256 layout (z = w = 512, 8 mapping layers, channel_base
16384, channel_max 512). Each target is an image that generator made from a known latent, so the ideal
answer is known; it is rendered with noise images the projector never sees (fresh draws, not the
generator's stored noise), so no configuration can win by reusing them. The perceptual network is the
random-weight stand-in from the tests (labelled "perceptual": "stand-in" in the JSON) unless --vgg.

Both configurations use the same modulated-conv layout (the unfused one, the faster), so the
comparison is about the schedule alone. The fast configuration runs the app's default number of steps
(``app.web.config.DEFAULT_STEPS``), so the benchmark times what the app runs.

Prints one JSON object per configuration (means over the targets, and each target): seconds (wall;
cpu_seconds too, steadier on a shared machine), steps,
final LPIPS (with the network used), pixel MSE (images in [-1, 1]) and W distance to the true latent
(mean per-layer L2; ``w_avg_distance`` is the same for w_avg, for scale), with the device, its name
and the generator's dtype. Then a summary that checks the target: the fast configuration reaches the
reference's final pixel MSE in at most 1/5 of the reference's time, and its returned result is at
least as close. The full reference (1000 steps at 256x256) takes many minutes on a CPU.

On a GPU (``--device cuda``) the generator runs as the app runs it there (fp16 in its top resolutions)
and each summary also checks the GPU target: a full projection of a 256x256 face in at most 5 s
(use ``--vgg`` or ``--standin vgg16-shaped`` for VGG16's cost).

    python scripts/bench_projection.py --quick                      # smoke run, about a minute
    python scripts/bench_projection.py                              # the full comparison
    python scripts/bench_projection.py --resolution 128 --targets 3
    python scripts/bench_projection.py --device cuda --configs fast --standin vgg16-shaped
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch

from app.projection.jobs import DEFAULT_STEPS
from stylegan2.hardware import DeviceError, resolve_device
from stylegan2.projection.perceptual import PerceptualNetwork, load_perceptual
from stylegan2.projection.projector import ProjectionResult, prepare_target, project, w_statistics
from stylegan2.projection.schedule import ProjectionConfig
from stylegan2.testing import (
    FFHQ_256,
    SMALL_STAGES,
    VGG16_STAGES,
    fit_output_range,
    make_random_generator,
    make_target,
    save_standin,
)

ROOT = Path(__file__).resolve().parents[1]
TARGET_SEED_BASE = 1000     # Target i: latent and noise images from seed 1000 + i.
TIME_RATIO_TARGET = 0.2     # The fast configuration may take at most this share of the reference's time.
GPU_SECONDS_TARGET = 5.0    # A full projection of a 256x256 face on a GPU may take at most this long.
STANDINS = {"small": SMALL_STAGES, "vgg16-shaped": VGG16_STAGES}


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    layout = dict(FFHQ_256, resolution=args.resolution, channel_base=args.channel_base)
    G = make_random_generator(**layout, seed=args.seed)
    fit_output_range(G).requires_grad_(False)
    num_targets = 1 if args.quick else args.targets
    targets = [make_target(G, TARGET_SEED_BASE + index) for index in range(num_targets)]
    w_avg, _, _ = w_statistics(G, 10000, torch.Generator().manual_seed(args.seed))
    G.to(device)
    perceptual, perceptual_label = load_network(args.vgg, args.standin, device)
    configs = configurations(100 if args.quick else args.reference_steps, 30 if args.quick else args.fast_steps)
    setting = dict(resolution=args.resolution, channel_base=args.channel_base, num_ws=G.num_ws,
                   perceptual=perceptual_label, targets=num_targets, threads=torch.get_num_threads(),
                   device=str(device), device_name=device_name(device),
                   dtype=synthesis_dtype(device, layout["num_fp16_res"]),
                   machine=platform.processor() or platform.machine(), quick=args.quick,
                   w_avg_distance=round(statistics.fmean(w_distance(w_avg, ws) for _, ws in targets), 4))
    if device.type == "cuda":   # The first projection pays for CUDA's start-up; time none of that.
        project(G, targets[0][0], perceptual, ProjectionConfig.fast(steps=2))
    runs = {}
    for name in args.configs.split(","):
        if name not in configs:
            raise SystemExit(f"unknown configuration {name!r}; known: {', '.join(configs)}")
        runs[name] = []
        for index, target in enumerate(targets):
            print(f"{name}: target {index + 1}/{len(targets)}...", file=sys.stderr, flush=True)
            runs[name].append(measure(G, perceptual, target, configs[name]))
        print(json.dumps(summarize(name, runs[name], configs[name], setting)), flush=True)
    if "reference" in runs and "fast" in runs:
        print(json.dumps(compare(runs["reference"], runs["fast"])), flush=True)


def configurations(reference_steps: int, fast_steps: int) -> Dict[str, ProjectionConfig]:
    """The configurations compared, all in the same modulated-conv layout (the fast preset's)."""
    fast = ProjectionConfig.fast(steps=fast_steps)
    return {
        "reference": ProjectionConfig.reference(steps=reference_steps).replace(fused_modconv=fast.fused_modconv),
        "fast": fast,
        "fast_w": ProjectionConfig.fast(steps=fast_steps, space="w"),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 target, 100 reference steps, 30 fast")
    parser.add_argument("--resolution", type=int, default=256, help="generator resolution (default 256)")
    parser.add_argument("--channel-base", type=int, default=16384, help="generator channel_base (default 16384)")
    parser.add_argument("--targets", type=int, default=2, help="number of target images (default 2)")
    parser.add_argument("--reference-steps", type=int, default=1000, help="reference steps (default 1000)")
    parser.add_argument("--fast-steps", type=int, default=DEFAULT_STEPS,
                        help=f"fast configuration steps (default {DEFAULT_STEPS}, the app's)")
    parser.add_argument("--configs", default="reference,fast,fast_w", help="comma-separated configurations")
    parser.add_argument("--vgg", type=Path, help="NVIDIA's vgg16.pt instead of the random stand-in")
    parser.add_argument("--standin", choices=sorted(STANDINS), default="small",
                        help="stand-in shape: 'small' (default) or 'vgg16-shaped' (VGG16's cost, random weights)")
    parser.add_argument("--device", type=parse_device, default=torch.device("cpu"),
                        help="cpu (default), cuda or cuda:N")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0, help="random generator weights seed")
    return parser.parse_args()


def parse_device(text: str) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N``, checked as ``serve --device`` checks it: a GPU that is not there is
    refused before anything runs."""
    try:
        device = resolve_device(text)
    except DeviceError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if device.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"{text!r}: only cpu and cuda[:N] are measured")
    return device


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def synthesis_dtype(device: torch.device, num_fp16_res: int) -> str:
    """What the generator computes in: fp16 in its top resolutions on CUDA, float32 on the CPU."""
    if device.type == "cuda" and num_fp16_res > 0:
        return f"float16 (top {num_fp16_res} resolutions), float32 elsewhere"
    return "float32"


def load_network(vgg: Optional[Path], standin: str, device: torch.device) -> Tuple[PerceptualNetwork, str]:
    if vgg is not None:
        return load_perceptual(vgg, device), f"vgg16 ({vgg})"
    path = save_standin(Path(tempfile.mkdtemp(prefix="stylecam-bench-")) / "standin.pt", STANDINS[standin])
    return load_perceptual(path, device), f"stand-in, {standin} (random weights, test fixture)"


def measure(G, perceptual, target, config: ProjectionConfig) -> Dict[str, float]:
    image, true_ws = target
    cpu_started = time.process_time()
    result = project(G, image, perceptual, config)
    return dict(seconds=result.seconds, cpu_seconds=time.process_time() - cpu_started,
                steps=result.steps, lpips=final_lpips(perceptual, result, image),
                pixel_mse=result.losses["pixel"], w_distance=w_distance(result.ws, true_ws),
                history=[(entry["seconds"], entry["pixel"]) for entry in result.history])


def final_lpips(perceptual: PerceptualNetwork, result: ProjectionResult, target: torch.Tensor) -> float:
    """LPIPS of the result image to the target at the network's full resolution, whatever resolution
    the configuration optimised at, so that every configuration is judged alike."""
    with torch.no_grad():
        image = prepare_target(result.image, target.shape[-1]).to(perceptual.device)
        return float(perceptual.distance(perceptual.features(image), perceptual.features(target.to(image.device))))


def w_distance(ws: torch.Tensor, true_ws: torch.Tensor) -> float:
    """Mean over layers of the L2 distance between a latent and the true one (broadcasting W)."""
    return float((ws - true_ws).norm(dim=-1).mean())


def summarize(name: str, runs: List[Dict], config: ProjectionConfig, setting: Dict) -> Dict:
    keys = ("seconds", "cpu_seconds", "steps", "lpips", "pixel_mse", "w_distance")
    means = {key: statistics.fmean(run[key] for run in runs) for key in keys}
    gpu_target = {}
    if setting["device"].startswith("cuda"):
        gpu_target = dict(gpu_seconds_target=GPU_SECONDS_TARGET,
                          gpu_target_met=all(run["seconds"] <= GPU_SECONDS_TARGET for run in runs))
    return dict(config=name, **setting, **{key: round(value, 6) for key, value in means.items()},
                ms_per_step=round(1000 * means["seconds"] / max(means["steps"], 1), 1), **gpu_target,
                per_target=[{key: round(run[key], 6) for key in keys} for run in runs],
                settings=config.to_dict())


def compare(reference: List[Dict], fast: List[Dict]) -> Dict:
    """Per target: how long the fast run took, as a share of the reference's time, to first reach the
    reference's final pixel MSE (None: never), and whether the result it returned is at least as close.
    The target is met only if both hold for every target: dipping below at some step is not enough."""
    ratios = []
    for ref_run, fast_run in zip(reference, fast):
        reached = next((seconds for seconds, pixel in fast_run["history"] if pixel <= ref_run["pixel_mse"]), None)
        ratios.append(None if reached is None else round(reached / ref_run["seconds"], 4))
    final_at_most = [f["pixel_mse"] <= r["pixel_mse"] for r, f in zip(reference, fast)]
    return dict(summary="fast vs reference",
                total_time_ratio=[round(f["seconds"] / r["seconds"], 4) for r, f in zip(reference, fast)],
                total_cpu_time_ratio=[round(f["cpu_seconds"] / r["cpu_seconds"], 4) for r, f in zip(reference, fast)],
                time_to_reference_pixel_mse_ratio=ratios,
                final_pixel_mse_at_most_reference=final_at_most,
                target_ratio=TIME_RATIO_TARGET,
                target_met=all(final_at_most) and all(ratio is not None and ratio <= TIME_RATIO_TARGET

                                                      for ratio in ratios))


if __name__ == "__main__":
    main()
