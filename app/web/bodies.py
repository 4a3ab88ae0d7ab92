"""Reading a JSON request body that nobody vetted: a clear 400 for anything but a shallow JSON document.

Python's parser recurses once per level of nesting, so a few kilobytes of ``[[[[...`` exhaust the
recursion limit (a RecursionError, not a ValueError, that would end as a 500). The API's bodies are at
most three levels deep (``{"faces": {"7": {"seed": 5}}}``), so anything nested deeper than
``MAX_JSON_DEPTH`` is refused, well before later steps (validation, error messages) could recurse too far.
"""
from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest

MAX_JSON_DEPTH = 16


class BodyError(ValueError):
    """A body that is not the JSON the route reads; ``status`` is the HTTP answer, the field is "body"."""

    field = "body"

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def json_body() -> Any:
    """The request's JSON body, parsed; BodyError if it is not JSON, not valid, or nested too deeply."""
    if not request.is_json:
        raise BodyError(f"the body must be JSON (Content-Type: application/json), not "
                        f"{request.mimetype or 'untyped'}", 415)
    try:
        payload = request.get_json()
    except RecursionError:
        raise BodyError(f"the JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels)") from None
    except BadRequest:
        raise BodyError("the body is not valid JSON (UTF-8 text)") from None
    if nesting_depth(payload) > MAX_JSON_DEPTH:
        raise BodyError(f"the JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels)")
    return payload


def nesting_depth(value: Any) -> int:
    """Levels of arrays and objects in a parsed JSON value (0 for a number or a string), without recursion."""
    depth, level = 0, [value]
    while True:
        containers = [item for item in level if isinstance(item, (list, dict))]
        if not containers:
            return depth
        depth += 1
        level = [child for container in containers
                 for child in (container.values() if isinstance(container, dict) else container)]
