"""Switching generators under direction sliders: a generator whose W space the directions were not made for
is listed as unusable, with the reason, and refused; one they fit is switched to, the direction sliders carry
over, and the preview sheets render with the new generator.

The real StyleCam (not started) over the small random-weight generators of tests.app.model_helpers (test
fixtures: start.pt and same-shape.pt have 8 W layers of 32, bigger.pt 10)."""
import pytest

import stylegan2
from app.model_switch import ModelUnusable
from tests.app.direction_helpers import write_directions
from tests.app.model_helpers import models_folder, switchable_stylecam


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(tmp_path / "weights"))      # no registry model is downloaded
    return models_folder(tmp_path / "models")


@pytest.fixture
def stylecam(models_dir, yunet_file, tmp_path):
    traits = write_directions(tmp_path, stylegan2.load(models_dir / "start.pt").generator)
    return switchable_stylecam(models_dir, yunet_file, tmp_path / "projections", directions_paths=(str(traits),))


def listed(stylecam, name):
    return next(entry for entry in stylecam.models.listing()["models"] if entry["name"] == name)


def test_a_generator_the_directions_do_not_fit_is_listed_unusable_with_the_reason(stylecam):
    entry = listed(stylecam, "bigger.pt")
    assert not entry["usable"]
    assert entry["problem"] == ("the direction sliders of traits were made for a model with w_dim 32 and 8 layers, "
                                "this one has w_dim 32 and 10 layers (serve it without those directions)")
    assert listed(stylecam, "same-shape.pt")["usable"]


def test_a_switch_to_a_generator_the_directions_do_not_fit_is_refused(stylecam):
    with pytest.raises(ModelUnusable, match="bigger.pt cannot be used: the direction sliders of traits"):
        stylecam.models.switch("bigger.pt")
    assert stylecam.models.state()["current"] == "start.pt"


def test_direction_sliders_carry_over_and_previews_render_with_the_new_generator(stylecam):
    stylecam.params.update({"sliders": {"traits_smile": -0.5}})
    stylecam.models.switch("same-shape.pt")
    assert stylecam.models.wait(30)["switch"]["state"] == "done"
    assert stylecam.params.current().params.sliders["traits_smile"] == -0.5
    target = stylecam.preview_target()
    assert target.model == "same-shape.pt"
    assert target.generator is stylecam.models.current()
    assert target.face_generator is stylecam.pipeline.generation.face_generator
