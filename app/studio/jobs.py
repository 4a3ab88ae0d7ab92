"""Studio jobs: sheets of faces (a seed grid, a mixing matrix, an interpolation strip) rendered in the
background, one at a time, while the live stream keeps the CPU or GPU first.

A sheet is planned in the request (latents, where each goes, the labelled canvas: cheap, and every
mistake is a clear error before anything is queued) and rendered here by one worker thread through the
engine's batched rendering (``stylegan2.studio.rendering.iter_batches``): each batch's faces are placed on
the job's ``GridCanvas`` as it arrives, so the page shows the sheet filling in row by row
(``StudioJob.jpeg``). The worker thread lowers its own priority and uses fewer torch threads on a CPU
(``app.live.worker.yield_to_the_stream``, as projection jobs do).

One sheet at a time: a new job cancels the one running (within one batch) and the one waiting, since
the page shows one sheet and whoever asked again wants the new one.

    queued ──> running ──> done
       │          ├──────> failed      (the error says why)
       └──────────┴──────> cancelled   (DELETE, a newer job, or shutdown)

The generator comes from a callable at the start of each job and is let go when the job ends: the model
in use may change between jobs (a model switcher), and a job planned for another model fails saying so.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np
import torch

from app.images import all_from_engine, gif_bytes
from app.live.worker import Worker, yield_to_the_stream
from app.studio.grids import GridCanvas
from stylegan2.inference import InferenceGenerator
from stylegan2.studio.rendering import iter_batches

log = logging.getLogger(__name__)

FINISHED = ("done", "failed", "cancelled")
SHEET_JPEG_QUALITY = 88
KEEP_FINISHED = 4             # finished jobs kept for GET (each holds its sheet: a few MB)

GeneratorSource = Callable[[], torch.nn.Module]


class JobNotFound(LookupError):
    """No studio job with that id (never made, or forgotten after newer ones)."""


class StudioUnavailable(RuntimeError):
    """The studio cannot take jobs now (shutting down)."""


@dataclass
class Sheet:
    """What a job renders: latents [N, num_ws, w_dim] (CPU), the canvas cell of each, the face each cell
    shows when it is one face of its own (``{"seed": 7}``, ``{"projection": "me"}``; None for a blend),
    and, for an animation, its frames per second (the frames are kept as they render)."""

    kind: str                                       # "grid", "mix" or "interpolate"
    ws: torch.Tensor
    positions: List[Tuple[int, int]]
    faces: List[Optional[Dict[str, Any]]]
    canvas: GridCanvas
    options: Dict[str, Any] = field(default_factory=dict)    # what was asked, echoed in the job's JSON
    animation_fps: Optional[float] = None           # make a looping GIF of the frames too

    def __post_init__(self) -> None:
        if not len(self.ws) == len(self.positions) == len(self.faces):
            raise ValueError(f"{len(self.ws)} latents, {len(self.positions)} positions, {len(self.faces)} faces")


class StudioJob:
    """One sheet and its progress; the worker thread writes, request threads read (under the job's lock)."""

    def __init__(self, job_id: str, sheet: Sheet) -> None:
        self.id = job_id
        self.sheet = sheet
        self.cancel_event = threading.Event()
        self.created = time.time()
        self._lock = threading.Lock()
        self._state = "queued"
        self._error: Optional[str] = None
        self._started: Optional[float] = None
        self._finished: Optional[float] = None
        self._cells_done = 0
        self._first_row_s: Optional[float] = None
        self._jpeg: Optional[Tuple[int, bytes]] = None     # (cells placed when encoded, JPEG)
        self._frames: List[np.ndarray] = []
        self._animation: Optional[bytes] = None
        canvas = sheet.canvas
        self._row_cells = [sum(1 for row, _ in sheet.positions if row == r) for r in range(canvas.rows)]
        self._row_placed = [0] * canvas.rows

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    @property
    def rows_done(self) -> int:
        """Rows whose every cell is placed, counted from the top (the order rows render in)."""
        with self._lock:
            return self._rows_done()

    def _rows_done(self) -> int:
        done = 0
        for placed, total in zip(self._row_placed, self._row_cells):
            if placed < total:
                break
            done += 1
        return done

    def start(self) -> None:
        with self._lock:
            self._state, self._started = "running", time.time()

    def finish(self, state: str, error: Optional[str] = None) -> None:
        """End the job (once: a later call changes nothing); a finished animation is encoded first."""
        assert state in FINISHED, state
        with self._lock:
            frames, self._frames = self._frames, []
        animation = None
        if state == "done" and self.sheet.animation_fps and frames:
            animation = gif_bytes(frames + frames[-2:0:-1], self.sheet.animation_fps)    # there and back
        with self._lock:
            if self._state not in FINISHED:
                self._state, self._error, self._finished = state, error, time.time()
                self._animation = animation

    def place(self, first: int, faces: List[np.ndarray]) -> None:
        """Put the BGR faces of latents ``first``, ``first + 1``, ... in their cells."""
        size = self.sheet.canvas.cell
        with self._lock:
            for offset, bgr in enumerate(faces):
                if bgr.shape[:2] != (size, size):
                    bgr = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA)
                row, column = self.sheet.positions[first + offset]
                self.sheet.canvas.put(row, column, bgr)
                self._row_placed[row] += 1
                if self.sheet.animation_fps:
                    self._frames.append(bgr)
            self._cells_done = first + len(faces)
            if self._first_row_s is None and self._rows_done() > 0 and self._started is not None:
                self._first_row_s = time.time() - self._started

    def image(self) -> np.ndarray:
        """A copy of the sheet as rendered so far (BGR; cells not yet rendered are blank)."""
        with self._lock:
            return self.sheet.canvas.image.copy()

    def jpeg(self) -> bytes:
        """The sheet so far as JPEG, encoded once per change however often the page asks."""
        with self._lock:
            if self._jpeg is not None and self._jpeg[0] == self._cells_done:
                return self._jpeg[1]
            done, image = self._cells_done, self.sheet.canvas.image.copy()
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, SHEET_JPEG_QUALITY])
        if not ok:
            raise RuntimeError("cannot encode the sheet as JPEG")
        data = encoded.tobytes()
        with self._lock:
            self._jpeg = (done, data)
        return data

    @property
    def animation(self) -> Optional[bytes]:
        """The looping GIF of the frames, once a job that asked for one is done."""
        with self._lock:
            return self._animation

    def to_json(self) -> Dict[str, Any]:
        with self._lock:
            canvas = self.sheet.canvas
            end = self._finished or time.time()
            return {
                "id": self.id,
                "kind": self.sheet.kind,
                "state": self._state,
                "error": self._error,
                "cancel_requested": self.cancel_event.is_set(),
                "cells_done": self._cells_done,
                "cells_total": len(self.sheet.positions),
                "rows_done": self._rows_done(),
                "rows_total": canvas.rows,
                "created": self.created,
                "seconds": round(end - self._started, 2) if self._started else None,
                "first_row_seconds": round(self._first_row_s, 2) if self._first_row_s is not None else None,
                "options": dict(self.sheet.options),
                "sheet": {"width": int(canvas.image.shape[1]), "height": int(canvas.image.shape[0]),
                          "left": canvas.left, "top": canvas.top, "cell": canvas.cell, "pitch": canvas.pitch,
                          "rows": canvas.rows, "columns": canvas.columns},
                "cells": [{"row": row, "column": column, **face}
                          for (row, column), face in zip(self.sheet.positions, self.sheet.faces) if face],
                "animation": self._animation is not None,
            }


class StudioJobs(Worker):
    """The studio's one worker thread and the job it runs (see the module docstring)."""

    name = "stylecam-studio"

    def __init__(self, generator: GeneratorSource, batch_size: int = 8, precision: str = "auto",
                 cpu_threads: Optional[int] = None, nice: int = 0, keep_finished: int = KEEP_FINISHED) -> None:
        super().__init__()
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.generator = generator          # called at each job's start: never kept across jobs
        self.batch_size = batch_size
        self.precision = precision          # the renderer's precision (stylegan2.inference.resolve_precision)
        self.cpu_threads = cpu_threads
        self.nice = nice
        self.keep_finished = keep_finished
        self._condition = threading.Condition()
        self._waiting: Optional[StudioJob] = None
        self._running: Optional[StudioJob] = None
        self._jobs: "OrderedDict[str, StudioJob]" = OrderedDict()

    def submit(self, sheet: Sheet) -> StudioJob:
        """Queue ``sheet``, cancelling the job running and the one waiting (one sheet at a time)."""
        with self._condition:
            if self._stop.is_set():
                raise StudioUnavailable("StyleCam is shutting down")
            job = StudioJob(secrets.token_hex(6), sheet)
            self._cancel_current()
            self._waiting = job
            self._jobs[job.id] = job
            self._forget_old_jobs()
            self._condition.notify_all()
        return job

    def get(self, job_id: str) -> StudioJob:
        with self._condition:
            if job_id not in self._jobs:
                raise JobNotFound(f"no studio job '{job_id}'")
            return self._jobs[job_id]

    def jobs(self) -> List[StudioJob]:
        """Every known job, newest first."""
        with self._condition:
            return list(reversed(self._jobs.values()))

    def cancel(self, job_id: str) -> StudioJob:
        """Cancel a job: a waiting one at once, a running one after its current batch; a finished one
        stays as it ended."""
        with self._condition:
            job = self.get(job_id)
            job.cancel_event.set()
            if job is self._waiting:
                self._waiting = None
                job.finish("cancelled")
            return job

    def request_stop(self) -> None:
        with self._condition:
            super().request_stop()
            self._cancel_current()
            self._condition.notify_all()

    def run(self) -> None:
        yield_to_the_stream(self.cpu_threads, self.nice, "studio")
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._waiting is not None or self._stop.is_set())
                if self._stop.is_set():
                    return
                job, self._waiting = self._waiting, None
                self._running = job
                job.start()
            try:
                self.render(job)
            finally:
                with self._condition:
                    self._running = None

    def render(self, job: StudioJob) -> None:
        """Render the job's sheet batch by batch into its canvas; any failure is the job's, not the worker's."""
        try:
            G = self.generator()
            sheet = job.sheet
            if tuple(sheet.ws.shape[1:]) != (G.num_ws, G.w_dim):
                raise RuntimeError("the model changed since this sheet was asked for: ask for it again")
            renderer = InferenceGenerator(G, precision=self.precision)
            batches = iter_batches(renderer, sheet.ws, self.batch_size)
            while not job.cancel_event.is_set():          # checked before each batch
                batch = next(batches, None)
                if batch is None:
                    break
                job.place(batch[0], all_from_engine(batch[1]))
        except Exception as error:     # noqa: BLE001 (one job's failure is that job's, never the worker's)
            log.warning("studio job %s failed: %s", job.id, error)
            log.debug("studio job %s failed", job.id, exc_info=True)
            job.finish("failed", str(error))
            return
        job.finish("cancelled" if job.cancel_event.is_set() else "done")

    def _cancel_current(self) -> None:
        """Cancel the waiting job at once and the running one after its batch (under the condition)."""
        if self._waiting is not None:
            self._waiting.cancel_event.set()
            self._waiting.finish("cancelled")
            self._waiting = None
        if self._running is not None:
            self._running.cancel_event.set()

    def _forget_old_jobs(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.state in FINISHED]
        for job_id in finished[:max(len(finished) - self.keep_finished, 0)]:
            del self._jobs[job_id]
