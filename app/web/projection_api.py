"""The projection API: make a projection of a face (a job), follow it, and manage the saved ones.

    POST   /api/project                      a job from the camera's face (JSON or empty body) or an
                                             uploaded photo (multipart, file field "image"): 202
    GET    /api/project                      recent jobs, newest first
    GET    /api/project/<id>                 state, step, loss, preview URL, ...
    GET    /api/project/<id>/preview.jpg     the newest preview image of the job
    DELETE /api/project/<id>                 cancel it (nothing is saved; 409 once it ended or its save began)
    GET    /api/projections                  the saved projections, oldest first
    GET    /api/projections/<name>           one of them
    GET    /api/projections/<name>/<file>    latent.pt, target.png, result.png or meta.json
    PATCH  /api/projections/<name>           rename one: JSON {"name": "new-name"} (the params follow)
    DELETE /api/projections/<name>           delete one (not while it is selected)

Each saved projection says whether the live params use it (``in_use``: its role, or null).

Options (JSON fields or form fields): ``steps``, ``space`` ("w" or "w+"), both defaulting to the
server's settings, and ``name`` (what to save it as; default: a new name, which is also the job's
id). Uploads may say ``aligned=1`` for a face already in the FFHQ layout at the generator's
resolution (what a remote StyleCam sends), with ``model`` = the generator fingerprint it was aligned
for. Errors use the one JSON shape of ``app.web.api``: 400 bad option (naming the field), 409 name taken
or other model, 413 too large, 415 not a JPEG/PNG/WebP (or a body neither JSON nor an upload), 422 no
face, 429 queue full, 503 projection unavailable (e.g. the perceptual network is not downloaded) or too
many photos being read at once; 429 and that 503 come with Retry-After.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Optional, Tuple

from flask import Blueprint, Response, jsonify, request, send_file, url_for
from werkzeug.utils import secure_filename

from app.projection.folders import LATENT_FILE, META_FILE, RESULT_FILE, TARGET_FILE
from app.projection.jobs import (
    JobFinished,
    JobNotFound,
    JobOptions,
    OptionError,
    ProjectionJob,
    ProjectorUnavailable,
    QueueFull,
)
from app.projection.service import OtherModel, ProjectionInUse
from app.projection.store import ProjectionNotFound, ProjectionUnavailable, check_name
from app.projection.targets import PhotosBusy, TargetError
from app.web import context
from app.web.bodies import BodyError, json_body
from app.web.errors import json_error

bp = Blueprint("projection_api", __name__, url_prefix="/api")

DOWNLOADS = {LATENT_FILE: "application/octet-stream", TARGET_FILE: "image/png", RESULT_FILE: "image/png",
             META_FILE: "application/json"}
QUEUE_RETRY_AFTER_S = 30
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")
WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")    # ASCII digits only: str.isdigit() also passes "²", which int() refuses


class FieldError(ValueError):
    """A bad request option; ``field`` names it."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


# --- jobs --------------------------------------------------------------------------------------------

@bp.post("/project")
def submit_job() -> Response:
    service = context.projection()
    try:
        values = request_values()
        options, name = job_options(values, service.default_options)
        if "image" in request.files:
            upload = request.files["image"]
            source = "upload:" + (secure_filename(upload.filename or "")[:64] or "photo")
            job = service.submit_photo(upload.read(), source, options, name, aligned=is_aligned(values),
                                       model=values.get("model"))
        else:
            check_camera_values(values)
            job = service.submit_camera(options, name)
    except FieldError as error:
        return json_error(error.status, str(error), error.field)
    except OtherModel as error:
        return json_error(409, str(error), "model")
    except PhotosBusy as error:
        return retry_later(json_error(error.status, str(error), "image"), error.retry_after_s)
    except TargetError as error:
        return json_error(error.status, str(error), "image" if "image" in request.files else "source")
    except FileExistsError as error:
        return json_error(409, str(error), "name")
    except QueueFull as error:
        return retry_later(json_error(429, str(error)), QUEUE_RETRY_AFTER_S)
    except ProjectorUnavailable as error:
        return json_error(503, error.reason)
    response = jsonify(job_json(job))
    response.status_code = 202
    response.headers["Location"] = url_for(".get_job", job_id=job.id)
    return response


@bp.get("/project")
def list_jobs() -> Response:
    return jsonify([job_json(job) for job in context.projection().recent_jobs()])


@bp.get("/project/<job_id>")
def get_job(job_id: str) -> Response:
    try:
        return jsonify(job_json(context.projection().job(job_id)))
    except JobNotFound as error:
        return json_error(404, str(error))


@bp.get("/project/<job_id>/preview.jpg")
def get_preview(job_id: str) -> Response:
    try:
        preview = context.projection().job(job_id).preview
    except JobNotFound as error:
        return json_error(404, str(error))
    if preview is None:
        return json_error(404, f"projection job '{job_id}' has no preview yet")
    return Response(preview, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


@bp.delete("/project/<job_id>")
def cancel_job(job_id: str) -> Response:
    try:
        return jsonify(job_json(context.projection().cancel(job_id)))
    except JobNotFound as error:
        return json_error(404, str(error))
    except JobFinished as error:
        return json_error(409, str(error))


def retry_later(response: Response, seconds: int) -> Response:
    response.headers["Retry-After"] = str(seconds)
    return response


def job_json(job: ProjectionJob) -> Dict[str, Any]:
    """The job as JSON, with the URLs a client follows."""
    body = job.to_json()
    body["url"] = url_for(".get_job", job_id=job.id)
    body["preview_url"] = (url_for(".get_preview", job_id=job.id, step=body["preview_step"])
                           if body["preview_step"] is not None else None)
    return body


def request_values() -> Mapping[str, Any]:
    """The options of a POST: form fields of a multipart upload, else the JSON object (may be empty)."""
    if request.mimetype == "multipart/form-data":
        if "image" not in request.files:
            raise FieldError("image", 'a multipart upload carries the photo in the file field "image"')
        return request.form
    if not request.get_data(cache=True):
        return {}
    try:
        payload = json_body()
    except BodyError as error:
        raise FieldError(error.field, f'{error}; send a JSON object such as {{"source": "camera"}}, or a '
                                      f'multipart upload with the photo in the file field "image"',
                         error.status) from None
    if not isinstance(payload, dict):
        raise FieldError("body", 'the body must be a JSON object such as {"source": "camera"}, or a '
                                 'multipart upload with the photo in the file field "image"')
    return payload


def job_options(values: Mapping[str, Any], defaults: JobOptions) -> Tuple[JobOptions, Optional[str]]:
    known = {"source", "steps", "space", "name", "aligned", "model"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise FieldError(unknown[0], f"unknown option; the options are {', '.join(sorted(known))}")
    steps = values.get("steps", defaults.steps)
    if isinstance(steps, str) and WHOLE_NUMBER.fullmatch(steps.strip()):
        steps = int(steps)
    try:
        options = JobOptions(steps=steps, space=values.get("space", defaults.space))
    except OptionError as error:
        raise FieldError(error.field, str(error)) from None
    name = values.get("name")
    if name is not None and name != "":       # left out (or an empty form field): a new name
        try:
            check_name(name)
        except ValueError as error:
            raise FieldError("name", str(error)) from None
    return options, name or None


def is_aligned(values: Mapping[str, Any]) -> bool:
    """The ``aligned`` option: a yes/no word; anything else is refused rather than read as "no"."""
    word = str(values.get("aligned", "")).strip().lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        raise FieldError("aligned", f"must be one of {', '.join(TRUE_WORDS)} or {', '.join(FALSE_WORDS[1:])}")
    return word in TRUE_WORDS


def check_camera_values(values: Mapping[str, Any]) -> None:
    if values.get("source", "camera") != "camera":
        raise FieldError("source", 'must be "camera" (or upload a photo in the file field "image")')
    if "aligned" in values or "model" in values:
        raise FieldError("aligned", "aligned and model go with an uploaded image")


# --- saved projections -------------------------------------------------------------------------------

@bp.get("/projections")
def list_projections() -> Response:
    return jsonify([projection_json(entry) for entry in context.projection().projections()])


@bp.get("/projections/<name>")
def get_projection(name: str) -> Response:
    try:
        return jsonify(projection_json(context.projection().projection(name)))
    except ProjectionUnavailable as error:
        return unavailable(error)


@bp.get("/projections/<name>/<filename>")
def get_projection_file(name: str, filename: str) -> Response:
    if filename not in DOWNLOADS:
        return json_error(404, f"a projection has the files {', '.join(DOWNLOADS)}; not {filename!r}")
    try:
        path = context.projection().file(name, filename)
    except ProjectionUnavailable as error:
        return unavailable(error)
    return send_file(path, mimetype=DOWNLOADS[filename], max_age=0)


@bp.patch("/projections/<name>")
def rename_projection(name: str) -> Response:
    """Rename a saved projection; JSON only (``{"name": "new-name"}``), read as every JSON body is."""
    try:
        payload = json_body()
    except BodyError as error:
        return json_error(error.status, f'{error}; send {{"name": "the new name"}}', error.field)
    if not isinstance(payload, dict) or set(payload) != {"name"}:
        return json_error(400, 'the body must be a JSON object: {"name": "the new name"}', "name")
    try:
        return jsonify(projection_json(context.projection().rename(name, payload["name"])))
    except ProjectionUnavailable as error:
        return unavailable(error)
    except FileExistsError as error:
        return json_error(409, str(error), "name")
    except ValueError as error:
        return json_error(400, str(error), "name")


@bp.delete("/projections/<name>")
def delete_projection(name: str) -> Response:
    try:
        context.projection().delete(name)
    except ProjectionInUse as error:
        return json_error(409, str(error), "name")
    except ProjectionUnavailable as error:
        return unavailable(error)
    return Response(status=204)


def projection_json(entry: Dict[str, Any]) -> Dict[str, Any]:
    name = entry["name"]
    in_use = context.live().params.current().params.projections_in_use().get(name)
    return {**entry, "in_use": in_use, "url": url_for(".get_projection", name=name),
            "result_url": url_for(".get_projection_file", name=name, filename=RESULT_FILE),
            "target_url": url_for(".get_projection_file", name=name, filename=TARGET_FILE)}


def unavailable(error: ProjectionUnavailable) -> Response:
    return json_error(404 if isinstance(error, ProjectionNotFound) else 409, str(error))
