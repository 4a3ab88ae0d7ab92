"""Does a studio sheet stall the live stream? Stream FPS without and while 4x4 grids render; prints JSON.

Runs ``python -m app serve`` in its own process (as ``bench_pipeline.py`` and ``bench_projection_stream.py``
do) on the 640x480 selfie clip with a 256x256 random-weight generator in the FFHQ-256 layout, on the CPU.
One client reads the stream while:

1. nothing else happens (the baseline);
2. 4x4 grids of 256 px faces render one after another (``POST /api/studio/grid``, batch 8 by default),
   which the app runs in its studio worker thread with fewer torch threads and a lower priority on a CPU.

Reports the stream FPS of both windows, how many grids rendered in the second and how long each took
(and its first row), and the verdict: the stream keeps at least 25 FPS while grids render.

    python scripts/bench_studio_stream.py
    python scripts/bench_studio_stream.py --seconds 20
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_pipeline import TARGET_ONE_CLIENT_FPS, WARMUP_S, Server, StreamClient, stage_figures, start_server

ROOT = Path(__file__).resolve().parents[1]
FINISHED = ("done", "failed", "cancelled")
GRID_SEEDS = 16             # a 4x4 grid


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path,
                        default=Path(os.environ.get("STYLECAM_SHARED", ROOT.parent / "shared")),
                        help="offline data folder with the clip and the YuNet model (default ../shared)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each FPS window (default 15)")
    return parser.parse_args()


def call(server: Server, path: str, payload=None, method=None) -> dict:
    with server.request(path, payload, method) as answer:
        return json.load(answer)


def render_grids(server: Server, seconds: float) -> dict:
    """Render 4x4 grids back to back for about ``seconds`` (the last one is let finish); the time they ran
    and each finished grid's seconds and first-row seconds."""
    grids, first_seed = [], 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        job = call(server, "/api/studio/grid", {"seeds": f"{first_seed}-{first_seed + GRID_SEEDS - 1}",
                                                "columns": 4, "cell": 256})
        first_seed += GRID_SEEDS
        while job["state"] not in FINISHED:
            time.sleep(0.1)
            job = call(server, job["url"])
        if job["state"] != "done":
            sys.exit(f"a studio grid ended {job['state']}: {job['error']}")
        grids.append(job)
    return {"started": started, "ended": time.perf_counter(), "grids": grids}


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as folder:
        load_at_start = os.getloadavg()
        server = start_server(args.shared, Path(folder), {"STYLECAM_PROJECTIONS": str(Path(folder) / "projections")})
        try:
            server.wait_for_first_face()
            client = StreamClient(server)
            client.start()
            time.sleep(WARMUP_S)
            start = time.perf_counter()
            time.sleep(args.seconds)
            baseline_fps = round(client.fps_between(start, time.perf_counter()), 1)
            baseline_stages = stage_figures(server.status())

            rendered = render_grids(server, args.seconds)
            during_fps = round(client.fps_between(rendered["started"], rendered["ended"]), 1)
            during_stages = stage_figures(server.status())
            client.close()
        finally:
            server.stop()

    grids = rendered["grids"]
    print(json.dumps({
        "conditions": {
            "source": "selfie_webcam_10s.mp4, 640x480, 30 FPS, looping",
            "generator": "random weights, FFHQ-256 layout (256x256, 14 W layers)",
            "sheet": "4x4 grid of 256 px faces, batch 8 (serve's default), one after another",
            "device": "cpu", "cpu_count": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in load_at_start],
            "seconds_per_window": args.seconds,
        },
        "without_studio": {"stream_fps": baseline_fps, "stages": baseline_stages},
        "while_grids_render": {
            "stream_fps": during_fps, "stages": during_stages,
            "seconds": round(rendered["ended"] - rendered["started"], 1), "grids": len(grids),
            "grid_seconds_median": round(statistics.median(job["seconds"] for job in grids), 2),
            "first_row_seconds_median": round(statistics.median(job["first_row_seconds"] for job in grids), 2),
        },
        "stream_fps_kept": round(during_fps / baseline_fps, 2) if baseline_fps else None,
        "target_fps": TARGET_ONE_CLIENT_FPS,
        "target_met": during_fps >= TARGET_ONE_CLIENT_FPS,
    }, indent=2))


if __name__ == "__main__":
    main()
