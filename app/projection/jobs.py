"""Projection jobs: the background worker that turns a face into a saved projection, one job at a time.

A projection takes seconds on a GPU and minutes on a small CPU, so it never runs in a request thread:
``POST /api/project`` submits a job and answers at once, and the page polls the job's state, step,
loss and preview. One worker thread per app runs the jobs in order (one device, one projection at a
time); the queue of waiting jobs is bounded, and a full queue is refused (``QueueFull``: HTTP 429)
rather than growing without end.

Life of a job::

    queued ──> running ──> done        (saved in the projections store under the job's id)
       │          ├──────> failed      (the error says why; nothing is saved)
       └──────────┴──────> cancelled   (DELETE /api/project/<id>; a running one stops within a step)

A cancel that arrives after the projection finished but before its save began still cancels (nothing
is saved); once the save has begun it is too late, and the cancel says so (``JobFinished``).

On a CPU the live stream shares the cores with the projection, so the worker thread lowers its own
priority and uses fewer threads (``cpu_threads``, ``nice``): the stream keeps its frame rate and the
projection gets the time left over.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Optional, Protocol

import cv2
import torch

from app.images import from_engine
from app.live.worker import Worker, yield_to_the_stream
from app.projection.store import ProjectionStore, check_name, new_name
from app.projection.targets import Target
from stylegan2.projection.projector import ProjectionCancelled, ProjectionResult
from stylegan2.projection.schedule import SPACES, ProjectionConfig

log = logging.getLogger(__name__)

FINISHED = ("done", "failed", "cancelled")
PREVIEW_JPEG_QUALITY = 85
DEFAULT_STEPS = 150                # Optimisation steps of a projection that does not ask for a number.
MIN_STEPS = 2                      # Bounds of the steps a projection may ask for.
MAX_STEPS = 2000


class QueueFull(RuntimeError):
    """Too many jobs are waiting; the caller should retry later (HTTP 429)."""


class JobNotFound(LookupError):
    """No job with that id (never submitted, or forgotten long after it finished)."""


class JobFinished(RuntimeError):
    """The job has already ended; it can no longer be cancelled."""


class OptionError(ValueError):
    """A bad job option; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ProjectorUnavailable(RuntimeError):
    """Projection cannot run here at all (e.g. the perceptual network is not downloaded); says what to do.

    The message is for whoever runs StyleCam (a path, a command); ``reason`` says the same to someone who
    only has the page, on a phone, say, and can do nothing about it but ask."""

    def __init__(self, message: str, reason: Optional[str] = None) -> None:
        super().__init__(message)
        self.reason = reason or message


@dataclass(frozen=True)
class JobOptions:
    """The user's choices for one projection; the rest is ``ProjectionConfig.fast``'s."""

    steps: int = DEFAULT_STEPS     # Optimisation steps (early stopping may end sooner).
    space: str = "w+"              # "w+" fits the face best; "w" mixes most predictably.

    def __post_init__(self) -> None:
        if (isinstance(self.steps, bool) or not isinstance(self.steps, int)
                or not MIN_STEPS <= self.steps <= MAX_STEPS):
            raise OptionError("steps",
                              f"must be a whole number from {MIN_STEPS} to {MAX_STEPS}, got {self.steps!r}")
        if self.space not in SPACES:
            raise OptionError("space", f"must be one of {', '.join(SPACES)}, got {self.space!r}")

    def config(self) -> ProjectionConfig:
        return ProjectionConfig.fast(steps=self.steps, space=self.space)


class ProjectionJob:
    """One projection: its input, its options, and its progress as the worker reports it.

    The worker thread writes, request threads read; ``to_json`` takes a consistent snapshot.
    """

    def __init__(self, job_id: str, target: Target, options: JobOptions) -> None:
        self.id = job_id                    # Also the name the projection is saved under.
        self.target = target
        self.options = options
        self.cancel_event = threading.Event()
        self.saving = False                 # Set by the worker, under the jobs' lock, when the save begins.
        self.created = time.time()
        self._lock = threading.Lock()
        self._state = "queued"
        self._step = 0
        self._num_steps = options.steps
        self._phase = "waiting"             # "start" (searching the start latent), then "optimise".
        self._phase_step = 0
        self._phase_steps = 0
        self._loss: Optional[float] = None
        self._error: Optional[str] = None
        self._note: Optional[str] = None
        self._backend: Optional[str] = None
        self._started: Optional[float] = None
        self._finished: Optional[float] = None
        self._preview: Optional[bytes] = None
        self._preview_step = 0

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    @property
    def step(self) -> int:
        with self._lock:
            return self._step

    @property
    def preview(self) -> Optional[bytes]:
        """The newest preview as JPEG bytes, or None before the first one."""
        with self._lock:
            return self._preview

    def report(self, step: int, num_steps: int, loss: float, preview: Optional[torch.Tensor] = None,
               phase: str = "optimise", phase_step: Optional[int] = None, phase_steps: Optional[int] = None) -> None:
        """Progress from the projector: steps done, planned total, total loss, and maybe a preview image; the
        phase ("start": scoring start latents, ``phase_step`` of ``phase_steps``; "optimise": the steps)."""
        jpeg = None
        if preview is not None:
            ok, encoded = cv2.imencode(".jpg", from_engine(preview), [cv2.IMWRITE_JPEG_QUALITY, PREVIEW_JPEG_QUALITY])
            jpeg = encoded.tobytes() if ok else None
        with self._lock:
            self._step, self._num_steps, self._loss = step, num_steps, float(loss)
            self._phase = phase
            self._phase_step = step if phase_step is None else phase_step
            self._phase_steps = num_steps if phase_steps is None else phase_steps
            if jpeg is not None:
                self._preview, self._preview_step = jpeg, step

    def use_backend(self, backend: str, note: Optional[str] = None) -> None:
        """Say what runs the job ("local", "remote http://...") and why, if that is not the obvious choice."""
        with self._lock:
            self._backend = backend
            if note is not None:
                self._note = note

    def start(self) -> None:
        with self._lock:
            self._state, self._started = "running", time.time()

    def cancel(self, reason: Optional[str] = None) -> None:
        """Ask the job to stop (the worker finishes it as cancelled); ``reason`` becomes its note."""
        self.cancel_event.set()
        if reason is not None:
            with self._lock:
                self._note = reason

    def finish(self, state: str, error: Optional[str] = None) -> None:
        assert state in FINISHED, state
        with self._lock:
            self._state, self._error, self._finished = state, error, time.time()

    def to_json(self) -> Dict[str, Any]:
        with self._lock:
            end = self._finished or time.time()
            return {
                "id": self.id,
                "state": self._state,
                "step": self._step,
                "num_steps": self._num_steps,
                "phase": self._phase if self._state == "running" else None,
                "phase_step": self._phase_step,
                "phase_steps": self._phase_steps,
                "loss": self._loss,
                "source": self.target.source,
                "steps": self.options.steps,
                "space": self.options.space,
                "backend": self._backend,
                "note": self._note,
                "error": self._error,
                "cancel_requested": self.cancel_event.is_set(),
                "created": self.created,
                "seconds": round(end - self._started, 2) if self._started else None,
                "preview_step": self._preview_step if self._preview is not None else None,
                "projection": self.id if self._state == "done" else None,
            }


class Projector(Protocol):
    """What runs a projection: on this device (``app.projection.projectors.LocalProjector``) or another StyleCam."""

    def describe(self) -> str:
        """Where projections run, for the status and the job ("local (cpu, bf16)", "remote http://...")."""

    def check_ready(self) -> None:
        """Raise ProjectorUnavailable, saying what to do, if no projection can run at all."""

    def project(self, job: ProjectionJob) -> ProjectionResult:
        """Project ``job.target``, calling ``job.report`` as it goes; ProjectionCancelled when cancelled."""


class ProjectionJobs(Worker):
    """The job queue and the one thread that works through it."""

    name = "stylecam-projection"

    def __init__(self, projector: Projector, store: ProjectionStore, max_queued: int = 4,
                 keep_finished: int = 50, cpu_threads: Optional[int] = None, nice: int = 0,
                 default_options: JobOptions = JobOptions()) -> None:
        super().__init__()
        if max_queued < 1:
            raise ValueError(f"max_queued must be at least 1, got {max_queued}")
        self.projector = projector
        self.store = store
        self.max_queued = max_queued            # Waiting jobs (not counting the running one).
        self.keep_finished = keep_finished      # Finished jobs kept for GET /api/project/<id>.
        self.cpu_threads = cpu_threads          # torch threads of the worker (None: torch's default).
        self.nice = nice                        # Niceness added to the worker thread (Linux; 0 = none).
        self.default_options = default_options  # For requests that do not choose.
        self._condition = threading.Condition()
        self._waiting: Deque[ProjectionJob] = deque()
        self._jobs: "OrderedDict[str, ProjectionJob]" = OrderedDict()   # every known job, oldest first

    def submit(self, target: Target, options: JobOptions, name: Optional[str] = None) -> ProjectionJob:
        """Queue a projection of ``target`` saved as ``name`` (default: a new name); QueueFull if full.

        ValueError for a bad name, FileExistsError if a projection or a pending job already has it.
        """
        self.projector.check_ready()
        job_id = check_name(name) if name is not None else new_name()
        with self._condition:
            if self._stop.is_set():
                raise ProjectorUnavailable("StyleCam is shutting down")
            if len(self._waiting) >= self.max_queued:
                raise QueueFull(f"{len(self._waiting)} projections are already waiting (at most "
                                f"{self.max_queued}); try again when one has finished")
            pending = job_id in self._jobs and self._jobs[job_id].state not in FINISHED
            if pending or self.store.exists(job_id):
                raise FileExistsError(f"a projection named '{job_id}' already exists or is being made")
            job = ProjectionJob(job_id, target, options)
            self._jobs[job_id] = job
            self._waiting.append(job)
            self._forget_old_jobs()
            self._condition.notify_all()
        return job

    def while_name_free(self, name: str, action: Callable[[], None]) -> None:
        """Run ``action`` (which takes ``name`` for a saved projection) unless a saved projection or a pending
        job has that name (FileExistsError); no job can take the name in between."""
        with self._condition:
            pending = name in self._jobs and self._jobs[name].state not in FINISHED
            if pending or self.store.exists(name):
                raise FileExistsError(f"a projection named '{name}' already exists or is being made")
            action()

    def get(self, job_id: str) -> ProjectionJob:
        with self._condition:
            if job_id not in self._jobs:
                raise JobNotFound(f"no projection job '{job_id}'")
            return self._jobs[job_id]

    def jobs(self) -> List[ProjectionJob]:
        """Every known job, newest first."""
        with self._condition:
            return list(reversed(self._jobs.values()))

    def cancel(self, job_id: str) -> ProjectionJob:
        """Cancel a job: a waiting one at once, a running one within one optimisation step."""
        with self._condition:
            job = self.get(job_id)
            if job.state in FINISHED:
                raise JobFinished(f"projection job '{job_id}' has already ended ({job.state})")
            if job.saving:
                raise JobFinished(f"projection job '{job_id}' has finished and is being saved: too late to "
                                  f"cancel; delete the projection '{job_id}' instead")
            job.cancel_event.set()
            if job in self._waiting:
                self._waiting.remove(job)
                job.finish("cancelled")
            return job

    def use_projector(self, projector: Projector, store: ProjectionStore, reason: str) -> None:
        """Project with another generator from now on (a model switch): the jobs of the old one are cancelled,
        with ``reason`` as their note (their faces were aligned for it, and it would stay in memory until
        they end); one whose save has begun is saved as the old generator's projection."""
        with self._condition:
            for job in self._waiting:
                job.cancel(reason)
                job.finish("cancelled")
            self._waiting.clear()
            for job in self._jobs.values():
                if job.state == "running" and not job.saving:
                    job.cancel(reason)
            self.projector, self.store = projector, store

    def request_stop(self) -> None:
        """Stop the thread: the running job is cancelled, the waiting ones too."""
        with self._condition:
            super().request_stop()
            for job in self._waiting:
                job.cancel_event.set()
                job.finish("cancelled")
            self._waiting.clear()
            for job in self._jobs.values():
                if job.state == "running":
                    job.cancel_event.set()
            self._condition.notify_all()

    def run(self) -> None:
        yield_to_the_stream(self.cpu_threads, self.nice, "projection")
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._waiting or self._stop.is_set())
                if self._stop.is_set():
                    return
                job = self._waiting.popleft()
                job.start()
                projector, store = self.projector, self.store    # The generator's the job was aligned for.
            self.run_job(job, projector, store)

    def run_job(self, job: ProjectionJob, projector: Projector, store: ProjectionStore) -> None:
        """Project, then save unless cancelled meanwhile; any failure leaves the job failed and nothing saved."""
        try:
            result = projector.project(job)
            with self._condition:
                if job.cancel_event.is_set():
                    raise ProjectionCancelled(result.steps)
                job.saving = True
            store.save(result, job.id, source=job.target.source)
        except ProjectionCancelled:
            job.finish("cancelled")
        except Exception as error:    # Any failure of one job is that job's, never the worker's.
            log.warning("projection %s failed: %s", job.id, error)
            log.debug("projection %s failed", job.id, exc_info=True)
            job.finish("failed", str(error))
        else:
            job.finish("done")

    def _forget_old_jobs(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.state in FINISHED]
        for job_id in finished[:max(len(finished) - self.keep_finished, 0)]:
            del self._jobs[job_id]
