"""Reading an NVIDIA snapshot into records: every network's settings and tensors, StyleGAN3's NumPy values.

These are the pieces a builder of another network (StyleGAN3's generator, the discriminator) reuses:
`read_snapshot`, `snapshot_network`, `network_settings`, `network_state_dict`.
"""
import pickle

import numpy as np
import pytest
import torch

import stylegan2
from stylegan2 import stylegan3
from stylegan2.loaders.nvlabs_pickle import (
    NetworkRecord,
    network_settings,
    network_state_dict,
    read_snapshot,
    snapshot_network,
    walk_network,
)
from tests.stylegan2.conftest import read_stylegan3_golden
from tests.stylegan2.weight_files import write_nvlabs_pickle

GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")


@pytest.fixture(scope="module")
def stylegan3_golden(shared_file):
    meta, state_dict, _ = read_stylegan3_golden(shared_file, "t")
    return meta, state_dict


def stylegan3_attributes(meta):
    """NumPy values as NVIDIA's StyleGAN3 modules hold them: int64 [2] sizes, float64 rates, bool flags."""
    source = meta["input"]
    attributes = {"synthesis.input": {"size": np.array(source["size"], dtype=np.int64),
                                      "sampling_rate": np.float64(source["sampling_rate"]),
                                      "bandwidth": np.float64(source["bandwidth"])}}
    for layer in meta["layers"]:
        attributes[f"synthesis.{layer['name']}"] = {
            "in_size": np.array([layer["in_size"]] * 2, dtype=np.int64),
            "out_size": np.array([layer["out_size"]] * 2, dtype=np.int64),
            "in_cutoff": np.float64(layer["in_cutoff"]), "use_fp16": np.bool_(layer["use_fp16"])}
    return attributes


@pytest.fixture(scope="module", params=[2, 3, 4, 5], ids=lambda protocol: f"protocol {protocol}")
def stylegan3_pickle(request, tmp_path_factory, stylegan3_golden):
    """A stylegan3 training snapshot (StyleGAN3-T G and G_ema) pickled with the given protocol."""
    meta, state_dict = stylegan3_golden
    class_names = {"synthesis.input": "SynthesisInput",
                   **{f"synthesis.{layer['name']}": "SynthesisLayer" for layer in meta["layers"]}}
    return write_nvlabs_pickle(tmp_path_factory.mktemp("stylegan3") / "stylegan3-t.pkl", meta["init_kwargs"],
                               state_dict, protocol=request.param, class_names=class_names,
                               attributes=stylegan3_attributes(meta))


def test_stylegan3_snapshot_gives_g_ema_tensors_under_state_dict_names(stylegan3_pickle, stylegan3_golden):
    _, state_dict = stylegan3_golden
    tensors = network_state_dict(snapshot_network(read_snapshot(stylegan3_pickle), "G_ema", stylegan3_pickle),
                                 "G_ema", stylegan3_pickle)
    assert set(tensors) == set(state_dict)
    assert all(torch.equal(tensors[key], state_dict[key]) for key in state_dict)


def test_stylegan3_snapshot_gives_its_numpy_attributes(stylegan3_pickle, stylegan3_golden):
    meta, _ = stylegan3_golden
    g_ema = snapshot_network(read_snapshot(stylegan3_pickle), "G_ema", stylegan3_pickle)
    modules = dict(walk_network(g_ema, "G_ema", stylegan3_pickle))
    source = modules["synthesis.input."].state
    assert isinstance(source["size"], np.ndarray) and source["size"].dtype == np.int64
    assert source["size"].tolist() == meta["input"]["size"]
    assert source["sampling_rate"] == meta["input"]["sampling_rate"]
    first = modules[f"synthesis.{meta['layers'][0]['name']}."].state
    assert first["out_size"].tolist() == [meta["layers"][0]["out_size"]] * 2
    assert bool(first["use_fp16"]) is meta["layers"][0]["use_fp16"]


def test_stylegan3_snapshot_gives_g_ema_settings_as_plain_data(stylegan3_pickle, stylegan3_golden):
    meta, _ = stylegan3_golden
    g_ema = snapshot_network(read_snapshot(stylegan3_pickle), "G_ema", stylegan3_pickle)
    settings = network_settings(g_ema, "G_ema", stylegan3_pickle, positional=GENERATOR_ARGS)
    assert settings == meta["init_kwargs"]
    assert type(settings["mapping_kwargs"]) is dict


def test_stylegan3_generator_gets_through_the_reader_and_is_built_with_g_ema_weights(stylegan3_pickle,
                                                                                    stylegan3_golden):
    _, state_dict = stylegan3_golden
    loaded = stylegan2.load(stylegan3_pickle)
    assert isinstance(loaded.generator, stylegan3.Generator) and loaded.meta["architecture"] == "stylegan3"
    assert all(torch.equal(tensor, state_dict[key]) for key, tensor in loaded.generator.state_dict().items())


def test_discriminator_record_gives_its_settings_and_tensors(tmp_path, nvlabs_golden, nvlabs_d_golden):
    meta, state_dict, _ = nvlabs_golden
    d_meta, d_state_dict, _ = nvlabs_d_golden
    path = write_nvlabs_pickle(tmp_path / "snapshot.pkl", meta["init_kwargs"], state_dict,
                               discriminator=(d_meta["init_kwargs"], d_state_dict))
    discriminator = snapshot_network(read_snapshot(path), "D", path)
    assert discriminator.class_name == "Discriminator"
    assert network_settings(discriminator, "D", path) == d_meta["init_kwargs"]
    tensors = network_state_dict(discriminator, "D", path)
    assert tensors.keys() == d_state_dict.keys()
    assert all(torch.equal(tensor, d_state_dict[key]) for key, tensor in tensors.items())


def test_missing_network_is_named_with_what_the_snapshot_holds(tmp_path, nvlabs_golden):
    meta, state_dict, _ = nvlabs_golden
    path = write_nvlabs_pickle(tmp_path / "snapshot.pkl", meta["init_kwargs"], state_dict, D=None)
    snapshot = read_snapshot(path)
    with pytest.raises(stylegan2.WeightsFormatError, match=r"'D' is a NoneType, not a pickled network"):
        snapshot_network(snapshot, "D", path)
    with pytest.raises(stylegan2.WeightsFormatError, match=r"no network under 'D_ema' \(found 'D', 'G', 'G_ema'"):
        snapshot_network(snapshot, "D_ema", path)


def test_settings_that_are_not_plain_data_are_refused_naming_them(tmp_path):
    record = NetworkRecord("Discriminator", {"_init_args": (), "_init_kwargs": {"block_kwargs": torch.zeros(2)}})
    with pytest.raises(stylegan2.WeightsFormatError, match=r"'D' arguments\['block_kwargs'\] is a Tensor, not plain"):
        network_settings(record, "D", tmp_path / "snapshot.pkl")


def test_snapshot_that_is_not_a_dict_is_refused(tmp_path):
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1, 2], protocol=4))
    with pytest.raises(stylegan2.WeightsFormatError, match="not an NVIDIA snapshot"):
        read_snapshot(path)
