"""Precisions of rendering: what each name means on a device, the bf16 CPU layout's closeness to fp32, and
the quality measures that judge it."""
import math

import pytest
import torch
import torch.nn.functional as F

from stylegan2.inference import InferenceGenerator, ReferenceSynthesis, cpu_ops, precision, resolve_precision
from stylegan2.inference.cpu_synthesis import CpuSynthesis, CpuSynthesisLayer
from stylegan2.inference.quality import compare, psnr
from stylegan2.layers import SynthesisLayer
from stylegan2.testing import fit_output_range, make_random_generator, make_random_stylegan3

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
NEEDS_CPU_BF16 = pytest.mark.skipif(not precision.torch_has_cpu_bf16(),
                                    reason="bf16 on the CPU needs PyTorch 2 (1.13's bf16 transposed convolution fails)")
AVX512_BF16 = frozenset({"avx2", "avx512f", "avx512_bf16"})
AVX2_ONLY = frozenset({"avx2", "fma"})


@pytest.fixture(scope="module")
def generator():
    """A 32 px generator with NVIDIA's fp16 resolutions and 128 channels, its output in [-1, 1] as a
    trained model's."""
    return fit_output_range(make_random_generator(resolution=32, channel_base=4096, channel_max=128,
                                                  num_fp16_res=2))


def test_native_precision_is_nvidias_fp16_on_cuda_and_fp32_on_the_cpu(generator):
    assert resolve_precision("native", generator, CUDA) == "fp16"
    assert resolve_precision("native", generator, CPU, AVX512_BF16) == "fp32"


@NEEDS_CPU_BF16
def test_auto_precision_is_bf16_on_cpus_with_native_bf16_and_fp32_on_others(generator):
    assert resolve_precision("auto", generator, CPU, AVX512_BF16) == "bf16"
    assert resolve_precision("auto", generator, CPU, frozenset({"amx_bf16", "amx_tile"})) == "bf16"
    assert resolve_precision("auto", generator, CPU, AVX2_ONLY) == "fp32"


def test_auto_precision_keeps_stylegan3_in_fp32_on_cpus_with_native_bf16():
    assert resolve_precision("auto", make_random_stylegan3("t", resolution=16), CPU, AVX512_BF16) == "fp32"


def test_projection_autocasts_stylegan3_in_fp32_on_cpus_with_native_bf16():
    assert precision.autocast_precision(CPU, AVX512_BF16, architecture="stylegan3") == "fp32"


def test_auto_precision_on_cuda_is_fp16_only_for_networks_with_fp16_resolutions(generator):
    without_fp16 = make_random_generator(resolution=16, num_fp16_res=0)
    assert resolve_precision("auto", generator, CUDA) == "fp16"
    assert resolve_precision("auto", without_fp16, CUDA) == "fp32"


def test_on_pytorch_1_the_cpu_renders_fp32_and_refuses_bf16(generator, monkeypatch):
    monkeypatch.setattr(precision, "TORCH_VERSION", (1, 13))
    assert resolve_precision("auto", generator, CPU, AVX512_BF16) == "fp32"
    with pytest.raises(ValueError, match="bf16 on the CPU needs PyTorch 2.0 or newer"):
        resolve_precision("bf16", generator, CPU, AVX512_BF16)


def test_the_onnx_backend_renders_fp32_whatever_auto_would_pick_for_torch(generator):
    assert resolve_precision("auto", generator, CPU, AVX512_BF16, backend="onnx") == "fp32"
    assert resolve_precision("auto", generator, CUDA, backend="onnx") == "fp32"
    assert resolve_precision("auto", generator, CUDA, backend="tensorrt") == "fp16"


def test_fp16_on_the_cpu_is_refused_with_what_to_use_instead(generator):
    with pytest.raises(ValueError, match="fp16 renders on CUDA only.*use bf16"):
        resolve_precision("fp16", generator, CPU)


def test_fp16_is_refused_for_a_network_that_has_no_fp16_resolutions():
    with pytest.raises(ValueError, match="no fp16 resolutions"):
        resolve_precision("fp16", make_random_generator(resolution=16, num_fp16_res=0), CUDA)


def test_an_unknown_precision_is_refused_naming_the_known_ones(generator):
    with pytest.raises(ValueError, match="unknown precision 'half'.*native, auto, fp32, fp16, bf16"):
        resolve_precision("half", generator, CPU)


@NEEDS_CPU_BF16
def test_bf16_is_allowed_on_any_cpu_when_asked_for(generator):
    assert resolve_precision("bf16", generator, CPU, AVX2_ONLY) == "bf16"


@NEEDS_CPU_BF16
@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("input_size, batch_size", [(4, 1), (16, 1), (16, 2)],
                         ids=["activations-modulated", "weight-folded", "batch"])
def test_every_cpu_convolution_layout_in_bf16_stays_within_bf16_rounding_of_the_reference(up, input_size,
                                                                                        batch_size):
    torch.manual_seed(0)
    layer = SynthesisLayer(8, 6, w_dim=4, resolution=input_size * up, up=up, conv_clamp=2.0)
    with torch.no_grad():
        layer.bias.normal_()
        layer.noise_strength.fill_(0.5)
    x, w = torch.randn(batch_size, 8, input_size, input_size), torch.randn(batch_size, 4)
    with torch.no_grad():
        fast = CpuSynthesisLayer(layer, torch.bfloat16)(x.bfloat16(), w, "const")
        reference = layer(x, w)
    assert fast.dtype == torch.bfloat16
    assert (fast.float() - reference).abs().max() < 0.03 * reference.abs().max()


@NEEDS_CPU_BF16
def test_winograd_in_bf16_stays_within_bf16_rounding_of_the_fp32_convolution():
    torch.manual_seed(0)
    x, weight, styles = torch.randn(2, 128, 32, 32), torch.randn(64, 128, 3, 3), torch.rand(2, 128) + 0.5
    expected = F.conv2d(x * styles[:, :, None, None], weight, padding=1)
    u = cpu_ops.winograd_weights(weight, x.shape, torch.bfloat16)
    tiles = cpu_ops.winograd_conv3x3(x.bfloat16(), u, styles)
    assert tiles.dtype == torch.bfloat16
    actual = tiles.reshape(2, 32, 32, 64).permute(0, 3, 1, 2).float()
    assert psnr(actual, expected, peak=2 * float(expected.abs().max())) > 40


@NEEDS_CPU_BF16
def test_the_bf16_cpu_layout_keeps_35_db_of_the_fp32_image(generator):
    ws = generator.mapping(torch.randn(2, generator.z_dim, generator=torch.Generator().manual_seed(3)),
                           truncation_psi=0.7)
    with torch.no_grad():
        reference = generator.synthesis(ws, force_fp32=True)
        image = CpuSynthesis(generator.synthesis, torch.bfloat16)(ws)
    assert image.dtype == torch.float32
    assert 35 <= psnr(image, reference) < 80      # close, and really computed in bf16


@NEEDS_CPU_BF16
def test_the_reference_layout_renders_bf16_under_autocast(generator):
    ws = generator.mapping(torch.randn(1, generator.z_dim), truncation_psi=0.7)
    with torch.no_grad():
        reference = generator.synthesis(ws, force_fp32=True)
        image = ReferenceSynthesis(generator.synthesis, "bf16")(ws)
    assert image.dtype == torch.float32
    assert 35 <= psnr(image, reference) < 80


@NEEDS_CPU_BF16
def test_the_inference_generator_renders_in_the_precision_asked_for_and_says_so(generator):
    bf16 = InferenceGenerator(generator, precision="bf16")
    assert (bf16.precision, bf16.layout, bf16.describe()) == ("bf16", "cpu-fast", "torch, cpu-fast layout, bf16")
    assert InferenceGenerator(generator).precision == "fp32"           # native on the CPU
    assert InferenceGenerator(generator, "reference", "bf16").describe() == "torch, reference layout, bf16"


def test_psnr_of_a_uniform_error_of_one_percent_of_the_range_is_40_db():
    reference = torch.rand(1, 3, 8, 8) * 2 - 1
    assert psnr(reference + 0.02, reference) == pytest.approx(40.0)
    assert psnr(reference, reference) == math.inf
    assert compare(reference + 0.02, reference)["max_abs_diff"] == pytest.approx(0.02, abs=1e-6)


def test_psnr_refuses_images_of_different_shapes():
    with pytest.raises(ValueError, match=r"different shapes: \[1, 3, 8, 8\] and \[1, 3, 4, 4\]"):
        psnr(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 4, 4))
