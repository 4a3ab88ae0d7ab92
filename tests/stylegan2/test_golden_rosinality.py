"""rosinality checkpoints load through stylegan2.load and give rosinality's images (../shared/golden/rosinality_g64)."""
import json

import numpy as np
import pytest
import torch

import stylegan2

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def rosinality_golden(shared_file):
    """(loaded generator, reference arrays) for the rosinality golden checkpoint."""
    loaded = stylegan2.load(shared_file("golden/rosinality_g64/ckpt.pt"))
    with np.load(shared_file("golden/rosinality_g64/io.npz")) as arrays:
        io = {key: torch.from_numpy(value) for key, value in arrays.items()}
    return loaded, io


def assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    assert actual.shape == expected.shape
    assert (actual - expected).abs().max().item() <= TOLERANCE


def test_settings_are_inferred_from_the_tensor_shapes(rosinality_golden, shared_file):
    reference = json.loads(shared_file("golden/rosinality_g64/meta.json").read_text())
    loaded, _ = rosinality_golden
    G = loaded.generator
    assert loaded.meta["format"] == "rosinality"
    assert (G.img_resolution, G.z_dim, G.w_dim, G.num_ws) == \
           (reference["size"], reference["style_dim"], reference["style_dim"], reference["n_latent"])
    assert G.mapping.num_layers == reference["n_mlp"]
    assert G.synthesis.channels == {res: reference["channels"][str(res)] for res in G.synthesis.channels}


@pytest.mark.parametrize("psi, expected", [(1.0, "ws_psi1"), (0.7, "ws_psi07")])
def test_mapping_and_truncation_toward_latent_avg_match(rosinality_golden, psi, expected):
    loaded, io = rosinality_golden
    with torch.no_grad():
        assert_close(loaded.generator.mapping(io["z"], truncation_psi=psi), io[expected])


@pytest.mark.parametrize("ws_name, expected", [("ws_psi1", "img_psi1_const"), ("ws_psi07", "img_psi07_const")])
def test_synthesis_with_stored_noise_matches(rosinality_golden, ws_name, expected):
    loaded, io = rosinality_golden
    with torch.no_grad():
        assert_close(loaded.generator.synthesis(io[ws_name], noise_mode="const"), io[expected])


def test_style_mixing_of_two_latents_matches(rosinality_golden):
    loaded, io = rosinality_golden
    G = loaded.generator
    with torch.no_grad():
        ws = torch.cat([G.mapping(io["z"])[:, :3], G.mapping(io["z2"])[:, 3:]], dim=1)
        assert_close(ws, io["ws_mix3"])
        assert_close(G.synthesis(ws), io["img_mix3_const"])


def test_full_generator_with_truncation_matches(rosinality_golden):
    loaded, io = rosinality_golden
    with torch.no_grad():
        assert_close(loaded.generator(io["z"], truncation_psi=0.7, noise_mode="const"), io["img_psi07_const"])
