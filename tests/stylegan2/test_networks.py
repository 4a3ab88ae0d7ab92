"""Behaviour of the generator beyond the golden reference: shapes, options, noise, autograd, precision."""
import json

import pytest
import torch

from stylegan2 import Generator
from stylegan2.inference import InferenceGenerator, cpu_synthesis
from stylegan2.inference.cpu_synthesis import CpuSynthesis
from stylegan2.testing import make_random_generator


def render(G, ws, **kwargs):
    """NVIDIA's layout, without autograd."""
    with torch.no_grad():
        return G.synthesis(ws, **kwargs)


def render_fast(G, ws, noise_mode="const"):
    """The CPU inference layout."""
    return InferenceGenerator(G, "cpu-fast").synthesis(ws, noise_mode=noise_mode)


def random_ws(G, batch_size=2, seed=0):
    z = torch.randn([batch_size, G.z_dim], generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return G.mapping(z)


@pytest.mark.parametrize("resolution, num_ws", [(4, 2), (8, 4), (256, 14), (1024, 18)])
def test_num_ws_follows_resolution(resolution, num_ws):
    G = Generator(8, 0, 8, resolution, 3, mapping_kwargs=dict(num_layers=1),
                  synthesis_kwargs=dict(channel_base=8192, channel_max=8))
    assert G.num_ws == num_ws


@pytest.mark.parametrize("resolution", [4, 1024])
def test_smallest_and_largest_resolutions_render(resolution):
    G = make_random_generator(resolution=resolution, channel_base=4096, channel_max=4)
    ws = random_ws(G, batch_size=1)
    fast, reference = render_fast(G, ws), render(G, ws)
    assert fast.shape == (1, 3, resolution, resolution)
    assert (fast - reference).abs().max() < 1e-4


def test_channel_rule_must_leave_channels_at_every_resolution():
    with pytest.raises(ValueError, match="channel_base 64"):
        Generator(8, 0, 8, 256, 3, synthesis_kwargs=dict(channel_base=64, channel_max=8))


def test_image_has_requested_shape_and_dtype(small_generator):
    img = render(small_generator, random_ws(small_generator, batch_size=3))
    assert img.shape == (3, 3, 64, 64) and img.dtype == torch.float32


def test_forward_is_mapping_then_synthesis(small_generator):
    z = torch.randn([2, 32])
    with torch.no_grad():
        expected = small_generator.synthesis(small_generator.mapping(z, truncation_psi=0.5))
        assert torch.equal(small_generator(z, truncation_psi=0.5), expected)


def test_init_kwargs_are_json_and_rebuild_the_same_architecture(small_generator):
    kwargs = json.loads(json.dumps(small_generator.init_kwargs))
    rebuilt = Generator(**kwargs)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == \
           {k: v.shape for k, v in small_generator.state_dict().items()}


def test_channels_table_overrides_the_channel_rule():
    G = make_random_generator(resolution=16, channels={"4": 24, 16: 8})
    assert G.synthesis.b4.const.shape == (24, 4, 4)
    assert G.synthesis.b8.conv0.weight.shape == (64, 24, 3, 3)
    assert G.synthesis.b16.conv1.weight.shape == (8, 8, 3, 3)
    assert G.init_kwargs["synthesis_kwargs"]["channels"] == {"4": 24, "16": 8}
    assert render(G, random_ws(G)).shape == (2, 3, 16, 16)


def test_channels_table_rejects_unknown_resolutions():
    with pytest.raises(ValueError, match="resolution '32'"):
        make_random_generator(resolution=16, channels={"32": 8})


def test_unsupported_architecture_is_named():
    with pytest.raises(NotImplementedError, match="resnet"):
        make_random_generator(resolution=16, architecture="resnet")


def test_orig_architecture_renders():
    G = make_random_generator(resolution=16, architecture="orig")
    assert not hasattr(G.synthesis.b8, "torgb")
    assert render(G, random_ws(G)).shape == (2, 3, 16, 16)


def test_conditional_generator_needs_a_label():
    G = make_random_generator(resolution=8, c_dim=5)
    with pytest.raises(ValueError, match="c of shape"):
        G.mapping(torch.randn([1, 32]))
    assert G.mapping(torch.randn([2, 32]), torch.eye(5)[:2]).shape == (2, G.num_ws, 32)


def test_mapping_rejects_wrong_z_shape(small_generator):
    with pytest.raises(ValueError, match=r"z of shape \[N, 32\]"):
        small_generator.mapping(torch.randn([2, 16]))


def test_synthesis_rejects_wrong_ws_shape(small_generator):
    with pytest.raises(ValueError, match=r"ws \[N, 10, 32\]"):
        small_generator.synthesis(torch.randn([2, 9, 32]))


def test_synthesis_rejects_unknown_noise_mode(small_generator):
    with pytest.raises(ValueError, match="noise_mode"):
        small_generator.synthesis(torch.randn([1, 10, 32]), noise_mode="fixed")


def test_truncation_psi_zero_gives_w_avg(small_generator):
    ws = small_generator.mapping(torch.randn([2, 32]), truncation_psi=0.0)
    assert torch.allclose(ws, small_generator.mapping.w_avg.expand_as(ws))


def test_truncation_cutoff_leaves_later_layers_untouched(small_generator):
    z = torch.randn([2, 32])
    full, cut = small_generator.mapping(z), small_generator.mapping(z, truncation_psi=0.5, truncation_cutoff=4)
    assert torch.equal(cut[:, 4:], full[:, 4:]) and not torch.allclose(cut[:, :4], full[:, :4])


def test_const_noise_is_deterministic_and_random_noise_is_not(small_generator):
    ws = random_ws(small_generator)
    assert torch.equal(render(small_generator, ws, noise_mode="const"), render(small_generator, ws))
    assert not torch.equal(render(small_generator, ws, noise_mode="random"),
                           render(small_generator, ws, noise_mode="random"))


def test_noise_mode_none_differs_from_const(small_generator):
    ws = random_ws(small_generator)
    assert not torch.allclose(render(small_generator, ws, noise_mode="none"), render(small_generator, ws))


LAYOUTS = {"cpu-fast": render_fast,
           "fused": lambda G, ws: render(G, ws, fused_modconv=True),
           "unfused": lambda G, ws: render(G, ws, fused_modconv=False)}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_batch_items_are_independent(small_generator, layout):
    ws = random_ws(small_generator, batch_size=3)
    batch = LAYOUTS[layout](small_generator, ws)
    single = torch.cat([LAYOUTS[layout](small_generator, ws[i:i + 1]) for i in range(3)])
    assert (batch - single).abs().max() < 1e-4


def test_fused_and_unfused_layouts_agree(small_generator):
    ws = random_ws(small_generator, batch_size=2)
    fused, unfused = LAYOUTS["fused"](small_generator, ws), LAYOUTS["unfused"](small_generator, ws)
    assert (fused - unfused).abs().max() < 1e-4


@pytest.fixture(scope="module")
def winograd_generator():
    """256 channels at 16x16 and 32x32, 128 at 64x64: the resolutions where the fast layout uses Winograd."""
    G = make_random_generator(resolution=64, channel_base=8192, channel_max=256)
    fast = CpuSynthesis(G.synthesis)
    assert [block.conv1.winograd for block in fast.blocks] == [False, False, True, True, True]
    return G


@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize("noise_mode", ["const", "none"])
def test_fast_layout_matches_reference(winograd_generator, batch_size, noise_mode):
    ws = random_ws(winograd_generator, batch_size=batch_size)
    fast = render_fast(winograd_generator, ws, noise_mode=noise_mode)
    reference = render(winograd_generator, ws, noise_mode=noise_mode)
    assert fast.is_contiguous() and fast.dtype == torch.float32
    assert not torch.equal(fast, reference)  # a different computation ...
    assert (fast - reference).abs().max() < 1e-4  # ... of the same function


def test_a_batch_too_large_to_keep_together_renders_one_sample_at_a_time_alike(winograd_generator, monkeypatch):
    ws = random_ws(winograd_generator, batch_size=3)
    together = render_fast(winograd_generator, ws)
    monkeypatch.setattr(cpu_synthesis, "BATCH_MAX_BYTES", 0)
    one_at_a_time = render_fast(winograd_generator, ws)
    assert (one_at_a_time - together).abs().max() < 1e-4  # single samples fold styles into the weights


def test_the_generator_itself_renders_in_nvidias_layout_with_or_without_autograd(small_generator):
    ws = random_ws(small_generator)
    with torch.enable_grad():
        with_autograd = small_generator.synthesis(ws)
    with torch.inference_mode():
        without = small_generator.synthesis(ws)
    assert torch.equal(with_autograd, without)


def test_gradients_reach_ws_and_noise_buffers(small_generator):
    G = make_random_generator(resolution=16)
    ws = random_ws(G).requires_grad_(True)
    noise = G.synthesis.b16.conv1.noise_const
    noise.requires_grad_(True)
    G.synthesis(ws, noise_mode="const").square().mean().backward()
    assert ws.grad is not None and ws.grad.abs().sum() > 0
    assert noise.grad is not None and noise.grad.abs().sum() > 0


@pytest.mark.usefixtures("cpu_fp16")
def test_fp16_blocks_run_in_half_precision_close_to_fp32():
    """Exercises the CUDA fp16 code path on the CPU (pre-normalisation, clamping, casts)."""
    G = make_random_generator(resolution=32, num_fp16_res=2)
    ws = random_ws(G)
    fp32 = render(G, ws)
    fp16 = render(G, ws, fp16_on_cpu=True)
    assert fp16.dtype == torch.float32
    assert not torch.equal(fp16, fp32)
    assert (fp16 - fp32).abs().max() < 0.05 * fp32.abs().max()


def test_force_fp32_overrides_fp16(small_generator):
    G = make_random_generator(resolution=32, num_fp16_res=2)
    ws = random_ws(G)
    assert torch.equal(render(G, ws, fp16_on_cpu=True, force_fp32=True), render(G, ws))
