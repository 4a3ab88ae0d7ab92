"""``python -m app export``: the ONNX export (checked against PyTorch) and the TensorRT engine build."""
import pytest
from click.testing import CliRunner

import stylegan2
from app.cli.main import cli
from stylegan2.inference import onnx_backend
from stylegan2.testing import fit_output_range, make_random_generator
from tests.app.cli.test_cli import assert_clean_failure


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "random-g32.pt"
    stylegan2.save(fit_output_range(make_random_generator(resolution=32)), path)
    return path


def test_export_onnx_writes_beside_the_model_and_reports_its_closeness_to_pytorch(model_file, missing):
    if onnx_backend.onnxruntime is None:
        missing("onnxruntime is not installed")
    result = CliRunner().invoke(cli, ["export", "onnx", "--weights", str(model_file)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    exported = list(model_file.parent.glob("random-g32.synthesis-*-v1.onnx"))
    assert len(exported) == 1 and f"ONNX: {exported[0]}" in result.output
    quality = result.output.splitlines()[-1]
    assert quality.startswith("onnxruntime against PyTorch fp32: max abs difference ")
    assert float(quality.split("difference ")[1].split(",")[0]) < 1e-3


def test_export_onnx_to_a_given_file(model_file, tmp_path):
    out = tmp_path / "elsewhere" / "g.onnx"
    result = CliRunner().invoke(cli, ["export", "onnx", "--weights", str(model_file), "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0 and out.is_file()


def test_export_tensorrt_without_a_gpu_is_one_clean_line(model_file):
    result = CliRunner().invoke(cli, ["export", "tensorrt", "--weights", str(model_file), "--dry-run"],
                                catch_exceptions=False)
    assert_clean_failure(result, "has no usable CUDA")
