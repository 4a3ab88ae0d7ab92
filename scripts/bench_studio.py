"""Benchmark the studio's grid rendering against single images; prints JSON.

    python scripts/bench_studio.py                  # CPU: a 4x4 grid of 256 px faces at batch 8
    python scripts/bench_studio.py --device cuda

The generator has NVIDIA's FFHQ-256 layout with random weights (`stylegan2.testing.FFHQ_256`). Each repeat
times, in turns so that load from other processes affects both alike:
- "singles": the 16 latents rendered one synthesis call each, summed (the generator time alone), through
  the same `stylegan2.inference.InferenceGenerator` the app renders with;
- "grid": the same 16 as a 4x4 grid through `stylegan2.studio.render_grid` at batch 8, with each row
  converted to BGR images and placed on a labelled `app.studio.grids.GridCanvas` as it arrives (what the
  commands and a studio view do), noting when the first and the last row were placed.
Reports the medians over the repeats after warm-up and the verdict: the grid within 1.1x the singles' total,
and its first row shown before its last row is done.
"""
import argparse
import json
import statistics
import time

import torch

from app.images import all_from_engine
from app.studio.grids import GridCanvas
from stylegan2.cpu_memory import keep_freed_memory
from stylegan2.hardware import device_name
from stylegan2.inference import InferenceGenerator
from stylegan2.studio.rendering import render_grid
from stylegan2.studio.sampling import seeds_to_ws
from stylegan2.testing import FFHQ_256, make_random_generator

WARMUP_RUNS = 1
GRID_RATIO_TARGET = 1.1
ROWS = COLUMNS = 4


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    parser.add_argument("--batch", type=int, default=8, help="grid batch size (default 8)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each (default 5, min 3)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.repeats < 3:
        parser.error("--repeats must be at least 3")
    if args.batch < 1:
        parser.error("--batch must be positive")
    return args


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_singles(renderer: InferenceGenerator, ws: torch.Tensor, device: torch.device) -> float:
    """Seconds to render every latent of ws [N, num_ws, w_dim] in its own generator call, summed."""
    total = 0.0
    for index in range(len(ws)):
        synchronize(device)
        start = time.perf_counter()
        renderer.synthesis(ws[index:index + 1], noise_mode="const")
        synchronize(device)
        total += time.perf_counter() - start
    return total


def time_grid(renderer: InferenceGenerator, grid: torch.Tensor, batch_size: int) -> dict:
    """Seconds to render and place the grid, and when its first and last rows were placed."""
    placed = []
    canvas = GridCanvas(ROWS, COLUMNS, renderer.img_resolution, [f"row {r}" for r in range(ROWS)],
                        [f"column {c}" for c in range(COLUMNS)])
    start = time.perf_counter()

    def place(row: int, images: torch.Tensor) -> None:
        canvas.put_row(row, all_from_engine(images))
        placed.append(time.perf_counter() - start)

    render_grid(renderer, grid, batch_size, on_row=place)
    return {"grid_s": time.perf_counter() - start, "first_row_s": placed[0], "last_row_s": placed[-1]}


def verdict(singles_s: float, grid_s: float, first_row_s: float, last_row_s: float) -> dict:
    """The targets: the grid within GRID_RATIO_TARGET of the singles' total, the first row before the last."""
    ratio = grid_s / singles_s
    return {"grid_to_singles_ratio": round(ratio, 3), "grid_within_target": ratio <= GRID_RATIO_TARGET,
            "first_row_before_last": first_row_s < last_row_s,
            "target_met": ratio <= GRID_RATIO_TARGET and first_row_s < last_row_s}


def main() -> None:
    args = parse_args()
    keeps_freed_memory = keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    G = make_random_generator(**FFHQ_256).to(device)
    ws = seeds_to_ws(G, list(range(ROWS * COLUMNS)), psi=0.7).to(device)
    grid = ws.reshape(ROWS, COLUMNS, G.num_ws, G.w_dim)
    renderer = InferenceGenerator(G)
    runs = {"singles_s": [], "grid_s": [], "first_row_s": [], "last_row_s": []}
    for run in range(WARMUP_RUNS + args.repeats):
        singles = time_singles(renderer, ws, device)
        timed = time_grid(renderer, grid, args.batch)
        if run >= WARMUP_RUNS:
            runs["singles_s"].append(singles)
            for key, value in timed.items():
                runs[key].append(value)
    medians = {key: statistics.median(values) for key, values in runs.items()}
    print(json.dumps({
        "benchmark": f"{ROWS}x{COLUMNS} grid of {G.img_resolution} px faces at batch {args.batch} vs "
                     f"{ROWS * COLUMNS} single images, FFHQ-256 configuration, random weights",
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "malloc_keeps_freed_memory": keeps_freed_memory,
        "repeats": args.repeats,
        "median_s": {key: round(value, 4) for key, value in medians.items()},
        "runs_s": {key: [round(value, 4) for value in values] for key, values in runs.items()},
        **verdict(**medians),
    }, indent=1))


if __name__ == "__main__":
    main()
