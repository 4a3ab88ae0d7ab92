"""Switching the running generator without a restart: the next face renders with the new one, the params carry
over where the latents mean the same, projections only to the weights they were made with, a failed load
keeps the old generator, one switch at a time, the old generator is released, and under direction sliders
only generators of their W space are offered.

The StyleCam here is the real one (not started: the tests drive its generation worker themselves), over
small random-weight generators in a models folder (test fixtures: 32 px = 8 W layers, 64 px = 10)."""
import gc
import os
import shutil
import threading
import weakref

import numpy as np
import pytest
import torch

import stylegan2
from app.images import from_engine
from app.model_library import UnknownModel
from app.model_switch import ModelUnusable, SwitchInProgress
from stylegan2.inference import InferenceGenerator
from stylegan2.latents import seed_to_ws
from tests.app.direction_helpers import write_directions
from tests.app.model_helpers import models_folder, switchable_stylecam
from tests.app.projection_helpers import fake_result


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(tmp_path / "weights"))      # no registry model is downloaded
    return models_folder(tmp_path / "models")


@pytest.fixture
def stylecam(models_dir, yunet_file, tmp_path):
    return switchable_stylecam(models_dir, yunet_file, tmp_path / "projections")


def switched(stylecam, name):
    stylecam.models.switch(name)
    state = stylecam.models.wait(30)
    assert state["switch"]["state"] in ("done", "failed")
    return state


def generated_face(stylecam):
    """What the generation worker publishes for the current params."""
    generation = stylecam.pipeline.generation
    versioned = stylecam.params.current()
    generation.generate(versioned.version, versioned.params)
    return generation.output.latest()[1]


def expected_image(path, seed, psi):
    G = stylegan2.load(path).generator
    with torch.inference_mode():
        return from_engine(InferenceGenerator(G, precision="fp32").synthesis(seed_to_ws(G, seed, psi=psi),
                                                                             noise_mode="const"))


def test_the_listing_marks_the_running_generator(stylecam):
    listing = stylecam.models.listing()
    assert listing["current"] == "start.pt" and listing["switch"] is None
    assert [(entry["name"], entry["current"]) for entry in listing["models"]] == [
        ("bigger.pt", False), ("same-shape.pt", False), ("start.pt", True)]


def test_a_generator_started_from_outside_the_folder_is_listed_to_switch_back_to(models_dir, yunet_file, tmp_path):
    own = tmp_path / "elsewhere" / "own.pt"
    own.parent.mkdir()
    shutil.copy(models_dir / "start.pt", own)
    stylecam = switchable_stylecam(models_dir, yunet_file, tmp_path / "projections", weights=str(own))
    assert [(entry["name"], entry["source"], entry["current"]) for entry in stylecam.models.listing()["models"]][-1] \
        == ("own.pt", "started", True)
    assert switched(stylecam, "bigger.pt")["switch"]["state"] == "done"
    assert switched(stylecam, "own.pt")["switch"]["state"] == "done"
    assert stylecam.status()["model"]["weights"] == "own.pt"


def test_after_a_switch_the_next_face_is_the_new_generators_and_until_then_the_old_one_stays(stylecam, models_dir):
    stylecam.params.update({"seed": 7})
    old_face = generated_face(stylecam).face
    assert switched(stylecam, "bigger.pt")["switch"]["state"] == "done"
    assert stylecam.pipeline.generation.output.latest()[1].face is old_face      # the stream keeps it meanwhile
    new_face = generated_face(stylecam).face
    assert np.array_equal(new_face.image, expected_image(models_dir / "bigger.pt", 0, 0.7))   # seed reset: 8 -> 10
    assert stylecam.models.current().img_resolution == 64


def test_the_status_shows_the_new_generator(stylecam):
    switched(stylecam, "bigger.pt")
    model = stylecam.status()["model"]
    assert (model["weights"], model["resolution"], model["num_ws"]) == ("bigger.pt", 64, 10)


def test_params_carry_over_to_a_generator_with_the_same_layers(stylecam, models_dir):
    preset = stylecam.params.presets[0].name
    before = stylecam.params.update({"seed": 7, "psi": 0.5, "style_seed": 9, "sliders": {preset: 0.5},
                                     "keep_mouth": 0.3})
    state = switched(stylecam, "same-shape.pt")
    after = stylecam.params.current()
    assert after.params == before.params and after.version > before.version
    assert state["switch"]["carried"] == ["seed 7, psi 0.5, style seed 9 and the sliders (both generators have "
                                          "8 W layers of 32)"]
    assert state["switch"]["dropped"] == []


def test_the_same_seed_renders_the_new_generators_face_for_it(stylecam, models_dir):
    stylecam.params.update({"seed": 7})
    old_face = generated_face(stylecam).face
    switched(stylecam, "same-shape.pt")
    new_face = generated_face(stylecam).face
    assert np.array_equal(new_face.image, expected_image(models_dir / "same-shape.pt", 7, 0.7))
    assert not np.array_equal(new_face.image, old_face.image)


def test_params_start_over_on_a_generator_with_other_layers_and_the_answer_says_so(stylecam):
    preset = stylecam.params.presets[0].name
    stylecam.params.update({"seed": 7, "psi": 0.5, "style_seed": 9, "sliders": {preset: 0.5}, "keep_mouth": 0.3})
    state = switched(stylecam, "bigger.pt")
    params = stylecam.params.current().params
    assert (params.seed, params.psi, params.style_seed, params.sliders[preset]) == (0, 0.7, 1, 0.0)
    assert params.keep_mouth == 0.3                                             # compositing: always carried
    assert state["switch"]["dropped"] == ["seed, psi, style seed, sliders and the faces' own seeds reset: "
                                          "bigger.pt has 10 W layers of 32, the previous generator 8 W layers of 32"]


def save_projection(stylecam, name):
    store = stylecam.projection.store
    store.save(fake_result(store.generator), name, source="camera")


def test_a_projection_of_the_old_generator_is_dropped_and_the_answer_names_it(stylecam):
    save_projection(stylecam, "me")
    stylecam.params.update({"mode": "me", "projection": "me", "style_projection": "me", "faces": {"3": {"projection": "me"}}})
    state = switched(stylecam, "same-shape.pt")
    params = stylecam.params.current().params
    assert (params.mode, params.projection, params.style_projection, dict(params.faces)) == ("seed", None, None, {})
    assert state["switch"]["dropped"] == [
        "projection 'me' was made with start.pt; mode set to seed",
        "style projection 'me' was made with start.pt; the sliders mix in the style seed",
        "face 3's projection 'me' was made with start.pt; it shows everyone's face"]


def test_a_projection_carries_to_the_same_weights_in_another_file(stylecam, models_dir):
    shutil.copy(models_dir / "start.pt", models_dir / "copy.pt")
    save_projection(stylecam, "me")
    stylecam.params.update({"mode": "me", "projection": "me"})
    state = switched(stylecam, "copy.pt")
    assert stylecam.params.current().params.projection == "me"
    assert "projection 'me' (made with these weights)" in state["switch"]["carried"]
    assert generated_face(stylecam).face is not None


def test_projections_of_the_new_generator_can_be_selected_after_a_switch_and_the_old_ones_not(stylecam):
    save_projection(stylecam, "old")
    switched(stylecam, "bigger.pt")
    save_projection(stylecam, "new")
    assert stylecam.params.update({"projection": "new"}).params.projection == "new"
    with pytest.raises(ValueError, match="projection .old. was made for a generator with 8 layers"):
        stylecam.params.update({"projection": "old"})


def test_a_generator_that_fails_to_load_leaves_the_old_one_running_and_says_why(stylecam, models_dir):
    stylecam.params.update({"seed": 7})
    before = stylecam.params.current()
    old = stylecam.models.current()
    stylecam.models.listing()                           # the file is listed as usable...
    path = models_dir / "same-shape.pt"
    stat = path.stat()
    path.write_bytes(b"\0" * stat.st_size)              # ...and damaged afterwards, looking the same from outside
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    state = switched(stylecam, "same-shape.pt")
    assert state["current"] == "start.pt" and state["switch"]["state"] == "failed"
    assert state["switch"]["error"].startswith("switching to same-shape.pt failed: ")
    assert state["switch"]["error"].endswith("; start.pt goes on") and str(models_dir) not in state["switch"]["error"]
    assert stylecam.models.current() is old and stylecam.params.current() == before


def test_a_second_switch_while_one_loads_is_refused_naming_it(stylecam):
    gate = threading.Event()
    build = stylecam.models.build
    stylecam.models.build = lambda entry: gate.wait(30) and build(entry)
    stylecam.models.switch("bigger.pt")
    with pytest.raises(SwitchInProgress, match="a switch to bigger.pt is in progress"):
        stylecam.models.switch("same-shape.pt")
    assert stylecam.models.state()["switch"]["state"] == "loading"
    gate.set()
    assert stylecam.models.wait(30)["current"] == "bigger.pt"


def test_an_unknown_or_unusable_generator_is_refused_before_anything_loads(stylecam, models_dir):
    (models_dir / "broken.pt").write_bytes(b"junk")
    with pytest.raises(UnknownModel):
        stylecam.models.switch("absent.pt")
    with pytest.raises(ModelUnusable, match="broken.pt cannot be used: is not a StyleGAN2 weights file"):
        stylecam.models.switch("broken.pt")
    assert stylecam.models.state()["switch"] is None


def test_the_old_generator_is_released_after_a_switch(stylecam):
    generated_face(stylecam)
    old = weakref.ref(stylecam.models.current())
    switched(stylecam, "bigger.pt")
    generated_face(stylecam)
    gc.collect()
    assert old() is None


def test_after_a_switch_projections_are_made_for_the_new_generator(stylecam):
    old_fingerprint = stylecam.projection.fingerprint
    switched(stylecam, "bigger.pt")
    new = stylecam.models.current()
    assert stylecam.projection.finder.resolution == 64
    assert stylecam.projection.jobs.projector.generator is new and stylecam.projection.jobs.store.generator is new
    assert stylecam.projection.fingerprint != old_fingerprint


# --- under direction sliders: a generator the directions were not made for is refused; they carry to one
# --- they fit, and the preview sheets render with the new generator ------------------------------------
@pytest.fixture
def directed_stylecam(models_dir, yunet_file, tmp_path):
    """The StyleCam of these tests with a slider of each direction of traits.pt, made for start.pt."""
    traits = write_directions(tmp_path, stylegan2.load(models_dir / "start.pt").generator)
    return switchable_stylecam(models_dir, yunet_file, tmp_path / "projections", directions_paths=(str(traits),))


def listed(stylecam, name):
    return next(entry for entry in stylecam.models.listing()["models"] if entry["name"] == name)


def test_a_generator_the_directions_do_not_fit_is_listed_unusable_with_the_reason(directed_stylecam):
    entry = listed(directed_stylecam, "bigger.pt")
    assert not entry["usable"]
    assert entry["problem"] == ("the direction sliders of traits were made for a model with w_dim 32 and 8 layers, "
                                "this one has w_dim 32 and 10 layers (serve it without those directions)")
    assert listed(directed_stylecam, "same-shape.pt")["usable"]


def test_a_switch_to_a_generator_the_directions_do_not_fit_is_refused(directed_stylecam):
    with pytest.raises(ModelUnusable, match="bigger.pt cannot be used: the direction sliders of traits"):
        directed_stylecam.models.switch("bigger.pt")
    assert directed_stylecam.models.state()["current"] == "start.pt"


def test_direction_sliders_carry_over_and_previews_render_with_the_new_generator(directed_stylecam):
    directed_stylecam.params.update({"sliders": {"traits_smile": -0.5}})
    directed_stylecam.models.switch("same-shape.pt")
    assert directed_stylecam.models.wait(30)["switch"]["state"] == "done"
    assert directed_stylecam.params.current().params.sliders["traits_smile"] == -0.5
    target = directed_stylecam.preview_target()
    assert target.model == "same-shape.pt"
    assert target.generator is directed_stylecam.models.current()
    assert target.face_generator is directed_stylecam.pipeline.generation.face_generator
