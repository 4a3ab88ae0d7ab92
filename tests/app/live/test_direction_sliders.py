"""Direction sliders: presets entries of kind "direction" read their directions file and are refused with
the entry named when they cannot work; a slider at s moves W+ by exactly s x range x the direction's step
on its layers; the face is rendered again only when a strength changes.

Uses a small random-weight 64 px generator (10 W+ layers, w_dim 32), a test fixture only.
"""
from dataclasses import replace

import pytest
import torch

from app.library import default_models_dir, directions_dir
from app.live.generation import FaceGenerator
from app.live.params import ParamsError, apply_update, default_params
from app.live.presets import DEFAULT_RANGE, PresetsError, direction_presets, load_presets, slider_presets
from stylegan2.inference import InferenceGenerator
from stylegan2.studio.directions import load_directions
from stylegan2.testing import make_random_generator
from tests.app.direction_helpers import MIX_ENTRY, SMILE_ENTRY, write_directions, write_presets


@pytest.fixture(scope="module")
def generator():
    return make_random_generator(resolution=64)


@pytest.fixture
def traits(tmp_path, generator):
    return write_directions(tmp_path, generator)


@pytest.fixture
def presets(tmp_path, traits, generator):
    return load_presets(write_presets(tmp_path, MIX_ENTRY, SMILE_ENTRY), generator)


@pytest.fixture
def face_generator(generator, presets):
    return FaceGenerator(InferenceGenerator(generator), presets)


# --- the user's folders -------------------------------------------------------------------------------------
def test_the_models_folder_is_the_environments_else_the_users_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLECAM_MODELS", str(tmp_path / "models"))
    assert default_models_dir() == tmp_path / "models"
    monkeypatch.delenv("STYLECAM_MODELS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_models_dir() == tmp_path / "data" / "stylecam" / "models"
    assert directions_dir() == tmp_path / "data" / "stylecam" / "models" / "directions"


# --- presets files --------------------------------------------------------------------------------------------
def test_a_direction_entry_names_its_set_direction_range_and_the_sets_layers(presets, traits):
    mix, smile = presets
    assert (mix.kind, smile.kind) == ("mix", "direction")
    assert (smile.direction.set_name, smile.direction.name, smile.direction.range) == ("traits", "smile", 2.5)
    assert (smile.layers, smile.num_ws) == (slice(0, 4), 10)
    assert torch.equal(smile.direction.step(), load_directions(traits).steps()[0])


def test_a_direction_entry_may_choose_its_layers_and_defaults_to_three_steps(tmp_path, traits, generator):
    entry = {**SMILE_ENTRY, "layers": "2:6"}
    del entry["range"]
    [smile] = load_presets(write_presets(tmp_path, entry), generator)
    assert (smile.layers, smile.direction.range) == (slice(2, 6), DEFAULT_RANGE)


def test_a_directions_file_is_found_in_the_users_directions_folder(tmp_path, generator, monkeypatch):
    monkeypatch.setenv("STYLECAM_MODELS", str(tmp_path / "models"))
    (tmp_path / "models" / "directions").mkdir(parents=True)
    write_directions(tmp_path / "models" / "directions", generator)
    (tmp_path / "elsewhere").mkdir()
    [smile] = load_presets(write_presets(tmp_path / "elsewhere", SMILE_ENTRY), generator)
    assert smile.direction.path == tmp_path / "models" / "directions" / "traits.pt"


def test_presets_json_lists_kind_range_and_layers_but_never_the_path(presets):
    shown = presets[1].to_json()
    assert shown["kind"] == "direction" and shown["range"] == 2.5 and shown["layers"] == "0:4"
    assert (shown["directions"], shown["direction"], shown["min"], shown["max"]) == ("traits", "smile", -1.0, 1.0)
    assert "/" not in str(shown)
    assert presets[0].to_json()["kind"] == "mix" and presets[0].to_json()["min"] == 0.0


@pytest.mark.parametrize("change, message", [
    ({"directions": "missing.pt"}, r"presets\[0\].directions \(smile_found\): no directions file 'missing.pt' in"),
    ({"direction": "frown"}, r"presets\[0\].direction \(smile_found\): traits.pt has no direction 'frown'; "
                             r"it has 'smile', 'age'"),
    ({"range": 0}, r"presets\[0\].range \(smile_found\): .* above 0 and at most 20"),
    ({"range": "3"}, r"presets\[0\].range"),
    ({"range": float("inf")}, r"presets\[0\].range"),
    ({"layers": "4:12"}, r"presets\[0\].layers \(smile_found\): .*within 0:10"),
    ({"source": "style"}, r"presets\[0\]: a direction slider needs name, label, directions"),
    ({"kind": "warp"}, r"presets\[0\].kind: one of mix, direction"),
])
def test_a_bad_direction_entry_is_refused_naming_file_and_entry(tmp_path, traits, generator, change, message):
    path = write_presets(tmp_path, {**SMILE_ENTRY, **change})
    with pytest.raises(PresetsError, match=f"presets file {path}: {message}"):
        load_presets(path, generator)


def test_a_set_made_for_another_model_is_refused_saying_what_differs(tmp_path, generator):
    write_directions(tmp_path, generator, w_dim=64)
    path = write_presets(tmp_path, SMILE_ENTRY)
    with pytest.raises(PresetsError, match=r"presets\[0\].directions \(smile_found\): traits.pt was made for a "
                                           r"model with w_dim 64 and 10 layers; this model has w_dim 32 and 10"):
        load_presets(path, generator)


def test_a_file_that_is_not_a_directions_file_is_refused(tmp_path, generator):
    (tmp_path / "traits.pt").write_bytes(b"not a torch file")
    with pytest.raises(PresetsError, match=r"presets\[0\].directions \(smile_found\): .*traits.pt: not a readable"):
        load_presets(write_presets(tmp_path, SMILE_ENTRY), generator)


def test_serve_directions_makes_a_slider_of_every_direction(traits, generator):
    smile, age = direction_presets(traits, generator)
    assert (smile.name, smile.label, age.name) == ("traits_smile", "smile", "traits_age")
    assert smile.direction.range == DEFAULT_RANGE and smile.layers == slice(0, 4)


def test_serve_directions_refuses_a_set_of_another_model(tmp_path, generator):
    path = write_directions(tmp_path, generator, num_ws=14)
    with pytest.raises(PresetsError, match=r"--directions .*traits.pt: traits.pt was made for a model with "
                                           r"w_dim 32 and 14 layers"):
        direction_presets(path, generator)


def test_a_set_given_twice_is_refused_by_its_repeated_slider_names(traits, generator):
    with pytest.raises(PresetsError, match="repeated: traits_age, traits_smile"):
        slider_presets(None, [traits, traits], generator)


def test_two_directions_files_of_the_same_name_are_refused(tmp_path, traits, generator):
    (tmp_path / "other").mkdir()
    other = write_directions(tmp_path / "other", generator, names=("pose",))
    with pytest.raises(PresetsError, match=r"two directions files are called 'traits' \(.*traits.pt and "
                                           r".*other/traits.pt\); rename one"):
        slider_presets(write_presets(tmp_path, SMILE_ENTRY), [other], generator)


# --- params -----------------------------------------------------------------------------------------------------
def test_a_direction_slider_takes_minus_one_to_one(presets):
    params = apply_update(default_params(presets), {"sliders": {"smile_found": -1}}, presets)
    assert params.sliders["smile_found"] == -1.0


@pytest.mark.parametrize("value", [-1.01, 1.5, "0.5", None, True])
def test_a_direction_slider_out_of_range_names_the_slider(presets, value):
    with pytest.raises(ParamsError, match=r"between -1 and 1|must be a number") as raised:
        apply_update(default_params(presets), {"sliders": {"smile_found": value}}, presets)
    assert raised.value.field == "sliders.smile_found"


def test_a_style_mixing_slider_still_takes_zero_to_one_only(presets):
    with pytest.raises(ParamsError, match="between 0 and 1") as raised:
        apply_update(default_params(presets), {"sliders": {"hair": -0.5}}, presets)
    assert raised.value.field == "sliders.hair"


# --- generation ---------------------------------------------------------------------------------------------------
def test_a_direction_slider_moves_w_by_strength_times_range_times_step_on_its_layers_only(face_generator, presets):
    plain = default_params(presets)
    moved = face_generator.edited_ws(replace(plain, sliders={"smile_found": -0.4})) - face_generator.edited_ws(plain)
    step = presets[1].direction.step()
    torch.testing.assert_close(moved[0, 0:4], (-0.4 * 2.5 * step).expand(4, -1))
    assert torch.equal(moved[0, 4:], torch.zeros_like(moved[0, 4:]))


def test_direction_sliders_apply_after_the_style_mixing_edits(face_generator, presets):
    mixed = replace(default_params(presets), sliders={"hair": 1.0})
    both = replace(mixed, sliders={"hair": 1.0, "smile_found": 1.0})
    moved = face_generator.edited_ws(both) - face_generator.edited_ws(mixed)
    torch.testing.assert_close(moved[0, 0:4], (2.5 * presets[1].direction.step()).expand(4, -1))


def test_a_direction_on_a_face_of_its_own_gets_the_same_edit(face_generator, presets):
    params = apply_update(default_params(presets), {"sliders": {"smile_found": 0.5}, "faces": {"3": {"seed": 9}}},
                          presets)
    choice = params.faces[3]
    moved = face_generator.edited_ws(params, choice) - face_generator.edited_ws(replace(params, sliders={}), choice)
    torch.testing.assert_close(moved[0, 0:4], (0.5 * 2.5 * presets[1].direction.step()).expand(4, -1))


def test_the_image_key_changes_with_a_direction_strength_and_not_otherwise(face_generator, presets):
    plain = default_params(presets)
    key = face_generator.image_key
    assert key(replace(plain, sliders={"smile_found": 0.3})) != key(replace(plain, sliders={"smile_found": -0.3}))
    assert key(replace(plain, sliders={"smile_found": 0.0})) == key(plain)
    assert key(replace(plain, sliders={"smile_found": 0.3}, style_seed=5)) == \
        key(replace(plain, sliders={"smile_found": 0.3}))


def test_a_direction_slider_changes_the_rendered_face(face_generator, presets):
    plain = default_params(presets)
    before = face_generator.render(plain).astype(int)
    after = face_generator.render(replace(plain, sliders={"smile_found": 1.0})).astype(int)
    assert abs(after - before).mean() > 1
