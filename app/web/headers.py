"""The security headers on every response: what a browser may do with StyleCam's pages and files.

The page loads only its own script, style sheet and images (the MJPEG stream, previews, projections),
and fetches only its own API, so the policy allows exactly 'self'. Recording needs nothing more: the
stream is drawn onto a canvas and recorded with MediaRecorder (neither is a load the policy governs),
and the clip is saved through a download link to a blob: URL, a download rather than a load of media
or an image (tests/app/web/test_browser_security.py records one and sees no violation). No other site
may frame it (a framing page could trick a click on a slider), none may embed its images or files,
nothing is sniffed into a type it was not sent as, and no address is passed on as a referrer: the
first one carries the access token.
"""
from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",          # script, style, images, fetch: StyleCam's own only
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",          # the token page's form
    "frame-ancestors 'none'",      # framed by no page (X-Frame-Options for older browsers)
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    app.after_request(_add_security_headers)


def _add_security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response
