"""Helpers for the projection tests: a stand-in projector whose jobs run until the test lets them finish,
a projection result without projecting, waiting for a job's state, a decompression bomb, running a
projection in the test's thread on a chosen number of torch threads, and shrinking an image to compare frames by."""
from __future__ import annotations

import os
import struct
import threading
import time
import zlib
from contextlib import contextmanager
from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np
import torch

from app.images import to_engine
from app.projection.jobs import ProjectionJob
from stylegan2.inference.precision import autocast_precision
from stylegan2.projection.projector import ProjectionCancelled, ProjectionResult
from stylegan2.projection.schedule import ProjectionConfig

# How the local projector describes itself here: on the CPU, in bf16 where the CPU computes it natively.
LOCAL_CPU = f"local (cpu, {autocast_precision(torch.device('cpu'))})"


def fake_result(G, seed: int = 0, steps: int = 2) -> ProjectionResult:
    """A ProjectionResult with a random latent, as a projector would return it."""
    ws = torch.randn(1, G.num_ws, G.w_dim, generator=torch.Generator().manual_seed(seed))
    image = torch.zeros(1, 3, G.img_resolution, G.img_resolution)      # mid-grey
    return ProjectionResult(ws=ws, noise={}, target=image, image=image, losses={"total": 0.5}, steps=steps,
                            seconds=0.1, stopped_early=False, config=ProjectionConfig.fast(steps=steps),
                            perceptual={"name": "stand-in", "sha256": "ab" * 32, "file": "standin_vgg16.pt"})


class GatedProjector:
    """A stand-in projector: each job reports one step with a preview, then waits until ``release`` is
    set (or its cancel event, which cancels it), then fails with ``fail_with`` or returns a random latent.
    Records how many jobs ran at once, and the thread settings the jobs ran under."""

    def __init__(self, G) -> None:
        self.G = G
        self.release = threading.Event()
        self.fail_with: Optional[str] = None
        self.started: List[str] = []
        self.thread_settings: List[Tuple[int, int]] = []   # (torch threads, niceness) per job
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def describe(self) -> str:
        return "gated (test)"

    def check_ready(self) -> None:
        pass

    def project(self, job: ProjectionJob) -> ProjectionResult:
        with self._lock:
            self.started.append(job.id)
            self.thread_settings.append((torch.get_num_threads(), os.getpriority(os.PRIO_PROCESS, 0)))
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            job.use_backend(self.describe())
            job.report(1, job.options.steps, 0.5, to_engine(job.target.image))
            while not self.release.wait(0.01):
                if job.cancel_event.is_set():
                    raise ProjectionCancelled(1)
            if self.fail_with:
                raise RuntimeError(self.fail_with)
            return fake_result(self.G, seed=len(self.started), steps=job.options.steps)
        finally:
            with self._lock:
                self.running -= 1


def wait_for_state(job: ProjectionJob, *states: str, timeout: float = 30.0) -> dict:
    """Poll a job until it is in one of ``states``; return its JSON."""
    deadline = time.monotonic() + timeout
    while job.state not in states:
        assert time.monotonic() < deadline, f"job {job.id} stayed {job.state}, expected {states}"
        time.sleep(0.01)
    return job.to_json()


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header declares width x height pixels (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + \
        chunk(b"IEND", b"")


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run a projection in the test's own thread on ``count`` torch threads, e.g. as many as the job
    worker uses, since a projection is bit-for-bit repeatable only on the same thread count (on a busy
    two-core machine, two OpenMP threads also make a tiny projection a hundred times slower than one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def shrink(image: np.ndarray) -> np.ndarray:
    """``image`` at a quarter of the size, as ints: what frame comparisons use (small offsets do not count)."""
    return cv2.resize(image, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA).astype(int)
