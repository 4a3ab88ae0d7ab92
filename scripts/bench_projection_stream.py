"""Does a projection stall the live stream? Stream FPS before and during a projection job; prints JSON.

Runs ``python -m app serve`` in its own process (as ``bench_pipeline.py`` does) on the 640x480 selfie
clip with a 256x256 random-weight generator in the FFHQ-256 layout, on the CPU, with a random-weight
stand-in for the perceptual network that has VGG16's layer shapes and so its cost (a test fixture:
its distances mean nothing, its time is what matters here). One client reads the stream while:

1. nothing else happens (the baseline);
2. a projection of the camera face runs (``POST /api/project``), which the app runs in its worker
   thread with fewer torch threads and a lower priority on a CPU.

Reports the stream FPS of both windows, the projection's steps per second during the second (0 when
the window ends before the start latents are scored), and, with ``--finish``, the job's total time.

    python scripts/bench_projection_stream.py
    python scripts/bench_projection_stream.py --seconds 20 --steps 150 --finish
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.error
from pathlib import Path

from bench_pipeline import WARMUP_S, Server, StreamClient, stage_figures, start_server

from stylegan2.testing import VGG16_STAGES, save_standin

ROOT = Path(__file__).resolve().parents[1]
FINISHED = ("done", "failed", "cancelled")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path,
                        default=Path(os.environ.get("STYLECAM_SHARED", ROOT.parent / "shared")),
                        help="offline data folder with the clip and the YuNet model (default ../shared)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each FPS window (default 15)")
    parser.add_argument("--steps", type=int, default=150, help="projection steps (default 150, the app's)")
    parser.add_argument("--finish", action="store_true", help="wait for the projection to end and report its time")
    return parser.parse_args()


def call(server: Server, path: str, payload=None, method=None) -> dict:
    with server.request(path, payload, method) as answer:
        return json.load(answer)


def submit_camera_projection(server: Server, steps: int, timeout: float = 60.0) -> dict:
    """POST /api/project from the camera; retried while the clip shows no face."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call(server, "/api/project", {"source": "camera", "steps": steps})
        except urllib.error.HTTPError as error:
            if error.code != 422 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_for_job(server: Server, job: dict, states, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while job["state"] not in states:
        if time.monotonic() > deadline:
            sys.exit(f"the projection job stayed {job['state']} for {timeout} s")
        time.sleep(0.2)
        job = call(server, job["url"])
    return job


def fps_window(client: StreamClient, seconds: float) -> float:
    start = time.perf_counter()
    time.sleep(seconds)
    return round(client.fps_between(start, time.perf_counter()), 1)


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as folder:
        standin = save_standin(Path(folder) / "standin-vgg16-shaped.pt", VGG16_STAGES)
        env = {"STYLECAM_PERCEPTUAL": str(standin), "STYLECAM_PROJECTIONS": str(Path(folder) / "projections")}
        load_at_start = os.getloadavg()
        server = start_server(args.shared, Path(folder), env)
        try:
            server.wait_for_first_face()
            client = StreamClient(server)
            client.start()
            time.sleep(WARMUP_S)
            baseline_fps = fps_window(client, args.seconds)
            baseline_stages = stage_figures(server.status())

            job = wait_for_job(server, submit_camera_projection(server, args.steps), ("running",) + FINISHED, 60)
            step_before = job["step"]
            started = time.perf_counter()
            during_fps = fps_window(client, args.seconds)
            job = call(server, job["url"])
            steps_per_s = (job["step"] - step_before) / (time.perf_counter() - started)
            during_stages = stage_figures(server.status())
            if args.finish:
                job = wait_for_job(server, job, FINISHED, 3600)
            elif job["state"] not in FINISHED:
                call(server, job["url"], method="DELETE")
            client.close()
        finally:
            server.stop()

    print(json.dumps({
        "conditions": {
            "source": "selfie_webcam_10s.mp4, 640x480, 30 FPS, looping",
            "generator": "random weights, FFHQ-256 layout (256x256, 14 W layers)",
            "perceptual": "random-weight stand-in with VGG16's layer shapes (its cost, not its distances)",
            "device": "cpu", "cpu_count": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in load_at_start],
            "seconds_per_window": args.seconds, "projection_steps": args.steps,
        },
        "without_projection": {"stream_fps": baseline_fps, "stages": baseline_stages},
        "during_projection": {"stream_fps": during_fps, "stages": during_stages,
                              "projection_steps_per_s": round(steps_per_s, 2)},
        "projection": {"state": job["state"], "steps": job["step"], "seconds": job["seconds"],
                       "backend": job["backend"],
                       "seconds_per_step_overall": round(job["seconds"] / job["step"], 2) if job["step"] else None},
        "stream_fps_kept": round(during_fps / baseline_fps, 2) if baseline_fps else None,
    }, indent=2))


if __name__ == "__main__":
    main()
