"""The JSON API the page (and any script) drives StyleCam with, and the JSON errors every route shares.

``POST /api/params`` takes a partial update; the pipeline validates all of it before anything
changes, so a bad request (unknown field, wrong type, out of range, not JSON) gets a 400 that names
the field and leaves the running params exactly as they were.
"""
from __future__ import annotations

import logging
from typing import Optional

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from app import STREAMS, current_pipeline
from app.params import ParamsError, VersionedParams

bp = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger(__name__)


def json_error(status: int, message: str, field: Optional[str] = None) -> Response:
    """The one error shape: ``{"error": message}``, plus ``"field"`` when one input was at fault."""
    body = {"error": message}
    if field is not None:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    return response


def params_response(versioned: VersionedParams) -> Response:
    """The params as JSON; ``X-Params-Version`` matches the stream header of the frames that show them."""
    response = jsonify(versioned.params.to_json())
    response.headers["X-Params-Version"] = str(versioned.version)
    return response


@bp.get("/params")
def get_params() -> Response:
    return params_response(current_pipeline().versioned_params())


@bp.post("/params")
def post_params() -> Response:
    payload = request.get_json(force=True, silent=True)
    if payload is None:
        return json_error(400, 'the body must be JSON: an object of the params to change, e.g. {"seed": 42}',
                          "body")
    try:
        updated = current_pipeline().update_params(payload)
    except ParamsError as error:
        return json_error(400, error.message, error.field)
    return params_response(updated)


@bp.get("/status")
def get_status() -> Response:
    status = current_pipeline().status()
    status["stream_clients"] = current_app.extensions[STREAMS].count
    return jsonify(status)


@bp.get("/presets")
def get_presets() -> Response:
    return jsonify([preset.to_json() for preset in current_pipeline().presets])


def register_error_handlers(app: Flask) -> None:
    """Answer every HTTP error (404, 405, 413, ...) and every crash in the same JSON shape."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if error.code == 413:
            limit = app.config["MAX_CONTENT_LENGTH"]
            return json_error(413, f"request body too large (at most {limit} bytes)")
        response = json_error(error.code or 500, error.description or error.name)
        for name, value in error.get_headers():          # e.g. Allow, which a 405 must carry
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        log.exception("unexpected error while serving %s %s", request.method, request.path)
        return json_error(500, "internal server error; the server log has the details")
