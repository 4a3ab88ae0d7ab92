"""The studio API: sheets of faces rendered in the background while the stream keeps going.

    POST   /api/studio/grid              {"seeds": "1-16" | [1, 2], "random": N, "psi", "columns", "cell"}: 202
    POST   /api/studio/mix               {"rows" (default: the live face), "columns", "layers", "psi", "cell"}: 202
    POST   /api/studio/interpolate       {"from" (default: the live face), "to", "space": "w"|"z", "frames",
                                          "psi", "cell", "animation": true|false, "fps"}: 202
    GET    /api/studio/jobs/<id>         state, rows done of rows, the sheet's layout, the faces of its cells
    GET    /api/studio/jobs/<id>/image.jpg        the sheet as rendered so far (blank cells still to come)
    GET    /api/studio/jobs/<id>/animation.gif    the interpolation as a looping GIF, once done (if asked)
    DELETE /api/studio/jobs/<id>         cancel it

A face is a seed (a number, or text such as "1-8,42") or a saved projection's name. One sheet renders at
a time: a new one cancels the one before (``app.studio.jobs``). Each cell that shows one face is listed
(``cells``: row, column, seed or projection, label) with the sheet's layout (``sheet``: cell size and
offsets in px), so the page can make it the live face when clicked. Errors use the API's one JSON shape:
400 naming the field (a bad option, a sheet over the limits), 404 no such job, 503 no studio here.
"""
from __future__ import annotations

from typing import Any, Callable, Dict

from flask import Blueprint, Response, jsonify, url_for

from app.studio.jobs import JobNotFound, StudioJob, StudioUnavailable
from app.studio.service import StudioOptionError, StudioService
from app.web import context
from app.web.bodies import BodyError, json_body
from app.web.errors import json_error

bp = Blueprint("studio_api", __name__, url_prefix="/api/studio")

KINDS: Dict[str, Callable[[StudioService, Any], StudioJob]] = {
    "grid": StudioService.grid, "mix": StudioService.mix, "interpolate": StudioService.interpolate}


@bp.post("/<kind>")
def submit(kind: str) -> Response:
    if kind not in KINDS:
        return json_error(404, f"no studio sheet {kind!r}; the sheets are {', '.join(KINDS)}")
    service = context.studio()
    if service is None:
        return json_error(503, "this StyleCam has no studio")
    try:
        options = json_body()
        job = KINDS[kind](service, options)
    except BodyError as error:
        return json_error(error.status, f"{error}: an object of the sheet's options, e.g. {{\"seeds\": \"1-16\"}}",
                          error.field)
    except StudioOptionError as error:
        return json_error(400, str(error), error.field)
    except StudioUnavailable as error:
        return json_error(503, str(error))
    response = jsonify(job_json(job))
    response.status_code = 202
    response.headers["Location"] = url_for(".get_job", job_id=job.id)
    return response


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    return with_job(job_id, lambda job: jsonify(job_json(job)))


@bp.get("/jobs/<job_id>/image.jpg")
def get_image(job_id: str) -> Response:
    return with_job(job_id, lambda job: Response(job.jpeg(), mimetype="image/jpeg",
                                                 headers={"Cache-Control": "no-store"}))


@bp.get("/jobs/<job_id>/animation.gif")
def get_animation(job_id: str) -> Response:
    def answer(job: StudioJob) -> Response:
        animation = job.animation
        if animation is None:
            return json_error(404, f"studio job '{job_id}' has no animation (ask an interpolation with "
                                   f"\"animation\": true, and wait until it is done)")
        return Response(animation, mimetype="image/gif", headers={"Cache-Control": "no-store"})

    return with_job(job_id, answer)


@bp.delete("/jobs/<job_id>")
def cancel_job(job_id: str) -> Response:
    service = context.studio()
    if service is None:
        return json_error(503, "this StyleCam has no studio")
    try:
        return jsonify(job_json(service.cancel(job_id)))
    except JobNotFound as error:
        return json_error(404, str(error))


def with_job(job_id: str, answer: Callable[[StudioJob], Response]) -> Response:
    service = context.studio()
    if service is None:
        return json_error(503, "this StyleCam has no studio")
    try:
        return answer(service.job(job_id))
    except JobNotFound as error:
        return json_error(404, str(error))


def job_json(job: StudioJob) -> Dict[str, Any]:
    """The job as JSON, with the URLs a client follows (the image's changes with every batch placed)."""
    body = job.to_json()
    body["url"] = url_for(".get_job", job_id=job.id)
    body["image_url"] = url_for(".get_image", job_id=job.id, cells=body["cells_done"])
    body["animation_url"] = url_for(".get_animation", job_id=job.id) if body["animation"] else None
    return body
