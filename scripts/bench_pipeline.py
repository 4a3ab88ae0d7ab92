"""The whole product under load, as clients see it; prints JSON.

Runs ``python -m app serve`` in its own process (as a user would: its own interpreter, so the
clients here do not share its GIL) on the 640x480 selfie clip with a 256x256 random-weight generator
in the FFHQ-256 layout, on the CPU, and measures over HTTP:

- the stream rate one client receives, and the per-stage figures from /api/status;
- slider-to-frame latency: from sending a slider change (POST /api/params) to the first streamed
  frame whose ``X-Params-Version`` shows it, next to the generator's run time;
- the stream rate each of 10 concurrent clients receives.

Motion compensation is always on (it runs whenever a frame is shown with faces found in an earlier one);
the mouth and eye masks are on unless ``--no-masks``; ``--detect-every K`` runs ``serve --detect-every K``.

Targets on a 2-core CPU: >= 25 FPS to one client, >= 20 FPS to each of 10, and a latency of at most
one generator run + 100 ms.

    python scripts/bench_pipeline.py
    python scripts/bench_pipeline.py --seconds 20 --clients 10 --changes 8
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import stylegan2
from app.web.streams import read_parts
from stylegan2.testing import FFHQ_256, make_random_generator

ROOT = Path(__file__).resolve().parents[1]
CLIP = "media/videos/selfie_webcam_10s.mp4"
YUNET_FILE = "weights/face_detection_yunet_2026may.onnx"
TOKEN = "bench-token"
WARMUP_S = 3.0
TARGET_ONE_CLIENT_FPS = 25.0
TARGET_EACH_OF_MANY_FPS = 20.0
LATENCY_ALLOWANCE_MS = 100.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path,
                        default=Path(os.environ.get("STYLECAM_SHARED", ROOT.parent / "shared")),
                        help="offline data folder with the clip and the YuNet model (default ../shared)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each rate measurement (default 10)")
    parser.add_argument("--clients", type=int, default=10, help="concurrent clients in the load test (default 10)")
    parser.add_argument("--changes", type=int, default=6, help="slider changes timed for latency (default 6)")
    parser.add_argument("--detect-every", type=int, default=1, help="serve --detect-every K (default 1)")
    parser.add_argument("--no-masks", dest="masks", action="store_false",
                        help="leave the mouth and eye masks off (default: both fully on)")
    return parser.parse_args()


class Server:
    """``python -m app serve`` in a child process, stopped with Ctrl-C (SIGINT) like a user would."""

    def __init__(self, clip: Path, weights: Path, yunet: Path, env: Optional[Dict[str, str]] = None,
                 options: Sequence[str] = ()) -> None:
        command = [sys.executable, "-m", "app", "serve", "--source", str(clip), "--weights", str(weights),
                   "--device", "cpu", "--detector", "yunet", "--detector-model", str(yunet),
                   "--host", "127.0.0.1", "--port", "0", "--offline", *options]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, env={**os.environ, "STYLECAM_TOKEN": TOKEN, **(env or {})})
        self.base = self._printed_address()

    def _printed_address(self) -> str:
        for line in self.process.stdout:
            address = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=", line)
            if address:
                threading.Thread(target=self.process.stdout.read, daemon=True).start()   # keep the pipe drained
                return address[1]
        sys.exit(f"the server ended before printing its address (exit code {self.process.wait()})")

    def request(self, path: str, payload=None, method: Optional[str] = None):
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.base + path, data, {"Authorization": f"Bearer {TOKEN}",
                                                                  "Content-Type": "application/json"},
                                         method=method)
        return urllib.request.urlopen(request, timeout=60)

    def status(self) -> dict:
        with self.request("/api/status") as answer:
            return json.load(answer)

    def wait_for_first_face(self, timeout: float = 120.0) -> None:
        """The first render is slow (warm-up); measuring starts after it."""
        deadline = time.monotonic() + timeout
        while self.status()["renders"] < 1:
            if time.monotonic() > deadline:
                sys.exit(f"no face was rendered within {timeout} s")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)


class StreamClient(threading.Thread):
    """Reads /stream.mjpg like a browser would; records when each part arrived and its params version."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.response = server.request("/stream.mjpg")
        self.arrivals: List[Tuple[float, int]] = []
        self.stop_requested = threading.Event()

    def run(self) -> None:
        with self.response:
            for headers, _ in read_parts(self.response):
                self.arrivals.append((time.perf_counter(), int(headers["X-Params-Version"])))
                if self.stop_requested.is_set():
                    return

    def fps_between(self, start: float, end: float) -> float:
        count = sum(1 for arrived, _ in self.arrivals if start <= arrived < end)
        return count / (end - start)

    def first_arrival_showing(self, params_version: int, since_part: int, timeout: float = 30.0) -> float:
        """When the first part from number ``since_part`` on that shows ``params_version`` arrived."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            for arrived, version in self.arrivals[since_part:]:
                if version >= params_version:
                    return arrived
            time.sleep(0.002)
        raise RuntimeError(f"no frame showed params version {params_version} within {timeout} s")

    def close(self) -> None:
        self.stop_requested.set()
        self.join(timeout=10)


def measure_rates(clients: List[StreamClient], seconds: float) -> List[float]:
    time.sleep(WARMUP_S)
    start = time.perf_counter()
    time.sleep(seconds)
    end = time.perf_counter()
    return [round(client.fps_between(start, end), 1) for client in clients]


def measure_latency(server: Server, client: StreamClient, changes: int) -> List[float]:
    """Slider changes, one at a time: POST, then the first frame that shows it."""
    latencies = []
    for change in range(changes):
        strength = round(0.2 + 0.8 * (change % 2), 2)      # alternate, so every change is a new face
        since_part, sent = len(client.arrivals), time.perf_counter()
        with server.request("/api/params", {"sliders": {"smile": strength}, "style_seed": 100 + change}) as answer:
            params_version = int(answer.headers["X-Params-Version"])
        latencies.append(round((client.first_arrival_showing(params_version, since_part) - sent) * 1000, 1))
        time.sleep(0.5)
    return latencies


def stage_figures(status: dict) -> dict:
    keys = ("camera_fps", "stream_fps", "detection_ms", "generation_ms", "compositing_ms", "motion_ms", "encoding_ms",
            "faces")
    return {key: status[key] for key in keys}


def start_server(shared: Path, folder: Path, env: Optional[Dict[str, str]] = None,
                 options: Sequence[str] = ()) -> Server:
    """``serve`` on the selfie clip, with a random-weight generator in the FFHQ-256 layout saved in ``folder``."""
    clip, yunet = shared / CLIP, shared / YUNET_FILE
    for path in (clip, yunet):
        if not path.is_file():
            sys.exit(f"offline data not found: {path} (set --shared or STYLECAM_SHARED)")
    weights = folder / "random-ffhq256-layout.pt"
    stylegan2.save(make_random_generator(**FFHQ_256), weights, meta={"note": "random weights, benchmark"})
    return Server(clip, weights, yunet, env, options)


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as folder:
        load_at_start = os.getloadavg()
        server = start_server(args.shared, Path(folder), options=["--detect-every", str(args.detect_every)])
        try:
            server.wait_for_first_face()
            if args.masks:
                server.request("/api/params", {"keep_mouth": 1.0, "keep_eyes": 1.0}).close()
            one = StreamClient(server)
            one.start()
            one_fps = measure_rates([one], args.seconds)[0]
            stages = stage_figures(server.status())
            latencies = measure_latency(server, one, args.changes)
            generation_ms = server.status()["generation_ms"]
            one.close()

            many = [StreamClient(server) for _ in range(args.clients)]
            for client in many:
                client.start()
            many_fps = measure_rates(many, args.seconds)
            stages_under_load = stage_figures(server.status())
            for client in many:
                client.close()
        finally:
            server.stop()

    latency_budget = generation_ms + LATENCY_ALLOWANCE_MS
    print(json.dumps({
        "conditions": {
            "source": "selfie_webcam_10s.mp4, 640x480, 30 FPS, looping",
            "generator": "random weights, FFHQ-256 layout (256x256, 14 W layers)",
            "device": "cpu", "cpu_count": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in load_at_start],
            "seconds_per_rate": args.seconds, "detect_every": args.detect_every, "masks": args.masks,
            "motion_compensation": True,
        },
        "one_client": {"stream_fps": one_fps, "stages": stages},
        "slider_latency_ms": {
            "runs": latencies, "median": round(statistics.median(latencies), 1), "max": max(latencies),
            "generation_ms": generation_ms, "budget_ms": round(latency_budget, 1),
        },
        "many_clients": {
            "clients": args.clients, "stream_fps_each": many_fps, "min_fps": min(many_fps),
            "stages": stages_under_load,
        },
        "targets_met": {
            f"one_client_fps>={TARGET_ONE_CLIENT_FPS:g}": one_fps >= TARGET_ONE_CLIENT_FPS,
            f"each_of_{args.clients}_fps>={TARGET_EACH_OF_MANY_FPS:g}": min(many_fps) >= TARGET_EACH_OF_MANY_FPS,
            "median_latency<=generation+100ms": statistics.median(latencies) <= latency_budget,
        },
    }, indent=2))


if __name__ == "__main__":
    main()
