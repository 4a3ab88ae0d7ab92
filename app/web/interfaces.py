"""What the web layer is given to work with: narrow, typed views of the live pipeline and the app."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol

from app.live.buffers import LatestBuffer
from app.live.params_store import ParamsStore
from app.live.presets import Preset
from app.live.viewers import Viewers
from app.live.views import STYLIZED
from app.projection.service import ProjectionService
from app.studio.direction_previews import DirectionPreviews
from app.studio.service import StudioService


@dataclass(frozen=True)
class LiveControls:
    """The parts of the live pipeline a browser reaches: the params it edits, the frames it watches
    (``EncodedFrame``s: ``frames`` of the stylized view, ``views`` of each view), the viewers that keep the
    pipeline awake, the live figures, and the tracked faces (``app.live.pipeline.LivePipeline.tracked_faces``)."""

    params: ParamsStore
    frames: LatestBuffer
    viewers: Viewers
    status: Callable[[], dict]
    views: Mapping[str, LatestBuffer] = field(default_factory=dict)    # View name -> its frames; {} = stylized only.
    faces: Callable[[], dict] = lambda: {"frame_size": None, "faces": []}
    direction_previews: Optional[DirectionPreviews] = None   # Direction preview sheets; None = no direction sliders.

    @property
    def presets(self) -> List[Preset]:
        return self.params.presets

    def view_frames(self, view: str) -> Optional[LatestBuffer]:
        """The frames of ``view`` (``app.live.views``), or None if this StyleCam has no such view."""
        return self.views.get(view, self.frames if view == STYLIZED else None)


class ModelSwitcher(Protocol):
    """The running generator and the switch to another (``app.model_switch.LiveModel``)."""

    def listing(self) -> Dict[str, Any]:
        """The generators to switch to, the running one, and the newest switch."""

    def switch(self, name: Any) -> Dict[str, Any]:
        """Start a switch; raises UnknownModel, ModelUnusable or SwitchInProgress."""


class Backend(Protocol):
    """What the server runs: started before it serves, stopped after its last stream has ended."""

    live: LiveControls
    projection: ProjectionService
    studio: Optional[StudioService]       # None: no studio view
    models: Optional[ModelSwitcher]      # None: this backend cannot switch generators.

    def start(self) -> None: ...

    def stop(self) -> None: ...
