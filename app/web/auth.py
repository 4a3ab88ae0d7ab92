"""Access token: StyleCam listens on the network and shows a camera, so every request must prove access.

It works like Jupyter's: a random token is made at start and printed with the URL to open. A request
proves access with ``?token=...`` (which also sets an HttpOnly cookie, so the page's own requests and
its ``<img>`` stream work without repeating it), an ``Authorization: Bearer ...`` header (scripts), or
that cookie. Without it: 401, as a small page for browsers and as JSON for everything else. The token
can be set by the user, or switched off explicitly (then anyone on the network sees the camera).
"""
from __future__ import annotations

import hmac
import secrets
from typing import Optional

from flask import Flask, Response, g, render_template, request

from app.web.context import server_config
from app.web.errors import json_error

QUERY_PARAMETER = "token"
COOKIE_PREFIX = "stylecam-token-"
PUBLIC_ENDPOINTS = {"static"}        # styles and scripts hold no secrets; the 401 page uses them


def generate_token() -> str:
    """A fresh token: 32 random bytes, URL-safe, so it can go straight into the printed link."""
    return secrets.token_urlsafe(32)


def token_matches(expected: str, presented: Optional[str]) -> bool:
    """Compare in constant time, so the response time says nothing about how much of a guess was right."""
    if presented is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8"))


def init_app(app: Flask) -> None:
    """Guard every request of ``app`` with the token of its server config (None: open)."""
    app.before_request(_require_token)
    app.after_request(_remember_token)


def _require_token() -> Optional[Response]:
    expected = _expected_token()
    if expected is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if token_matches(expected, request.args.get(QUERY_PARAMETER)):
        g.token_from_query = True
        return None
    if token_matches(expected, _bearer_token()) or token_matches(expected, request.cookies.get(_cookie_name())):
        return None
    return _token_required()


def _remember_token(response: Response) -> Response:
    """After a valid ``?token=``, keep it in a cookie that scripts cannot read and other sites cannot send."""
    if g.get("token_from_query"):
        response.set_cookie(_cookie_name(), _expected_token(), httponly=True,
                            samesite="Strict", secure=request.is_secure)
    return response


def _expected_token() -> Optional[str]:
    return server_config().token


def _bearer_token() -> Optional[str]:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _cookie_name() -> str:
    """One cookie per port: cookies ignore ports, and two StyleCams on one host must not overwrite each other."""
    port = request.host.rpartition(":")[2]
    return COOKIE_PREFIX + (port if port.isdigit() else "default")


def _token_required() -> Response:
    message = "access token required: open the link StyleCam printed at start (it ends in ?token=...)"
    wants_page = not request.path.startswith("/api/") and request.accept_mimetypes.accept_html
    if wants_page:
        response = Response(render_template("token_required.html", message=message), status=401)
    else:
        response = json_error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="StyleCam"'
    return response
