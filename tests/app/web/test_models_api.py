"""The model switcher's API: the generators listed by name (never a server path), a switch answered 202 and
followed in GET /api/models, a clear 400 for a name not listed or a file that cannot be used, 409 while another
switch loads; writes only from the page's own origin and with the token, like every write."""
import threading

import pytest

from app.web.config import ServerConfig
from app.web.factory import create_app
from tests.app.conftest import TOKEN
from tests.app.model_helpers import models_folder, switchable_stylecam
from tests.app.web.test_security_headers import EXPECTED


@pytest.fixture
def stylecam(tmp_path, monkeypatch, yunet_file):
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(tmp_path / "weights"))
    return switchable_stylecam(models_folder(tmp_path / "models"), yunet_file, tmp_path / "projections")


def client_for(stylecam, bearer=True):
    app = create_app(ServerConfig(token=TOKEN), stylecam.live, stylecam.projection, stylecam.studio, stylecam.models)
    client = app.test_client()
    if bearer:
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return client


@pytest.fixture
def client(stylecam):
    return client_for(stylecam)


def switch(client, body, **headers):
    return client.post("/api/models/switch", json=body, headers={"Sec-Fetch-Site": "same-origin", **headers})


def test_the_generators_are_listed_with_the_running_one_and_no_server_path(client, tmp_path):
    answer = client.get("/api/models")
    listing = answer.get_json()
    assert listing["current"] == "start.pt" and listing["switch"] is None
    assert [(model["name"], model["resolution"], model["num_ws"], model["current"]) for model in listing["models"]] \
        == [("bigger.pt", 64, 10, False), ("same-shape.pt", 32, 8, False), ("start.pt", 32, 8, True)]
    assert str(tmp_path) not in answer.get_data(as_text=True)


def test_a_switch_is_accepted_then_followed_until_the_status_shows_the_new_model(client, stylecam):
    answer = switch(client, {"model": "bigger.pt"})
    assert answer.status_code == 202 and answer.headers["Location"] == "/api/models"
    assert answer.get_json()["switch"]["model"] == "bigger.pt"
    stylecam.models.wait(30)
    listing = client.get("/api/models").get_json()
    assert listing["current"] == "bigger.pt" and listing["switch"]["state"] == "done"
    assert listing["switch"]["dropped"][0].startswith("seed, psi, style seed, sliders")
    assert client.get("/api/status").get_json()["model"]["weights"] == "bigger.pt"


@pytest.mark.parametrize("body, message", [
    ({"model": "absent.pt"}, "no generator named 'absent.pt' to switch to; there are: bigger.pt, broken.pt"),
    ({"model": "broken.pt"}, "broken.pt cannot be used: is not a StyleGAN2 weights file"),
    ({"model": 3}, "must be the name of a generator"),
])
def test_a_name_that_is_not_a_usable_generator_is_a_400_naming_the_field(client, stylecam, body, message):
    (stylecam.models.library.models_dir / "broken.pt").write_bytes(b"junk")
    answer = switch(client, body)
    assert answer.status_code == 400
    assert answer.get_json()["field"] == "model" and answer.get_json()["error"].startswith(message)
    assert stylecam.models.state()["switch"] is None


@pytest.mark.parametrize("body", [["bigger.pt"], {"model": "bigger.pt", "keep": True}, {}])
def test_a_body_of_another_shape_is_a_400(client, stylecam, body):
    answer = switch(client, body)
    assert answer.status_code == 400 and answer.get_json()["field"] == "body"
    assert stylecam.models.state()["switch"] is None


def test_a_body_that_is_not_json_is_a_415(client):
    answer = client.post("/api/models/switch", data="model=bigger.pt", headers={"Sec-Fetch-Site": "same-origin"},
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 415


def test_a_switch_while_another_loads_is_a_409_naming_it(client, stylecam):
    gate = threading.Event()
    build = stylecam.models.build
    stylecam.models.build = lambda entry: gate.wait(30) and build(entry)
    assert switch(client, {"model": "bigger.pt"}).status_code == 202
    answer = switch(client, {"model": "same-shape.pt"})
    assert answer.status_code == 409
    assert answer.get_json()["error"] == "a switch to bigger.pt is in progress; wait until it ends"
    assert client.get("/api/models").get_json()["switch"]["state"] == "loading"
    gate.set()
    assert stylecam.models.wait(30)["current"] == "bigger.pt"


def test_a_switch_from_another_origin_is_refused_and_starts_nothing(client, stylecam):
    answer = switch(client, {"model": "bigger.pt"}, **{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert stylecam.models.state()["switch"] is None


@pytest.mark.parametrize("method, path", [("GET", "/api/models"), ("POST", "/api/models/switch")])
def test_the_models_api_needs_the_token(stylecam, method, path):
    answer = client_for(stylecam, bearer=False).open(path, method=method, json={"model": "bigger.pt"},
                                                     headers={"Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 401
    assert stylecam.models.state()["switch"] is None


def test_the_models_api_answers_with_the_security_headers(client):
    for answer in (client.get("/api/models"), switch(client, {"model": "absent.pt"})):
        for header, value in EXPECTED.items():
            assert answer.headers[header] == value


def test_an_app_without_a_model_switcher_has_no_models_api(stylecam):
    app = create_app(ServerConfig(token=None), stylecam.live, stylecam.projection)
    assert app.test_client().get("/api/models").status_code == 404
