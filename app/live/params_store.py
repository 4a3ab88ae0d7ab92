"""The params every viewer edits: changed only by validated updates, each one with its own version.

Whoever renders follows ``changes`` (a ``LatestBuffer`` whose version is the params version, what the
stream's ``X-Params-Version`` header carries). Whoever must act on the params atomically (the projection
service, which may not delete a projection while it is selected) holds ``locked()``: no update can
come in between its check and its action. Renaming a projection renames it in the params too, in the same
step (``rename_projection``), and a face choice is forgotten once its track has ended (``forget_tracks``).
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Collection, Iterator, List

from app.live.buffers import LatestBuffer
from app.live.params import Params, VersionedParams, apply_update, default_params, no_projections
from app.live.params_carry import CarriedParams
from app.live.presets import Preset


class ParamsStore:
    """The current params (starting at the presets' defaults, version 1) and every change to them."""

    def __init__(self, presets: List[Preset], check_projection: Callable[[str], None] = no_projections) -> None:
        self.presets = presets
        self.check_projection = check_projection   # Raises ValueError for a projection that cannot be selected.
        self.changes: LatestBuffer = LatestBuffer()  # Params; its version is the params version.
        self._lock = threading.Lock()
        self._params = default_params(presets)
        self.changes.put(self._params)

    def current(self) -> VersionedParams:
        """The params with their version, read together: an update in between cannot pair one with the other."""
        with self._lock:
            return VersionedParams(self._params, self.changes.version)

    def update(self, payload: Any) -> VersionedParams:
        """Validate and apply a partial update (raises ParamsError, changing nothing); returns the new params
        with the version of this very update, not of whatever update another request made after it."""
        with self._lock:
            self._params = apply_update(self._params, payload, self.presets, self.check_projection)
            return VersionedParams(self._params, self.changes.put(self._params))

    def forget_tracks(self, tracks: Collection[int]) -> None:
        """Forget the face choices of every track not in ``tracks`` (the tracks the detector still follows);
        a new version only if one was forgotten. Called for every detection, so it costs nothing without
        face choices."""
        if not self._params.faces or all(track in tracks for track in self._params.faces):
            return
        with self._lock:
            kept = self._params.without_tracks_other_than(tracks)
            if kept.faces != self._params.faces:
                self._params = kept
                self.changes.put(kept)

    def rename_projection(self, old: str, new: str, rename: Callable[[], None]) -> None:
        """Run ``rename`` (which renames projection ``old`` to ``new`` where it is kept) with every update held
        off, then make the params that select ``old`` select ``new``: nobody sees the one without the other."""
        with self._lock:
            rename()
            renamed = self._params.renamed(old, new)
            if renamed != self._params:
                self._params = renamed
                self.changes.put(renamed)

    def carry_to_model(self, carry: Callable[[Params], CarriedParams],
                       check_projection: Callable[[str], None]) -> CarriedParams:
        """Another generator took over: the params become ``carry(params)`` (``app.live.params_carry``) and
        projections are checked with ``check_projection`` from now on, in one step; always a new version,
        so that whoever renders renders again with the new generator."""
        with self._lock:
            carried = carry(self._params)
            self.check_projection = check_projection
            self._params = carried.params
            self.changes.put(carried.params)
            return carried

    @contextmanager
    def locked(self) -> Iterator[Params]:
        """The current params, with every update held off until the block ends."""
        with self._lock:
            yield self._params

    def close(self) -> None:
        """Wake whoever follows ``changes`` for good (shutdown)."""
        self.changes.close()
