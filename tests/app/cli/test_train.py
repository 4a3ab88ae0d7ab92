"""``python -m app train``: options become a training run, progress shows in a bar, mistakes in one line."""
import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import stylegan2
from app.cli.main import cli
from app.cli.train import describe, train_command
from stylegan2.training import TrainingProgress
from tests.stylegan2.inception_fixtures import random_inception

TINY = ["--arch", "stylegan2", "--aug", "none", "--batch", "4", "--cbase", "256", "--cmax", "16", "--map", "1",
        "--device", "cpu", "--workers", "0"]


@pytest.fixture
def dataset(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.RandomState(0)
    for index in range(6):
        Image.fromarray(rng.randint(0, 256, [16, 16, 3], dtype=np.uint8)).save(folder / f"{index}.png")
    return folder


def run(*args):
    return CliRunner().invoke(train_command, [str(arg) for arg in args], catch_exceptions=False)


def assert_clean_failure(result, *phrases):
    assert result.exit_code != 0 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    assert all(phrase in errors[0] for phrase in phrases), errors[0]


def test_train_writes_a_snapshot_that_serves_as_weights(dataset, tmp_path):
    result = run("--data", dataset, "--out", tmp_path / "run", "--kimg", 0.008, "--snap", 0.008, "--grid", 0.008, *TINY)
    assert result.exit_code == 0, result.output
    snapshot = tmp_path / "run" / "snapshot-000000-008.pt"
    assert f"last snapshot: {snapshot}" in result.output
    assert stylegan2.load(snapshot).generator.img_resolution == 16


def test_continuing_a_snapshot_takes_only_run_options(dataset, tmp_path):
    run("--data", dataset, "--out", tmp_path / "run", "--kimg", 0.004, "--snap", 0.004, *TINY)
    snapshot = tmp_path / "run" / "snapshot-000000-004.pt"
    continued = run("--data", dataset, "--out", tmp_path / "run", "--resume", snapshot, "--kimg", 0.008,
                    "--device", "cpu", "--workers", "0")
    assert continued.exit_code == 0, continued.output
    changed = run("--data", dataset, "--out", tmp_path / "run", "--resume", snapshot, "--kimg", 0.012,
                  "--glr", 0.01, "--device", "cpu", "--workers", "0")
    assert_clean_failure(changed, "a snapshot continues with its own settings", "glr")


def test_empty_dataset_fails_in_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_clean_failure(run("--data", tmp_path / "empty", "--out", tmp_path / "run", *TINY), "holds no images")


def test_corrupt_snapshot_fails_in_one_line(dataset, tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"PK\x03\x04" + b"\0" * 64)
    result = run("--data", dataset, "--out", tmp_path / "run", "--resume", tmp_path / "bad.pt", "--device", "cpu")
    assert_clean_failure(result, "bad.pt", "damaged or truncated")


def test_unknown_generator_to_fine_tune_fails_in_one_line(dataset, tmp_path):
    result = run("--data", dataset, "--out", tmp_path / "run", "--resume", "no-such-model", *TINY)
    assert_clean_failure(result, "--resume no-such-model: no such file, and not a known model")
    assert not (tmp_path / "run").exists()


def test_train_is_a_command_of_the_app():
    assert cli.get_command(None, "train") is train_command


def test_progress_text_shows_kimg_losses_augment_p_and_speed():
    report = TrainingProgress(kimg=12.25, total_kimg=100, step=766, losses={"G_loss": 1.5, "D_loss": 0.75},
                              augment_p=0.125, sec_per_kimg=31.5)
    assert describe(report) == "kimg 12.2  D_loss 0.750  G_loss 1.500  p 0.125  31.5 s/kimg"
    assert describe(None) == ""


@pytest.mark.slow
def test_metric_measures_g_ema_during_training_into_stats(dataset, tmp_path):
    torch.save(random_inception().state_dict(), tmp_path / "inception.pth")
    result = run("--data", dataset, "--out", tmp_path / "run", "--kimg", 0.008, "--snap", 0.008, *TINY,
                 "--metric", "kid", "--metric-num", 4, "--inception", tmp_path / "inception.pth",
                 "--metric-cache", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    assert math.isfinite(lines[-1]["metric/kid4"])
