"""The studio API: a sheet is a job followed by polling, its image grows as it renders, its cells say
which face each shows; bad or too big requests are 400s naming the field; the routes are guarded like
every other (token, writes from the page's own origin only, the security headers)."""
from __future__ import annotations

import json
import time
import urllib.request

import cv2
import numpy as np
import pytest

from app.studio.service import MAX_CELLS
from tests.app.web.test_security_headers import EXPECTED

FINISHED = ("done", "failed", "cancelled")


def wait_done(client, job: dict, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while job["state"] not in FINISHED:
        assert time.monotonic() < deadline, f"studio job still {job['state']}"
        time.sleep(0.02)
        job = client.get(job["url"]).get_json()
    return job


def decode(answer) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(answer.data, np.uint8), cv2.IMREAD_COLOR)


def test_a_grid_is_a_job_whose_image_shows_the_sheet(client):
    answer = client.post("/api/studio/grid", json={"seeds": "1-6", "columns": 3})
    assert answer.status_code == 202 and answer.headers["Location"] == answer.get_json()["url"]
    job = wait_done(client, answer.get_json())
    assert job["state"] == "done" and (job["rows_done"], job["rows_total"]) == (2, 2)
    image = client.get(job["image_url"])
    assert image.mimetype == "image/jpeg" and image.headers["Cache-Control"] == "no-store"
    assert decode(image).shape[:2] == (job["sheet"]["height"], job["sheet"]["width"])
    assert [cell["seed"] for cell in job["cells"]] == [1, 2, 3, 4, 5, 6]


def test_a_clicked_cell_becomes_the_live_face(client, backend):
    job = wait_done(client, client.post("/api/studio/grid", json={"seeds": [31, 32]}).get_json())
    clicked = job["cells"][1]
    answer = client.post("/api/params", json={"seed": clicked["seed"], "mode": "seed"})
    assert answer.status_code == 200
    assert backend.params.current().params.seed == 32


def test_mix_and_interpolate_answer_jobs_too(client):
    mix = wait_done(client, client.post("/api/studio/mix", json={"rows": [1], "columns": "2-3",
                                                                  "layers": "middle"}).get_json())
    assert mix["state"] == "done" and mix["options"]["layers"] == "4:8"
    strip = wait_done(client, client.post("/api/studio/interpolate",
                                          json={"to": 5, "frames": 4, "animation": True}).get_json())
    assert strip["state"] == "done" and strip["options"]["from"] == "seed 0"      # the live face
    gif = client.get(strip["animation_url"])
    assert gif.mimetype == "image/gif" and gif.data.startswith(b"GIF8")


def test_a_job_can_be_cancelled_and_forgotten_ids_are_404(client):
    job = client.post("/api/studio/grid", json={"seeds": f"1-{MAX_CELLS}"}).get_json()
    cancelled = client.delete(job["url"])
    assert cancelled.status_code == 200 and cancelled.get_json()["cancel_requested"]
    assert wait_done(client, cancelled.get_json())["state"] in ("cancelled", "done")
    assert client.get("/api/studio/jobs/nothing").status_code == 404
    assert client.get("/api/studio/jobs/nothing/image.jpg").status_code == 404
    assert client.delete("/api/studio/jobs/nothing").status_code == 404


@pytest.mark.parametrize("path, body, field", [
    ("grid", {"seeds": f"0-{MAX_CELLS}"}, "seeds"),
    ("grid", {"seeds": "1-4", "cell": 4096}, "cell"),
    ("grid", {"seeds": "1-16", "columns": 16, "cell": 512}, "cell"),
    ("grid", {"seeds": [1], "what": 1}, "what"),
    ("grid", ["not", "an", "object"], "body"),
    ("mix", {"columns": "1-9", "rows": "1-9"}, "columns"),
    ("mix", {"columns": [1], "layers": "ears"}, "layers"),
    ("interpolate", {"to": 2, "frames": 1000}, "frames"),
    ("interpolate", {"to": "ghost"}, "to"),
])
def test_bad_or_too_big_requests_are_400_naming_the_field(client, path, body, field):
    answer = client.post(f"/api/studio/{path}", json=body)
    assert answer.status_code == 400
    assert answer.get_json()["field"] == field and answer.get_json()["error"]


def test_a_body_that_is_not_json_is_415(client):
    answer = client.post("/api/studio/grid", data="seeds=1", content_type="text/plain")
    assert answer.status_code == 415 and answer.get_json()["field"] == "body"


def test_an_unknown_sheet_is_404(client):
    assert client.post("/api/studio/collage", json={}).status_code == 404


def test_the_studio_routes_need_the_token(make_client):
    anonymous = make_client()
    assert anonymous.post("/api/studio/grid", json={"seeds": [1]}).status_code == 401
    assert anonymous.get("/api/studio/jobs/x").status_code == 401


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:8000"},
    {"Origin": "http://localhost:8000"},
])
def test_a_studio_write_from_another_origin_is_refused_and_starts_or_stops_nothing(client, backend, headers):
    job = wait_done(client, client.post("/api/studio/grid", json={"seeds": [1]}).get_json())
    for method, path, body in [("POST", "/api/studio/grid", {"seeds": [2]}), ("DELETE", job["url"], None)]:
        answer = client.open(path, method=method, json=body, headers=headers)
        assert answer.status_code == 403 and "another origin" in answer.get_json()["error"]
    assert [known.id for known in backend.studio.jobs.jobs()] == [job["id"]]
    assert client.get(job["url"]).get_json()["cancel_requested"] is False


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/api/studio/grid", {"seeds": [1]}),
    ("POST", "/api/studio/grid", {"seeds": "x-y"}),
    ("GET", "/api/studio/jobs/nothing", None),
])
def test_studio_answers_carry_the_security_headers(client, method, path, body):
    answer = client.open(path, method=method, json=body)
    assert {name: answer.headers.get(name) for name in EXPECTED} == EXPECTED


@pytest.mark.slow
def test_the_running_stylecam_renders_the_mixing_matrix_of_its_live_face(live_server, token):
    """The composition root wires the studio to the running app's generator and live params."""
    def call(path, payload=None):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        data = None if payload is None else json.dumps(payload).encode()
        address = f"http://127.0.0.1:{live_server.port}{path}"
        with urllib.request.urlopen(urllib.request.Request(address, data, headers), timeout=30) as answer:
            return answer.read()

    seed = live_server.backend.params.current().params.seed
    job = json.loads(call("/api/studio/mix", {"columns": [1, 2], "layers": "coarse"}))
    deadline = time.monotonic() + 60
    while job["state"] not in FINISHED:
        assert time.monotonic() < deadline, "the matrix did not finish within a minute"
        time.sleep(0.1)
        job = json.loads(call(job["url"]))
    assert job["state"] == "done" and job["options"]["rows"] == [f"seed {seed}"]
    image = cv2.imdecode(np.frombuffer(call(job["image_url"]), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (job["sheet"]["height"], job["sheet"]["width"])
