"""The one JSON error shape every route answers with, and the handlers that give every HTTP error and
every crash that shape.

Messages often quote what was sent (a field name, a projection name from the address), and that may be
megabytes long: the message and the field are cut to ``MAX_MESSAGE_CHARS`` and ``MAX_FIELD_CHARS``."""
from __future__ import annotations

import logging
from typing import Optional

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 1000        # the longest message StyleCam writes is a few hundred characters
MAX_FIELD_CHARS = 80


def json_error(status: int, message: str, field: Optional[str] = None) -> Response:
    """The one error shape: ``{"error": message}``, plus ``"field"`` when one input was at fault."""
    body = {"error": shortened(message, MAX_MESSAGE_CHARS)}
    if field is not None:
        body["field"] = shortened(field, MAX_FIELD_CHARS)
    response = jsonify(body)
    response.status_code = status
    return response


def shortened(text: str, limit: int) -> str:
    """``text``, or its start and how long it was when it is longer than ``limit``."""
    if len(text) <= limit:
        return text
    note = f"... ({len(text)} characters)"
    return text[:max(limit - len(note), 0)] + note


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
