"""The CPU inference building blocks, against the plain PyTorch operations they replace."""
import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

from stylegan2 import inference
from stylegan2.layers import SynthesisLayer


@pytest.mark.parametrize("packed", [False, True])
def test_winograd_conv3x3_matches_modulated_conv2d(packed):
    x, weight, styles = torch.randn(2, 8, 12, 12), torch.randn(5, 8, 3, 3), torch.rand(2, 8) + 0.5
    expected = F.conv2d(x * styles[:, :, None, None], weight, padding=1)
    u = inference.winograd_weights(weight, x.shape if packed else None)
    tiles = inference.winograd_conv3x3(x, u, styles)
    assert tiles.shape == (2, 3, 4, 3, 4, 5)
    actual = tiles.reshape(2, 12, 12, 5).permute(0, 3, 1, 2)
    assert (actual - expected).abs().max() < 1e-4 * expected.abs().max()


def test_winograd_accepts_channels_last_input():
    x, weight, styles = torch.randn(1, 8, 8, 8), torch.randn(4, 8, 3, 3), torch.ones(1, 8)
    u = inference.winograd_weights(weight)
    plain = inference.winograd_conv3x3(x, u, styles)
    channels_last = inference.winograd_conv3x3(x.contiguous(memory_format=torch.channels_last), u, styles)
    assert torch.equal(plain, channels_last)


@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("input_size, batch_size", [
    (4, 1),   # one sample whose weight is larger than its activations: styles on the activations
    (16, 1),  # one sample whose weight is smaller than its activations: styles and demodulation in the weight
    (16, 2),  # a batch: styles on the activations
], ids=["activations-modulated", "weight-folded", "batch"])
def test_every_fast_convolution_layout_computes_the_reference_layer(up, input_size, batch_size):
    torch.manual_seed(0)
    layer = SynthesisLayer(8, 6, w_dim=4, resolution=input_size * up, up=up, conv_clamp=2.0)
    with torch.no_grad():
        layer.bias.normal_()
        layer.noise_strength.fill_(0.5)
    x, w = torch.randn(batch_size, 8, input_size, input_size), torch.randn(batch_size, 4)
    with torch.no_grad():
        fast, reference = layer(x, w, fast=True), layer(x, w, fast=False)
    assert reference.abs().max() == 2.0  # the clamp is exercised
    assert (fast - reference).abs().max() < 1e-5


def test_output_pass_is_bias_noise_activation_clamp():
    y, scale = torch.randn(2, 3, 4, 4) * 100, torch.rand(2, 3, 1, 1)
    bias, noise = torch.randn(1, 3, 1, 1), torch.randn(4, 4)
    expected = F.leaky_relu(y * scale + bias + noise, 0.2).clamp(-20, 20)
    actual = inference.output_pass(y.clone(), scale, bias, noise, "lrelu", 20, out=torch.empty_like(y))
    assert torch.allclose(actual, expected)


class DoublingBuild:
    """A WeightCache build function that counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, tensor: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return tensor * 2


def test_weight_cache_rebuilds_only_when_the_source_changes():
    source, build, cache = torch.ones(3), DoublingBuild(), inference.WeightCache()
    first = cache.get("double", source, build)
    assert cache.get("double", source, build) is first and build.calls == 1
    source.add_(1)
    assert torch.equal(cache.get("double", source, build), torch.full((3,), 4.0)) and build.calls == 2
    assert torch.equal(cache.get("double", torch.zeros(3), build), torch.zeros(3)) and build.calls == 3


def test_a_copied_weight_cache_starts_empty():
    """A deep copy of a generator must not carry (and pay memory for) entries it can never use."""
    source, build, cache = torch.ones(3), DoublingBuild(), inference.WeightCache()
    cache.get("double", source, build)
    copy.deepcopy(cache).get("double", source, build)
    assert build.calls == 2


def test_weight_cache_rebuilds_for_another_input_shape():
    source, build, cache = torch.ones(3), DoublingBuild(), inference.WeightCache()
    cache.get("packed", source, build, torch.Size([1, 3, 8, 8]))
    cache.get("packed", source, build, torch.Size([1, 3, 8, 8]))
    cache.get("packed", source, build, torch.Size([2, 3, 8, 8]))
    assert build.calls == 2


def test_a_layer_pickles_after_a_fast_run():
    """Packed weights cannot be pickled; the caches holding them are left out of a pickle."""
    layer = SynthesisLayer(128, 8, w_dim=4, resolution=16)  # Winograd: a packed weight
    x, w = torch.randn(1, 128, 16, 16), torch.randn(1, 4)
    with torch.no_grad():
        expected = layer(x, w, fast=True)
        restored = pickle.loads(pickle.dumps(layer))
        assert torch.equal(restored(x, w, fast=True), expected)


@pytest.mark.parametrize("padding, groups", [(1, 1), (0, 4)])
def test_a_packed_weight_convolves_as_the_plain_one(padding, groups):
    x = torch.randn(1, 8, 6, 6).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(12, 8 // groups, 2 * padding + 1, 2 * padding + 1)
    packed = inference.packed_conv2d_weight(weight, x.shape, padding, groups)
    expected = F.conv2d(x, weight, padding=padding, groups=groups)
    assert torch.allclose(inference.conv2d(x, packed, padding=padding, groups=groups), expected, atol=1e-5)


def test_a_packed_transposed_weight_convolves_as_the_plain_one():
    x, weight = torch.randn(1, 8, 5, 5).contiguous(memory_format=torch.channels_last), torch.randn(8, 6, 3, 3)
    packed = inference.packed_conv_transpose2d_weight(weight, x.shape, stride=2)
    expected = F.conv_transpose2d(x, weight, stride=2)
    assert torch.allclose(inference.conv_transpose2d(x, packed, stride=2), expected, atol=1e-5)


@pytest.mark.skipif(not inference.ONEDNN_PACKING, reason="this PyTorch build has no oneDNN weight packing")
def test_weights_are_packed_where_onednn_offers_it():
    weight = torch.randn(12, 8, 3, 3)
    assert inference.packed_conv2d_weight(weight, (1, 8, 6, 6), padding=1).is_mkldnn
    assert inference.packed_conv_transpose2d_weight(weight, (1, 12, 6, 6), stride=2).is_mkldnn


def test_without_onednn_packing_the_plain_weight_is_used(monkeypatch):
    monkeypatch.setattr(inference, "ONEDNN_PACKING", False)
    weight = torch.randn(12, 8, 3, 3)
    assert inference.packed_conv2d_weight(weight, (1, 8, 6, 6), padding=1) is weight
    assert inference.packed_conv_transpose2d_weight(weight, (1, 12, 6, 6), stride=2) is weight
