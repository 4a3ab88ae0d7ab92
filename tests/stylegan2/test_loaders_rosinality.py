"""The rosinality checkpoints users have: converted ones, training ones, bare state dicts, old torch files."""
import argparse

import pytest
import torch

import stylegan2


@pytest.fixture(scope="module")
def golden_checkpoint(shared_file):
    return torch.load(shared_file("golden/rosinality_g64/ckpt.pt"), weights_only=True)


@pytest.fixture(scope="module")
def golden_generator(shared_file):
    return stylegan2.load(shared_file("golden/rosinality_g64/ckpt.pt")).generator


def render(G, seed=0):
    z = torch.randn([2, G.z_dim], generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return G(z, noise_mode="const")


def save(tmp_path, content, name="checkpoint.pt", **options):
    path = tmp_path / name
    torch.save(content, path, **options)
    return path


def test_training_checkpoint_without_latent_avg_loads_and_estimates_w_avg(tmp_path, golden_checkpoint,
                                                                          golden_generator):
    """rosinality's train.py saves g, d, g_ema, optimizer states and its argparse arguments."""
    g_ema = golden_checkpoint["g_ema"]
    checkpoint = {"g": g_ema, "d": {"convs.0.0.weight": torch.zeros(8, 3, 1, 1)}, "g_ema": g_ema,
                  "g_optim": {"state": {}, "param_groups": [{"lr": 0.002}]}, "d_optim": {"state": {}},
                  "args": argparse.Namespace(size=64, n_mlp=2, channel_multiplier=2), "ada_aug_p": 0.0}
    loaded = stylegan2.load(save(tmp_path, checkpoint))
    assert loaded.meta["w_avg"].startswith("estimated from 4096 random z")
    assert torch.equal(render(loaded.generator), render(golden_generator))
    assert (loaded.generator.mapping.w_avg - golden_checkpoint["latent_avg"]).abs().max() < 0.1


def test_training_checkpoint_loads_on_a_torch_without_safe_globals(tmp_path, golden_checkpoint, golden_generator,
                                                                   monkeypatch):
    """torch 2.0 to 2.4 (JetPack 5 and 6) cannot allow argparse.Namespace for one torch.load: StyleCam's own
    restricted unpickler reads the checkpoint there."""
    checkpoint = {"g_ema": golden_checkpoint["g_ema"], "args": argparse.Namespace(size=64)}
    monkeypatch.delattr(torch.serialization, "safe_globals", raising=False)
    assert torch.equal(render(stylegan2.load(save(tmp_path, checkpoint)).generator), render(golden_generator))


def test_bare_g_ema_state_dict_loads(tmp_path, golden_checkpoint, golden_generator):
    G = stylegan2.load(save(tmp_path, golden_checkpoint["g_ema"])).generator
    assert torch.equal(render(G), render(golden_generator))


def test_checkpoint_in_torch_legacy_format_loads(tmp_path, golden_checkpoint, golden_generator):
    path = save(tmp_path, golden_checkpoint, _use_new_zipfile_serialization=False)
    loaded = stylegan2.load(path)
    assert loaded.meta["format"] == "rosinality"
    assert torch.equal(render(loaded.generator), render(golden_generator))


def test_format_is_recognised_by_content_not_by_name(tmp_path, golden_checkpoint):
    assert stylegan2.load(save(tmp_path, golden_checkpoint, name="looks-like-nvidia.pkl")).meta["format"] == \
           "rosinality"


def test_widths_beyond_the_channel_rule_become_an_explicit_table(tmp_path, golden_checkpoint):
    """Slim the 64x64 block to 24 channels: min(channel_base // res, channel_max) cannot say that."""
    g_ema = dict(golden_checkpoint["g_ema"])
    g_ema["convs.6.conv.weight"] = g_ema["convs.6.conv.weight"][:, :24]
    g_ema["convs.6.activate.bias"] = g_ema["convs.6.activate.bias"][:24]
    g_ema["convs.7.conv.weight"] = g_ema["convs.7.conv.weight"][:, :24, :24]
    g_ema["convs.7.conv.modulation.weight"] = g_ema["convs.7.conv.modulation.weight"][:24]
    g_ema["convs.7.conv.modulation.bias"] = g_ema["convs.7.conv.modulation.bias"][:24]
    g_ema["convs.7.activate.bias"] = g_ema["convs.7.activate.bias"][:24]
    g_ema["to_rgbs.3.conv.weight"] = g_ema["to_rgbs.3.conv.weight"][:, :, :24]
    g_ema["to_rgbs.3.conv.modulation.weight"] = g_ema["to_rgbs.3.conv.modulation.weight"][:24]
    g_ema["to_rgbs.3.conv.modulation.bias"] = g_ema["to_rgbs.3.conv.modulation.bias"][:24]
    loaded = stylegan2.load(save(tmp_path, dict(golden_checkpoint, g_ema=g_ema)))
    assert loaded.meta["init_kwargs"]["synthesis_kwargs"]["channels"] == \
           {"4": 64, "8": 64, "16": 64, "32": 64, "64": 24}
    assert render(loaded.generator).shape == (2, 3, 64, 64)


def test_stock_widths_use_the_channel_rule(golden_generator):
    synthesis_kwargs = golden_generator.init_kwargs["synthesis_kwargs"]
    assert (synthesis_kwargs["channel_base"], synthesis_kwargs["channel_max"]) == (4096, 64)
    assert synthesis_kwargs["conv_clamp"] is None and synthesis_kwargs["num_fp16_res"] == 0


def test_tensors_of_another_model_family_are_named(tmp_path, golden_checkpoint):
    g_ema = dict(golden_checkpoint["g_ema"], **{"to_rgbs.0.iwt.ll": torch.zeros(1, 1, 2, 2)})
    with pytest.raises(stylegan2.WeightsFormatError, match=r"to_rgbs\.0\.iwt\.ll"):
        stylegan2.load(save(tmp_path, dict(golden_checkpoint, g_ema=g_ema)))


def test_non_standard_blur_filter_is_refused(tmp_path, golden_checkpoint):
    g_ema = dict(golden_checkpoint["g_ema"], **{"convs.2.conv.blur.kernel": torch.full([4, 4], 0.25)})
    with pytest.raises(stylegan2.WeightsFormatError, match=r"'convs\.2\.conv\.blur\.kernel' is not the standard"):
        stylegan2.load(save(tmp_path, dict(golden_checkpoint, g_ema=g_ema)))


def test_missing_tensor_is_named(tmp_path, golden_checkpoint):
    g_ema = {key: value for key, value in golden_checkpoint["g_ema"].items() if key != "noises.noise_4"}
    with pytest.raises(stylegan2.WeightsFormatError, match=r"missing 'noises\.noise_4'"):
        stylegan2.load(save(tmp_path, dict(golden_checkpoint, g_ema=g_ema)))


def test_entry_that_is_not_a_tensor_is_named(tmp_path, golden_checkpoint):
    g_ema = dict(golden_checkpoint["g_ema"], **{"convs.0.noise.weight": 0.5})
    with pytest.raises(stylegan2.WeightsFormatError, match=r"not named tensors: convs\.0\.noise\.weight"):
        stylegan2.load(save(tmp_path, dict(golden_checkpoint, g_ema=g_ema)))


def test_latent_avg_of_the_wrong_size_is_refused(tmp_path, golden_checkpoint):
    with pytest.raises(stylegan2.WeightsFormatError, match="'latent_avg' should be 32 numbers"):
        stylegan2.load(save(tmp_path, dict(golden_checkpoint, latent_avg=torch.zeros(16))))


def test_torch_file_of_something_else_is_refused(tmp_path):
    path = save(tmp_path, {"model": {"fc.weight": torch.zeros(2, 2)}})
    with pytest.raises(stylegan2.WeightsFormatError, match="neither a StyleCam weights file nor a rosinality"):
        stylegan2.load(path)
