"""Where a request finds what the app was made with: the live controls, the projection service, the
studio, the stream clients and the server settings (kept in ``app.extensions`` by ``app.web.factory.create_app``)."""
from __future__ import annotations

from typing import Optional

from flask import current_app

from app.projection.service import ProjectionService
from app.studio.service import StudioService
from app.web.config import ServerConfig
from app.web.interfaces import LiveControls, ModelSwitcher
from app.web.streams import StreamClients

LIVE = "stylecam.live"              # app.extensions keys
PROJECTION = "stylecam.projection"
STREAMS = "stylecam.streams"
STUDIO = "stylecam.studio"
MODELS = "stylecam.models"


def live() -> LiveControls:
    return current_app.extensions[LIVE]


def projection() -> ProjectionService:
    return current_app.extensions[PROJECTION]


def studio() -> Optional[StudioService]:
    """The studio's service, or None where the app was made without one."""
    return current_app.extensions.get(STUDIO)


def models() -> ModelSwitcher:
    """The model switcher (its blueprint is registered only where the app was made with one)."""
    return current_app.extensions[MODELS]


def streams() -> StreamClients:
    return current_app.extensions[STREAMS]


def server_config() -> ServerConfig:
    return current_app.config["SERVER"]
