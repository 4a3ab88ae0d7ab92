"""The generators a running StyleCam can switch to: downloaded registry models and the files of the models
folder, each described from its file; a file that cannot be used is listed with its reason."""
import json
import os

import pytest

import weights
from app.model_library import ModelLibrary, UnknownModel
from stylegan2.studio.blending import blend_files
from tests.app.model_helpers import save_generator


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(folder))
    return folder


@pytest.fixture
def models_dir(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    return folder


def describe(entry):
    return entry.name, entry.source, entry.resolution, entry.num_ws, entry.w_dim, entry.architecture, entry.usable


def test_downloaded_registry_generators_and_the_folders_generator_files_are_listed(weights_dir, models_dir):
    save_generator(weights.local_path("ffhq-256"), resolution=32)        # "downloaded" (a native file there loads)
    save_generator(models_dir / "wide.pt", resolution=64, w_dim=48)
    save_generator(models_dir / "small.pkl", resolution=32, seed=1)
    (models_dir / "notes.txt").write_text("not a model")
    assert [describe(entry) for entry in ModelLibrary(models_dir).entries()] == [
        ("ffhq-256", "registry", 32, 8, 32, "stylegan2", True),
        ("small.pkl", "folder", 32, 8, 32, "stylegan2", True),
        ("wide.pt", "folder", 64, 10, 48, "stylegan2", True)]


def test_a_registry_generator_not_downloaded_is_not_listed(weights_dir, models_dir):
    assert ModelLibrary(models_dir).entries() == []


def test_a_blended_generator_names_both_of_its_sources(weights_dir, models_dir, tmp_path):
    base, other = save_generator(tmp_path / "base.pt", seed=1), save_generator(tmp_path / "toon.pt", seed=2)
    blend_files(base, other, models_dir / "blended.pt", swap_res=16)
    [entry] = ModelLibrary(models_dir).entries()
    assert entry.origin == {"blend": {"base": "base.pt", "other": "toon.pt", "swap_res": 16, "mapping": "base"}}


def test_a_file_that_cannot_be_used_is_listed_as_unusable_with_its_reason(weights_dir, models_dir):
    (models_dir / "broken.pt").write_bytes(b"<!DOCTYPE html><html>not found</html>")
    save_generator(models_dir / "good.pt")
    broken, good = ModelLibrary(models_dir).entries()
    assert (broken.name, broken.usable, broken.resolution) == ("broken.pt", False, None)
    assert broken.problem == "is not a StyleGAN2 weights file: it is a web page or XML document (a failed download?)"
    assert good.usable


def test_a_truncated_file_is_listed_as_unusable(weights_dir, models_dir):
    data = save_generator(models_dir / "cut.pt").read_bytes()
    (models_dir / "cut.pt").write_bytes(data[:len(data) // 2])
    [entry] = ModelLibrary(models_dir).entries()
    assert not entry.usable and "damaged or truncated" in entry.problem


def test_what_browsers_see_names_files_never_the_folders_they_are_in(weights_dir, models_dir):
    save_generator(weights.local_path("ffhq-256"))
    save_generator(models_dir / "mine.pt")
    (models_dir / "broken.pt").write_bytes(b"junk")
    shown = json.dumps([entry.to_json() for entry in ModelLibrary(models_dir).entries()])
    assert str(models_dir) not in shown and str(weights_dir) not in shown


def test_a_file_is_read_again_once_it_changed(weights_dir, models_dir):
    library = ModelLibrary(models_dir)
    save_generator(models_dir / "mine.pt", resolution=32)
    assert library.entries()[0].resolution == 32
    save_generator(models_dir / "mine.pt", resolution=64)
    os.utime(models_dir / "mine.pt", ns=(1, 1))
    assert library.entries()[0].resolution == 64


def test_an_unknown_name_is_refused_naming_the_ones_there_are(weights_dir, models_dir):
    save_generator(models_dir / "mine.pt")
    with pytest.raises(UnknownModel, match=r"no generator named 'other.pt' to switch to; there are: mine.pt"):
        ModelLibrary(models_dir).find("other.pt")


def test_a_missing_models_folder_lists_nothing(weights_dir, tmp_path):
    assert ModelLibrary(tmp_path / "absent").entries() == []
