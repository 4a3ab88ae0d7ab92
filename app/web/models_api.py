"""The model switcher's API: which generators there are, and switching the running one without a restart.

    GET  /api/models          {"models": [{name, source, usable, problem, resolution, num_ws, w_dim,
                              architecture, format, origin, current}, ...], "current": NAME,
                              "switch": the newest switch (model, from, state "loading" | "done" | "failed",
                              error, carried, dropped, seconds) or null}
    POST /api/models/switch   {"model": NAME}: 202 and the switch ("loading"), followed in GET /api/models;
                              400 for a name not listed or a generator that cannot be used, 409 while
                              another switch is loading (naming it)

Names are registry names and file names: no server path is ever shown. Writes follow the rules of every
write (the page's own origin, the token), enforced for the whole app (``app.web.origin``, ``app.web.auth``).
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, url_for

from app.model_library import UnknownModel
from app.model_switch import ModelUnusable, SwitchInProgress
from app.web import context
from app.web.bodies import BodyError, json_body
from app.web.errors import json_error

bp = Blueprint("models_api", __name__, url_prefix="/api")

EXAMPLE = '{"model": "ffhq-256"}'


@bp.get("/models")
def get_models() -> Response:
    return jsonify(context.models().listing())


@bp.post("/models/switch")
def switch_model() -> Response:
    try:
        payload = json_body()
    except BodyError as error:
        return json_error(error.status, f"{error}: an object naming the generator, e.g. {EXAMPLE}", error.field)
    if not isinstance(payload, dict) or set(payload) != {"model"}:
        return json_error(400, f"expected an object with only \"model\", e.g. {EXAMPLE} (names: GET /api/models)",
                          "body")
    if not isinstance(payload["model"], str):
        return json_error(400, "must be the name of a generator from GET /api/models", "model")
    try:
        switch = context.models().switch(payload["model"])
    except (UnknownModel, ModelUnusable) as error:
        return json_error(400, str(error), "model")
    except SwitchInProgress as error:
        return json_error(409, str(error), "model")
    response = jsonify({"switch": switch})
    response.status_code = 202
    response.headers["Location"] = url_for("models_api.get_models")
    return response
