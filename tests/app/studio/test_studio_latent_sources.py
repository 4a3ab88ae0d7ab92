"""Seed lists and saved projections as the faces of the studio commands."""
import pytest
import torch

import stylegan2
from app.projection.store import ProjectionStore, ProjectionUnavailable
from app.studio.latent_sources import LatentResolver, LatentSpec, StoredProjections, parse_latents, parse_seeds
from stylegan2.latents import seed_to_ws, seed_to_z
from stylegan2.testing import make_random_generator
from tests.app.projection_helpers import fake_result


@pytest.fixture(scope="module")
def generator(random_weights):
    return stylegan2.load(random_weights).generator


@pytest.fixture
def store_dir(tmp_path, generator):
    """A projections folder holding 'me', a projection made with `generator`."""
    ProjectionStore(tmp_path / "projections", generator).save(fake_result(generator, seed=5), "me", source="test")
    return tmp_path / "projections"


@pytest.mark.parametrize("text, seeds", [("1-3,42", [1, 2, 3, 42]), (" 7 ", [7]), ("5-5, 0", [5, 0]),
                                         ("4294967295", [2 ** 32 - 1])])
def test_seed_lists_expand_ranges_in_order(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text, problem", [("", "comma-separated list"), ("1,,2", "comma-separated list"),
                                           ("8-1", "runs backwards: write 1-8"), ("4294967296", "go up to"),
                                           ("0-10000", "more than 10000 faces"), ("1,me", "expected seeds")])
def test_bad_seed_lists_are_refused_saying_what_is_expected(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_seeds(text)


def test_items_of_digits_are_seeds_and_anything_else_a_projection():
    assert parse_latents("1-2,me,face-2024-01,./saved/x") == [
        LatentSpec(seed=1), LatentSpec(seed=2), LatentSpec(projection="me"), LatentSpec(projection="face-2024-01"),
        LatentSpec(projection="./saved/x")]
    assert [spec.label for spec in parse_latents("3,./saved/x")] == ["seed 3", "x"]


def test_seeds_resolve_to_their_truncated_latents(generator, tmp_path):
    resolver = LatentResolver(generator, StoredProjections(generator, str(tmp_path)), psi=0.6)
    ws = resolver.ws(parse_latents("4,9"))
    torch.testing.assert_close(ws[1:2], seed_to_ws(generator, 9, psi=0.6), rtol=0, atol=1e-6)
    assert torch.equal(resolver.z(LatentSpec(seed=9)), seed_to_z(9, generator.z_dim))


def test_a_saved_projection_resolves_by_name_or_folder_to_its_latent(generator, store_dir):
    expected = fake_result(generator, seed=5).ws
    resolver = LatentResolver(generator, StoredProjections(generator, str(store_dir)), psi=0.6)
    ws = resolver.ws([LatentSpec(projection="me"), LatentSpec(seed=1), LatentSpec(projection=str(store_dir / "me"))])
    assert torch.equal(ws[0:1], expected) and torch.equal(ws[2:3], expected)


def test_a_projection_made_with_other_weights_is_refused(generator, store_dir):
    other = make_random_generator(resolution=generator.img_resolution, seed=99)
    resolver = LatentResolver(other, StoredProjections(other, str(store_dir)))
    with pytest.raises(ProjectionUnavailable, match="other generator weights"):
        resolver.ws([LatentSpec(projection="me")])


def test_an_unknown_projection_says_where_it_looked(generator, store_dir):
    resolver = LatentResolver(generator, StoredProjections(generator, str(store_dir)))
    with pytest.raises(ProjectionUnavailable, match="'nobody' is neither a saved projection in .*projections nor a projection folder"):
        resolver.ws([LatentSpec(projection="nobody")])


def test_a_projection_has_no_z(generator, store_dir):
    resolver = LatentResolver(generator, StoredProjections(generator, str(store_dir)))
    with pytest.raises(ProjectionUnavailable, match="projection 'me' has no z"):
        resolver.z(LatentSpec(projection="me"))
