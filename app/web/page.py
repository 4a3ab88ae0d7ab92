"""What a browser opens: the page, the live MJPEG stream and a snapshot of the newest frame."""
from __future__ import annotations

from flask import Blueprint, Response, abort, render_template

from app.web import context
from app.web.streams import BOUNDARY, MjpegStream

bp = Blueprint("web", __name__)

SNAPSHOT_WAKE_S = 3.0    # How long a snapshot waits for a fresh frame when it wakes an idle pipeline.


@bp.get("/")
def index() -> str:
    return render_template("index.html", max_upload_bytes=context.server_config().max_request_bytes)


@bp.get("/stream.mjpg")
def stream() -> Response:
    clients = context.streams()
    if not clients.try_open():
        abort(503, description=f"too many open streams (at most {clients.limit}); close one and retry")
    live = context.live()
    body = MjpegStream(live.frames, clients, live.viewers, context.server_config().stream_wait_s)
    return Response(body, mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@bp.get("/snapshot.jpg")
def snapshot() -> Response:
    frames = context.live().frames
    version = frames.version
    if context.live().viewers.visit():      # It was idle: the frame it holds is from before.
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
