"""Bodies and addresses built to hurt: deep nesting, megabyte names, damaged photos. Each gets a small,
clear 4xx that leaks nothing, and changes nothing."""
import io

import pytest

from app.web.bodies import MAX_JSON_DEPTH, nesting_depth

HUGE = 7 << 20                    # a 7 MB name, as the probe sent
SMALL_ANSWER = 2048               # bytes: room for any message StyleCam writes, nowhere near an echo
SHORTENED_KEY = "kkk"             # what is left of the name, e.g. "kkk...(7340032 characters)"


def nested(levels: int) -> str:
    return '{"sliders": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


@pytest.mark.parametrize("route", ["/api/params", "/api/project"])
@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 100_000])      # beyond the limit; beyond Python's
def test_json_nested_too_deeply_gets_400_and_changes_nothing(client, backend, route, levels):
    before = backend.params.current(), backend.projection.recent_jobs()
    answer = client.post(route, data=nested(levels), content_type="application/json")
    assert answer.status_code == 400
    assert answer.get_json() == {"error": answer.get_json()["error"], "field": "body"}
    assert "nested too deeply" in answer.get_json()["error"]
    assert (backend.params.current(), backend.projection.recent_jobs()) == before


def test_json_as_deep_as_the_limit_is_read(client):
    answer = client.post("/api/params", data=nested(MAX_JSON_DEPTH), content_type="application/json")
    assert answer.status_code == 400 and answer.get_json()["field"] == "sliders"    # read, then judged


@pytest.mark.parametrize("value, depth", [(1, 0), ("[[]]", 0), ([], 1), ({"a": [1, {"b": []}]}, 4),
                                          ([[1], [[2]], 3], 3)])
def test_nesting_depth_counts_levels_of_arrays_and_objects(value, depth):
    assert nesting_depth(value) == depth


@pytest.mark.parametrize("route, body, field", [
    ("/api/params", {"k" * HUGE: 1}, SHORTENED_KEY),
    ("/api/params", {"sliders": {"k" * HUGE: 0.5}}, "sliders." + SHORTENED_KEY),
    ("/api/params", {"projection": "k" * HUGE}, "projection"),
    ("/api/project", {"k" * HUGE: 1}, SHORTENED_KEY),
    ("/api/project", {"name": "k" * HUGE}, "name"),
])
def test_a_huge_name_is_not_echoed_back(make_client, route, body, field):
    client = make_client(bearer=True, max_request_bytes=8 << 20)
    answer = client.post(route, json=body)
    assert answer.status_code == 400
    assert len(answer.data) < SMALL_ANSWER
    assert answer.get_json()["field"].startswith(field)


def test_a_huge_projection_name_in_the_address_is_not_echoed_back(client):
    answer = client.get("/api/projections/" + "k" * 200_000)
    assert answer.status_code == 404
    assert len(answer.data) < SMALL_ANSWER


def test_a_huge_model_fingerprint_with_an_upload_is_not_echoed_back(client, shared_file):
    photo = shared_file("media/images/astronaut.png").read_bytes()
    answer = client.post("/api/project", content_type="multipart/form-data",
                         data={"image": (io.BytesIO(photo), "me.png"), "aligned": "1", "model": "f" * 400_000})
    assert answer.status_code == 409 and answer.get_json()["field"] == "model"
    assert len(answer.data) < SMALL_ANSWER


def test_an_undecodable_photo_gets_a_reason_without_a_memory_address(client):
    answer = client.post("/api/project", content_type="multipart/form-data",
                         data={"image": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(30)), "me.png")})
    assert answer.status_code == 400
    assert answer.get_json()["error"].endswith("cannot identify image file")
