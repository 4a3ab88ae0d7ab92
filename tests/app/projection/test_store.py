"""The projections store: safe names, saves that survive a restart, and only projections that fit the
loaded generator's weights can be used."""
import os
import time

import pytest
import torch

import stylegan2
from app.projection.folders import STALE_AFTER_S, save_projection
from app.projection.store import (
    ProjectionNotFound,
    ProjectionStore,
    ProjectionUnavailable,
    check_name,
    generator_fingerprint,
    new_name,
)
from stylegan2.testing import make_random_generator
from tests.app.projection_helpers import fake_result


@pytest.fixture
def store(tmp_path, projection_generator):
    return ProjectionStore(tmp_path / "projections", projection_generator, model={"weights": "test"})


def test_a_saved_projection_is_listed_by_a_new_store_over_the_same_folder(store, projection_generator):
    result = fake_result(projection_generator)
    store.save(result, "me", source="upload:me.jpg")
    restarted = ProjectionStore(store.root, projection_generator)
    [entry] = restarted.list()
    assert (entry["name"], entry["source"], entry["compatible"]) == ("me", "upload:me.jpg", True)
    assert torch.equal(restarted.load_ws("me"), result.ws)


def test_the_listing_is_oldest_first_and_skips_other_folders(store, projection_generator):
    store.save(fake_result(projection_generator, seed=1), "b-first", source="camera")
    store.save(fake_result(projection_generator, seed=2), "a-second", source="camera")
    (store.root / "not-a-projection").mkdir()
    (store.root / ".staging.partial").mkdir()
    assert [entry["name"] for entry in store.list()] == ["b-first", "a-second"]


def test_a_projection_saved_before_networks_were_recorded_lists_its_network_as_unknown(store, projection_generator):
    result = fake_result(projection_generator)
    result.perceptual = {}
    store.save(result, "old", source="camera")
    assert store.get("old")["perceptual"] == {"name": "unknown"}


def test_a_projection_made_with_other_weights_is_listed_but_cannot_be_used(store, projection_generator, tmp_path):
    other = make_random_generator(resolution=projection_generator.img_resolution, seed=99)   # same shape
    ProjectionStore(store.root, other).save(fake_result(other), "stranger", source="camera")
    [entry] = store.list()
    assert entry["compatible"] is False
    with pytest.raises(ProjectionUnavailable, match="other generator weights"):
        store.check("stranger")
    with pytest.raises(ProjectionUnavailable):
        store.load_ws("stranger")


def test_a_projection_for_another_layer_count_cannot_be_used(store):
    bigger = make_random_generator(resolution=64)
    ProjectionStore(store.root, bigger).save(fake_result(bigger), "big", source="camera")
    with pytest.raises(ProjectionUnavailable, match="layers"):
        store.check("big")


def test_an_unknown_name_is_not_found(store):
    with pytest.raises(ProjectionNotFound, match="no saved projection named 'ghost'"):
        store.check("ghost")


@pytest.mark.parametrize("name", ["", "../up", "a/b", ".hidden", "-dash-first", "x" * 65, "naïve", 7, None])
def test_names_that_are_not_safe_folder_names_are_refused(name):
    with pytest.raises(ValueError, match="projection name must be"):
        check_name(name)


def test_names_with_path_tricks_are_never_found(store, projection_generator):
    store.save(fake_result(projection_generator), "me", source="camera")
    assert not store.exists("../projections/me")
    with pytest.raises(ProjectionNotFound):
        store.file("../projections/me", "latent.pt")


def test_new_names_are_valid_and_distinct():
    names = {new_name() for _ in range(20)}
    assert len(names) == 20
    assert all(check_name(name) for name in names)


def test_saving_under_a_taken_name_fails_and_keeps_the_first(store, projection_generator):
    first = fake_result(projection_generator, seed=1)
    store.save(first, "me", source="camera")
    with pytest.raises(FileExistsError):
        store.save(fake_result(projection_generator, seed=2), "me", source="camera")
    assert torch.equal(store.load_ws("me"), first.ws)


def test_deleting_leaves_nothing_behind(store, projection_generator):
    store.save(fake_result(projection_generator), "me", source="camera")
    store.load_ws("me")
    store.delete("me")
    assert list(store.root.iterdir()) == []
    with pytest.raises(ProjectionNotFound):
        store.load_ws("me")


def with_optimised_noise(G):
    """A result as NVIDIA's projector makes it: the noise images optimised along with the latent."""
    result = fake_result(G)
    result.noise = {name: torch.zeros(buf.shape) for name, buf in G.named_buffers() if name.endswith("noise_const")}
    result.config = result.config.replace(optimize_noise=True)
    return result


def test_the_store_never_saves_a_projection_with_optimised_noise(store, projection_generator):
    with pytest.raises(ValueError, match="optimised noise"):
        store.save(with_optimised_noise(projection_generator), "noisy", source="camera")
    assert not store.exists("noisy")


def test_a_projection_made_elsewhere_with_optimised_noise_is_listed_but_cannot_be_selected(store,
                                                                                          projection_generator):
    save_projection(with_optimised_noise(projection_generator), store.root / "noisy", source="script",
                    model=store.model)
    [entry] = store.list()
    assert entry["compatible"] is False
    with pytest.raises(ProjectionUnavailable, match="would not look like its result.png"):
        store.check("noisy")
    with pytest.raises(ProjectionUnavailable, match="optimised noise"):
        store.load_ws("noisy")


def test_opening_a_store_removes_the_staging_folders_a_crash_left(tmp_path, projection_generator):
    root = tmp_path / "projections"
    leftover = root / ".me.1a2b3c4d.partial"
    leftover.mkdir(parents=True)
    then = time.time() - STALE_AFTER_S - 60
    os.utime(leftover, (then, then))
    ProjectionStore(root, projection_generator)
    assert list(root.iterdir()) == []


def test_the_fingerprint_is_the_same_for_the_same_weights_in_any_file(projection_generator, projection_weights,
                                                                        tmp_path):
    stylegan2.save(projection_generator, tmp_path / "copy.pt")
    copy = stylegan2.load(tmp_path / "copy.pt").generator
    assert generator_fingerprint(copy) == generator_fingerprint(projection_generator)
    with torch.no_grad():
        copy.mapping.w_avg.add_(1e-3)
    assert generator_fingerprint(copy) != generator_fingerprint(projection_generator)
