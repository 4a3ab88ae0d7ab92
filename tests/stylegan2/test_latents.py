"""Latent operations: seeds, mixing, interpolation, and the layer-index conventions."""
import numpy as np
import pytest
import torch

from stylegan2 import latents
from stylegan2.studio.mixing import layer_group
from stylegan2.testing import make_random_stylegan3


def test_seed_to_z_is_numpy_randomstate_randn():
    expected = np.random.RandomState(42).randn(1, 512).astype(np.float32)
    z = latents.seed_to_z(42, 512)
    assert z.dtype == torch.float32 and z.shape == (1, 512)
    assert np.array_equal(z.numpy(), expected)


@pytest.mark.parametrize("seed", [-1, 2 ** 32, 1.5, "7", True])
def test_seed_to_z_rejects_invalid_seeds(seed):
    with pytest.raises(ValueError, match="seed"):
        latents.seed_to_z(seed, 8)


def test_seed_to_ws_matches_mapping_of_seed_z(small_generator):
    ws = latents.seed_to_ws(small_generator, 3, psi=0.7, cutoff=4)
    with torch.no_grad():
        expected = small_generator.mapping(latents.seed_to_z(3, 32), truncation_psi=0.7, truncation_cutoff=4)
    assert torch.equal(ws, expected)
    assert ws.shape == (1, small_generator.num_ws, small_generator.w_dim)


def test_mix_reproduces_the_golden_style_mixing(nvlabs_golden):
    ws = nvlabs_golden[2]["ws_psi07"]
    mixed = latents.mix(ws, ws.flip(0), slice(4, None), strength=1.0)
    assert torch.equal(mixed, nvlabs_golden[2]["ws_mixed"])


def test_mix_moves_only_the_given_layers_by_strength():
    target, source = torch.zeros(2, 10, 4), torch.ones(2, 10, 4)
    mixed = latents.mix(target, source, slice(3, 6), strength=0.25)
    assert torch.all(mixed[:, 3:6] == 0.25)
    assert torch.all(mixed[:, :3] == 0) and torch.all(mixed[:, 6:] == 0)
    assert torch.all(target == 0)


def test_mix_broadcasts_a_single_source_over_the_batch():
    mixed = latents.mix(torch.zeros(3, 10, 4), torch.ones(1, 10, 4), slice(0, 2), strength=1.0)
    assert torch.all(mixed[:, :2] == 1) and torch.all(mixed[:, 2:] == 0)


@pytest.mark.parametrize("strength", [-0.1, 1.5, float("nan"), "0.5", None])
def test_mix_rejects_strength_outside_0_1(strength):
    with pytest.raises(ValueError, match="strength"):
        latents.mix(torch.zeros(1, 10, 4), torch.ones(1, 10, 4), slice(0, 2), strength)


@pytest.mark.parametrize("layers", [slice(5, 5), slice(8, 12), slice(-2, None), slice(0, 4, 2), "0:4"])
def test_mix_rejects_bad_layer_ranges(layers):
    with pytest.raises(ValueError, match="layers"):
        latents.mix(torch.zeros(1, 10, 4), torch.ones(1, 10, 4), layers, 0.5)


def test_mix_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="does not match"):
        latents.mix(torch.zeros(2, 10, 4), torch.ones(2, 12, 4), slice(0, 2), 0.5)
    with pytest.raises(ValueError, match="W\\+ latent"):
        latents.mix(torch.zeros(10, 4), torch.ones(10, 4), slice(0, 2), 0.5)


def test_interpolate_is_linear_in_w():
    w0, w1 = torch.zeros(1, 10, 4), torch.full((1, 10, 4), 2.0)
    assert torch.equal(latents.interpolate(w0, w1, 0.0), w0)
    assert torch.equal(latents.interpolate(w0, w1, 1.0), w1)
    assert torch.allclose(latents.interpolate(w0, w1, 0.25), torch.full((1, 10, 4), 0.5))


def test_slerp_keeps_the_norm_between_orthogonal_unit_vectors():
    z0, z1 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    halfway = latents.slerp(z0, z1, 0.5)
    assert torch.allclose(halfway.norm(dim=1), torch.ones(1))
    assert torch.allclose(latents.slerp(z0, z1, 0.0), z0) and torch.allclose(latents.slerp(z0, z1, 1.0), z1)


def test_slerp_of_parallel_vectors_is_linear():
    z = torch.tensor([[1.0, 2.0]])
    assert torch.allclose(latents.slerp(z, 3 * z, 0.5), 2 * z)


def test_layer_resolutions_pair_up_per_resolution():
    assert latents.layer_resolutions(14) == [4, 4, 8, 8, 16, 16, 32, 32, 64, 64, 128, 128, 256, 256]
    assert len(latents.layer_resolutions(18)) == 18 and latents.layer_resolutions(18)[-1] == 1024


def test_layer_resolutions_accepts_a_generator(small_generator):
    assert latents.layer_resolutions(small_generator) == [4, 4, 8, 8, 16, 16, 32, 32, 64, 64]


def test_layer_roles_name_the_layers_each_index_drives(small_generator):
    """Perturb one w at a time and record which affine layers see a different input."""
    names = [name for name, _ in small_generator.synthesis.named_modules() if name.endswith(".affine")]
    seen = {}
    hooks = [small_generator.synthesis.get_submodule(name).register_forward_hook(
        lambda module, args, out, name=name: seen.__setitem__(name, args[0].clone())) for name in names]
    try:
        ws = torch.zeros(1, small_generator.num_ws, small_generator.w_dim)
        with torch.no_grad():
            small_generator.synthesis(ws)
            baseline = dict(seen)
            for index, roles in enumerate(latents.layer_roles(small_generator)):
                perturbed = ws.clone()
                perturbed[:, index] += 1
                small_generator.synthesis(perturbed)
                changed = [name[:-len(".affine")] for name in names if not torch.equal(seen[name], baseline[name])]
                assert sorted(changed) == sorted(roles), f"index {index}"
    finally:
        for hook in hooks:
            hook.remove()


@pytest.mark.parametrize("text, expected", [("7:14", slice(7, 14)), (":4", slice(None, 4)),
                                            ("8:", slice(8, None)), ("5", slice(5, 6)), (" 2 : 3 ", slice(2, 3))])
def test_parse_layers(text, expected):
    assert latents.parse_layers(text) == expected


def test_parse_layers_resolves_open_ends_against_num_ws():
    assert latents.parse_layers("8:", num_ws=14) == slice(8, 14)


@pytest.mark.parametrize("text", ["", "a:b", "1:2:3", "-1:4", "9:3", "4:4", "1.5:3"])
def test_parse_layers_rejects_malformed_ranges(text):
    with pytest.raises(ValueError):
        latents.parse_layers(text)


def test_parse_layers_rejects_ranges_beyond_num_ws():
    with pytest.raises(ValueError, match="within 0:10"):
        latents.parse_layers("7:14", num_ws=10)


@pytest.mark.parametrize("layers, to_num_ws, expected", [(slice(7, 14), 18, slice(9, 18)),
                                                        (slice(7, 14), 10, slice(5, 10)),
                                                        (slice(0, 4), 14, slice(0, 4)),
                                                        (slice(13, 14), 10, slice(9, 10)),
                                                        (slice(None, 2), 10, slice(0, 1))])
def test_scale_layers_maps_ranges_proportionally(layers, to_num_ws, expected):
    assert latents.scale_layers(layers, 14, to_num_ws) == expected


@pytest.fixture(scope="module")
def tiny_stylegan3():
    """A 32x32 StyleGAN3 with 8 channels: sampling rates 16 then 32, like the released models' first octaves."""
    return make_random_stylegan3("t", resolution=32, channel_base=128, channel_max=8)


def test_stylegan3_layer_resolutions_are_twice_the_cutoff_frequencies_as_powers_of_two(tiny_stylegan3,
                                                                                         stylegan3_generator):
    """The input's band ends at 2 (a 4 px StyleGAN2 block); the last layers' at the image's Nyquist frequency."""
    assert latents.layer_resolutions(tiny_stylegan3) == [4] * 5 + [8] * 4 + [16] * 4 + [32] * 3
    assert latents.layer_resolutions(stylegan3_generator) == [4] * 4 + [8] * 3 + [16] * 3 + [32] * 3 + [64] * 3


def test_stylegan3_256_layers_fall_into_the_papers_coarse_middle_and_fine_groups():
    G = make_random_stylegan3("t", resolution=256, channel_base=4096, channel_max=4)
    assert latents.layer_resolutions(G) == [4, 4, 4, 8, 8, 16, 16, 32, 32, 64, 64, 128, 128, 256, 256, 256]
    assert [layer_group(G, name) for name in ("coarse", "middle", "fine")] == [slice(0, 5), slice(5, 9), slice(9, 16)]


def test_stylegan3_layer_roles_name_the_layers_each_index_drives(tiny_stylegan3):
    """Perturb one w at a time and record which affine layers see a different input."""
    G = tiny_stylegan3
    names = [name for name, _ in G.synthesis.named_modules() if name.endswith("affine")]
    seen = {}
    hooks = [G.synthesis.get_submodule(name).register_forward_hook(
        lambda module, args, out, name=name: seen.__setitem__(name, args[0].clone())) for name in names]
    try:
        ws = torch.zeros(1, G.num_ws, G.w_dim)
        with torch.no_grad():
            G.synthesis(ws)
            baseline = dict(seen)
            roles = latents.layer_roles(G)
            assert len(roles) == G.num_ws == 16 and roles[0] == ["input"] and roles[-1] == ["L14_32_3"]
            for index, expected in enumerate(roles):
                perturbed = ws.clone()
                perturbed[:, index] += 1
                G.synthesis(perturbed)
                changed = [name[:-len(".affine")] for name in names if not torch.equal(seen[name], baseline[name])]
                assert changed == expected, f"index {index}"
    finally:
        for hook in hooks:
            hook.remove()


def test_seed_to_ws_works_for_stylegan3(tiny_stylegan3):
    ws = latents.seed_to_ws(tiny_stylegan3, 3, psi=0.7, cutoff=4)
    with torch.no_grad():
        expected = tiny_stylegan3.mapping(latents.seed_to_z(3, 32), truncation_psi=0.7, truncation_cutoff=4)
    assert torch.equal(ws, expected) and ws.shape == (1, 16, 32)


def test_layer_ranges_tuned_on_stylegan2_scale_to_stylegan3(tiny_stylegan3):
    """A range tuned on FFHQ-256 (14 ws) keeps its share of the layers on StyleGAN3's 16."""
    assert latents.scale_layers(slice(7, 14), 14, tiny_stylegan3.num_ws) == slice(8, 16)
    assert latents.scale_layers(slice(0, 4), 14, tiny_stylegan3.num_ws) == slice(0, 5)
