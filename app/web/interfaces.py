"""What the web layer is given to work with: narrow, typed views of the live pipeline and the app."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Protocol

from app.live.buffers import LatestBuffer
from app.live.params import Preset
from app.live.params_store import ParamsStore
from app.live.viewers import Viewers
from app.projection.service import ProjectionService


@dataclass(frozen=True)
class LiveControls:
    """The parts of the live pipeline a browser reaches: the params it edits, the frames it watches
    (``EncodedFrame``s), the viewer count that keeps the pipeline awake, and the live figures."""

    params: ParamsStore
    frames: LatestBuffer
    viewers: Viewers
    status: Callable[[], dict]

    @property
    def presets(self) -> List[Preset]:
        return self.params.presets


class Backend(Protocol):
    """What the server runs: started before it serves, stopped after its last stream has ended."""

    live: LiveControls
    projection: ProjectionService

    def start(self) -> None: ...

    def stop(self) -> None: ...
