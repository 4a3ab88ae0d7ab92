"""The app factory: the Flask app over a running StyleCam's live controls and projection service.

The blueprints import only leaf modules (``app.web.context`` and the like), never this factory; the
app never starts or stops what it serves: whoever made those owns them (``app.web.server``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from flask import Flask

from app.projection.service import ProjectionService
from app.studio.service import StudioService
from app.web import api, auth, directions_api, headers, models_api, origin, page, projection_api, studio_api
from app.web.config import ServerConfig
from app.web.context import LIVE, MODELS, PROJECTION, STREAMS, STUDIO
from app.web.errors import register_error_handlers
from app.web.interfaces import LiveControls, ModelSwitcher
from app.web.streams import StreamClients

APP_PACKAGE = Path(__file__).resolve().parents[1]


def package_data(name: str) -> Path:
    """The page's ``templates`` or ``static`` folder: inside the installed package (a wheel puts them
    there), or beside it in a source checkout (where an editable install leaves them)."""
    for folder in (APP_PACKAGE / name, APP_PACKAGE.parent / name):
        if folder.is_dir():
            return folder
    raise FileNotFoundError(f"StyleCam's {name}/ folder is missing beside {APP_PACKAGE}: reinstall StyleCam")


def create_app(config: ServerConfig, live: LiveControls, projection: ProjectionService,
               studio: Optional[StudioService] = None, models: Optional[ModelSwitcher] = None) -> Flask:
    app = Flask(__name__, template_folder=package_data("templates"), static_folder=package_data("static"))
    app.config.from_mapping(SERVER=config, MAX_CONTENT_LENGTH=config.max_request_bytes)
    app.json.sort_keys = False          # keep the order the pipeline gives (params, status, presets)
    app.extensions[LIVE] = live
    app.extensions[PROJECTION] = projection
    app.extensions[STUDIO] = studio            # None: the studio routes answer 503
    app.extensions[STREAMS] = StreamClients(limit=config.max_streams)
    origin.init_app(app)                # before the token: a cross-origin write is refused whoever sends it
    auth.init_app(app)
    headers.init_app(app)
    register_error_handlers(app)
    app.register_blueprint(page.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(projection_api.bp)
    app.register_blueprint(directions_api.bp)
    app.register_blueprint(studio_api.bp)
    if models is not None:
        app.extensions[MODELS] = models
        app.register_blueprint(models_api.bp)
    return app
