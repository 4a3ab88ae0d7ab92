"""The training benchmark's configurations and its verdict against NVIDIA's figure (nothing is timed here)."""
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_training.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_training", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_256_px_configuration_is_nvidias_auto_config_on_one_gpu(bench):
    config = bench.make_config("256")
    assert (config.batch, config.channel_base, config.channel_max, config.mapping_layers) == (16, 16384, 512, 2)
    assert (config.num_fp16_res, config.conv_clamp, config.z_dim) == (4, 256, 512)
    assert config.augment == "ada"


def test_tiny_configuration_is_the_cpu_proofs(bench):
    config = bench.make_config("tiny")
    assert (config.batch, config.channel_base, config.channel_max, config.z_dim) == (8, 256, 16, 32)


@pytest.mark.parametrize("s_per_kimg, met", [(20.0, True), (31.4, True), (31.5, False)])
def test_target_is_at_most_1_3_times_nvidias_upper_figure(bench, s_per_kimg, met):
    result = bench.verdict(s_per_kimg)
    assert result["target_met"] is met
    assert result["ratio_to_nvidia"] == [round(s_per_kimg / 21.6, 3), round(s_per_kimg / 24.2, 3)]
