"""StyleCam, the product: a live pipeline (``app.pipeline``) served as a web app (``create_app``).

``python -m app serve`` builds both and runs them on a production server (``app.server``).
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from app.config import ServerConfig

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PIPELINE = "stylecam.pipeline"       # app.extensions keys
STREAMS = "stylecam.streams"


def create_app(config: ServerConfig, pipeline) -> Flask:
    """The Flask app over a ``Pipeline`` (or anything with its interface: ``versioned_params()``,
    ``update_params()``, ``frames``, ..., and for projection ``projections``, ``projection_jobs``,
    ``face_finder`` and ``camera_target()``).

    The app never starts or stops the pipeline: whoever made it owns it (``app.server.StyleCamServer``).
    """
    from app import api, api_projection, auth, web

    app = Flask(__name__, template_folder=PROJECT_ROOT / "templates", static_folder=PROJECT_ROOT / "static")
    app.config.from_mapping(
        SERVER=config,
        MAX_CONTENT_LENGTH=config.max_request_bytes,
    )
    app.json.sort_keys = False          # keep the order the pipeline gives (params, status, presets)
    app.extensions[PIPELINE] = pipeline
    app.extensions[STREAMS] = web.StreamClients(limit=config.max_streams)

    auth.init_app(app)
    api.register_error_handlers(app)
    app.register_blueprint(web.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api_projection.bp)
    return app


def current_pipeline():
    """The pipeline the app in the current request serves."""
    return current_app.extensions[PIPELINE]
