"""Switching the running generator without a restart: ``LiveModel`` is "the current generator" for everyone
who renders or projects, and swaps in another one from ``app.model_library`` on request.

A switch loads the new generator in a background thread (the same loaders, device, backend and precision as
at start: the composition root's ``build``), while the old one keeps rendering. Then, in one step as seen
from the params: the generation worker finishes its face and stops, the params are carried over
(``app.live.params_carry``: what carried and what was dropped is reported), the projection service takes the
new generator's projections store and projector (the old generator's projection jobs are cancelled, their note
says why: they were aligned for it, and finishing them would keep it in memory), and a new generation worker
renders the newest params with the new generator; the stream shows the old face until then. The old
generator is then released. One switch at a time (``SwitchInProgress``); a failed load leaves the old
generator running and its one-line reason in ``state()``.
"""
from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, List, Optional

import torch

import weights
from app.live.params import Params
from app.live.params_carry import CarriedParams, LatentShape, carry_params
from app.live.params_store import ParamsStore
from app.live.pipeline import LivePipeline
from app.model_library import ModelEntry, ModelLibrary
from app.projection.jobs import Projector
from app.projection.service import ProjectionService
from app.projection.store import ProjectionStore, ProjectionUnavailable
from stylegan2.inference import InferenceGenerator
from stylegan2.loaders.common import first_line

log = logging.getLogger(__name__)


class SwitchInProgress(RuntimeError):
    """Another switch is loading; says which."""


class ModelUnusable(ValueError):
    """The generator asked for is listed, but cannot run here; says why."""


@dataclass(frozen=True)
class ModelParts:
    """One generator and what is built around it (``app.composition.StyleCam.model_parts``)."""

    name: str                       # As shown to browsers: a registry name or a file name, never a path.
    generator: torch.nn.Module
    renderer: InferenceGenerator
    store: ProjectionStore
    projector: Projector
    description: Dict[str, Any]     # What the status shows as "model".

    @property
    def shape(self) -> LatentShape:
        return LatentShape(self.generator.num_ws, self.generator.w_dim)


class LiveModel:
    """The running generator, and switches to another (``switch``), one at a time, in the background."""

    def __init__(self, parts: ModelParts, library: ModelLibrary, build: Callable[[ModelEntry], ModelParts],
                 pipeline: LivePipeline, projection: ProjectionService, params: ParamsStore,
                 default_params: Params, cannot_run: Callable[[ModelEntry], Optional[str]] = lambda entry: None) -> None:
        self.library = library
        self.cannot_run = cannot_run        # Why this StyleCam cannot run a usable entry (its direction sliders).
        self.build = build                  # Loads a listed generator and builds its parts (may take seconds).
        self.pipeline = pipeline
        self.projection = projection
        self.params = params
        self.default_params = default_params
        self._parts = parts
        self._lock = threading.Lock()
        self._switch: Optional[Dict[str, Any]] = None   # The newest switch: in progress or how it ended.
        self._thread: Optional[threading.Thread] = None

    def current(self) -> torch.nn.Module:
        """The generator everything renders with now (what the studio and others call)."""
        with self._lock:
            return self._parts.generator

    @property
    def parts(self) -> ModelParts:
        with self._lock:
            return self._parts

    def state(self) -> Dict[str, Any]:
        """The current generator's name and the newest switch (``None`` before the first)."""
        with self._lock:
            return {"current": self._parts.name, "switch": dict(self._switch) if self._switch else None}

    def listing(self) -> Dict[str, Any]:
        """Every generator to switch to (``current`` marks the running one), with ``state()``."""
        state = self.state()
        models = [{**self._usable(entry).to_json(), "current": entry.name == state["current"]}
                  for entry in self.library.entries()]
        return {"models": models, **state}

    def _usable(self, entry: ModelEntry) -> ModelEntry:
        """``entry``, marked unusable where this StyleCam cannot run it."""
        problem = entry.problem or self.cannot_run(entry)
        return entry if problem == entry.problem else replace(entry, problem=problem)

    def switch(self, name: Any) -> Dict[str, Any]:
        """Start switching to the listed generator ``name``; returns the switch's state ("loading").

        UnknownModel if there is none of that name, ModelUnusable if it cannot run, SwitchInProgress while
        another switch loads.
        """
        with self._lock:
            self._refuse_if_switching()
        entry = self._usable(self.library.find(name))
        if not entry.usable:
            raise ModelUnusable(f"{entry.name} cannot be used: {entry.problem}")
        with self._lock:
            self._refuse_if_switching()
            self._switch = {"model": entry.name, "from": self._parts.name, "state": "loading", "error": None,
                            "carried": [], "dropped": [], "started": time.time(), "seconds": None}
            self._thread = threading.Thread(target=self._run, args=(entry,), name="stylecam-model-switch",
                                            daemon=True)
            self._thread.start()
            return dict(self._switch)

    def wait(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Wait for the switch in progress, if any, to end; returns ``state()``."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.state()

    def _refuse_if_switching(self) -> None:
        if self._switch is not None and self._switch["state"] == "loading":
            raise SwitchInProgress(f"a switch to {self._switch['model']} is in progress; wait until it ends")

    def _run(self, entry: ModelEntry) -> None:
        try:
            parts = self.build(entry)
            carried = self._swap(parts)
        except Exception as error:      # Whatever the new generator did, the old one goes on.
            log.warning("switching to %s failed: %s", entry.name, error)
            log.debug("switching to %s failed", entry.name, exc_info=True)
            self._end("failed", error=f"switching to {entry.name} failed: {self._shown_error(entry, error)}; "
                                      f"{self.parts.name} goes on")
        else:
            self._end("done", carried.carried, carried.dropped)
        finally:
            gc.collect()                # The old generator (or the half-built new one) goes now, not later.
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def _swap(self, new: ModelParts) -> CarriedParams:
        """Make ``new`` the generator of the pipeline, the params, the projections and ``current()``."""
        old = self.parts
        reason = f"cancelled: the model was switched from {old.name} to {new.name}"
        carried: List[CarriedParams] = []

        def carry(params: Params) -> CarriedParams:
            carried.append(carry_params(params, self.default_params, old.shape, new.shape, new.name,
                                        new.store.check, lambda name: self._made_with(old.store, name)))
            return carried[0]

        def between() -> None:
            self.params.carry_to_model(carry, new.store.check)
            self.projection.use_model(new.store, new.projector, new.generator.img_resolution, reason)
            with self._lock:
                self._parts = new

        self.pipeline.replace_renderer(new.renderer, new.store, between)
        return carried[0]

    @staticmethod
    def _made_with(store: ProjectionStore, name: str) -> str:
        try:
            return str(store.get(name)["model"].get("weights") or "other generator weights")
        except ProjectionUnavailable:
            return "a generator that is not known any more"

    def _end(self, state: str, carried: Optional[List[str]] = None, dropped: Optional[List[str]] = None,
             error: Optional[str] = None) -> None:
        with self._lock:
            assert self._switch is not None
            self._switch.update(state=state, error=error, carried=carried or [], dropped=dropped or [],
                                seconds=round(time.time() - self._switch["started"], 2))

    @staticmethod
    def _shown_error(entry: ModelEntry, error: Exception) -> str:
        """The one-line reason a switch failed, with the server's folders left out (browsers see it)."""
        message = first_line(error)
        for folder, shown in ((str(entry.path), entry.name), (f"{entry.path.parent}/", ""),
                              (f"{weights.cache_dir()}/", "")):
            message = message.replace(folder, shown)
        return message
