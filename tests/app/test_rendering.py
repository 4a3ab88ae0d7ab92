"""How the live app renders: backend and precision from serve's options, exports cached beside the model."""
import hashlib
import os

import pytest
import torch

import stylegan2
from app import rendering
from app.composition import StyleCam, StyleCamConfig
from app.rendering import RenderingUnavailable, engine_path, export_dir, make_renderer, model_digest, onnx_path
from stylegan2.inference import onnx_backend, resolve_precision
from stylegan2.testing import fit_output_range, make_random_generator


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A small random generator saved like real weights, in a folder of its own."""
    path = tmp_path_factory.mktemp("models") / "random-g32.pt"
    stylegan2.save(fit_output_range(make_random_generator(resolution=32, num_fp16_res=2)), path)
    return path


@pytest.fixture(scope="module")
def generator(model_file):
    return stylegan2.load(model_file).generator


@pytest.fixture
def needs_onnxruntime(missing):
    if onnx_backend.onnxruntime is None:
        missing("onnxruntime is not installed (pip install -e '.[onnx]')")


def test_auto_renders_with_torch_in_the_precision_auto_means_on_this_cpu(generator, model_file):
    renderer = make_renderer(generator, model_file, None)
    assert renderer.backend == "torch"
    assert renderer.precision == resolve_precision("auto", generator, torch.device("cpu"))


def test_auto_on_a_cpu_never_reads_the_model_file_to_look_for_an_engine(generator, model_file, monkeypatch):
    monkeypatch.setattr(rendering, "model_digest", lambda *args: pytest.fail("hashed the model file"))
    assert make_renderer(generator, model_file, None, "auto", "fp32").describe() == "torch, cpu-fast layout, fp32"


def test_the_onnx_backend_exports_once_beside_the_model_and_renders_like_pytorch(generator, model_file,
                                                                                needs_onnxruntime):
    renderer = make_renderer(generator, model_file, None, "onnx")
    exported = onnx_path(model_file, model_digest(model_file))
    assert exported.parent == model_file.parent and exported.is_file()
    written = exported.stat().st_mtime_ns
    make_renderer(generator, model_file, None, "onnx")
    assert exported.stat().st_mtime_ns == written              # cached: not exported again
    ws = generator.mapping(torch.randn(1, generator.z_dim), truncation_psi=0.7).detach()
    with torch.no_grad():
        reference = generator.synthesis(ws, force_fp32=True)
    assert (renderer.synthesis(ws) - reference).abs().max() < 1e-3


def test_an_exported_backend_needs_a_model_file(generator):
    with pytest.raises(RenderingUnavailable, match="caches its exported network beside the model file"):
        make_renderer(generator, None, None, "onnx")


def test_tensorrt_without_tensorrt_says_what_to_install(generator, model_file, monkeypatch):
    monkeypatch.setattr(rendering.tensorrt_backend, "tensorrt", None)
    with pytest.raises(RenderingUnavailable, match="TensorRT's Python package is not importable here.*--backend torch"):
        make_renderer(generator, model_file, None, "tensorrt", "fp32")


def test_a_precision_the_device_cannot_render_is_a_user_error_naming_the_options(generator, model_file):
    with pytest.raises(RenderingUnavailable, match="--backend torch --precision fp16: fp16 renders on CUDA only"):
        make_renderer(generator, model_file, None, "torch", "fp16")


def test_exports_go_to_the_cache_folder_where_the_models_folder_is_read_only(model_file, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert export_dir(model_file) == model_file.parent
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert export_dir(model_file) == tmp_path / "stylecam" / "exports"


def test_an_engines_file_is_named_by_the_model_and_everything_it_depends_on(model_file, tmp_path):
    onnx_file = tmp_path / "s.onnx"
    onnx_file.write_bytes(b"graph")
    path = engine_path(model_file, onnx_file, "fp16", "Orin", "8.5.2.2")
    assert path.parent == model_file.parent
    assert path.name.startswith("random-g32.synthesis-") and path.name.endswith("-fp16-b1-trt8.5.2.2-orin.engine")


def test_a_registry_models_digest_is_its_pinned_checksum_and_a_files_its_own_hash(model_file):
    assert model_digest(model_file, "yunet") == "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0"
    assert model_digest(model_file) == hashlib.sha256(model_file.read_bytes()).hexdigest()


def test_stylecam_renders_as_configured_and_reports_it_in_its_status(model_file, yunet_file, tmp_path):
    config = StyleCamConfig(source="0", weights=str(model_file), device="cpu", detector="yunet",
                            detector_model=str(yunet_file), projections_dir=str(tmp_path), precision="fp32")
    stylecam = StyleCam(config)
    assert stylecam.renderer.describe() == "torch, cpu-fast layout, fp32"
    assert stylecam.status()["model"]["renderer"] == "torch, cpu-fast layout, fp32"
