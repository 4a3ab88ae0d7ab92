"""The generator reproduces NVlabs stylegan2-ada-pytorch on its own weights (../shared/golden/nvlabs_g64)."""
import pytest
import torch

from stylegan2.inference import InferenceGenerator

TOLERANCE = 1e-4


def assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    assert actual.shape == expected.shape
    assert (actual - expected).abs().max().item() <= TOLERANCE


def test_state_dict_has_exactly_the_nvlabs_keys(nvlabs_golden, golden_generator):
    _, state_dict, _ = nvlabs_golden
    assert set(golden_generator.state_dict()) == set(state_dict)
    assert golden_generator.num_ws == nvlabs_golden[0]["num_ws"]


@pytest.mark.parametrize("psi, cutoff, expected", [(1.0, None, "ws_psi1"), (0.7, None, "ws_psi07"),
                                                   (0.5, 4, "ws_psi05_cut4")])
def test_mapping_and_truncation_match(nvlabs_golden, golden_generator, psi, cutoff, expected):
    io = nvlabs_golden[2]
    with torch.no_grad():
        ws = golden_generator.mapping(io["z"], truncation_psi=psi, truncation_cutoff=cutoff)
    assert_close(ws, io[expected])


LAYOUTS = {
    "cpu-fast": lambda G, ws, noise_mode: InferenceGenerator(G, "cpu-fast").synthesis(ws, noise_mode=noise_mode),
    "reference": lambda G, ws, noise_mode: G.synthesis(ws, noise_mode=noise_mode),
    "reference-fused": lambda G, ws, noise_mode: G.synthesis(ws, noise_mode=noise_mode, fused_modconv=True),
    "reference-unfused": lambda G, ws, noise_mode: G.synthesis(ws, noise_mode=noise_mode, fused_modconv=False),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("ws_name, noise_mode, expected", [("ws_psi07", "const", "img_const"),
                                                           ("ws_psi07", "none", "img_none"),
                                                           ("ws_mixed", "const", "img_mixed_const")])
def test_synthesis_matches(nvlabs_golden, golden_generator, ws_name, noise_mode, expected, layout):
    io = nvlabs_golden[2]
    with torch.no_grad():
        img = LAYOUTS[layout](golden_generator, io[ws_name], noise_mode)
    assert img.dtype == torch.float32
    assert_close(img, io[expected])


def test_synthesis_matches_with_autograd_enabled(nvlabs_golden, golden_generator):
    io = nvlabs_golden[2]
    img = golden_generator.synthesis(io["ws_psi07"].clone().requires_grad_(True))
    assert_close(img.detach(), io["img_const"])


def test_full_generator_matches(nvlabs_golden, golden_generator):
    io = nvlabs_golden[2]
    with torch.no_grad():
        img = golden_generator(io["z"], truncation_psi=0.7, noise_mode="const")
    assert_close(img, io["img_const"])

