"""The JSON API: params updates are all-or-nothing, bad input names its field, errors share one shape."""
import pytest


def test_get_params_returns_the_current_params(client, backend):
    answer = client.get("/api/params")
    assert answer.status_code == 200
    assert answer.get_json() == backend.params.current().params.to_json()


def test_post_params_applies_a_partial_update_and_returns_the_result(client, backend):
    answer = client.post("/api/params", json={"seed": 42, "sliders": {"smile": 0.5}})
    assert answer.status_code == 200
    assert answer.get_json()["seed"] == 42
    assert backend.params.current().params.seed == 42
    assert backend.params.current().params.sliders["smile"] == 0.5
    assert backend.params.current().params.sliders["hair"] == 0.0


def test_params_answers_carry_the_version_that_stream_frames_show(client):
    assert client.get("/api/params").headers["X-Params-Version"] == "1"      # the defaults
    assert client.post("/api/params", json={"seed": 1}).headers["X-Params-Version"] == "2"


def test_a_post_answer_carries_the_version_of_its_own_update_even_if_another_lands_at_once(client, backend,
                                                                                          monkeypatch):
    apply = backend.params.update

    def update_then_another_client_updates(payload):
        answer = apply(payload)
        apply({"seed": 99})                  # another request's update, made before this answer is sent
        return answer

    monkeypatch.setattr(backend.params, "update", update_then_another_client_updates)
    answer = client.post("/api/params", json={"seed": 1})
    assert answer.get_json()["seed"] == 1
    assert answer.headers["X-Params-Version"] == "2"


@pytest.mark.parametrize("payload, field", [
    ({"colour": "blue"}, "colour"),                            # unknown field
    ({"seed": "42"}, "seed"),                                  # wrong type
    ({"psi": True}, "psi"),                                    # a bool is not a number
    ({"seed": -1}, "seed"),                                    # out of range
    ({"psi": 1.5}, "psi"),
    ({"mode": "cartoon"}, "mode"),
    ({"sliders": {"smile": 2}}, "sliders.smile"),
    ({"sliders": {"nose": 0.5}}, "sliders.nose"),              # unknown preset
    ({"seed": 7, "style_seed": 2 ** 32}, "style_seed"),        # one bad field spoils the whole update
    ({"psi": 10 ** 400}, "psi"),                               # JSON integers have no size limit
    ({"sliders": {"smile": 10 ** 400}}, "sliders.smile"),
    ({"seed": -10 ** 400}, "seed"),
    ([1, 2], "body"),                                          # JSON, but not an object
])
def test_bad_params_get_400_naming_the_field_and_change_nothing(client, backend, payload, field):
    before = backend.params.current().params
    answer = client.post("/api/params", json=payload)
    assert answer.status_code == 400
    assert answer.get_json()["field"] == field
    assert answer.get_json()["error"]
    assert backend.params.current().params == before


@pytest.mark.parametrize("body, content_type", [
    ("seed=42", "application/x-www-form-urlencoded"),          # what a form on another site sends
    ('{"seed": 42}', "text/plain"),                            # JSON in disguise, as a cross-site fetch sends it
    ('{"seed": 42}', None),
])
def test_a_body_not_sent_as_json_gets_415_and_changes_nothing(client, backend, body, content_type):
    before = backend.params.current().params
    answer = client.post("/api/params", data=body, content_type=content_type)
    assert answer.status_code == 415
    assert answer.get_json()["field"] == "body"
    assert backend.params.current().params == before


def test_a_json_body_that_does_not_parse_gets_400_and_changes_nothing(client, backend):
    before = backend.params.current().params
    answer = client.post("/api/params", data='{"seed": 42', content_type="application/json")
    assert answer.status_code == 400
    assert answer.get_json()["field"] == "body"
    assert backend.params.current().params == before


def test_status_adds_the_number_of_open_streams(client, backend):
    status = client.get("/api/status").get_json()
    assert status["device"] == "cpu"
    assert status["stream_clients"] == 0


def test_presets_list_name_label_and_layers(client):
    presets = client.get("/api/presets").get_json()
    smile = next(preset for preset in presets if preset["name"] == "smile")
    assert smile["label"] == "Smile"
    assert smile["layers"] == "3:5"


def test_unknown_path_gets_a_json_404(client):
    answer = client.get("/api/nothing-here")
    assert answer.status_code == 404
    assert "error" in answer.get_json()


def test_wrong_method_gets_a_json_405(client):
    answer = client.delete("/api/params")
    assert answer.status_code == 405
    assert "error" in answer.get_json()
    assert set(answer.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_too_large_a_body_gets_a_json_413(make_client):
    client = make_client(token=None, max_request_bytes=1024)
    answer = client.post("/api/params", json={"seed": 1, "padding": "x" * 2048})
    assert answer.status_code == 413
    assert "1024 bytes" in answer.get_json()["error"]


def test_a_crash_gets_a_json_500_without_details(client, backend, monkeypatch):
    def broken_status():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(backend, "status", broken_status)
    answer = client.get("/api/status")
    assert answer.status_code == 500
    assert "secret" not in answer.get_json()["error"]


def test_faces_lists_the_tracked_faces_as_the_pipeline_gives_them(client, backend):
    backend.tracked = {"frame_size": [640, 480], "faces": [{"id": 3, "box": [10, 20, 100, 120], "choice": None}]}
    assert client.get("/api/faces").get_json() == backend.tracked


def test_a_face_of_its_own_is_an_ordinary_params_update(client, backend):
    answer = client.post("/api/params", json={"faces": {"3": {"seed": 42}}})
    assert answer.status_code == 200 and answer.get_json()["faces"] == {"3": {"seed": 42}}
    answer = client.post("/api/params", json={"faces": {"x": {"seed": 42}}})
    assert answer.status_code == 400 and answer.get_json()["field"] == "faces.x"
