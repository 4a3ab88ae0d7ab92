"""Direction previews for the page: which direction sliders and sets there are, and a preview sheet of
one (``app.studio.direction_previews``: rendered off the live path, kept once made).

``GET /api/directions`` lists them; ``GET /api/directions/<slider or set>/preview.jpg?seeds=1,2`` answers
the sheet (the current face without ``seeds``): 404 for a name that is neither, 400 for bad seeds, 503
when the sheet cannot be made now (the message says why).
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from app.studio.direction_previews import MAX_FACES, PreviewUnavailable, UnknownPreview
from app.studio.latent_sources import parse_seeds
from app.web import context
from app.web.errors import json_error

bp = Blueprint("directions_api", __name__, url_prefix="/api/directions")

MAX_SEEDS_CHARS = 100


@bp.get("")
def list_directions() -> Response:
    previews = context.live().direction_previews
    return jsonify(previews.describe() if previews is not None else {"sliders": [], "sets": []})


@bp.get("/<name>/preview.jpg")
def preview(name: str) -> Response:
    previews = context.live().direction_previews
    text = request.args.get("seeds")
    seeds = None
    if text is not None:
        try:
            if len(text) > MAX_SEEDS_CHARS:
                raise ValueError(f"at most {MAX_FACES} seeds, such as 1,2,3")
            seeds = parse_seeds(text)
        except ValueError as error:
            return json_error(400, str(error), "seeds")
    if previews is None:
        return json_error(404, "this StyleCam has no direction sliders (serve --directions FILE adds some)")
    try:
        sheet = previews.sheet(name, seeds)
    except UnknownPreview:
        known = [*previews.sliders, *previews.sets]
        return json_error(404, f"no direction slider or directions set named {name!r}; there are "
                               f"{', '.join(known) or 'none'}")
    except ValueError as error:
        return json_error(400, str(error), "seeds")
    except PreviewUnavailable as error:
        return json_error(503, str(error))
    response = Response(sheet, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
