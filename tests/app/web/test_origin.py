"""Writes only from the page's own origin: what another site or another port of the same host sends is
refused before it changes anything; the page itself, and scripts with the token, keep working."""
import cv2
import pytest

from app.web.origin import from_own_page
from tests.app.projection_helpers import fake_result

OTHER_PORT = "http://localhost:8000"     # another web app on the same machine: same site, other origin
PHOTO = "media/images/astronaut.png"


@pytest.fixture
def writes(backend, shared_file):
    """Every state-changing route, with something to change: (method, path, JSON body)."""
    photo = shared_file(PHOTO)
    backend.camera_frame = cv2.imread(str(photo))                  # a face for a camera job
    saved = backend.store.save(fake_result(backend.store.generator), "saved", source="camera")
    named = backend.store.save(fake_result(backend.store.generator), "named", source="camera")
    job = backend.projection.submit_photo(photo.read_bytes(), "upload:me.png", backend.projection.default_options)
    return [("POST", "/api/params", {"seed": 4242}), ("POST", "/api/project", {"source": "camera"}),
            ("DELETE", f"/api/project/{job.id}", None), ("DELETE", f"/api/projections/{saved.name}", None),
            ("PATCH", f"/api/projections/{named.name}", {"name": "renamed"})]


def state(backend):
    """What a write could change: the params, the jobs (and whether they were cancelled), the saved ones."""
    jobs = [(job.id, job.cancel_event.is_set()) for job in backend.projection.recent_jobs()]
    return backend.params.current(), jobs, [entry["name"] for entry in backend.projection.projections()]


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "same-site", "Origin": OTHER_PORT},
    {"Origin": OTHER_PORT},                                   # an older browser: no Sec-Fetch-Site
    {"Origin": "null"},                                       # a sandboxed frame or a file: page
])
def test_a_write_from_another_origin_is_refused_and_changes_nothing(client, backend, writes, headers):
    for method, path, body in writes:
        before = state(backend)
        answer = client.open(path, method=method, json=body, headers=headers)
        assert answer.status_code == 403, (method, path)
        assert "another origin" in answer.get_json()["error"]
        assert state(backend) == before, (method, path)


def test_the_same_writes_from_the_page_itself_go_through(client, backend, writes):
    for method, path, body in writes:
        before = state(backend)
        answer = client.open(path, method=method, json=body, headers={"Sec-Fetch-Site": "same-origin"})
        assert answer.status_code < 300, (method, path, answer.get_json())
        assert state(backend) != before, (method, path)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "POST", "DELETE"])
def test_every_method_but_get_head_and_options_is_a_write_refused_from_another_origin(client, method):
    answer = client.open("/api/params", method=method, json={"seed": 1}, headers={"Sec-Fetch-Site": "same-site"})
    assert answer.status_code == 403           # before routing: the method need not be one a route takes


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_put_or_patch_body_must_be_json_like_a_post(client, backend, method):
    before = state(backend)
    answer = client.open("/api/projections/anything", method=method, data=b'{"name": "x"}',
                         content_type="text/plain", headers={"Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 415 and answer.get_json()["field"] == "body"
    assert state(backend) == before


def test_a_cross_origin_write_is_refused_even_without_the_token(make_client, backend):
    client = make_client()          # no token presented: the origin is judged first
    answer = client.post("/api/params", json={"seed": 1}, headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},     # the page's own request
    {"Origin": "http://localhost"},                                     # the same, from an older browser
    {},                                                                 # a script, the token decides
])
def test_a_write_from_the_page_itself_or_a_script_is_served(client, backend, headers):
    answer = client.post("/api/params", json={"seed": 7}, headers=headers)
    assert answer.status_code == 200
    assert backend.params.current().params.seed == 7


def test_reads_from_another_origin_are_answered_since_the_browser_keeps_them_from_that_page(client):
    answer = client.get("/api/params", headers={"Sec-Fetch-Site": "cross-site", "Origin": OTHER_PORT})
    assert answer.status_code == 200
    assert "Access-Control-Allow-Origin" not in answer.headers


@pytest.mark.parametrize("fetch_site, origin, host, own", [
    ("same-origin", None, "cam.local:5000", True),
    ("none", None, "cam.local:5000", True),                   # typed into the address bar
    ("same-site", "http://cam.local:8000", "cam.local:5000", False),
    ("cross-site", "https://evil.example", "cam.local:5000", False),
    ("Cross-Site", None, "cam.local:5000", False),
    ("same-origin", "https://cam.example", "127.0.0.1:5000", True),   # a proxy that rewrites Host
    (None, "http://cam.local:5000", "cam.local:5000", True),
    (None, "http://192.168.1.20:5000", "192.168.1.20:5000", True),    # opened by address, not by name
    (None, "http://[::1]:5000", "[::1]:5000", True),
    (None, "HTTP://Cam.Local:5000", "cam.local:5000", True),
    (None, "https://cam.example", "cam.example", True),       # TLS ends at a proxy that keeps Host
    (None, "https://cam.example", "cam.example:443", True),
    (None, "http://cam.example", "cam.example:80", True),
    (None, "http://cam.local:8000", "cam.local:5000", False),  # another port of the same host
    (None, "http://cam.local.evil.example:5000", "cam.local:5000", False),
    (None, "https://cam.example", "cam.example:80", False),
    (None, "null", "cam.local:5000", False),
    (None, "file://", "cam.local:5000", False),
    (None, None, "cam.local:5000", True),                     # no browser page: the token decides
])
def test_the_page_is_known_by_fetch_metadata_else_by_origin_against_host(fetch_site, origin, host, own):
    assert from_own_page(fetch_site, origin, host) is own
