"""NVIDIA pickles load through stylegan2.load and give NVIDIA's images (../shared/golden/nvlabs_g64)."""
import pickle

import numpy as np
import pytest
import torch

import stylegan2
from stylegan2.testing import make_random_generator
from tests.stylegan2.weight_files import state_dict_of, write_nvlabs_pickle

TOLERANCE = 1e-4


def max_difference(actual: torch.Tensor, expected: torch.Tensor) -> float:
    assert actual.shape == expected.shape
    return (actual - expected).abs().max().item()


@pytest.fixture
def golden_pickle(tmp_path, nvlabs_golden):
    meta, state_dict, _ = nvlabs_golden
    return write_nvlabs_pickle(tmp_path / "network-snapshot-000000.pkl", meta["init_kwargs"], state_dict)


# Protocol 3 is what the released files use (Python 3.7's default); 2 spells sets and bytes differently.
@pytest.mark.parametrize("protocol", [2, 3, pickle.DEFAULT_PROTOCOL])
def test_golden_pickle_reproduces_nvidia_images(tmp_path, nvlabs_golden, protocol):
    meta, state_dict, io = nvlabs_golden
    path = write_nvlabs_pickle(tmp_path / "golden.pkl", meta["init_kwargs"], state_dict, protocol=protocol)
    G = stylegan2.load(path).generator
    with torch.no_grad():
        assert max_difference(G.mapping(io["z"], truncation_psi=0.5, truncation_cutoff=4),
                              io["ws_psi05_cut4"]) <= TOLERANCE
        assert max_difference(G(io["z"], truncation_psi=0.7), io["img_const"]) <= TOLERANCE
        assert max_difference(G.synthesis(io["ws_psi07"], noise_mode="none"), io["img_none"]) <= TOLERANCE
        assert max_difference(G.synthesis(io["ws_mixed"]), io["img_mixed_const"]) <= TOLERANCE


def test_golden_pickle_gives_the_reference_state_dict_exactly(golden_pickle, nvlabs_golden):
    loaded = stylegan2.load(golden_pickle).generator.state_dict()
    _, state_dict, _ = nvlabs_golden
    assert set(loaded) == set(state_dict)
    assert all(torch.equal(loaded[key], state_dict[key]) for key in state_dict)


def test_meta_describes_the_pickle(golden_pickle, nvlabs_golden):
    meta = stylegan2.load(golden_pickle).meta
    assert meta["format"] == "nvlabs-pickle"
    assert meta["path"] == str(golden_pickle)
    assert meta["init_kwargs"] == nvlabs_golden[0]["init_kwargs"]
    assert (meta["img_resolution"], meta["num_ws"], meta["z_dim"], meta["w_dim"]) == (64, 10, 32, 32)
    assert meta["snapshot_keys"] == ["D", "G", "G_ema", "augment_pipe", "training_set_kwargs"]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"))])
def test_generator_is_ready_for_inference_on_the_device(golden_pickle, device):
    G = stylegan2.load(golden_pickle, device=device).generator
    assert not G.training
    assert not any(parameter.requires_grad for parameter in G.parameters())
    assert all(tensor.device.type == device for tensor in G.state_dict().values())


def test_module_source_in_the_pickle_is_never_executed(tmp_path, nvlabs_golden):
    marker = tmp_path / "module_src_ran"
    meta, state_dict, _ = nvlabs_golden
    source = f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
    path = write_nvlabs_pickle(tmp_path / "g.pkl", meta["init_kwargs"], state_dict, module_src=source)
    stylegan2.load(path)
    assert not marker.exists()


def test_released_pickle_with_only_the_generators_loads(tmp_path, nvlabs_golden):
    meta, state_dict, io = nvlabs_golden
    path = write_nvlabs_pickle(tmp_path / "g.pkl", meta["init_kwargs"], state_dict, D=None,
                               training_set_kwargs=None)
    G = stylegan2.load(path).generator
    with torch.no_grad():
        assert max_difference(G(io["z"], truncation_psi=0.7), io["img_const"]) <= TOLERANCE


def test_stylegan3_release_layout_of_stylegan2_models_loads(tmp_path, nvlabs_golden):
    """The stylegan3 repository passes synthesis options as plain keyword arguments of Generator."""
    meta, state_dict, io = nvlabs_golden
    init_kwargs = {key: value for key, value in meta["init_kwargs"].items() if key != "synthesis_kwargs"}
    init_kwargs.update(meta["init_kwargs"]["synthesis_kwargs"], fused_modconv_default="inference_only")
    loaded = stylegan2.load(write_nvlabs_pickle(tmp_path / "g.pkl", init_kwargs, state_dict))
    assert loaded.meta["init_kwargs"] == meta["init_kwargs"]
    assert loaded.meta["ignored_kwargs"] == {"fused_modconv_default": "inference_only"}
    with torch.no_grad():
        assert max_difference(loaded.generator(io["z"], truncation_psi=0.7), io["img_const"]) <= TOLERANCE


def test_pickle_converted_from_tensorflow_with_every_option_spelled_out_loads(tmp_path, nvlabs_golden):
    """NVIDIA's legacy.py (behind the official FFHQ pickles) writes every constructor option explicitly."""
    meta, state_dict, io = nvlabs_golden
    init_kwargs = dict(meta["init_kwargs"])
    init_kwargs["mapping_kwargs"] = dict(init_kwargs["mapping_kwargs"], embed_features=None, layer_features=None,
                                         activation="lrelu", lr_multiplier=0.01, w_avg_beta=0.995)
    init_kwargs["synthesis_kwargs"] = dict(init_kwargs["synthesis_kwargs"], architecture="skip",
                                           resample_filter=[1, 3, 3, 1], use_noise=True, activation="lrelu")
    G = stylegan2.load(write_nvlabs_pickle(tmp_path / "ffhq.pkl", init_kwargs, state_dict)).generator
    with torch.no_grad():
        assert max_difference(G(io["z"], truncation_psi=0.7), io["img_const"]) <= TOLERANCE


def test_numpy_numbers_in_constructor_arguments_become_plain_numbers(tmp_path, nvlabs_golden):
    meta, state_dict, _ = nvlabs_golden
    init_kwargs = dict(meta["init_kwargs"], img_resolution=np.int64(64), z_dim=np.int32(32))
    source = write_nvlabs_pickle(tmp_path / "g.pkl", init_kwargs, state_dict)
    converted = stylegan2.convert(source, tmp_path / "g.pt")
    assert converted["init_kwargs"] == meta["init_kwargs"]
    assert type(converted["init_kwargs"]["img_resolution"]) is int


def test_conditional_generator_round_trips(tmp_path):
    source = make_random_generator(resolution=16, c_dim=4, seed=3)
    path = write_nvlabs_pickle(tmp_path / "g.pkl", source.init_kwargs, state_dict_of(source))
    G = stylegan2.load(path).generator
    z, c = torch.randn([2, 32]), torch.eye(4)[:2]
    with torch.no_grad():
        assert torch.equal(G(z, c, truncation_psi=0.6), source(z, c, truncation_psi=0.6))


def test_stylegan2_generator_with_a_stylegan3_input_is_refused_naming_the_foreign_networks(tmp_path, nvlabs_golden):
    meta, state_dict, _ = nvlabs_golden
    state_dict = dict(state_dict, **{"synthesis.input.weight": torch.zeros(64, 4)})
    path = write_nvlabs_pickle(tmp_path / "sg3.pkl", meta["init_kwargs"], state_dict,
                               class_names={"synthesis.input": "SynthesisInput"})
    with pytest.raises(stylegan2.WeightsFormatError, match="StyleGAN3 does not have .*SynthesisBlock, ToRGBLayer"):
        stylegan2.load(path)


def test_unknown_network_class_in_the_generator_is_refused(tmp_path, nvlabs_golden):
    meta, state_dict, _ = nvlabs_golden
    path = write_nvlabs_pickle(tmp_path / "g.pkl", meta["init_kwargs"], state_dict,
                               class_names={"synthesis.b8": "PatchedBlock"})
    with pytest.raises(stylegan2.WeightsFormatError, match="PatchedBlock"):
        stylegan2.load(path)


def test_unsupported_architecture_is_refused_with_the_reason(tmp_path, nvlabs_golden):
    meta, state_dict, _ = nvlabs_golden
    init_kwargs = dict(meta["init_kwargs"])
    init_kwargs["synthesis_kwargs"] = dict(init_kwargs["synthesis_kwargs"], architecture="resnet")
    with pytest.raises(stylegan2.WeightsFormatError, match="resnet"):
        stylegan2.load(write_nvlabs_pickle(tmp_path / "g.pkl", init_kwargs, state_dict))


def test_pickle_without_g_ema_is_refused(tmp_path, nvlabs_golden):
    meta, state_dict, _ = nvlabs_golden
    path = write_nvlabs_pickle(tmp_path / "d_only.pkl", meta["init_kwargs"], state_dict)
    with open(path, "rb") as file:
        data = file.read()
    path.write_bytes(data.replace(b"G_ema", b"G_xxx"))
    with pytest.raises(stylegan2.WeightsFormatError, match="no generator under 'G_ema'") as error:
        stylegan2.load(path)
    assert str(path) in str(error.value)


def test_missing_weight_is_named(tmp_path, nvlabs_golden):
    meta, state_dict, _ = nvlabs_golden
    state_dict = {key: value for key, value in state_dict.items() if key != "synthesis.b16.conv1.weight"}
    with pytest.raises(stylegan2.WeightsFormatError, match=r"missing \(synthesis\.b16\.conv1\.weight\)"):
        stylegan2.load(write_nvlabs_pickle(tmp_path / "g.pkl", meta["init_kwargs"], state_dict))


def test_weight_of_the_wrong_shape_is_named(tmp_path, nvlabs_golden):
    meta, state_dict, _ = nvlabs_golden
    state_dict = dict(state_dict, **{"mapping.fc1.weight": torch.zeros(32, 16)})
    with pytest.raises(stylegan2.WeightsFormatError, match=r"'mapping\.fc1\.weight' has shape \[32, 16\]"):
        stylegan2.load(write_nvlabs_pickle(tmp_path / "g.pkl", meta["init_kwargs"], state_dict))
