"""The generator benchmark's judgement of the fastest combination that keeps the image. These tests feed
``best`` made-up figures; they never time anything."""
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_generator.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_generator", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def figures(of_baseline_time, psnr_db, max_abs_diff=0.0):
    return {"ms_per_image": 0.0, "of_baseline_time": of_baseline_time, "psnr_db": psnr_db,
            "max_abs_diff": max_abs_diff}


def test_the_fastest_combination_that_keeps_35_db_is_the_best(bench):
    row = {"batch": 1, "reference/fp32": figures(1.0, None), "torch/fp32": figures(0.6, 130.0, 4e-6),
           "torch/bf16": figures(0.3, 55.0, 0.02), "onnx/fp32": figures(0.62, 126.0, 4e-6)}
    assert bench.best(row) == {"name": "torch/bf16", "of_baseline_time": 0.3, "target_met": True}


def test_a_faster_combination_that_loses_the_image_is_passed_over(bench):
    row = {"reference/fp32": figures(1.0, None), "torch/bf16": figures(0.2, 30.0, 0.2),
           "torch/fp32": figures(0.5, 130.0, 4e-6)}
    assert bench.best(row) == {"name": "torch/fp32", "of_baseline_time": 0.5, "target_met": False}


def test_an_fp32_export_further_than_1e_3_from_pytorch_does_not_count(bench):
    row = {"reference/fp32": figures(1.0, None), "onnx/fp32": figures(0.3, 70.0, 2e-3)}
    assert bench.best(row) == {"name": None, "target_met": False}
