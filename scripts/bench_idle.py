"""CPU use of StyleCam streaming and idle, and how fast the first viewer wakes it; prints JSON.

Runs ``python -m app serve`` on the selfie clip (as bench_pipeline.py does: its own process, a 256x256
random-weight generator in the FFHQ-256 layout, on the CPU) with ``--idle-after``, and measures the
server process's CPU time (user + system, from /proc) over a window:
- streaming: one client reads the stream;
- idle: nobody has watched for longer than --idle-after (the status says "idle");
and then the wake-up: the time from a client's request to the first frame captured after it arrived.

    python scripts/bench_idle.py
    python scripts/bench_idle.py --seconds 20 --idle-after 3
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from bench_pipeline import ROOT, Server, start_server

from app.web.streams import read_parts

TARGET_WAKE_S = 1.0         # The first client brings the loop back within a second.


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path,
                        default=Path(os.environ.get("STYLECAM_SHARED", ROOT.parent / "shared")),
                        help="offline data folder with the clip and the YuNet model (default ../shared)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each CPU window (default 10)")
    parser.add_argument("--idle-after", type=float, default=2.0, help="serve --idle-after (default 2)")
    parser.add_argument("--wakes", type=int, default=5, help="wake-ups timed (default 5)")
    return parser.parse_args()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_percent(pid: int, seconds: float) -> float:
    """Percent of one core the process used over the next ``seconds``."""
    start, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return round(100 * (cpu_seconds(pid) - start) / (time.monotonic() - started), 1)


def wait_until_idle(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while server.status()["live"] != "idle":
        if time.monotonic() > deadline:
            raise SystemExit("the server did not go idle")
        time.sleep(0.2)


def wake_seconds(server: Server) -> float:
    """From requesting the stream of an idle server to receiving its first fresh frame."""
    before = server.status()["source"]
    started = time.perf_counter()
    with server.request("/stream.mjpg") as response:
        headers, _ = next(read_parts(response))
        elapsed = time.perf_counter() - started
    assert before["state"] == "idle", before
    assert int(headers["X-Frame-Version"]) > 0
    return round(elapsed, 3)


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as folder:
        load_at_start = os.getloadavg()
        server = start_server(args.shared, Path(folder), options=["--idle-after", str(args.idle_after)])
        pid = server.process.pid
        try:
            server.wait_for_first_face()
            with server.request("/stream.mjpg") as response:
                parts = read_parts(response)
                next(parts)
                start, started = cpu_seconds(pid), time.monotonic()
                while time.monotonic() - started < args.seconds:
                    next(parts)
                streaming = {"cpu_percent": round(100 * (cpu_seconds(pid) - start) / (time.monotonic() - started), 1),
                             "stream_fps": server.status()["stream_fps"]}
            wait_until_idle(server)
            idle = {"cpu_percent": cpu_percent(pid, args.seconds), "status": server.status()["live"]}
            wakes = []
            for _ in range(args.wakes):
                wait_until_idle(server)
                wakes.append(wake_seconds(server))
        finally:
            server.stop()
    print(json.dumps({
        "conditions": {"source": "selfie_webcam_10s.mp4 (a file: paused, not closed, when idle)",
                       "generator": "random weights, FFHQ-256 layout", "device": "cpu", "cpu_count": os.cpu_count(),
                       "load_average_at_start": [round(x, 2) for x in load_at_start], "seconds": args.seconds,
                       "idle_after_s": args.idle_after},
        "streaming_one_client": streaming,
        "idle": idle,
        "wake_s": {"runs": wakes, "max": max(wakes)},
        "targets_met": {"idle_cpu_percent<5": idle["cpu_percent"] < 5,
                        f"wake<={TARGET_WAKE_S:g}s": max(wakes) <= TARGET_WAKE_S},
    }, indent=2))


if __name__ == "__main__":
    main()
