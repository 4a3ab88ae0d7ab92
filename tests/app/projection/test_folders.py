"""Saved projections: atomic folders that round-trip and refuse what is broken or foreign."""
import json
import os
import stat
import time

import numpy as np
import pytest
import torch
from PIL import Image

from app.images import from_engine
from app.projection import folders
from app.projection.folders import (
    STALE_AFTER_S,
    ProjectionFormatError,
    delete_projection,
    list_projections,
    load_projection,
    remove_leftovers,
    save_projection,
)
from stylegan2.projection.projector import ProjectionResult
from stylegan2.projection.schedule import ProjectionConfig
from stylegan2.testing import make_random_generator


def make_result(num_ws=8, w_dim=32, resolution=32, seed=0) -> ProjectionResult:
    """A projection result as the projector returns it (values random, shapes real)."""
    rng = np.random.default_rng(seed)
    return ProjectionResult(
        ws=torch.from_numpy(rng.standard_normal((1, num_ws, w_dim)).astype(np.float32)),
        noise={"synthesis.b4.conv1.noise_const": torch.randn(4, 4, generator=torch.Generator().manual_seed(seed))},
        target=torch.from_numpy(rng.integers(0, 256, (1, 3, resolution, resolution))).float() / 127.5 - 1,
        image=torch.from_numpy(rng.integers(0, 256, (1, 3, resolution, resolution))).float() / 127.5 - 1,
        losses={"total": 0.5, "lpips": 0.4, "pixel": 0.1, "noise": 0.0},
        steps=42, seconds=1.5, stopped_early=True, config=ProjectionConfig.fast(steps=60, seed=seed),
        perceptual={"name": "stand-in", "sha256": "ab" * 32, "file": "standin_vgg16.pt"})


def entries(folder):
    return sorted(path.name for path in folder.iterdir())


def test_a_saved_projection_loads_back_unchanged(tmp_path):
    result = make_result()
    folder = save_projection(result, tmp_path / "me", source="camera", model={"name": "ffhq-256"})
    loaded = load_projection(folder)
    assert loaded.name == "me"
    assert torch.equal(loaded.ws, result.ws)
    assert torch.equal(loaded.noise["synthesis.b4.conv1.noise_const"], result.noise["synthesis.b4.conv1.noise_const"])
    assert np.array_equal(loaded.target, from_engine(result.target))
    assert np.array_equal(loaded.image, from_engine(result.image))
    assert loaded.meta["source"] == "camera" and loaded.meta["model"]["name"] == "ffhq-256"
    assert loaded.meta["steps"] == 42 and loaded.meta["losses"] == result.losses
    assert ProjectionConfig.from_dict(loaded.meta["config"]) == result.config


def test_the_folder_holds_the_documented_files(tmp_path):
    folder = save_projection(make_result(), tmp_path / "me")
    assert entries(folder) == ["latent.pt", "meta.json", "result.png", "target.png"]
    latent = torch.load(folder / "latent.pt", weights_only=True)
    assert latent["ws"].shape == (1, 8, 32)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["model"] == {"num_ws": 8, "w_dim": 32, "img_resolution": 32}
    assert meta["created"].endswith("+00:00")


def test_the_metadata_names_the_perceptual_network(tmp_path):
    result = make_result()
    folder = save_projection(result, tmp_path / "me")
    assert load_projection(folder).meta["perceptual"] == result.perceptual


def test_a_failure_mid_save_leaves_nothing_behind(tmp_path, monkeypatch):
    real_write = folders._write_png

    def fail_on_result(image, path):
        if path.name == folders.RESULT_FILE:
            raise OSError("disk full")
        real_write(image, path)

    monkeypatch.setattr(folders, "_write_png", fail_on_result)
    with pytest.raises(OSError, match="disk full"):
        save_projection(make_result(), tmp_path / "me")
    assert entries(tmp_path) == []


def test_an_existing_projection_is_not_overwritten_by_default(tmp_path):
    save_projection(make_result(seed=1), tmp_path / "me")
    with pytest.raises(FileExistsError, match="'me' already exists"):
        save_projection(make_result(seed=2), tmp_path / "me")
    assert torch.equal(load_projection(tmp_path / "me").ws, make_result(seed=1).ws)


def test_overwrite_replaces_the_whole_projection(tmp_path):
    save_projection(make_result(seed=1), tmp_path / "me")
    save_projection(make_result(seed=2), tmp_path / "me", overwrite=True)
    assert torch.equal(load_projection(tmp_path / "me").ws, make_result(seed=2).ws)
    assert entries(tmp_path) == ["me"]


def test_a_failed_overwrite_keeps_the_old_projection(tmp_path, monkeypatch):
    save_projection(make_result(seed=1), tmp_path / "me")

    def fail(image, path):
        raise OSError("disk full")

    monkeypatch.setattr(folders, "_write_png", fail)
    with pytest.raises(OSError):
        save_projection(make_result(seed=2), tmp_path / "me", overwrite=True)
    assert torch.equal(load_projection(tmp_path / "me").ws, make_result(seed=1).ws)
    assert entries(tmp_path) == ["me"]


def test_listing_shows_saved_projections_oldest_first_and_skips_the_rest(tmp_path):
    save_projection(make_result(seed=1), tmp_path / "b")
    save_projection(make_result(seed=2), tmp_path / "a")
    (tmp_path / ".c.partial").mkdir()
    (tmp_path / "not-a-projection").mkdir()
    meta_b = json.loads((tmp_path / "b" / "meta.json").read_text())
    meta_b["created"] = "2000-01-01T00:00:00+00:00"
    (tmp_path / "b" / "meta.json").write_text(json.dumps(meta_b))
    assert [record.name for record in list_projections(tmp_path)] == ["b", "a"]
    assert list_projections(tmp_path / "missing") == []


def test_a_projection_for_another_generator_is_refused(tmp_path):
    folder = save_projection(make_result(num_ws=8, w_dim=32), tmp_path / "me")
    other = make_random_generator(resolution=64, seed=0)      # 10 ws of 32-d W.
    with pytest.raises(ProjectionFormatError, match="8 layers of 32-d W.*10 layers of 32-d W"):
        load_projection(folder, G=other)


def test_a_corrupt_latent_names_the_file(tmp_path):
    folder = save_projection(make_result(), tmp_path / "me")
    (folder / "latent.pt").write_bytes(b"not a torch file")
    with pytest.raises(ProjectionFormatError, match="latent.pt"):
        load_projection(folder)


def test_a_latent_of_the_wrong_shape_is_refused(tmp_path):
    folder = save_projection(make_result(), tmp_path / "me")
    torch.save({"ws": torch.zeros(1, 3, 32), "noise": {}}, folder / "latent.pt")
    with pytest.raises(ProjectionFormatError, match=r"\[1, 8, 32\]"):
        load_projection(folder)


def test_an_image_of_another_size_is_refused_from_its_header(tmp_path):
    folder = save_projection(make_result(resolution=32), tmp_path / "me")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / "result.png")
    with pytest.raises(ProjectionFormatError, match="result.png is 64x64 pixels; this projection's images are 32x32"):
        load_projection(folder)


def test_an_image_that_declares_too_many_pixels_is_refused(tmp_path, monkeypatch):
    folder = save_projection(make_result(resolution=32), tmp_path / "me")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)       # Pillow refuses what declares twice this
    with pytest.raises(ProjectionFormatError, match="target.png cannot be read"):
        load_projection(folder)


def test_an_image_that_is_not_a_png_is_refused(tmp_path):
    folder = save_projection(make_result(resolution=32), tmp_path / "me")
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(folder / "result.png", format="JPEG")
    with pytest.raises(ProjectionFormatError, match="result.png cannot be read"):
        load_projection(folder)


def test_a_folder_without_metadata_is_not_a_projection(tmp_path):
    (tmp_path / "me").mkdir()
    with pytest.raises(ProjectionFormatError, match="meta.json is missing"):
        load_projection(tmp_path / "me")


# --- on disk ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("umask, mode", [(0o022, 0o755), (0o027, 0o750)])
def test_a_saved_folder_gets_the_permissions_of_any_new_folder(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        folder = save_projection(make_result(), tmp_path / "me")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(folder.stat().st_mode) == mode
    assert stat.S_IMODE((folder / "meta.json").stat().st_mode) == mode & 0o666


def test_the_staging_folder_is_flushed_before_it_is_renamed_into_place(tmp_path, monkeypatch):
    events = []
    real_fsync, real_rename = folders._fsync, os.rename

    def fsync(path):
        events.append(path.name)
        real_fsync(path)

    def rename(source, destination):
        events.append("renamed")
        real_rename(source, destination)

    monkeypatch.setattr(folders, "_fsync", fsync)
    monkeypatch.setattr(folders.os, "rename", rename)
    save_projection(make_result(), tmp_path / "me")
    staging = [name for name in events if name.endswith(".partial")]
    assert len(staging) == 1 and events.index(staging[0]) < events.index("renamed")
    assert events[-1] == tmp_path.name                 # then the folder that holds it


def test_deleting_leaves_no_folder_behind(tmp_path):
    save_projection(make_result(), tmp_path / "me")
    delete_projection(tmp_path / "me")
    assert entries(tmp_path) == []


def make_leftover(folder, age_s):
    folder.mkdir()
    (folder / "latent.pt").write_bytes(b"half")
    then = time.time() - age_s
    os.utime(folder, (then, then))
    return folder


@pytest.mark.parametrize("name", [".me.1a2b3c4d.partial", ".me.1a2b3c4d.old", ".me.1a2b3c4d.deleted"])
def test_staging_folders_a_crash_left_behind_are_removed(tmp_path, name):
    make_leftover(tmp_path / name, age_s=STALE_AFTER_S + 60)
    assert remove_leftovers(tmp_path) == [name]
    assert entries(tmp_path) == []


def test_a_recent_staging_folder_is_kept_as_it_may_be_a_save_in_progress(tmp_path):
    make_leftover(tmp_path / ".me.1a2b3c4d.partial", age_s=5)
    assert remove_leftovers(tmp_path) == []
    assert entries(tmp_path) == [".me.1a2b3c4d.partial"]


def test_other_folders_are_never_removed_as_leftovers(tmp_path):
    for name in (".git", "old", "me.partial"):
        make_leftover(tmp_path / name, age_s=STALE_AFTER_S + 60)
    save_projection(make_result(), tmp_path / "me")
    assert remove_leftovers(tmp_path) == []
    assert entries(tmp_path) == [".git", "me", "me.partial", "old"]
