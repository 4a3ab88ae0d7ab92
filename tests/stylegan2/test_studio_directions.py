"""Named directions in W: applying them, their file, and importing directions made elsewhere."""
import numpy as np
import pytest
import torch

from stylegan2.studio.directions import (
    DirectionSet,
    DirectionsFormatError,
    import_directions,
    load_directions,
    save_directions,
)


@pytest.fixture
def directions():
    vectors = torch.tensor([[3.0, 4.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0]])
    return DirectionSet(vectors, ["smile", "yaw"], slice(2, 5), num_ws=6, scales=torch.tensor([2.0, 0.5]),
                        scores=torch.tensor([0.9, 0.4]), method="ridge", meta={"alpha": 1.0})


def test_vectors_are_kept_as_unit_vectors(directions):
    torch.testing.assert_close(directions.vectors[0], torch.tensor([0.6, 0.8, 0.0, 0.0]))


def test_applying_moves_only_the_set_layers_by_strength_times_scale(directions):
    ws = torch.randn(3, 6, 4)
    edited = directions.apply(ws, {"smile": 1.5})
    assert torch.equal(edited[:, :2], ws[:, :2]) and torch.equal(edited[:, 5:], ws[:, 5:])
    step = 1.5 * 2.0 * torch.tensor([0.6, 0.8, 0.0, 0.0])
    torch.testing.assert_close(edited[:, 2:5] - ws[:, 2:5], step.expand(3, 3, 4))


def test_strengths_add_up_and_may_differ_per_latent(directions):
    ws = torch.zeros(2, 6, 4)
    edited = directions.apply(ws, torch.tensor([[1.0, 0.0], [1.0, 2.0]]))
    torch.testing.assert_close(edited[0, 3], torch.tensor([1.2, 1.6, 0.0, 0.0]))
    torch.testing.assert_close(edited[1, 3], torch.tensor([1.2, 1.6, 0.0, 1.0]))


def test_an_unknown_direction_name_is_refused_listing_the_known_ones(directions):
    with pytest.raises(KeyError, match="no direction named 'beard'; known: smile, yaw"):
        directions.apply(torch.zeros(1, 6, 4), {"beard": 1.0})


def test_latents_of_another_model_are_refused(directions):
    with pytest.raises(ValueError, match=r"expected ws \[N, 6, 4\]"):
        directions.apply(torch.zeros(1, 10, 4), [1.0, 0.0])


def test_a_sweep_row_is_one_direction_on_one_latent_at_each_strength(directions):
    ws = torch.randn(2, 6, 4)
    sweep = directions.sweep(ws, [-1.0, 0.0, 2.0])
    assert sweep.shape == (4, 3, 6, 4)
    assert torch.equal(sweep[3, 2], directions.apply(ws[1:2], {"yaw": 2.0})[0])
    assert torch.equal(sweep[0, 1], ws[0])


def test_a_saved_set_loads_back_identical(directions, tmp_path):
    save_directions(directions, tmp_path / "dirs.pt")
    loaded = load_directions(tmp_path / "dirs.pt")
    assert loaded.names == ["smile", "yaw"] and loaded.layers == slice(2, 5) and loaded.num_ws == 6
    for name in ("vectors", "scales", "scores"):
        assert torch.equal(getattr(loaded, name), getattr(directions, name))
    assert (loaded.method, loaded.meta) == ("ridge", {"alpha": 1.0})
    assert [path.name for path in tmp_path.iterdir()] == ["dirs.pt"]


def test_loading_for_a_model_of_another_w_space_is_refused(directions, tmp_path, small_generator):
    save_directions(directions, tmp_path / "dirs.pt")
    with pytest.raises(DirectionsFormatError, match="made for a model with w_dim 4 and 6 layers"):
        load_directions(tmp_path / "dirs.pt", small_generator)


def test_a_file_that_is_not_a_directions_file_is_refused(tmp_path):
    torch.save({"format": "something else"}, tmp_path / "x.pt")
    with pytest.raises(DirectionsFormatError, match="not a StyleCam directions file"):
        load_directions(tmp_path / "x.pt")


def test_an_npy_array_of_k_directions_imports_with_names_and_its_own_lengths(small_generator, tmp_path):
    array = np.random.RandomState(0).randn(3, 32).astype(np.float32)
    np.save(tmp_path / "dirs.npy", array)
    imported = import_directions(tmp_path / "dirs.npy", small_generator, names=["age", "glasses", "gender"],
                                 layers=slice(0, 8))
    assert imported.names == ["age", "glasses", "gender"] and imported.layers == slice(0, 8)
    ws = torch.zeros(1, 10, 32)
    torch.testing.assert_close(imported.apply(ws, {"glasses": 1.0})[0, 0], torch.from_numpy(array[1]))


def test_a_single_pt_vector_imports_as_one_direction(small_generator, tmp_path):
    torch.save(torch.ones(32), tmp_path / "smile.pt")
    imported = import_directions(tmp_path / "smile.pt", small_generator)
    assert imported.names == ["direction 1"] and imported.layers == slice(0, 10)


def test_a_pt_dict_of_named_vectors_imports_with_its_names(small_generator, tmp_path):
    torch.save({"smile": torch.ones(32), "age": torch.arange(32.0)}, tmp_path / "named.pt")
    assert import_directions(tmp_path / "named.pt", small_generator).names == ["smile", "age"]


def test_an_array_for_another_w_dim_is_refused_saying_what_fits(small_generator, tmp_path):
    np.save(tmp_path / "big.npy", np.ones((2, 512), np.float32))
    with pytest.raises(DirectionsFormatError, match=r"expected an array \[k, 32\] or \[32\].*got \[2, 512\]"):
        import_directions(tmp_path / "big.npy", small_generator)


class CreatesAFileWhenUnpickled:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def test_a_pickled_object_is_refused_without_running_it(small_generator, tmp_path):
    marker = tmp_path / "ran"
    torch.save({"smile": CreatesAFileWhenUnpickled(marker)}, tmp_path / "evil.pt")
    with pytest.raises(DirectionsFormatError, match="it asks for 'io.open'.*nothing from it was run"):
        import_directions(tmp_path / "evil.pt", small_generator)
    assert not marker.exists()


@pytest.mark.parametrize("names, problem", [(["one"], "need 2 unique, non-empty names"),
                                            (["a", "a"], "need 2 unique")])
def test_names_must_be_one_unique_name_per_direction(small_generator, tmp_path, names, problem):
    np.save(tmp_path / "two.npy", np.ones((2, 32), np.float32))
    with pytest.raises(DirectionsFormatError, match=problem):
        import_directions(tmp_path / "two.npy", small_generator, names=names)


@pytest.mark.parametrize("array, problem", [(np.full((1, 32), np.nan, np.float32), "NaN"),
                                            (np.zeros((1, 32), np.float32), "all zeros")])
def test_nan_or_zero_directions_are_refused(small_generator, tmp_path, array, problem):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(DirectionsFormatError, match=problem):
        import_directions(tmp_path / "bad.npy", small_generator)


def test_another_file_type_is_refused(small_generator, tmp_path):
    (tmp_path / "dirs.csv").write_text("1,2,3")
    with pytest.raises(DirectionsFormatError, match="imported from .npy or .pt files, not '.csv'"):
        import_directions(tmp_path / "dirs.csv", small_generator)
