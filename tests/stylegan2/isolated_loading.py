"""Load untrusted files in a child process, so that a crash, a hang or a memory blow-up is a failed test.

A file is read by one of LOADERS: `stylegan2.load` (its generator) or `load_discriminator`.

Importing torch takes seconds, so one worker process (this file run as a script) imports StyleCam once
and forks a child per file. The child limits its address space (RLIMIT_AS) to what it has plus
`memory_mb`, loads the file and reports the outcome, its time and how far its resident memory grew
above where it started; the worker kills it after `timeout_s` and reports a signal if it died by one.
Linux only (fork, /proc/self/status).
"""
from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, NamedTuple, Optional

import torch

import stylegan2
from stylegan2 import loaders

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOADERS = {"load": stylegan2.load, "load_discriminator": loaders.load_discriminator}


class Outcome(NamedTuple):
    kind: str               # "refused" (WeightsFormatError), "loaded", "raised" (another exception),
    detail: str             # "signal" (died by one) or "timeout"; the message, error or signal name
    seconds: float
    extra_mb: float         # peak resident memory above the child's start

    def describe(self) -> str:
        return f"{self.kind} after {self.seconds:.2f} s, +{self.extra_mb:.0f} MB: {self.detail[:300]}"


class IsolatedLoader:
    """`load(path)` runs stylegan2.load(path) (or another of LOADERS) in a forked child of a long-lived worker
    process."""

    def __init__(self):
        env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.process: Optional[subprocess.Popen] = subprocess.Popen(
            [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
            cwd=str(PROJECT_ROOT))

    def load(self, path: Path, memory_mb: int = 1024, timeout_s: float = 20.0, loader: str = "load") -> Outcome:
        assert self.process is not None and self.process.poll() is None, "the loader worker has exited"
        assert loader in LOADERS, loader
        request = {"path": str(path), "memory_mb": memory_mb, "timeout_s": timeout_s, "loader": loader}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline())
        return Outcome(reply["kind"], reply["detail"], reply["seconds"], reply["extra_mb"])

    def close(self) -> None:
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait(timeout=30)
            self.process = None


# ----------------------------------------------------------------------------------------------------
# The worker.

def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _child(path: str, memory_mb: int, loader: str, write_fd: int) -> None:
    limit = (_status_kb("VmSize") + memory_mb * 1024) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    start_kb, started = _status_kb("VmRSS"), time.perf_counter()
    try:
        LOADERS[loader](path)
        kind, detail = "loaded", ""
    except stylegan2.WeightsFormatError as error:
        kind, detail = "refused", str(error)
    except BaseException as error:  # noqa: B902 - everything else is what the test reports
        kind, detail = "raised", f"{type(error).__name__}: {error}"[:2000]
    reply = {"kind": kind, "detail": detail, "seconds": time.perf_counter() - started,
             "extra_mb": max(0, _status_kb("VmHWM") - start_kb) / 1024}
    os.write(write_fd, json.dumps(reply).encode())


def _run(request: Dict[str, Any]) -> Dict[str, Any]:
    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            _child(request["path"], request["memory_mb"], request["loader"], write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks, deadline = [], started + request["timeout_s"]
    while True:
        ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.perf_counter()))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_fd)
            return {"kind": "timeout", "detail": f"still running after {request['timeout_s']} s",
                    "seconds": time.perf_counter() - started, "extra_mb": 0}
        chunk = os.read(read_fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"kind": "signal", "detail": signal.Signals(os.WTERMSIG(status)).name,
                "seconds": time.perf_counter() - started, "extra_mb": 0}
    if not chunks:
        return {"kind": "raised", "detail": "the child exited without reporting",
                "seconds": time.perf_counter() - started, "extra_mb": 0}
    return json.loads(b"".join(chunks))


def _serve() -> None:
    """Answer one JSON request per line; StyleCam is imported once, before the first fork."""
    torch.set_num_threads(1)
    for line in sys.stdin:
        print(json.dumps(_run(json.loads(line))), flush=True)


if __name__ == "__main__":
    _serve()
