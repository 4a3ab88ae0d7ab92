"""NVIDIA's StyleGAN3 pickles: G_ema's records become StyleCam's StyleGAN3 generator, checked against its settings.

The records are built from the goldens (nvlabs_sg3_t64 / _r64) the way NVIDIA's code lays them out. The
end-to-end tests go through `stylegan2.load`, whose restricted unpickler reads the NumPy arrays StyleGAN3
pickles hold (`numpy.ndarray`, `numpy._core.multiarray._reconstruct`) as checked plain numbers.
"""
import pickle

import numpy as np
import pytest
import torch

import stylegan2
from stylegan2 import stylegan3
from stylegan2.loaders.nvlabs_pickle import network_state_dict
from stylegan2.loaders.nvlabs_stylegan3 import build_stylegan3, is_stylegan3
from tests.stylegan2.weight_files import generator_network, records, stylegan3_network, write_stylegan3_pickle

TOLERANCE = 1e-4


def g_ema_records(meta, state_dict, edit=None):
    g_ema = stylegan3_network(meta, state_dict)
    if edit is not None:
        edit(g_ema)
    return records(g_ema)


def build(g_ema, path="sg3.pkl"):
    return build_stylegan3(g_ema, network_state_dict(g_ema, "G_ema", path), path)


def test_records_build_the_generator_that_draws_the_reference_images(stylegan3_golden):
    meta, state_dict, io = stylegan3_golden
    G = build(g_ema_records(meta, state_dict)).eval()
    assert isinstance(G, stylegan3.Generator)
    assert G.init_kwargs == meta["init_kwargs"]
    assert all(torch.equal(tensor, state_dict[key]) for key, tensor in G.state_dict().items())
    with torch.no_grad():
        img = G(io["z"][:2], truncation_psi=0.7)
    assert (img - io["img_const"][:2]).abs().max() <= TOLERANCE


def test_stylegan3_is_told_from_stylegan2_by_its_fourier_input(stylegan3_golden, nvlabs_golden):
    meta, state_dict, _ = stylegan3_golden
    assert is_stylegan3(g_ema_records(meta, state_dict))
    sg2_meta, sg2_state_dict, _ = nvlabs_golden
    assert not is_stylegan3(records(generator_network(sg2_meta["init_kwargs"], sg2_state_dict, dict)))


def test_mapping_kwargs_of_none_builds_the_default_mapping(stylegan3_golden):
    """The goldens' mapping settings are the defaults, so None must build the same generator."""
    meta, state_dict, _ = stylegan3_golden
    G = build(g_ema_records(meta, state_dict, edit=lambda g: g._init_kwargs.update(mapping_kwargs=None)))
    assert G.init_kwargs["mapping_kwargs"] == {} and G.mapping.num_layers == meta["init_kwargs"]["mapping_kwargs"][
        "num_layers"]


def test_a_setting_stylecam_does_not_know_is_refused_by_name(stylegan3_golden):
    meta, state_dict, _ = stylegan3_golden
    g_ema = g_ema_records(meta, state_dict, edit=lambda g: g._init_kwargs.update(use_noise=True))
    with pytest.raises(stylegan2.WeightsFormatError, match=r"sg3.pkl: .*does not have: use_noise=True"):
        build(g_ema)


def test_a_mapping_setting_stylecam_does_not_know_is_refused_by_name(stylegan3_golden):
    meta, state_dict, _ = stylegan3_golden
    g_ema = g_ema_records(meta, state_dict, edit=lambda g: g._init_kwargs["mapping_kwargs"].update(layer_features=64))
    with pytest.raises(stylegan2.WeightsFormatError, match="mapping_kwargs.layer_features=64"):
        build(g_ema)


def test_layout_other_than_the_settings_build_is_refused_with_what_differs(stylegan3_golden):
    meta, state_dict, _ = stylegan3_golden
    name = meta["layers"][4]["name"]

    def modify(g_ema):
        layer = g_ema.synthesis.get_submodule(name)
        layer.padding = [value + 1 for value in layer.padding]
        layer.out_cutoff = layer.out_cutoff * np.float64(1.01)

    expected = meta["layers"][4]["padding"]
    with pytest.raises(stylegan2.WeightsFormatError, match=rf"configuration StyleCam does not know.*"
                                                           rf"synthesis\.{name}\.out_cutoff is .*; "
                                                           rf"synthesis\.{name}\.padding is "
                                                           rf"\[{', '.join(str(v + 1) for v in expected)}\] in the "
                                                           rf"file, \[{', '.join(map(str, expected))}\] here"):
        build(g_ema_records(meta, state_dict, edit=modify))


def test_input_layout_other_than_the_settings_build_is_refused(stylegan3_golden):
    meta, state_dict, _ = stylegan3_golden
    g_ema = g_ema_records(meta, state_dict, edit=lambda g: setattr(g.synthesis.input, "size", np.array([40, 40])))
    with pytest.raises(stylegan2.WeightsFormatError, match=r"synthesis\.input\.size is \[40, 40\] in the file"):
        build(g_ema)


def test_layer_whose_weights_no_network_holds_is_refused(stylegan3_golden):
    """Tensors can reach a layer's state_dict names without the layer: as dotted names on its parent."""
    meta, state_dict, _ = stylegan3_golden
    name = meta["layers"][4]["name"]
    g_ema = g_ema_records(meta, state_dict)
    synthesis = g_ema.modules()["synthesis"]
    layer = synthesis.modules().pop(name)
    for group in ("_parameters", "_buffers"):
        synthesis.state[group].update({f"{name}.{key}": tensor for key, tensor in layer.state[group].items()
                                       if tensor is not None})
    synthesis.modules()[f"{name}.affine"] = layer.modules()["affine"]
    with pytest.raises(stylegan2.WeightsFormatError, match=rf"synthesis\.{name} is not a network in the file"):
        build(g_ema)


def test_weights_that_do_not_fit_the_settings_are_refused(stylegan3_golden):
    meta, state_dict, _ = stylegan3_golden
    key = next(key for key in state_dict if key.endswith("magnitude_ema"))
    g_ema = g_ema_records(meta, {name: tensor for name, tensor in state_dict.items() if name != key})
    with pytest.raises(stylegan2.WeightsFormatError, match=f"1 tensors missing \\({key}\\)"):
        build(g_ema)


def test_records_without_layout_attributes_are_built_from_their_settings(stylegan3_golden):
    """Layout attributes a file lacks cannot be compared and are not required."""
    meta, state_dict, _ = stylegan3_golden

    def strip(g_ema):
        for name in [layer["name"] for layer in meta["layers"]] + ["input"]:
            module = g_ema.synthesis.get_submodule(name)
            for attribute in ("size", "in_size", "out_size", "padding", "up_taps", "down_taps"):
                module.__dict__.pop(attribute, None)

    assert isinstance(build(g_ema_records(meta, state_dict, edit=strip)), stylegan3.Generator)


# ----------------------------------------------------------------------------------------------------
# Whole files.

def test_stylegan3_snapshot_loads_g_ema_and_draws_the_reference_images(tmp_path, stylegan3_golden):
    meta, state_dict, io = stylegan3_golden
    loaded = stylegan2.load(write_stylegan3_pickle(tmp_path / "network-snapshot.pkl", meta, state_dict))
    assert isinstance(loaded.generator, stylegan3.Generator)
    assert (loaded.meta["format"], loaded.meta["architecture"], loaded.meta["num_ws"]) == ("nvlabs-pickle",
                                                                                          "stylegan3", 16)
    with torch.no_grad():
        assert (loaded.generator(io["z"][:2], truncation_psi=0.7) - io["img_const"][:2]).abs().max() <= TOLERANCE


def test_stylegan3_pickle_converts_to_a_stylecam_file_that_loads_as_stylegan3(tmp_path, stylegan3_golden):
    meta, state_dict, _ = stylegan3_golden
    source = write_stylegan3_pickle(tmp_path / "sg3.pkl", meta, state_dict)
    converted = stylegan2.convert(source, tmp_path / "sg3.pt")
    assert (converted["format"], converted["architecture"], converted["source_format"]) == ("stylecam", "stylegan3",
                                                                                           "nvlabs-pickle")
    loaded = stylegan2.load(tmp_path / "sg3.pt").generator
    assert isinstance(loaded, stylegan3.Generator)
    assert all(torch.equal(tensor, state_dict[key]) for key, tensor in loaded.state_dict().items())


def test_truncated_stylegan3_pickle_is_refused_naming_the_file(tmp_path, stylegan3_golden):
    meta, state_dict, _ = stylegan3_golden
    path = write_stylegan3_pickle(tmp_path / "sg3.pkl", meta, state_dict)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(stylegan2.WeightsFormatError, match=r"sg3\.pkl: is truncated"):
        stylegan2.load(path)


def test_stylegan3_pickle_with_a_modified_layout_is_refused_with_what_differs(tmp_path, stylegan3_golden):
    meta, state_dict, _ = stylegan3_golden
    name = meta["layers"][0]["name"]
    path = write_stylegan3_pickle(tmp_path / "sg3.pkl", meta, state_dict,
                                  edit=lambda g: setattr(g.synthesis.get_submodule(name), "up_taps", 8))
    with pytest.raises(stylegan2.WeightsFormatError, match=rf"synthesis\.{name}\.up_taps is 8 in the file, 12 here"):
        stylegan2.load(path)


def test_stylegan3_pickle_is_refused_without_running_anything_it_names(tmp_path, stylegan3_golden):
    """Whatever the unpickler allows, a global outside its list stops the load before anything runs."""
    meta, state_dict, _ = stylegan3_golden
    path = write_stylegan3_pickle(tmp_path / "sg3.pkl", meta, state_dict, augment_pipe=pickle.loads)
    with pytest.raises(stylegan2.WeightsFormatError, match="refused to load"):
        stylegan2.load(path)
