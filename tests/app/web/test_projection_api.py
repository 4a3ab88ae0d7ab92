"""The projection API: jobs from the camera or an untrusted upload, their progress and cancelling, the saved
projections, and selecting one for mode "me". Same token and JSON error shape as the rest of the API.

Jobs run on ``GatedProjector`` (they wait until the test releases them), so every state can be seen.
"""
import io
from contextlib import ExitStack

import cv2
import numpy as np
import pytest
import torch

from app.projection.jobs import JobOptions, ProjectorUnavailable
from app.projection.projectors import NO_PERCEPTUAL_NETWORK
from app.projection.targets import MAX_CONCURRENT_DECODES, PHOTO_SLOTS
from app.web.config import ServerConfig
from app.web.factory import create_app
from tests.app.projection_helpers import GatedProjector, png_declaring, wait_for_state


@pytest.fixture
def projector(projection_generator):
    gated = GatedProjector(projection_generator)
    yield gated
    gated.release.set()


@pytest.fixture
def backend(make_backend, projector):
    return make_backend(projector, max_queued=2)


@pytest.fixture(scope="module")
def photo(shared_file) -> bytes:
    return shared_file("media/images/grace_hopper.jpg").read_bytes()


def upload(client, data: bytes, filename="me.jpg", content_type="image/jpeg", **fields):
    return client.post("/api/project", data={"image": (io.BytesIO(data), filename, content_type), **fields},
                       content_type="multipart/form-data")


def finish(client, backend, projector, job_id):
    projector.release.set()
    wait_for_state(backend.projection.job(job_id), "done")
    return client.get(f"/api/project/{job_id}").get_json()


# --- submitting ------------------------------------------------------------------------------------------

def test_an_uploaded_photo_becomes_a_job_that_ends_as_a_saved_projection(client, backend, projector, photo):
    answer = upload(client, photo)
    assert answer.status_code == 202
    job = answer.get_json()
    assert answer.headers["Location"] == job["url"] == f"/api/project/{job['id']}"
    assert job["source"] == "upload:me.jpg" and job["state"] in ("queued", "running")
    done = finish(client, backend, projector, job["id"])
    assert done["state"] == "done" and done["projection"] == job["id"]
    [saved] = client.get("/api/projections").get_json()
    assert saved["name"] == job["id"] and saved["compatible"] and saved["source"] == "upload:me.jpg"


def test_the_camera_face_becomes_a_job(client, backend, shared_file):
    backend.camera_frame = cv2.imread(str(shared_file("media/images/astronaut.png")))
    answer = client.post("/api/project", json={"source": "camera", "steps": 20, "space": "w"})
    assert answer.status_code == 202
    job = answer.get_json()
    assert (job["source"], job["steps"], job["space"]) == ("camera", 20, "w")


def test_options_left_out_take_the_servers_defaults(make_backend, projector, photo):
    backend = make_backend(projector, default_options=JobOptions(steps=20, space="w"))
    job = upload(create_app(ServerConfig(token=None), backend.live, backend.projection).test_client(), photo).get_json()
    assert (job["steps"], job["space"]) == (20, "w")


def test_an_empty_body_means_the_camera(client, backend, shared_file):
    backend.camera_frame = cv2.imread(str(shared_file("media/images/astronaut.png")))
    assert client.post("/api/project").status_code == 202


def test_no_face_in_view_of_the_camera_is_422(client, backend):
    answer = client.post("/api/project", json={})
    assert answer.status_code == 422
    assert "no face in view of the camera" in answer.get_json()["error"]


def test_a_name_can_be_chosen_once(client, backend, photo):
    assert upload(client, photo, name="grace").get_json()["id"] == "grace"
    answer = upload(client, photo, name="grace")
    assert answer.status_code == 409 and answer.get_json()["field"] == "name"


@pytest.mark.parametrize("fields, field", [({"steps": "many"}, "steps"), ({"steps": "1"}, "steps"),
                                           ({"steps": "\u00b2"}, "steps"), ({"steps": "\u0661\u0662"}, "steps"),
                                           ({"steps": "9" * 5000}, "steps"), ({"steps": " "}, "steps"),
                                           ({"space": "z"}, "space"), ({"colour": "red"}, "colour"),
                                           ({"name": "../up"}, "name"), ({"aligned": "maybe"}, "aligned")])
def test_bad_options_get_400_naming_the_field(client, backend, photo, fields, field):
    answer = upload(client, photo, **fields)
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["field"] == field


@pytest.mark.parametrize("body, field", [({"steps": "\u00b2"}, "steps"), ({"steps": True}, "steps"),
                                         ({"steps": 20.5}, "steps"), ({"space": ["w"]}, "space"),
                                         ({"name": 0}, "name"), ({"name": False}, "name"), ({"name": []}, "name")])
def test_bad_json_options_get_400_naming_the_field(client, backend, body, field):
    answer = client.post("/api/project", json=body)
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["field"] == field


def test_steps_may_be_sent_as_a_string_of_digits(client, backend, photo):
    assert upload(client, photo, steps=" 20 ").get_json()["steps"] == 20


def test_a_body_that_is_neither_json_nor_an_upload_is_415(client, backend):
    answer = client.post("/api/project", data=b"hello", content_type="text/plain")
    assert answer.status_code == 415 and answer.get_json()["field"] == "body"
    assert backend.projection.recent_jobs() == []


def test_a_json_body_that_does_not_parse_is_400(client, backend):
    answer = client.post("/api/project", data=b'{"source": ', content_type="application/json")
    assert answer.status_code == 400 and answer.get_json()["field"] == "body"


def test_an_upload_under_another_field_name_is_400_naming_image(client, backend, photo):
    answer = client.post("/api/project", data={"file": (io.BytesIO(photo), "me.jpg", "image/jpeg")},
                         content_type="multipart/form-data")
    assert answer.status_code == 400 and answer.get_json()["field"] == "image"


def test_a_full_queue_is_429_with_retry_after(client, backend, photo):
    running = upload(client, photo).get_json()
    wait_for_state(backend.projection.job(running["id"]), "running")
    assert upload(client, photo).status_code == 202
    assert upload(client, photo).status_code == 202
    answer = upload(client, photo)
    assert answer.status_code == 429
    assert "try again" in answer.get_json()["error"] and int(answer.headers["Retry-After"]) > 0


def test_projection_without_the_perceptual_network_is_503_with_a_reason_a_viewer_can_read(client, backend, photo,
                                                                                          monkeypatch):
    def missing():
        raise ProjectorUnavailable("projection needs the perceptual network: run: python -m app weights fetch vgg16",
                                   reason=NO_PERCEPTUAL_NETWORK)

    monkeypatch.setattr(backend.projection.jobs.projector, "check_ready", missing)
    answer = upload(client, photo)
    assert answer.status_code == 503 and answer.get_json()["error"] == NO_PERCEPTUAL_NETWORK
    assert "python -m app" not in NO_PERCEPTUAL_NETWORK and "/" not in NO_PERCEPTUAL_NETWORK


def test_the_status_says_whether_projection_can_run_and_why_not(backend, monkeypatch):
    assert backend.projection.status()["projection_ready"] is True
    assert backend.projection.status()["projection_unavailable"] is None

    def missing():
        raise ProjectorUnavailable("projection needs the perceptual network: ...", reason=NO_PERCEPTUAL_NETWORK)

    monkeypatch.setattr(backend.projection.jobs.projector, "check_ready", missing)
    status = backend.projection.status()
    assert status["projection_ready"] is False and status["projection_unavailable"] == NO_PERCEPTUAL_NETWORK


# --- untrusted uploads -----------------------------------------------------------------------------------

def test_an_upload_over_the_size_limit_is_413(make_client, backend, photo):
    client = make_client(token=None, max_request_bytes=len(photo) // 2)
    answer = upload(client, photo)
    assert answer.status_code == 413
    assert "too large" in answer.get_json()["error"]


def test_while_every_photo_slot_is_busy_an_upload_is_503_with_retry_after(client, backend, photo):
    with ExitStack() as held:
        for _ in range(MAX_CONCURRENT_DECODES):
            held.enter_context(PHOTO_SLOTS.hold())
        answer = upload(client, photo)
    assert answer.status_code == 503 and answer.get_json()["field"] == "image"
    assert "try again" in answer.get_json()["error"] and int(answer.headers["Retry-After"]) > 0
    assert client.get("/api/project").get_json() == []
    assert upload(client, photo).status_code == 202          # the slots are free again


def test_a_file_that_is_not_an_image_is_415_whatever_its_name(client, backend):
    answer = upload(client, b"#!/bin/sh\nrm -rf /\n", filename="me.jpg", content_type="image/jpeg")
    assert answer.status_code == 415
    assert answer.get_json()["field"] == "image"


def test_a_damaged_image_is_400(client, backend, photo):
    answer = upload(client, photo[: len(photo) // 4])
    assert answer.status_code == 400 and "cannot be decoded" in answer.get_json()["error"]


def test_a_decompression_bomb_is_413(client, backend):
    answer = upload(client, png_declaring(8000, 8000), filename="bomb.png", content_type="image/png")
    assert answer.status_code == 413 and "8000x8000" in answer.get_json()["error"]


def test_a_photo_without_a_face_is_422(client, backend, shared_file):
    answer = upload(client, shared_file("media/images/noface_cat.png").read_bytes(), filename="cat.png")
    assert answer.status_code == 422
    assert "no face found" in answer.get_json()["error"]


def test_a_refused_upload_leaves_no_job_and_no_files(client, backend, shared_file):
    upload(client, shared_file("media/images/noface_cat.png").read_bytes())
    assert client.get("/api/project").get_json() == []
    assert not backend.store.root.exists() or not any(backend.store.root.iterdir())


def test_an_aligned_upload_skips_detection_but_must_fit_the_generator(client, backend, projection_generator):
    size = projection_generator.img_resolution
    aligned = cv2.imencode(".png", np.full((size, size, 3), 90, np.uint8))[1].tobytes()
    fingerprint = backend.store.fingerprint
    assert upload(client, aligned, "a.png", aligned="1", model=fingerprint).status_code == 202
    wrong_model = upload(client, aligned, "a.png", aligned="1", model="0123456789abcdef")
    assert wrong_model.status_code == 409 and "other generator weights" in wrong_model.get_json()["error"]
    too_big = cv2.imencode(".png", np.zeros((size * 2, size * 2, 3), np.uint8))[1].tobytes()
    assert upload(client, too_big, "a.png", aligned="1").status_code == 400


# --- following and cancelling ----------------------------------------------------------------------------

def test_a_job_reports_step_loss_and_a_preview(client, backend, photo):
    job = upload(client, photo).get_json()
    wait_for_state(backend.projection.job(job["id"]), "running")
    state = client.get(job["url"]).get_json()
    assert (state["state"], state["step"], state["loss"]) == ("running", 1, 0.5)
    preview = client.get(state["preview_url"])
    assert preview.mimetype == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(preview.data, np.uint8), cv2.IMREAD_COLOR).shape[:2] == (32, 32)


def test_a_job_has_no_preview_before_its_first_step(client, backend, photo, projector):
    first = upload(client, photo).get_json()
    waiting = upload(client, photo).get_json()
    wait_for_state(backend.projection.job(first["id"]), "running")
    assert waiting["preview_url"] is None
    assert client.get(f"/api/project/{waiting['id']}/preview.jpg").status_code == 404


def test_delete_cancels_a_job_and_nothing_is_saved(client, backend, photo):
    job = upload(client, photo).get_json()
    wait_for_state(backend.projection.job(job["id"]), "running")
    assert client.delete(job["url"]).get_json()["cancel_requested"]
    assert wait_for_state(backend.projection.job(job["id"]), "cancelled")["projection"] is None
    assert client.get("/api/projections").get_json() == []
    assert client.delete(job["url"]).status_code == 409


def test_recent_jobs_are_listed_newest_first(client, backend, photo):
    ids = [upload(client, photo).get_json()["id"] for _ in range(2)]
    assert [job["id"] for job in client.get("/api/project").get_json()] == ids[::-1]


def test_an_unknown_job_is_a_json_404(client, backend):
    for answer in (client.get("/api/project/nope"), client.delete("/api/project/nope"),
                   client.get("/api/project/nope/preview.jpg")):
        assert answer.status_code == 404 and "error" in answer.get_json()


# --- saved projections and mode "me" ---------------------------------------------------------------------

@pytest.fixture
def saved(client, backend, projector, photo):
    """The name of a finished projection of the photo."""
    job = upload(client, photo, name="grace").get_json()
    return finish(client, backend, projector, job["id"])["projection"]


def test_the_listing_says_which_perceptual_network_made_a_projection(client, saved):
    [entry] = client.get("/api/projections").get_json()
    assert entry["perceptual"] == {"name": "stand-in", "sha256": "ab" * 32, "file": "standin_vgg16.pt"}


def test_a_saved_projection_is_selected_for_mode_me(client, backend, saved):
    answer = client.post("/api/params", json={"mode": "me", "projection": saved})
    assert answer.status_code == 200
    assert (backend.params.current().params.mode, backend.params.current().params.projection) == ("me", saved)


def test_selecting_a_projection_that_does_not_exist_is_400(client, backend, saved):
    before = backend.params.current().params
    answer = client.post("/api/params", json={"mode": "me", "projection": "ghost"})
    assert answer.status_code == 400 and answer.get_json()["field"] == "projection"
    assert backend.params.current().params == before


def test_a_saved_projection_can_be_the_style_source(client, backend, saved):
    assert client.post("/api/params", json={"style_projection": saved}).status_code == 200
    assert backend.params.current().params.style_projection == saved


def test_its_files_can_be_downloaded(client, backend, saved, tmp_path):
    entry = client.get(f"/api/projections/{saved}").get_json()
    assert client.get(entry["result_url"]).mimetype == "image/png"
    latent = client.get(f"/api/projections/{saved}/latent.pt")
    (tmp_path / "latent.pt").write_bytes(latent.data)
    ws = torch.load(tmp_path / "latent.pt", weights_only=True)["ws"]
    assert torch.equal(ws, backend.store.load_ws(saved))
    assert client.get(f"/api/projections/{saved}/meta.json").get_json()["format"] == "stylecam-projection"
    assert client.get(f"/api/projections/{saved}/secrets.txt").status_code == 404


def test_a_selected_projection_cannot_be_deleted_until_deselected(client, backend, saved):
    client.post("/api/params", json={"mode": "me", "projection": saved})
    answer = client.delete(f"/api/projections/{saved}")
    assert answer.status_code == 409 and "selected" in answer.get_json()["error"]
    client.post("/api/params", json={"mode": "seed", "projection": None})
    assert client.delete(f"/api/projections/{saved}").status_code == 204
    assert client.get(f"/api/projections/{saved}").status_code == 404
    assert client.get("/api/projections").get_json() == []


def test_a_projection_that_is_a_faces_own_face_cannot_be_deleted_and_says_so_in_the_listing(client, backend, saved):
    assert client.post("/api/params", json={"faces": {"4": {"projection": saved}}}).status_code == 200
    [entry] = client.get("/api/projections").get_json()
    assert entry["in_use"] == "the face of face 4"
    answer = client.delete(f"/api/projections/{saved}")
    assert answer.status_code == 409 and "the face of face 4" in answer.get_json()["error"]
    client.post("/api/params", json={"faces": {"4": None}})
    assert client.get("/api/projections").get_json()[0]["in_use"] is None


def rename(client, name, body):
    return client.patch(f"/api/projections/{name}", json=body)


def test_a_projection_can_be_renamed(client, backend, saved):
    answer = rename(client, saved, {"name": "grace-hopper"})
    assert answer.status_code == 200 and answer.get_json()["name"] == "grace-hopper"
    assert [entry["name"] for entry in client.get("/api/projections").get_json()] == ["grace-hopper"]
    assert client.get("/api/projections/grace-hopper/result.png").mimetype == "image/png"
    assert client.get(f"/api/projections/{saved}").status_code == 404


def test_renaming_the_selected_projection_renames_it_in_the_params_too(client, backend, saved):
    client.post("/api/params", json={"mode": "me", "projection": saved, "style_projection": saved})
    version = backend.params.current().version
    assert rename(client, saved, {"name": "me-now"}).status_code == 200
    params, new_version = backend.params.current()
    assert (params.projection, params.style_projection, params.mode) == ("me-now", "me-now", "me")
    assert new_version == version + 1
    assert client.get("/api/projections").get_json()[0]["in_use"] == "the face shown"


@pytest.mark.parametrize("body, status", [({"name": "../up"}, 400), ({"name": ""}, 400), ({"name": 7}, 400),
                                          ({"title": "x"}, 400), ([], 400)])
def test_a_bad_new_name_is_400_naming_the_field_and_changes_nothing(client, backend, saved, body, status):
    answer = rename(client, saved, body)
    assert answer.status_code == status and answer.get_json()["field"] == "name"
    assert backend.store.exists(saved)


def test_a_rename_must_be_json_not_a_form(client, backend, saved):
    answer = client.patch(f"/api/projections/{saved}", data={"name": "other"})
    assert answer.status_code == 415 and answer.get_json()["field"] == "body"
    assert backend.store.exists(saved) and not backend.store.exists("other")


@pytest.mark.parametrize("data", [b'{"name": "other"', b'{"name": ' + b"[" * 40 + b"]" * 40 + b"}"])
def test_a_rename_body_that_is_not_valid_or_too_deep_json_is_400_naming_the_body(client, backend, saved, data):
    answer = client.patch(f"/api/projections/{saved}", data=data, content_type="application/json")
    assert answer.status_code == 400 and answer.get_json()["field"] == "body"
    assert backend.store.exists(saved) and not backend.store.exists("other")


def test_renaming_to_a_name_that_is_taken_or_being_made_is_409(client, backend, projector, saved, photo):
    projector.release.clear()
    assert upload(client, photo, name="pending").status_code == 202     # a job that will save under "pending"
    for taken in (saved, "pending"):
        answer = rename(client, saved, {"name": taken})
        assert answer.status_code == 409 and answer.get_json()["field"] == "name"
    assert backend.store.exists(saved)


def test_renaming_a_projection_that_does_not_exist_is_404(client, backend):
    assert rename(client, "ghost", {"name": "spirit"}).status_code == 404


def test_a_selection_survives_a_restart(backend, saved, make_backend, projector):
    restarted = make_backend(projector)          # a new store and worker over the same folder
    assert [entry["name"] for entry in restarted.store.list()] == [saved]
    assert restarted.params.update({"mode": "me", "projection": saved}).params.projection == saved


# --- access ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [("post", "/api/project"), ("get", "/api/project/x"),
                                          ("get", "/api/project/x/preview.jpg"), ("delete", "/api/project/x"),
                                          ("get", "/api/projections"), ("get", "/api/projections/x/latent.pt"),
                                          ("delete", "/api/projections/x"), ("patch", "/api/projections/x")])
def test_every_projection_route_needs_the_token(backend, token, method, path):
    app = create_app(ServerConfig(token=token), backend.live, backend.projection)
    answer = getattr(app.test_client(), method)(path)
    assert answer.status_code == 401 and "token" in answer.get_json()["error"]
