"""StyleCam's own weights file: save, load, convert from the other formats with identical output."""
import os

import pytest
import torch

import stylegan2
from stylegan2 import stylegan3
from stylegan2.loaders.native import VERSION
from stylegan2.testing import make_random_generator, make_random_stylegan3
from tests.stylegan2.weight_files import write_nvlabs_pickle


def outputs(G):
    """Mapping with truncation and synthesis with stored noise, for a fixed batch of z."""
    z = torch.randn([3, G.z_dim], generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        ws = G.mapping(z, truncation_psi=0.6)
        return ws, G.synthesis(ws, noise_mode="const")


def assert_identical(G1, G2):
    for a, b in zip(outputs(G1), outputs(G2)):
        assert torch.equal(a, b)


@pytest.fixture
def generator():
    return make_random_generator(resolution=32, seed=5)


def test_saved_generator_loads_with_identical_weights_and_output(tmp_path, generator):
    path = tmp_path / "model.pt"
    stylegan2.save(generator, path, meta={"note": "test"})
    loaded = stylegan2.load(path)
    assert loaded.meta["format"] == "stylecam" and loaded.meta["note"] == "test"
    assert loaded.meta["init_kwargs"] == generator.init_kwargs
    assert all(torch.equal(tensor, generator.state_dict()[key])
               for key, tensor in loaded.generator.state_dict().items())
    assert_identical(loaded.generator, generator)


def test_file_is_plain_data_that_weights_only_loading_accepts(tmp_path, generator):
    path = tmp_path / "model.pt"
    stylegan2.save(generator, path)
    content = torch.load(path, weights_only=True)
    assert (content["format"], content["version"]) == ("stylecam-stylegan2", 1)
    assert content["init_kwargs"] == generator.init_kwargs
    assert set(content["state_dict"]) == set(generator.state_dict())
    assert content["meta"] == {}


def test_nvlabs_pickle_converts_with_identical_output(tmp_path, nvlabs_golden):
    meta, state_dict, _ = nvlabs_golden
    source = write_nvlabs_pickle(tmp_path / "network-snapshot.pkl", meta["init_kwargs"], state_dict)
    converted = stylegan2.convert(source, tmp_path / "converted.pt")
    assert converted["format"] == "stylecam"
    assert (converted["source_format"], converted["source_file"]) == ("nvlabs-pickle", "network-snapshot.pkl")
    assert_identical(stylegan2.load(tmp_path / "converted.pt").generator, stylegan2.load(source).generator)


def test_rosinality_checkpoint_converts_with_identical_output(tmp_path, shared_file):
    source = shared_file("golden/rosinality_g64/ckpt.pt")
    converted = stylegan2.convert(source, tmp_path / "converted.pt")
    assert (converted["source_format"], converted["w_avg"]) == ("rosinality", "latent_avg")
    assert_identical(stylegan2.load(tmp_path / "converted.pt").generator, stylegan2.load(source).generator)


def test_converting_a_converted_file_keeps_its_origin(tmp_path, shared_file):
    stylegan2.convert(shared_file("golden/rosinality_g64/ckpt.pt"), tmp_path / "once.pt")
    twice = stylegan2.convert(tmp_path / "once.pt", tmp_path / "twice.pt")
    assert (twice["source_format"], twice["source_file"]) == ("rosinality", "ckpt.pt")


def test_failed_save_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch, generator):
    path = tmp_path / "model.pt"
    stylegan2.save(generator, path)
    before = path.read_bytes()

    def disk_full(obj, file):
        file.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(stylegan2.WeightsFormatError, match="No space left on device"):
        stylegan2.save(make_random_generator(resolution=32, seed=6), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.pt"]


def test_save_into_a_missing_folder_is_a_clear_error(tmp_path, generator):
    with pytest.raises(stylegan2.WeightsFormatError, match="cannot be written"):
        stylegan2.save(generator, tmp_path / "absent" / "model.pt")


def test_meta_that_is_not_plain_data_is_refused_before_writing(tmp_path, generator):
    with pytest.raises(TypeError, match="meta.when has type object"):
        stylegan2.save(generator, tmp_path / "model.pt", meta={"when": object()})
    assert not (tmp_path / "model.pt").exists()


def test_file_from_a_newer_stylecam_is_refused(tmp_path, generator):
    path = tmp_path / "model.pt"
    stylegan2.save(generator, path)
    content = torch.load(path, weights_only=True)
    torch.save(dict(content, version=VERSION + 1), path)
    with pytest.raises(stylegan2.WeightsFormatError, match="newer StyleCam"):
        stylegan2.load(path)


def test_file_without_its_state_dict_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"format": "stylecam-stylegan2", "version": 1, "init_kwargs": {}}, path)
    with pytest.raises(stylegan2.WeightsFormatError, match="without its init_kwargs or state_dict"):
        stylegan2.load(path)


@pytest.fixture
def stylegan3_generator_small():
    return make_random_stylegan3("r", resolution=32, channel_base=128, channel_max=8, seed=5)


def test_stylegan3_generator_saves_and_loads_as_stylegan3_with_identical_output(tmp_path, stylegan3_generator_small):
    path = tmp_path / "sg3.pt"
    stylegan2.save(stylegan3_generator_small, path)
    content = torch.load(path, weights_only=True)
    assert (content["version"], content["architecture"]) == (2, "stylegan3")
    loaded = stylegan2.load(path)
    assert isinstance(loaded.generator, stylegan3.Generator)
    assert loaded.meta["architecture"] == "stylegan3" and loaded.meta["num_ws"] == 16
    assert loaded.meta["init_kwargs"] == stylegan3_generator_small.init_kwargs
    assert_identical(loaded.generator, stylegan3_generator_small)


def test_stylegan2_files_stay_version_1_and_name_their_architecture(tmp_path, generator):
    stylegan2.save(generator, tmp_path / "model.pt")
    content = torch.load(tmp_path / "model.pt", weights_only=True)
    assert (content["version"], content["architecture"]) == (1, "stylegan2")


def test_file_from_before_stylegan3_loads_as_stylegan2(tmp_path, generator):
    path = tmp_path / "model.pt"
    stylegan2.save(generator, path)
    content = torch.load(path, weights_only=True)
    del content["architecture"]
    torch.save(content, path)
    loaded = stylegan2.load(path)
    assert type(loaded.generator) is stylegan2.Generator and loaded.meta["architecture"] == "stylegan2"


@pytest.mark.parametrize("architecture", ["stylegan4", ["stylegan3"], None])
def test_file_of_an_unknown_architecture_is_refused(tmp_path, generator, architecture):
    path = tmp_path / "model.pt"
    stylegan2.save(generator, path)
    torch.save(dict(torch.load(path, weights_only=True), architecture=architecture), path)
    with pytest.raises(stylegan2.WeightsFormatError, match="model.pt: is a StyleCam weights file of architecture"):
        stylegan2.load(path)
