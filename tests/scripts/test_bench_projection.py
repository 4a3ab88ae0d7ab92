"""The projection benchmark's judgement: what it compares, and when it says the target is met.

``compare`` gets runs as ``measure`` returns them: final pixel MSE, seconds, and the (seconds, pixel
MSE) history of every step. These tests feed it made-up runs; they never time anything.
"""
import argparse
import importlib.util
from pathlib import Path

import pytest
import torch

from app.projection.jobs import DEFAULT_STEPS

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_projection.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_projection", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(pixel_mse, seconds, history, cpu_seconds=None):
    return dict(pixel_mse=pixel_mse, seconds=seconds, cpu_seconds=cpu_seconds or seconds, history=history)


REFERENCE = run(pixel_mse=0.010, seconds=100.0, history=[(50.0, 0.02), (100.0, 0.010)])


def test_a_fast_run_that_reaches_the_reference_early_and_ends_closer_meets_the_target(bench):
    fast = run(pixel_mse=0.008, seconds=20.0, history=[(10.0, 0.009), (20.0, 0.008)])
    verdict = bench.compare([REFERENCE], [fast])
    assert verdict["time_to_reference_pixel_mse_ratio"] == [0.1]
    assert verdict["final_pixel_mse_at_most_reference"] == [True]
    assert verdict["target_met"] is True


def test_a_fast_run_that_dips_below_the_reference_but_returns_a_worse_result_misses_the_target(bench):
    fast = run(pixel_mse=0.012, seconds=20.0, history=[(10.0, 0.009), (20.0, 0.012)])
    verdict = bench.compare([REFERENCE], [fast])
    assert verdict["time_to_reference_pixel_mse_ratio"] == [0.1]
    assert verdict["final_pixel_mse_at_most_reference"] == [False]
    assert verdict["target_met"] is False


def test_a_fast_run_that_reaches_the_reference_too_late_misses_the_target(bench):
    fast = run(pixel_mse=0.009, seconds=40.0, history=[(10.0, 0.05), (30.0, 0.009)])
    verdict = bench.compare([REFERENCE], [fast])
    assert verdict["time_to_reference_pixel_mse_ratio"] == [0.3]
    assert verdict["target_met"] is False


def test_a_fast_run_that_never_reaches_the_reference_misses_the_target(bench):
    fast = run(pixel_mse=0.02, seconds=10.0, history=[(5.0, 0.03), (10.0, 0.02)])
    verdict = bench.compare([REFERENCE], [fast])
    assert verdict["time_to_reference_pixel_mse_ratio"] == [None]
    assert verdict["target_met"] is False


def test_every_target_must_meet_it(bench):
    good = run(pixel_mse=0.008, seconds=20.0, history=[(10.0, 0.008)])
    bad = run(pixel_mse=0.011, seconds=20.0, history=[(10.0, 0.009), (20.0, 0.011)])
    assert bench.compare([REFERENCE, REFERENCE], [good, bad])["target_met"] is False


def test_the_reference_and_fast_configurations_use_the_same_modconv_layout(bench):
    configs = bench.configurations(reference_steps=1000, fast_steps=150)
    assert configs["reference"].fused_modconv == configs["fast"].fused_modconv == configs["fast_w"].fused_modconv
    assert configs["fast"].fused_modconv is False


def test_the_reference_keeps_nvidias_schedule(bench):
    from stylegan2.projection.schedule import ProjectionConfig

    reference = bench.configurations(reference_steps=1000, fast_steps=150)["reference"]
    assert reference.replace(fused_modconv=None) == ProjectionConfig.reference(steps=1000)


def test_the_fast_configuration_runs_the_apps_default_steps(bench, monkeypatch):
    monkeypatch.setattr("sys.argv", ["bench_projection.py"])
    assert bench.parse_args().fast_steps == DEFAULT_STEPS


def test_the_device_is_chosen_on_the_command_line(bench, monkeypatch):
    monkeypatch.setattr("sys.argv", ["bench_projection.py", "--device", "cpu"])
    assert bench.parse_args().device == torch.device("cpu")


@pytest.mark.parametrize("text", ["tpu", "not a device"])
def test_a_device_that_cannot_be_measured_is_refused(bench, text):
    with pytest.raises(argparse.ArgumentTypeError):
        bench.parse_device(text)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_without_a_gpu_is_refused_before_anything_runs(bench):
    with pytest.raises(argparse.ArgumentTypeError, match="no usable CUDA"):
        bench.parse_device("cuda")


def test_the_dtype_is_float16_at_the_top_only_on_cuda_and_the_cpu_device_has_a_name(bench):
    assert bench.synthesis_dtype(torch.device("cpu"), 4) == "float32"
    assert bench.synthesis_dtype(torch.device("cuda"), 4).startswith("float16 (top 4 resolutions)")
    assert bench.device_name(torch.device("cpu"))
