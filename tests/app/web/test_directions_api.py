"""The API of direction sliders: presets say each slider's kind, range and layers; params take a direction
slider's signed value and refuse what is out of range; the preview route answers a labelled JPEG grid,
404 for a name that is no slider or set, 400 for bad seeds.

Uses a small random-weight 64 px generator (10 W+ layers, w_dim 32), a test fixture only.
"""
import cv2
import numpy as np
import pytest

from app.live.buffers import LatestBuffer
from app.live.generation import FaceGenerator
from app.live.params_store import ParamsStore
from app.live.presets import load_presets
from app.live.viewers import Viewers
from app.studio.direction_previews import COLUMNS, DirectionPreviews, PreviewTarget
from app.studio.grids import GridCanvas
from app.web.config import ServerConfig
from app.web.factory import create_app
from app.web.interfaces import LiveControls
from stylegan2.inference import InferenceGenerator
from stylegan2.testing import make_random_generator
from tests.app.conftest import TOKEN
from tests.app.direction_helpers import MIX_ENTRY, SMILE_ENTRY, write_directions, write_presets


@pytest.fixture
def directions_client(tmp_path, backend):
    """A client of a StyleCam whose sliders are a style-mixing one and a direction of traits.pt."""
    G = make_random_generator(resolution=64)
    write_directions(tmp_path, G)
    presets = load_presets(write_presets(tmp_path, MIX_ENTRY, SMILE_ENTRY), G)
    params = ParamsStore(presets)
    target = PreviewTarget(FaceGenerator(InferenceGenerator(G), presets), G, "random-g64")
    previews = DirectionPreviews(presets, lambda: target, lambda: params.current().params, lambda: True)
    previews.start()
    live = LiveControls(params, LatestBuffer(), Viewers(idle_after_s=None), lambda: {},
                        direction_previews=previews)
    client = create_app(ServerConfig(token=TOKEN), live, backend.projection).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    yield client
    previews.stop()


def decode(answer) -> np.ndarray:
    assert answer.status_code == 200 and answer.mimetype == "image/jpeg"
    return cv2.imdecode(np.frombuffer(answer.data, np.uint8), cv2.IMREAD_COLOR)


def test_presets_say_each_sliders_kind_range_and_layers(directions_client):
    hair, smile = directions_client.get("/api/presets").get_json()
    assert (hair["kind"], hair["min"], hair["max"]) == ("mix", 0.0, 1.0)
    assert (smile["kind"], smile["min"], smile["range"], smile["layers"]) == ("direction", -1.0, 2.5, "0:4")
    assert (smile["directions"], smile["direction"]) == ("traits", "smile")


def test_a_direction_slider_takes_a_negative_value(directions_client):
    answer = directions_client.post("/api/params", json={"sliders": {"smile_found": -0.5}})
    assert answer.status_code == 200 and answer.get_json()["sliders"]["smile_found"] == -0.5


@pytest.mark.parametrize("sliders, field", [({"smile_found": 1.5}, "sliders.smile_found"),
                                            ({"smile_found": -2}, "sliders.smile_found"),
                                            ({"hair": -0.5}, "sliders.hair")])
def test_a_slider_out_of_its_range_is_refused_naming_it(directions_client, sliders, field):
    answer = directions_client.post("/api/params", json={"sliders": sliders})
    assert answer.status_code == 400 and answer.get_json()["field"] == field
    assert directions_client.get("/api/params").get_json()["sliders"] == {"hair": 0.0, "smile_found": 0.0}


def test_directions_lists_the_sliders_and_sets_to_preview(directions_client):
    listed = directions_client.get("/api/directions").get_json()
    assert [slider["name"] for slider in listed["sliders"]] == ["smile_found"]
    assert listed["sets"] == [{"name": "traits", "directions": ["smile", "age"]}]


def test_a_sliders_preview_is_a_row_of_the_current_face_at_each_strength(directions_client):
    sheet = decode(directions_client.get("/api/directions/smile_found/preview.jpg"))
    grid = GridCanvas(1, COLUMNS, 64, ["Smile (found), seed 0"], ["-2.5", "-1.25", "0", "+1.25", "+2.5"])
    assert sheet.shape == grid.image.shape


def test_a_sets_preview_has_a_row_per_direction_and_seed(directions_client):
    sheet = decode(directions_client.get("/api/directions/traits/preview.jpg?seeds=1,2"))
    labels = ["smile, seed 1", "smile, seed 2", "age, seed 1", "age, seed 2"]
    assert sheet.shape == GridCanvas(4, COLUMNS, 64, labels, ["-3", "-1.5", "0", "+1.5", "+3"]).image.shape


def test_a_preview_of_an_unknown_name_is_a_404_naming_what_there_is(directions_client):
    answer = directions_client.get("/api/directions/frown/preview.jpg")
    assert answer.status_code == 404
    assert "no direction slider or directions set named 'frown'; there are smile_found, traits" in \
        answer.get_json()["error"]


@pytest.mark.parametrize("seeds", ["me", "1-9", "", "5" * 200])
def test_a_preview_with_bad_seeds_is_a_400(directions_client, seeds):
    answer = directions_client.get(f"/api/directions/traits/preview.jpg?seeds={seeds}")
    assert answer.status_code == 400 and answer.get_json()["field"] == "seeds"


def test_without_direction_sliders_there_is_nothing_to_preview(client):
    assert client.get("/api/directions").get_json() == {"sliders": [], "sets": []}
    assert client.get("/api/directions/smile/preview.jpg").status_code == 404
