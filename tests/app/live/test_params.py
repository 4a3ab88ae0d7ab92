"""Params updates are validated as a whole; presets files are checked with errors naming the entry."""
import json

import pytest

from app.live.params import (
    MAX_FACE_CHOICES,
    FaceChoice,
    Params,
    ParamsError,
    apply_update,
    default_params,
)
from app.live.params_store import ParamsStore
from app.live.presets import PresetsError, load_presets, parse_presets


@pytest.fixture(scope="module")
def presets():
    return load_presets()


@pytest.fixture
def current(presets):
    return default_params(presets)


def test_the_default_presets_are_the_measured_ffhq256_ranges(presets):
    ranges = {preset.name: (preset.layers.start, preset.layers.stop) for preset in presets}
    assert ranges == {"style": (7, 14), "hair": (6, 13), "beard": (4, 14), "smile": (3, 5)}
    assert all(preset.num_ws == 14 and preset.label for preset in presets)


def test_default_params_show_the_plain_seed_face(current, presets):
    assert current.mode == "seed"
    assert dict(current.sliders) == {preset.name: 0.0 for preset in presets}


def test_an_update_changes_only_the_fields_it_names(current, presets):
    updated = apply_update(current, {"seed": 42, "psi": 0.5}, presets)
    assert (updated.seed, updated.psi) == (42, 0.5)
    assert (updated.mode, updated.style_seed, updated.sliders) == (current.mode, current.style_seed,
                                                                   current.sliders)


def test_a_slider_update_keeps_the_other_sliders(current, presets):
    once = apply_update(current, {"sliders": {"smile": 0.8}}, presets)
    twice = apply_update(once, {"sliders": {"hair": 0.3}}, presets)
    assert (twice.sliders["smile"], twice.sliders["hair"]) == (0.8, 0.3)


def test_params_cannot_be_changed_in_place(current):
    with pytest.raises(TypeError):
        current.sliders["smile"] = 1.0


def test_to_json_is_plain_json(current):
    assert json.loads(json.dumps(current.to_json())) == current.to_json()


@pytest.mark.parametrize("payload, field, message", [
    ({"colour": 3}, "colour", "unknown field"),
    ({"mode": "cartoon"}, "mode", "must be one of seed, me, passthrough"),
    ({"seed": "42"}, "seed", "must be an integer"),
    ({"seed": 4.5}, "seed", "must be an integer"),
    ({"seed": True}, "seed", "must be an integer"),
    ({"seed": -1}, "seed", "between 0 and 4294967295"),
    ({"seed": 2 ** 32}, "seed", "between 0 and 4294967295"),
    ({"style_seed": None}, "style_seed", "must be an integer"),
    ({"psi": "high"}, "psi", "must be a number"),
    ({"psi": 1.5}, "psi", "between 0 and 1"),
    ({"psi": float("nan")}, "psi", "must be a number"),
    ({"psi": 10 ** 400}, "psi", "between 0 and 1"),                   # beyond any float
    ({"seed": 10 ** 400}, "seed", "between 0 and 4294967295"),
    ({"sliders": {"smile": -10 ** 400}}, "sliders.smile", "between 0 and 1"),
    ({"sliders": [0.5]}, "sliders", "must be an object"),
    ({"sliders": {"nose": 0.5}}, "sliders.nose", "no such preset"),
    ({"sliders": {"smile": 2}}, "sliders.smile", "between 0 and 1"),
    ({"sliders": {"smile": "max"}}, "sliders.smile", "must be a number"),
    ({"projection": "abc"}, "projection", "no saved projections"),
    ({"projection": 3}, "projection", "name of a saved projection"),
    ({"style_projection": "abc"}, "style_projection", "no saved projections"),
    ({"mode": "me"}, "projection", "mode 'me' shows a saved projection"),
    ({"keep_mouth": 1.5}, "keep_mouth", "between 0 and 1"),
    ({"keep_eyes": "all"}, "keep_eyes", "must be a number"),
    ({"faces": [3]}, "faces", "must be an object of track id"),
    ({"faces": {"abc": {"seed": 1}}}, "faces.abc", "a track id is a whole number"),
    ({"faces": {"0": {"seed": 1}}}, "faces.0", "a track id is a whole number"),
    ({"faces": {"3": 7}}, "faces.3", 'must be {"seed": n} or {"projection": name} or null'),
    ({"faces": {"3": {"seed": 1, "projection": "x"}}}, "faces.3", "or null"),
    ({"faces": {"3": {"psi": 1}}}, "faces.3", "or null"),
    ({"faces": {"3": {"seed": -4}}}, "faces.3.seed", "between 0 and 4294967295"),
    ({"faces": {"3": {"projection": "ghost"}}}, "faces.3.projection", "no saved projections"),
    ({"faces": {"3": {"projection": None}}}, "faces.3.projection", "name of a saved projection"),
])
def test_each_kind_of_bad_input_names_its_field(current, presets, payload, field, message):
    with pytest.raises(ParamsError, match=message) as caught:
        apply_update(current, payload, presets)
    assert caught.value.field == field


def test_a_huge_rejected_number_is_shortened_in_the_message(current, presets):
    with pytest.raises(ParamsError) as caught:
        apply_update(current, {"psi": 10 ** 400}, presets)
    assert len(caught.value.message) < 100 and "401 characters" in caught.value.message


def test_a_body_that_is_not_an_object_is_refused(current, presets):
    with pytest.raises(ParamsError) as caught:
        apply_update(current, [1, 2], presets)
    assert caught.value.field == "body"


def test_nothing_changes_when_one_field_is_bad(current, presets):
    before = current.to_json()
    with pytest.raises(ParamsError):
        apply_update(current, {"seed": 7, "sliders": {"smile": 0.4, "nose": 1}}, presets)
    assert current.to_json() == before


def test_integers_are_accepted_where_numbers_are_expected(current, presets):
    updated = apply_update(current, {"psi": 1, "sliders": {"smile": 0}}, presets)
    assert updated.psi == 1.0 and isinstance(updated.psi, float)


# --- mode "me" and projections ---------------------------------------------------------------------------

def saved(*names):
    """A check_projection that knows ``names``, as the projections store's check does."""
    def check(name):
        if name not in names:
            raise ValueError(f"no saved projection named '{name}'")
    return check


def test_me_mode_selects_a_saved_projection(current, presets):
    updated = apply_update(current, {"mode": "me", "projection": "me"}, presets, saved("me"))
    assert (updated.mode, updated.projection) == ("me", "me")
    assert updated.to_json()["projection"] == "me"


def test_a_projection_that_is_not_saved_is_refused_with_the_reason(current, presets):
    with pytest.raises(ParamsError, match="no saved projection named 'ghost'") as caught:
        apply_update(current, {"mode": "me", "projection": "ghost"}, presets, saved("me"))
    assert caught.value.field == "projection"


def test_me_mode_cannot_lose_its_projection(current, presets):
    me = apply_update(current, {"mode": "me", "projection": "me"}, presets, saved("me"))
    with pytest.raises(ParamsError, match="mode 'me' shows a saved projection"):
        apply_update(me, {"projection": None}, presets, saved("me"))
    assert apply_update(me, {"mode": "seed", "projection": None}, presets, saved("me")).projection is None


def test_a_projection_can_be_the_style_source_and_null_goes_back_to_the_style_seed(current, presets):
    styled = apply_update(current, {"style_projection": "friend"}, presets, saved("friend"))
    assert styled.style_projection == "friend"
    assert apply_update(styled, {"style_projection": None}, presets).style_projection is None


def write_presets(tmp_path, document):
    path = tmp_path / "presets.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_a_user_presets_file_replaces_the_defaults(tmp_path):
    path = write_presets(tmp_path, {"num_ws": 18, "presets": [
        {"name": "glasses", "label": "Glasses", "layers": "2:6", "source": 1234}]})
    [preset] = load_presets(path)
    assert (preset.name, preset.layers, preset.source, preset.num_ws) == ("glasses", slice(2, 6), 1234, 18)


def test_a_preset_source_defaults_to_the_style_seed():
    [preset] = parse_presets({"presets": [{"name": "x", "label": "X", "layers": "1:3"}]})
    assert preset.source == "style"


@pytest.mark.parametrize("document, message", [
    ([], "expected an object"),
    ({"presets": []}, "non-empty list"),
    ({"presets": [], "extra": 1}, "expected an object"),
    ({"num_ws": 13, "presets": [{"name": "a", "label": "A", "layers": "1:2"}]}, "num_ws must be an even"),
    ({"presets": ["smile"]}, r"presets\[0\]: expected an object"),
    ({"presets": [{"name": "a", "label": "A"}]}, r"presets\[0\]: needs name, label and layers"),
    ({"presets": [{"name": "A b", "label": "A", "layers": "1:2"}]}, r"presets\[0\].name"),
    ({"presets": [{"name": "a", "label": "", "layers": "1:2"}]}, r"presets\[0\].label"),
    ({"presets": [{"name": "a", "label": "A", "layers": "5:3"}]}, r"presets\[0\].layers"),
    ({"presets": [{"name": "a", "label": "A", "layers": "3:20"}]}, r"presets\[0\].layers"),
    ({"presets": [{"name": "a", "label": "A", "layers": "1:2", "source": "me"}]}, r"presets\[0\].source"),
    ({"presets": [{"name": "a", "label": "A", "layers": "1:2"}, {"name": "a", "label": "B", "layers": "2:3"}]},
     "repeated: a"),
])
def test_a_bad_presets_document_names_the_entry_at_fault(document, message):
    with pytest.raises(PresetsError, match=message):
        parse_presets(document)


def test_a_presets_file_that_is_not_json_names_the_file(tmp_path):
    path = write_presets(tmp_path, "{ not json")
    with pytest.raises(PresetsError, match=f"presets file {path} is not valid JSON"):
        load_presets(path)


def test_a_missing_presets_file_names_the_file(tmp_path):
    with pytest.raises(PresetsError, match="cannot read presets file .*missing.json"):
        load_presets(tmp_path / "missing.json")


def test_an_invalid_entry_in_a_file_names_file_and_entry(tmp_path):
    path = write_presets(tmp_path, {"presets": [{"name": "a", "label": "A", "layers": "x"}]})
    with pytest.raises(PresetsError, match=r"presets.json: presets\[0\].layers"):
        load_presets(path)


def test_params_compare_by_value():
    assert Params(sliders={"a": 0.5}) == Params(sliders={"a": 0.5})


# --- the person's own mouth and eyes, and faces of their own -----------------------------------------------

def test_keeping_mouth_and_eyes_is_off_by_default_and_set_by_an_update(current, presets):
    assert (current.keep_mouth, current.keep_eyes) == (0.0, 0.0)
    updated = apply_update(current, {"keep_mouth": 0.8, "keep_eyes": 1}, presets)
    assert (updated.keep_mouth, updated.keep_eyes) == (0.8, 1.0)
    assert updated.to_json()["keep_mouth"] == 0.8


def test_a_face_choice_is_merged_in_and_null_gives_the_face_back(current, presets):
    one = apply_update(current, {"faces": {"3": {"seed": 42}}}, presets)
    two = apply_update(one, {"faces": {"5": {"projection": "me"}}}, presets, saved("me"))
    assert dict(two.faces) == {3: FaceChoice(seed=42), 5: FaceChoice(projection="me")}
    assert two.to_json()["faces"] == {"3": {"seed": 42}, "5": {"projection": "me"}}
    assert dict(apply_update(two, {"faces": {"3": None, "9": None}}, presets).faces) == {5: FaceChoice(projection="me")}


def test_at_most_so_many_faces_can_have_a_face_of_their_own(current, presets):
    full = apply_update(current, {"faces": {str(track): {"seed": track} for track in range(1, MAX_FACE_CHOICES + 1)}},
                        presets)
    with pytest.raises(ParamsError, match=f"at most {MAX_FACE_CHOICES} faces") as caught:
        apply_update(full, {"faces": {"99": {"seed": 1}}}, presets)
    assert caught.value.field == "faces"
    assert len(apply_update(full, {"faces": {"1": None, "99": {"seed": 1}}}, presets).faces) == MAX_FACE_CHOICES


def test_the_projections_in_use_name_their_role(current, presets):
    params = apply_update(current, {"mode": "me", "projection": "me", "style_projection": "friend",
                                    "faces": {"4": {"projection": "kid"}}}, presets, saved("me", "friend", "kid"))
    assert params.projections_in_use() == {"me": "the face shown", "friend": "the style source",
                                           "kid": "the face of face 4"}


def test_renaming_a_projection_renames_every_reference_to_it(current, presets):
    params = apply_update(current, {"mode": "me", "projection": "me", "style_projection": "me",
                                    "faces": {"4": {"projection": "me"}, "6": {"seed": 2}}}, presets, saved("me"))
    renamed = params.renamed("me", "myself")
    assert (renamed.projection, renamed.style_projection) == ("myself", "myself")
    assert dict(renamed.faces) == {4: FaceChoice(projection="myself"), 6: FaceChoice(seed=2)}


def test_the_store_forgets_the_choices_of_tracks_that_ended_with_a_new_version(presets):
    store = ParamsStore(presets)
    store.update({"faces": {"3": {"seed": 1}, "5": {"seed": 2}}})
    version = store.current().version
    store.forget_tracks({3, 5, 8})
    assert store.current().version == version, "nothing forgotten, no new version"
    store.forget_tracks({5})
    params, new_version = store.current()
    assert dict(params.faces) == {5: FaceChoice(seed=2)} and new_version == version + 1


def test_the_store_renames_a_projection_in_the_params_in_the_same_step(presets):
    store = ParamsStore(presets, check_projection=saved("me"))
    store.update({"mode": "me", "projection": "me"})
    seen = []
    store.rename_projection("me", "myself", lambda: seen.append(store.changes.version))
    params, version = store.current()
    assert params.projection == "myself" and version == seen[0] + 1
    store.rename_projection("other", "another", lambda: None)
    assert store.current().version == version, "params that do not show it do not change"
