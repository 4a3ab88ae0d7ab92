"""Projection quality and speed: NVIDIA's reference schedule against StyleCam's fast configuration.

The generator has random weights in the FFHQ-256 layout (z = w = 512, 8 mapping layers, channel_base
16384, channel_max 512). Each target is an image that generator made from a known latent, so the ideal
answer is known; it is rendered with noise images the projector never sees (fresh draws, not the
generator's stored noise), so no configuration can win by reusing them. The perceptual network is the
random-weight stand-in from the tests (labelled "perceptual": "stand-in" in the JSON) unless --vgg.

Prints one JSON object per configuration (means over the targets, and each target): seconds (wall;
cpu_seconds too, steadier on a shared machine), steps,
final LPIPS (with the network used), pixel MSE (images in [-1, 1]) and W distance to the true latent
(mean per-layer L2; ``w_avg_distance`` is the same for w_avg, for scale). Then a summary that checks
the target: the fast configuration reaches the reference's final pixel MSE in at most 1/5 of the
reference's time. The full reference (1000 steps at 256x256) takes many minutes on a CPU.

    python scripts/bench_projection.py --quick                      # smoke run, about a minute
    python scripts/bench_projection.py                              # the full comparison
    python scripts/bench_projection.py --resolution 128 --targets 3
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "stylegan2"))   # The stand-in perceptual network (a test fixture).

from projection_fixtures import (SMALL_STAGES, VGG16_STAGES, fit_output_range,  # noqa: E402
                                 make_target, save_standin)
from stylegan2.perceptual import PerceptualNetwork, load_perceptual  # noqa: E402
from stylegan2.projection_schedule import ProjectionConfig  # noqa: E402
from stylegan2.projector import ProjectionResult, prepare_target, project, w_statistics  # noqa: E402
from stylegan2.testing import FFHQ_256, make_random_generator  # noqa: E402

TARGET_SEED_BASE = 1000     # Target i: latent and noise images from seed 1000 + i.
TIME_RATIO_TARGET = 0.2     # The fast configuration may take at most this share of the reference's time.
STANDINS = {"small": SMALL_STAGES, "vgg16-shaped": VGG16_STAGES}


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    layout = dict(FFHQ_256, resolution=args.resolution, channel_base=args.channel_base, num_fp16_res=0)
    G = make_random_generator(**layout, seed=args.seed)
    fit_output_range(G).requires_grad_(False)
    perceptual, perceptual_label = load_network(args.vgg, args.standin)
    num_targets = 1 if args.quick else args.targets
    targets = [make_target(G, TARGET_SEED_BASE + index) for index in range(num_targets)]
    w_avg, _, _ = w_statistics(G, 10000, torch.Generator().manual_seed(args.seed))
    reference_steps = 100 if args.quick else args.reference_steps
    fast_steps = 30 if args.quick else args.fast_steps
    configs = {
        "reference": ProjectionConfig.reference(steps=reference_steps),
        "fast": ProjectionConfig.fast(steps=fast_steps),
        "fast_w": ProjectionConfig.fast(steps=fast_steps, space="w"),
    }
    setting = dict(resolution=args.resolution, channel_base=args.channel_base, num_ws=G.num_ws,
                   perceptual=perceptual_label, targets=num_targets, threads=torch.get_num_threads(),
                   device="cpu", machine=platform.processor() or platform.machine(), quick=args.quick,
                   w_avg_distance=round(statistics.fmean(w_distance(w_avg, ws) for _, ws in targets), 4))
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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 target, 100 reference steps, 30 fast")
    parser.add_argument("--resolution", type=int, default=256, help="generator resolution (default 256)")
    parser.add_argument("--channel-base", type=int, default=16384, help="generator channel_base (default 16384)")
    parser.add_argument("--targets", type=int, default=2, help="number of target images (default 2)")
    parser.add_argument("--reference-steps", type=int, default=1000, help="reference steps (default 1000)")
    parser.add_argument("--fast-steps", type=int, default=ProjectionConfig.fast().num_steps,
                        help="fast configuration steps (default: the preset's)")
    parser.add_argument("--configs", default="reference,fast,fast_w", help="comma-separated configurations")
    parser.add_argument("--vgg", type=Path, help="NVIDIA's vgg16.pt instead of the random stand-in")
    parser.add_argument("--standin", choices=sorted(STANDINS), default="small",
                        help="stand-in shape: 'small' (default) or 'vgg16-shaped' (VGG16's cost, random weights)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0, help="random generator weights seed")
    return parser.parse_args()


def load_network(vgg: Optional[Path], standin: str) -> Tuple[PerceptualNetwork, str]:
    if vgg is not None:
        return load_perceptual(vgg), f"vgg16 ({vgg})"
    path = save_standin(Path(tempfile.mkdtemp(prefix="stylecam-bench-")) / "standin.pt", STANDINS[standin])
    return load_perceptual(path), f"stand-in, {standin} (random weights, test fixture)"


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
        image = prepare_target(result.image, target.shape[-1])
        return float(perceptual.distance(perceptual.features(image), perceptual.features(target)))


def w_distance(ws: torch.Tensor, true_ws: torch.Tensor) -> float:
    """Mean over layers of the L2 distance between a latent and the true one (broadcasting W)."""
    return float((ws - true_ws).norm(dim=-1).mean())


def summarize(name: str, runs: List[Dict], config: ProjectionConfig, setting: Dict) -> Dict:
    keys = ("seconds", "cpu_seconds", "steps", "lpips", "pixel_mse", "w_distance")
    means = {key: statistics.fmean(run[key] for run in runs) for key in keys}
    return dict(config=name, **setting, **{key: round(value, 6) for key, value in means.items()},
                ms_per_step=round(1000 * means["seconds"] / max(means["steps"], 1), 1),
                per_target=[{key: round(run[key], 6) for key in keys} for run in runs],
                settings=config.to_dict())


def compare(reference: List[Dict], fast: List[Dict]) -> Dict:
    """Per target: how long the fast run took, as a share of the reference's time, to first reach the
    reference's final pixel MSE (None: never), and whether its final result is at least as close."""
    ratios = []
    for ref_run, fast_run in zip(reference, fast):
        reached = next((seconds for seconds, pixel in fast_run["history"] if pixel <= ref_run["pixel_mse"]), None)
        ratios.append(None if reached is None else round(reached / ref_run["seconds"], 4))
    return dict(summary="fast vs reference",
                total_time_ratio=[round(f["seconds"] / r["seconds"], 4) for r, f in zip(reference, fast)],
                total_cpu_time_ratio=[round(f["cpu_seconds"] / r["cpu_seconds"], 4) for r, f in zip(reference, fast)],
                time_to_reference_pixel_mse_ratio=ratios,
                final_pixel_mse_at_most_reference=[f["pixel_mse"] <= r["pixel_mse"] for r, f in zip(reference, fast)],
                target_ratio=TIME_RATIO_TARGET,
                target_met=all(ratio is not None and ratio <= TIME_RATIO_TARGET for ratio in ratios))


if __name__ == "__main__":
    main()
