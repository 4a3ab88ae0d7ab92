"""Rendering for inference: the CPU layout's building blocks against the plain PyTorch operations they
replace, and `InferenceGenerator`'s choice of layout."""
import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

from stylegan2.inference import InferenceGenerator, cpu_ops, resolve_layout
from stylegan2.inference.cpu_synthesis import CpuSynthesisLayer
from stylegan2.inference.precision import TORCH_VERSION
from stylegan2.layers import SynthesisLayer
from stylegan2.testing import make_random_generator


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("batch_size, size", [(2, 12), (3, 80)], ids=["one-step", "bands-of-rows"])
def test_winograd_conv3x3_matches_modulated_conv2d(packed, batch_size, size):
    x, weight = torch.randn(batch_size, 8, size, size), torch.randn(5, 8, 3, 3)
    styles = torch.rand(batch_size, 8) + 0.5
    expected = F.conv2d(x * styles[:, :, None, None], weight, padding=1)
    u = cpu_ops.winograd_weights(weight, x.shape if packed else None)
    tiles = cpu_ops.winograd_conv3x3(x, u, styles)
    assert tiles.shape == (batch_size, size // 4, 4, size // 4, 4, 5)
    actual = tiles.reshape(batch_size, size, size, 5).permute(0, 3, 1, 2)
    assert (actual - expected).abs().max() < 1e-4 * expected.abs().max()


def test_winograd_works_on_whole_samples_where_they_fit_a_step_and_else_on_bands_of_rows():
    assert cpu_ops.WINOGRAD_TILES_PER_STEP == 256
    assert cpu_ops.winograd_step(8, 4, 4) == (8, 4)       # 8 samples of 16 tiles
    assert cpu_ops.winograd_step(3, 8, 8) == (3, 8)       # 3 of 64: the most that divide the batch
    assert cpu_ops.winograd_step(8, 8, 8) == (4, 8)
    assert cpu_ops.winograd_step(3, 20, 20) == (1, 10)    # 400 tiles a sample: half its rows at a time
    assert cpu_ops.winograd_step(1, 4, 300) == (1, 1)     # at least a row


def test_winograd_accepts_channels_last_input():
    x, weight, styles = torch.randn(1, 8, 8, 8), torch.randn(4, 8, 3, 3), torch.ones(1, 8)
    u = cpu_ops.winograd_weights(weight)
    plain = cpu_ops.winograd_conv3x3(x, u, styles)
    channels_last = cpu_ops.winograd_conv3x3(x.contiguous(memory_format=torch.channels_last), u, styles)
    assert torch.equal(plain, channels_last)


def noisy_layer(in_channels: int, resolution: int, up: int) -> SynthesisLayer:
    torch.manual_seed(0)
    layer = SynthesisLayer(in_channels, 6, w_dim=4, resolution=resolution, up=up, conv_clamp=2.0)
    with torch.no_grad():
        layer.bias.normal_()
        layer.noise_strength.fill_(0.5)
    return layer


@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("input_size, batch_size", [
    (4, 1),   # one sample whose weight is larger than its activations: styles on the activations
    (16, 1),  # one sample whose weight is smaller than its activations: styles and demodulation in the weight
    (16, 2),  # a batch: styles on the activations
], ids=["activations-modulated", "weight-folded", "batch"])
def test_every_cpu_convolution_layout_computes_the_reference_layer(up, input_size, batch_size):
    layer = noisy_layer(8, input_size * up, up)
    x, w = torch.randn(batch_size, 8, input_size, input_size), torch.randn(batch_size, 4)
    with torch.no_grad():
        fast, reference = CpuSynthesisLayer(layer)(x, w, "const"), layer(x, w)
    assert reference.abs().max() == 2.0  # the clamp is exercised
    assert (fast - reference).abs().max() < 1e-5


def test_a_cpu_layer_is_right_again_when_the_input_shape_changes():
    """Packed weights depend on the input shape: a batch of two after a single sample must repack them."""
    layer = noisy_layer(128, 16, 1)  # Winograd: a packed weight
    fast = CpuSynthesisLayer(layer)
    for batch_size in (1, 2, 1):
        x, w = torch.randn(batch_size, 128, 16, 16), torch.randn(batch_size, 4)
        with torch.no_grad():
            assert (fast(x, w, "const") - layer(x, w)).abs().max() < 1e-4


def test_output_pass_is_bias_noise_activation_clamp():
    y, scale = torch.randn(2, 3, 4, 4) * 100, torch.rand(2, 3, 1, 1)
    bias, noise = torch.randn(1, 3, 1, 1), torch.randn(4, 4)
    expected = F.leaky_relu(y * scale + bias + noise, 0.2).clamp(-20, 20)
    actual = cpu_ops.output_pass(y.clone(), scale, bias, noise, "lrelu", 20, out=torch.empty_like(y))
    assert torch.allclose(actual, expected)


def test_the_generator_still_copies_and_pickles_after_it_was_rendered_fast():
    """The projector deep-copies the generator the live app renders with: the inference layout keeps its
    derived (and unpicklable packed) tensors to itself."""
    G = make_random_generator(resolution=16, channel_base=2048, channel_max=128)
    renderer = InferenceGenerator(G, "cpu-fast")
    ws = G.mapping(torch.randn(1, G.z_dim))
    expected = renderer.synthesis(ws)
    restored = pickle.loads(pickle.dumps(copy.deepcopy(G)))
    assert torch.equal(InferenceGenerator(restored, "cpu-fast").synthesis(ws), expected)


def test_after_the_weights_change_a_new_inference_generator_renders_them():
    """The layout derives its tensors from the weights once: wrap a generator again after changing it."""
    G = make_random_generator(resolution=16, seed=1)
    ws = G.mapping(torch.randn(1, G.z_dim)).detach()
    InferenceGenerator(G, "cpu-fast").synthesis(ws)
    G.load_state_dict(make_random_generator(resolution=16, seed=2).state_dict())
    with torch.no_grad():
        reference = G.synthesis(ws)
    assert (InferenceGenerator(G, "cpu-fast").synthesis(ws) - reference).abs().max() < 1e-4


def test_auto_layout_is_cpu_fast_on_the_cpu_and_reference_elsewhere():
    G = make_random_generator(resolution=16)
    assert resolve_layout("auto", G, torch.device("cpu")) == "cpu-fast"
    assert resolve_layout("auto", G, torch.device("cuda")) == "reference"
    assert InferenceGenerator(G).layout == "cpu-fast"


def test_the_cpu_layout_is_refused_where_it_cannot_run():
    G = make_random_generator(resolution=16)
    with pytest.raises(ValueError, match="cpu-fast layout renders StyleGAN2 networks on the CPU"):
        resolve_layout("cpu-fast", G, torch.device("cuda"))
    with pytest.raises(ValueError, match="unknown layout 'fastest'"):
        resolve_layout("fastest", G, torch.device("cpu"))


def test_inference_generator_maps_and_renders_like_the_generator():
    G = make_random_generator(resolution=16)
    renderer = InferenceGenerator(G, "reference")
    z = torch.randn(2, G.z_dim)
    with torch.no_grad():
        expected = G(z, truncation_psi=0.5)
    assert torch.equal(renderer(z, truncation_psi=0.5), expected)
    assert (renderer.num_ws, renderer.w_dim, renderer.img_resolution) == (G.num_ws, G.w_dim, 16)


@pytest.mark.parametrize("padding, groups", [(1, 1), (0, 4)])
def test_a_packed_weight_convolves_as_the_plain_one(padding, groups):
    x = torch.randn(1, 8, 6, 6).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(12, 8 // groups, 2 * padding + 1, 2 * padding + 1)
    packed = cpu_ops.packed_conv2d_weight(weight, x.shape, padding, groups)
    expected = F.conv2d(x, weight, padding=padding, groups=groups)
    assert torch.allclose(cpu_ops.conv2d(x, packed, padding=padding, groups=groups), expected, atol=1e-5)


def test_a_packed_transposed_weight_convolves_as_the_plain_one():
    x, weight = torch.randn(1, 8, 5, 5).contiguous(memory_format=torch.channels_last), torch.randn(8, 6, 3, 3)
    packed = cpu_ops.packed_conv_transpose2d_weight(weight, x.shape, stride=2)
    expected = F.conv_transpose2d(x, weight, stride=2)
    assert torch.allclose(cpu_ops.conv_transpose2d(x, packed, stride=2), expected, atol=1e-5)


@pytest.mark.skipif(TORCH_VERSION < (2, 2) or not torch.backends.mkldnn.is_available(),
                    reason="oneDNN weight packing is in PyTorch 2.2 (measured) and later, with oneDNN")
def test_pytorch_2_2_and_later_offer_the_private_onednn_packing_operators():
    """The fast layout relies on torch.ops.mkldnn's private reorder/convolution operators: a PyTorch that
    drops them must fail here, not silently slow StyleCam down."""
    assert cpu_ops.has_onednn_packing()
    weight = torch.randn(12, 8, 3, 3)
    assert cpu_ops.packed_conv2d_weight(weight, (1, 8, 6, 6), padding=1).is_mkldnn
    assert cpu_ops.packed_conv_transpose2d_weight(weight, (1, 12, 6, 6), stride=2).is_mkldnn


@pytest.mark.skipif(TORCH_VERSION >= (2, 1), reason="PyTorch 2.2 and later have the oneDNN packing operators")
def test_pytorch_1_13_and_2_0_lack_the_packing_operators_and_the_check_says_so_without_raising():
    assert not cpu_ops.has_onednn_packing()


NEEDS_WORKING_PACKING = pytest.mark.skipif(not cpu_ops.ONEDNN_PACKING,
                                           reason="this torch has no working oneDNN packing to break")


@NEEDS_WORKING_PACKING
def test_packing_operators_whose_signature_changed_mean_plain_convolutions(monkeypatch):
    def changed_signature(weight, input_shape, padding, groups):
        return torch.ops.mkldnn._reorder_convolution_weight(weight, [padding] * 2, list(input_shape))

    monkeypatch.setattr(cpu_ops, "_onednn_conv2d_weight", changed_signature)
    assert not cpu_ops.has_onednn_packing()


@NEEDS_WORKING_PACKING
def test_packing_operators_that_compute_something_else_mean_plain_convolutions(monkeypatch):
    def flipped(weight, input_shape, stride):
        return torch.ops.mkldnn._reorder_convolution_transpose_weight(weight.flip(-1), [0, 0], [0, 0], [stride] * 2,
                                                                      [1, 1], 1, list(input_shape))

    monkeypatch.setattr(cpu_ops, "_onednn_conv_transpose2d_weight", flipped)
    assert not cpu_ops.has_onednn_packing()


def test_without_onednn_packing_the_plain_weight_is_used(monkeypatch):
    monkeypatch.setattr(cpu_ops, "ONEDNN_PACKING", False)
    weight = torch.randn(12, 8, 3, 3)
    assert cpu_ops.packed_conv2d_weight(weight, (1, 8, 6, 6), padding=1) is weight
    assert cpu_ops.packed_conv_transpose2d_weight(weight, (1, 12, 6, 6), stride=2) is weight
