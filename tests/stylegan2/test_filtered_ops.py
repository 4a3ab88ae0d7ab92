"""StyleGAN3's signal operations: upfirdn2d's fast layouts against its definition, filtered_lrelu, filter design."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stylegan2 import ops
from stylegan2.filter_design import bessel_j1, kaiser_attenuation, kaiser_beta, lowpass_filter


def upfirdn2d_by_definition(x, f, up, down, padding, gain):
    """Insert up - 1 zeros after every pixel, pad (negative = crop), convolve, keep every down-th pixel."""
    batch_size, channels, height, width = x.shape
    x = F.pad(x.reshape(batch_size, channels, height, 1, width, 1), [0, up - 1, 0, 0, 0, up - 1])
    x = x.reshape(batch_size, channels, height * up, width * up)
    left, right, top, bottom = padding
    x = F.pad(x, [max(left, 0), max(right, 0), max(top, 0), max(bottom, 0)])
    x = x[:, :, max(-top, 0): x.shape[2] - max(-bottom, 0), max(-left, 0): x.shape[3] - max(-right, 0)]
    f = torch.ones(1, 1, dtype=x.dtype) if f is None else f
    f2d = torch.outer(f, f) if f.ndim == 1 else f
    x = F.conv2d(x, (f2d * gain).flip([0, 1]).expand(channels, 1, *f2d.shape), groups=channels)
    return x[:, :, ::down, ::down]


@pytest.mark.parametrize("up, down", [(1, 1), (2, 1), (4, 1), (1, 2), (2, 2)])
@pytest.mark.parametrize("filter_shape", [None, (12,), (5,), (12, 12), (3, 4)])
@pytest.mark.parametrize("padding", [(9, 8, 9, 8), (-6, -9, -2, -5), (0, 0, 0, 0), (3, -2, 1, 5)])
def test_upfirdn2d_computes_its_definition(up, down, filter_shape, padding):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 30, 33, dtype=torch.float64, generator=generator)
    f = None if filter_shape is None else torch.randn(filter_shape, dtype=torch.float64, generator=generator)
    expected = upfirdn2d_by_definition(x, f, up, down, padding, gain=1.7)
    actual = ops.upfirdn2d(x, f, up=up, down=down, padding=padding, gain=1.7)
    assert actual.shape == expected.shape
    assert torch.allclose(actual, expected, rtol=0, atol=1e-12)


def test_filtered_lrelu_without_filters_is_bias_gain_activation_and_clamp():
    x = torch.linspace(-300, 300, 24).reshape(1, 2, 3, 4)
    bias = torch.tensor([1.0, -2.0])
    expected = (F.leaky_relu(x + bias.view(1, 2, 1, 1), 0.2) * math.sqrt(2)).clamp(-256, 256)
    assert torch.allclose(ops.filtered_lrelu(x, None, None, bias, clamp=256), expected)
    assert torch.allclose(ops.filtered_lrelu(x, None, None, bias, activation="linear", clamp=256),
                          (x + bias.view(1, 2, 1, 1)).clamp(-256, 256))


def test_bessel_j1_matches_known_values():
    """Values from mpmath (50 digits), rounded to float64."""
    x = np.array([0.0, 0.5, 1.0, 5.0, 13.3, 30.0])
    expected = [0.0, 0.2422684576748739, 0.4400505857449335, -0.32757913759146523, -0.005177480554670804,
                -0.11875106261662294]
    np.testing.assert_allclose(bessel_j1(x), expected, rtol=0, atol=1e-14)


def test_kaiser_formulas_are_scipys():
    assert kaiser_attenuation(12, 0.5) == pytest.approx(2.285 * 11 * math.pi * 0.5 + 7.95)
    assert kaiser_beta(60.0) == pytest.approx(0.1102 * (60.0 - 8.7))
    assert kaiser_beta(30.0) == pytest.approx(0.5842 * 9.0 ** 0.4 + 0.07886 * 9.0)
    assert kaiser_beta(10.0) == 0.0


def test_lowpass_filters_are_normalised_and_symmetric():
    separable = lowpass_filter(12, 2.0, 12.0, 32)
    radial = lowpass_filter(12, 2.0, 12.0, 32, radial=True)
    assert separable.shape == (12,) and radial.shape == (12, 12)
    for f in (separable, radial):
        assert float(f.sum()) == pytest.approx(1.0, abs=1e-6)
        assert torch.equal(f, f.flip(0))
    assert torch.equal(radial, radial.t())


def test_a_single_tap_is_the_identity_and_an_odd_radial_filter_has_a_finite_centre():
    assert lowpass_filter(1, 2.0, 12.0, 32) is None
    assert torch.isfinite(lowpass_filter(13, 2.0, 12.0, 32, radial=True)).all()


@pytest.mark.parametrize("cutoff", [0.0, 16.0, 20.0])
def test_a_cutoff_outside_the_band_is_refused(cutoff):
    with pytest.raises(ValueError, match="cutoff"):
        lowpass_filter(12, cutoff, 12.0, 32)
