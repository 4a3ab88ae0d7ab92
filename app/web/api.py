"""The JSON API the page (and any script) drives StyleCam with: params, status, presets, tracked faces.

``POST /api/params`` takes a partial update; the params store validates all of it before anything
changes, so a bad request (unknown field, wrong type, out of range, not JSON) gets a 400 (415 for
a body that is not JSON) that names the field and leaves the running params exactly as they were.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from app.live.params import ParamsError, VersionedParams
from app.web import context
from app.web.bodies import BodyError, json_body
from app.web.errors import json_error

bp = Blueprint("api", __name__, url_prefix="/api")


def params_response(versioned: VersionedParams) -> Response:
    """The params as JSON; ``X-Params-Version`` matches the stream header of the frames that show them."""
    response = jsonify(versioned.params.to_json())
    response.headers["X-Params-Version"] = str(versioned.version)
    return response


@bp.get("/params")
def get_params() -> Response:
    return params_response(context.live().params.current())


@bp.post("/params")
def post_params() -> Response:
    try:
        payload = json_body()
    except BodyError as error:
        return json_error(error.status, f'{error}: an object of the params to change, e.g. {{"seed": 42}}',
                          error.field)
    try:
        updated = context.live().params.update(payload)
    except ParamsError as error:
        return json_error(400, error.message, error.field)
    return params_response(updated)


@bp.get("/status")
def get_status() -> Response:
    status = context.live().status()
    status["stream_clients"] = context.streams().count
    return jsonify(status)


@bp.get("/faces")
def get_faces() -> Response:
    """The tracked faces of the newest frame: id, box (frame pixels) and the face chosen for it, if any."""
    return jsonify(context.live().faces())


@bp.get("/presets")
def get_presets() -> Response:
    return jsonify([preset.to_json() for preset in context.live().presets])
