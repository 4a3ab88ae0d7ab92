"""Model blending: layer swapping between generators of one architecture, and its provenance."""
import hashlib

import pytest
import torch

import stylegan2
from stylegan2.studio.blending import IncompatibleModels, blend_files, blend_generators, block_weights
from stylegan2.testing import make_random_generator, make_random_stylegan3


@pytest.fixture
def other_generator(nvlabs_golden):
    """A generator of the golden model's architecture with other (random) weights: the "fine-tuned" side."""
    kwargs = nvlabs_golden[0]["init_kwargs"]
    return make_random_generator(resolution=64, z_dim=kwargs["z_dim"], w_dim=kwargs["w_dim"], mapping_layers=2,
                                 channel_base=2048, channel_max=64, num_fp16_res=2, conv_clamp=256, seed=7)


def block_of(key):
    return int(key.split(".")[1][1:])


@pytest.mark.parametrize("swap_res", [8, 32, 64])
@pytest.mark.parametrize("mapping", ["base", "other"])
def test_a_hard_blend_is_base_below_the_swap_resolution_and_other_from_it_on(golden_generator, other_generator,
                                                                             swap_res, mapping):
    blended = blend_generators(golden_generator, other_generator, swap_res, mapping=mapping).state_dict()
    base, other = golden_generator.state_dict(), other_generator.state_dict()
    assert blended.keys() == base.keys()
    for key, tensor in blended.items():
        if key.startswith("mapping."):
            expected = (base if mapping == "base" else other)[key]
        else:
            expected = base[key] if block_of(key) < swap_res else other[key]
        assert torch.equal(tensor, expected), key


def test_the_mapping_side_brings_its_w_avg_and_so_its_truncation(golden_generator, other_generator):
    blended = blend_generators(golden_generator, other_generator, 32, mapping="other")
    assert torch.equal(blended.mapping.w_avg, other_generator.mapping.w_avg)
    z = torch.randn(2, blended.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(blended.mapping(z, truncation_psi=0.5), other_generator.mapping(z, truncation_psi=0.5))


def test_a_smooth_blend_weighs_each_block_by_the_sigmoid_around_the_swap_point(golden_generator, other_generator):
    weights = block_weights(golden_generator, 16, blend_width=0.5)
    assert list(weights) == [4, 8, 16, 32, 64]
    assert all(a < b for a, b in zip(list(weights.values()), list(weights.values())[1:]))
    assert weights[8] + weights[16] == pytest.approx(1.0)          # the swap point lies between 8 and 16 px
    assert weights[16] == pytest.approx(1 / (1 + torch.exp(torch.tensor(-1.0)).item()))
    blended = blend_generators(golden_generator, other_generator, 16, blend_width=0.5).state_dict()
    key = "synthesis.b32.conv1.weight"
    expected = torch.lerp(golden_generator.state_dict()[key], other_generator.state_dict()[key], weights[32])
    torch.testing.assert_close(blended[key], expected, rtol=0, atol=1e-6)


def test_a_narrow_smooth_blend_tends_to_the_hard_swap(golden_generator):
    narrow = block_weights(golden_generator, 32, blend_width=0.01)
    assert narrow == pytest.approx(block_weights(golden_generator, 32), abs=1e-12)


@pytest.mark.parametrize("changes, difference", [
    (dict(resolution=32), "resolution (64 vs 32)"),
    (dict(channel_max=32), "channel widths (4 px: 64 vs 32; 8 px: 64 vs 32; 16 px: 64 vs 32; 32 px: 64 vs 32)"),
    (dict(w_dim=16), "w_dim (32 vs 16)"),
    (dict(mapping_layers=3), "mapping depth (2 vs 3 layers)"),
])
def test_incompatible_models_are_refused_saying_what_differs(golden_generator, changes, difference):
    settings = dict(resolution=64, z_dim=32, w_dim=32, mapping_layers=2, channel_base=2048, channel_max=64)
    other = make_random_generator(**{**settings, **changes})
    with pytest.raises(IncompatibleModels, match="differ in") as error:
        blend_generators(golden_generator, other, 32)
    assert difference in str(error.value)


@pytest.mark.parametrize("swap_res", [4, 128, 24])
def test_a_swap_resolution_outside_the_models_blocks_is_refused_listing_the_valid_ones(golden_generator,
                                                                                       other_generator, swap_res):
    with pytest.raises(ValueError, match="one of 8, 16, 32, 64 for a 64 px model"):
        blend_generators(golden_generator, other_generator, swap_res)


@pytest.mark.parametrize("width", [0, -1.0, float("nan")])
def test_a_blend_width_must_be_positive(golden_generator, width):
    with pytest.raises(ValueError, match="blend width"):
        block_weights(golden_generator, 16, width)


def test_a_blended_file_loads_like_any_generator_and_records_both_sources(golden_generator, other_generator, tmp_path):
    stylegan2.save(golden_generator, tmp_path / "ffhq.pt")
    stylegan2.save(other_generator, tmp_path / "toon.pt")
    provenance = blend_files(tmp_path / "ffhq.pt", tmp_path / "toon.pt", tmp_path / "blended.pt", 16,
                             blend_width=0.7, mapping="other")
    loaded = stylegan2.load(tmp_path / "blended.pt")
    expected = blend_generators(golden_generator, other_generator, 16, blend_width=0.7, mapping="other")
    for key, tensor in expected.state_dict().items():
        assert torch.equal(loaded.generator.state_dict()[key], tensor), key
    record = loaded.meta["blend"]
    assert record == provenance
    for side, name in (("base", "ffhq.pt"), ("other", "toon.pt")):
        assert record[side]["file"] == name
        assert record[side]["sha256"] == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
    assert (record["swap_res"], record["blend_width"], record["mapping"]) == (16, 0.7, "other")


@pytest.mark.parametrize("side", ["base", "other"])
def test_a_stylegan3_model_is_refused_saying_blending_needs_stylegan2_blocks(golden_generator, side):
    stylegan3_model = make_random_stylegan3("t", resolution=64, channel_base=256, channel_max=8)
    models = (stylegan3_model, golden_generator) if side == "base" else (golden_generator, stylegan3_model)
    with pytest.raises(IncompatibleModels, match=f"StyleGAN2's resolution blocks, and the {side} model is stylegan3"):
        blend_generators(*models, swap_res=16)
