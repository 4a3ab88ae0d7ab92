"""Writes only from StyleCam's own page, in the body types the API reads.

The token cookie is ``SameSite=Strict``, but a site is a host, not a host and port: a page served from
another port of the same machine (any other web app on it) is "same-site" and its requests carry the
cookie. So every request that changes something (POST, PATCH, PUT, DELETE: every method but GET, HEAD
and OPTIONS, which never do) must come from the page's own origin:

- ``Sec-Fetch-Site`` (sent by every current browser) must be ``same-origin`` or ``none``; ``same-site``
  and ``cross-site`` are refused. The browser decides it from the address it used, so it holds behind a
  reverse proxy whatever Host the proxy passes on.
- Without it (an older browser), an ``Origin`` header must name the host the request was sent to: its
  host and port must be the request's ``Host``. The scheme is not compared, so that a proxy which ends
  TLS (https outside, http to StyleCam) still works; such a proxy must pass the original Host header on
  (nginx: ``proxy_set_header Host $http_host;``). Whether the page was opened by IP address or by name
  does not matter: each request is compared with the address it was sent to.
- A request with neither header does not come from a browser page (curl, scripts, a remote StyleCam):
  it is let through, and the access token decides.

A body must be JSON or a multipart upload: the types a page of another origin cannot send without first
asking the server's permission (which StyleCam never gives), unlike text/plain and form bodies.
"""
from __future__ import annotations

import logging
from typing import Optional

from flask import Flask, Response, request

from app.web.errors import json_error

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
ALLOWED_SITES = {"same-origin", "none"}     # Sec-Fetch-Site values of the page's own requests (none: typed)
DEFAULT_PORTS = {"http": ":80", "https": ":443"}
UPLOAD_TYPE = "multipart/form-data"

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Refuse cross-origin writes and unreadable bodies before anything else looks at the request."""
    app.before_request(_check_write)


def _check_write() -> Optional[Response]:
    if request.method in SAFE_METHODS:
        return None
    if not from_own_page(request.headers.get("Sec-Fetch-Site"), request.headers.get("Origin"), request.host):
        log.warning("refused a %s %s from another origin (%s)", request.method, request.path,
                    request.headers.get("Origin", "no Origin")[:100])
        return json_error(403, "refused: this request comes from a page of another origin (site or port) "
                               f"than StyleCam's own at {request.host}; behind a reverse proxy, pass the "
                               "original Host header on")
    if _has_body() and not (request.is_json or request.mimetype == UPLOAD_TYPE):
        return json_error(415, f"the body must be JSON (Content-Type: application/json) or an upload "
                               f"({UPLOAD_TYPE}), not {request.mimetype or 'untyped'}", "body")
    return None


def from_own_page(fetch_site: Optional[str], origin: Optional[str], host: str) -> bool:
    """Whether a write with these ``Sec-Fetch-Site`` and ``Origin`` headers, sent to ``host`` (the Host
    header), comes from the page's own origin, or from no browser page at all."""
    if fetch_site is not None:
        return fetch_site.lower() in ALLOWED_SITES
    if origin is None:
        return True
    scheme, separator, address = origin.lower().partition("://")
    if not separator or scheme not in DEFAULT_PORTS:
        return False                         # "null" (a sandboxed frame, a file: page) or another scheme
    default_port = DEFAULT_PORTS[scheme]
    return _without(address, default_port) == _without(host.lower(), default_port)


def _without(address: str, default_port: str) -> str:
    return address[:-len(default_port)] if address.endswith(default_port) else address


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
