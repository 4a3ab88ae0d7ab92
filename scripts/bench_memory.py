"""Peak memory of the whole product while a client streams, as a 4 GB Jetson Nano would feel it; prints JSON.

Runs ``python -m app serve`` in its own process on the 640x480 selfie clip with a 256x256 random-weight
generator in the FFHQ-256 layout and YuNet, streams to one client and moves a slider every second (so the
generator renders again and again), and reports the server's peak resident memory (VmHWM, the kernel's own
high-water mark), its RSS at the end, and how far the machine's available memory fell (which, on a Jetson,
also counts the GPU's allocations, as CPU and GPU share the RAM; on a busy shared machine it also counts other
processes). Each setting runs in a fresh server, one after another:

    python scripts/bench_memory.py                          # "default", "low-memory" and "fp32" (SETTINGS)
    python scripts/bench_memory.py --device cuda            # on a GPU
    python scripts/bench_memory.py --setting default --seconds 60

Target on the development CPU: at most 1.5 GB peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

from bench_pipeline import ROOT, StreamClient, start_server

TARGET_PEAK_RSS_MB = 1536
# The low-memory setting: one face, detection on 320 px wide frames, and glibc's malloc keeping 2 arenas
# instead of up to 8 per core (each thread's freed memory otherwise stays in its own). "fp32" shows what the
# CPU's fp32 layout costs over bf16 (its Winograd and packed weights).
SETTINGS: Dict[str, dict] = {
    "default": {"options": [], "env": {}},
    "low-memory": {"options": ["--max-faces", "1", "--detect-width", "320"], "env": {"MALLOC_ARENA_MAX": "2"}},
    "fp32": {"options": ["--precision", "fp32"], "env": {}},
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path,
                        default=Path(os.environ.get("STYLECAM_SHARED", ROOT.parent / "shared")),
                        help="offline data folder with the clip and the YuNet model (default ../shared)")
    parser.add_argument("--seconds", type=float, default=20.0, help="streaming time per setting (default 20)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--setting", nargs="+", choices=sorted(SETTINGS), default=list(SETTINGS))
    return parser.parse_args()


def process_memory_kb(pid: int) -> Dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def available_kb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    raise RuntimeError("no MemAvailable in /proc/meminfo")


class MemorySampler(threading.Thread):
    """Samples the machine's available memory every 0.2 s, for its lowest point."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.lowest = available_kb()
        self.stop_requested = threading.Event()

    def run(self) -> None:
        while not self.stop_requested.wait(0.2):
            self.lowest = min(self.lowest, available_kb())


def measure(args: argparse.Namespace, name: str, folder: Path) -> dict:
    setting = SETTINGS[name]
    available_before = available_kb()
    sampler = MemorySampler()
    sampler.start()
    server = start_server(args.shared, folder, env=setting["env"],
                          options=[*setting["options"], "--device", args.device])
    renderer: Optional[str] = None
    try:
        server.wait_for_first_face()
        renderer = server.status().get("model", {}).get("renderer")
        client = StreamClient(server)
        client.start()
        started = time.monotonic()
        change = 0
        while time.monotonic() - started < args.seconds:
            with server.request("/api/params", {"sliders": {"smile": 0.3 + 0.6 * (change % 2)},
                                                "style_seed": 200 + change}):
                pass
            change += 1
            time.sleep(1.0)
        received = len(client.arrivals)
        client.close()
        memory = process_memory_kb(server.process.pid)
    finally:
        server.stop()
        sampler.stop_requested.set()
        sampler.join()
    return {"options": setting["options"], "env": setting["env"], "renderer": renderer,
            "frames_received": received, "renders_requested": change,
            "peak_rss_mb": round(memory["VmHWM"] / 1024, 1), "rss_at_end_mb": round(memory["VmRSS"] / 1024, 1),
            "machine_available_drop_mb": round((available_before - sampler.lowest) / 1024, 1),
            "target_met": memory["VmHWM"] / 1024 <= TARGET_PEAK_RSS_MB}


def main() -> None:
    args = parse_args()
    results: List[dict] = []
    for name in args.setting:
        with tempfile.TemporaryDirectory() as folder:
            results.append({"setting": name, **measure(args, name, Path(folder))})
    print(json.dumps({
        "conditions": {"source": "selfie_webcam_10s.mp4, 640x480, looping", "device": args.device,
                       "generator": "random weights, FFHQ-256 layout", "detector": "YuNet",
                       "seconds": args.seconds, "cpu_count": os.cpu_count(),
                       "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "target_peak_rss_mb": TARGET_PEAK_RSS_MB,
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
