"""The exported synthesis network (ONNX), the onnx and tensorrt backends, and the engine build command."""
import pytest
import torch

from stylegan2.inference import BackendUnavailable, InferenceGenerator, onnx_backend, tensorrt_backend
from stylegan2.inference.export import ExportSynthesis, export_onnx
from stylegan2.inference.onnx_backend import OnnxSynthesis, default_providers
from stylegan2.inference.quality import compare
from stylegan2.inference.tensorrt_backend import TensorRTSynthesis, engine_file_name, trtexec_command
from stylegan2.testing import fit_output_range, make_random_generator, make_random_stylegan3

try:
    import onnx
except ImportError:      # the optional extra stylecam[onnx]
    onnx = None

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def generator():
    """64 px, NVIDIA's fp16 resolutions and clamp, images in [-1, 1] as a trained model's."""
    return fit_output_range(make_random_generator(resolution=64, channel_base=1024, channel_max=64,
                                                  num_fp16_res=2))


@pytest.fixture(scope="module")
def onnx_file(generator, tmp_path_factory):
    return export_onnx(generator.synthesis, tmp_path_factory.mktemp("export") / "synthesis.onnx")


@pytest.fixture
def needs_onnxruntime(missing):
    if onnx_backend.onnxruntime is None:
        missing("onnxruntime is not installed (pip install -e '.[onnx]')")


def latents(generator, batch_size: int, seed: int = 0) -> torch.Tensor:
    z = torch.randn(batch_size, generator.z_dim, generator=torch.Generator().manual_seed(seed))
    return generator.mapping(z, truncation_psi=0.7).detach()


def test_the_export_graph_computes_nvidias_synthesis_network(generator):
    ws = latents(generator, 2)
    with torch.no_grad():
        reference = generator.synthesis(ws, force_fp32=True)
        exported = ExportSynthesis(generator.synthesis)(ws)
    assert (exported - reference).abs().max() < 1e-5


def test_the_onnx_file_renders_within_1e_3_of_pytorch_at_any_batch_size(generator, onnx_file, needs_onnxruntime):
    synthesis = OnnxSynthesis(onnx_file, CPU)
    for batch_size in (1, 3):
        ws = latents(generator, batch_size, seed=batch_size)
        with torch.no_grad():
            reference = generator.synthesis(ws, force_fp32=True)
        quality = compare(synthesis(ws), reference)
        assert quality["max_abs_diff"] < 1e-3 and quality["psnr_db"] > 80


def test_the_onnx_backend_renders_through_the_inference_generator_and_says_so(generator, onnx_file,
                                                                             needs_onnxruntime):
    renderer = InferenceGenerator(generator, backend="onnx", exported_file=onnx_file, precision="auto")
    ws = latents(generator, 1)
    with torch.no_grad():
        reference = generator.synthesis(ws, force_fp32=True)
    assert (renderer.synthesis(ws) - reference).abs().max() < 1e-3
    assert (renderer.layout, renderer.precision) == ("exported", "fp32")
    assert renderer.describe().startswith("onnx (onnxruntime ") and "CPUExecutionProvider" in renderer.describe()


def test_an_exported_network_refuses_noise_other_than_its_constant_one(generator, onnx_file, needs_onnxruntime):
    renderer = InferenceGenerator(generator, backend="onnx", exported_file=onnx_file)
    with pytest.raises(ValueError, match="constant noise built in: noise_mode 'const' only, not 'random'"):
        renderer.synthesis(latents(generator, 1), noise_mode="random")


def test_the_onnx_backend_refuses_precisions_its_graph_does_not_have(generator, onnx_file):
    with pytest.raises(ValueError, match="onnx backend renders fp32.*not bf16.*tensorrt"):
        InferenceGenerator(generator, backend="onnx", exported_file=onnx_file, precision="bf16")


def test_an_exported_backend_needs_its_file_and_the_torch_backend_refuses_one(generator, onnx_file):
    with pytest.raises(ValueError, match="onnx backend needs exported_file: the ONNX file"):
        InferenceGenerator(generator, backend="onnx")
    with pytest.raises(ValueError, match="exported_file is for the onnx and tensorrt backends"):
        InferenceGenerator(generator, exported_file=onnx_file)
    with pytest.raises(ValueError, match="unknown backend 'openvino'"):
        InferenceGenerator(generator, backend="openvino")


def test_without_onnxruntime_the_onnx_backend_says_what_to_install(generator, onnx_file, monkeypatch):
    monkeypatch.setattr(onnx_backend, "onnxruntime", None)
    with pytest.raises(BackendUnavailable, match="needs onnxruntime, which is not installed: pip install onnxruntime"):
        InferenceGenerator(generator, backend="onnx", exported_file=onnx_file)


def test_a_missing_onnx_file_is_named(generator, tmp_path, needs_onnxruntime):
    with pytest.raises(BackendUnavailable, match="no exported ONNX file at .*absent.onnx"):
        OnnxSynthesis(tmp_path / "absent.onnx", CPU)


def test_cuda_rendering_asks_onnxruntime_for_its_cuda_provider():
    assert default_providers(torch.device("cuda"), ["CUDAExecutionProvider", "CPUExecutionProvider"]) == [
        "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert default_providers(CPU, ["CUDAExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    with pytest.raises(BackendUnavailable, match="no CUDA execution provider.*onnxruntime-gpu"):
        default_providers(torch.device("cuda"), ["CPUExecutionProvider"])


def test_a_failed_export_leaves_no_file_behind(generator, tmp_path, monkeypatch):
    def fail(module, args, path, **options):
        open(path, "wb").write(b"half a graph")
        raise RuntimeError("exporter crashed")
    monkeypatch.setattr(torch.onnx, "export", fail)
    with pytest.raises(RuntimeError, match="exporter crashed"):
        export_onnx(generator.synthesis, tmp_path / "synthesis.onnx")
    assert list(tmp_path.iterdir()) == []


def test_only_stylegan2_exports(generator):
    with pytest.raises(ValueError, match="only StyleGAN2 synthesis networks export, not SynthesisNetwork"):
        ExportSynthesis(make_random_stylegan3().synthesis)
    with pytest.raises(ValueError, match="onnx backend renders StyleGAN2 networks; this generator is stylegan3"):
        InferenceGenerator(make_random_stylegan3(), backend="onnx", exported_file="synthesis.onnx")


def test_the_exported_graph_groups_no_convolution_but_the_per_channel_filters(onnx_file, missing):
    """NVIDIA's non-fused modulated convolution: one shared weight, never a grouped convolution with weights
    made per sample (which TensorRT cannot take); the only grouped ones are the depthwise low-pass filters."""
    if onnx is None:
        missing("the onnx package is not installed (pip install -e '.[onnx]')")
    graph = onnx.load(str(onnx_file)).graph
    shapes = {tensor.name: list(tensor.dims) for tensor in graph.initializer}
    for node in graph.node:     # the exporter shares equal constants through Identity nodes
        if node.op_type == "Identity" and node.input[0] in shapes:
            shapes[node.output[0]] = shapes[node.input[0]]
    for node in graph.node:
        if node.op_type in ("Conv", "ConvTranspose"):
            group = next((attr.i for attr in node.attribute if attr.name == "group"), 1)
            assert node.input[1] in shapes, "a convolution weight made at run time"
            assert group == 1 or shapes[node.input[1]][1] == 1
    assert [i.name for i in graph.input] == ["ws"] and [o.name for o in graph.output] == ["image"]
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_an_engine_file_name_holds_everything_an_engine_depends_on():
    name = engine_file_name("ab" * 32, "fp16", 8, "8.5.2.2", "Orin (nvgpu)")
    assert name == f"synthesis-{'ab' * 8}-fp16-b8-trt8.5.2.2-orin-nvgpu.engine"
    assert engine_file_name("ab" * 32, "fp16", 8, "10.3.0", "Orin (nvgpu)") != name
    with pytest.raises(ValueError, match="built in fp32 or fp16, not 'bf16'"):
        engine_file_name("ab" * 32, "bf16", 1, "8.5", "Orin")


def test_trtexec_builds_an_engine_for_batches_one_to_max_tuned_for_one():
    command = trtexec_command("/m/s.onnx", "/m/s.engine", "fp16", num_ws=14, w_dim=512, max_batch=8,
                              trtexec="/usr/src/tensorrt/bin/trtexec")
    assert command == ["/usr/src/tensorrt/bin/trtexec", "--onnx=/m/s.onnx", "--saveEngine=/m/s.engine",
                       "--minShapes=ws:1x14x512", "--optShapes=ws:1x14x512", "--maxShapes=ws:8x14x512", "--fp16"]
    assert "--fp16" not in trtexec_command("a.onnx", "a.engine", "fp32", 14, 512)


def test_without_tensorrt_the_tensorrt_backend_says_so(generator, tmp_path, monkeypatch):
    monkeypatch.setattr(tensorrt_backend, "tensorrt", None)
    with pytest.raises(BackendUnavailable, match="TensorRT's Python package, which is not importable here"):
        TensorRTSynthesis(tmp_path / "synthesis.engine", torch.device("cuda"))
    with pytest.raises(ValueError, match="TensorRT engine renders fp32 or fp16.*not bf16"):
        InferenceGenerator(generator, backend="tensorrt", exported_file="x.engine", precision="bf16")
