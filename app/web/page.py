"""What a browser opens: the page, the live MJPEG stream and a snapshot of the newest frame.

The stream and the snapshot take the view the viewer chose (``?view=stylized|camera|side``,
``app.live.views``); the default is the stylized stream.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from app.live.buffers import LatestBuffer
from app.live.views import STYLIZED, VIEWS
from app.web import context
from app.web.streams import BOUNDARY, MjpegStream

bp = Blueprint("web", __name__)

SNAPSHOT_WAKE_S = 3.0    # How long a snapshot waits for a fresh frame when it wakes an idle pipeline.


@bp.get("/")
def index() -> str:
    return render_template("index.html", max_upload_bytes=context.server_config().max_request_bytes)


def requested_view() -> str:
    """The ``view`` query parameter (default: stylized); 400 naming the views for any other."""
    view = request.args.get("view", STYLIZED)
    if view not in VIEWS:
        abort(400, description=f"no view {view!r}; the views are {', '.join(VIEWS)}")
    return view


def view_frames(view: str) -> LatestBuffer:
    frames = context.live().view_frames(view)
    if frames is None:
        abort(404, description=f"this StyleCam has no {view} view")
    return frames


@bp.get("/stream.mjpg")
def stream() -> Response:
    view = requested_view()
    frames = view_frames(view)
    clients = context.streams()
    if not clients.try_open():
        abort(503, description=f"too many open streams (at most {clients.limit}); close one and retry")
    live = context.live()
    body = MjpegStream(frames, clients, live.viewers, context.server_config().stream_wait_s, view)
    return Response(body, mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@bp.get("/snapshot.jpg")
def snapshot() -> Response:
    view = requested_view()
    frames = view_frames(view)
    version = frames.version
    if context.live().viewers.visit(view):  # Nobody wanted that view: the frame it holds is from before.
        newest = frames.get_newer(version, timeout=SNAPSHOT_WAKE_S)
    else:
        newest = frames.latest()
    if newest is None:
        abort(503, description="no frame yet: the camera is still starting")
    _, frame = newest
    return Response(frame.jpeg, mimetype="image/jpeg",
                    headers={"Cache-Control": "no-store", "X-Frame-Version": str(frame.version),
                             "X-Faces-Version": str(frame.faces_version),
                             "X-Params-Version": str(frame.params_version)})
