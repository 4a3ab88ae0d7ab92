"""Training snapshots: exact resume, safe reading, serving G_ema, and clear errors for bad files."""
import pytest
import torch

import stylegan2
from stylegan2.training.errors import SnapshotError, TrainingError
from stylegan2.training.loop import train
from stylegan2.training.snapshot import read_snapshot
from tests.stylegan2.training_fixtures import TINY, FlipPipe, run_options, shape_images, write_zip

# Regularisation every other step, ADA moving p every step: every piece of state changes within 6 steps.
SETTINGS = dict(TINY, G_reg_interval=2, D_reg_interval=2, augment="ada", ada_target=0.0, ada_interval=1,
                ada_kimg=1, style_mixing_prob=0.5)


def flip_pipes(name):
    return FlipPipe()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same 12 steps in one go, and as 6 steps, a snapshot, and 6 more steps resumed from it."""
    root = tmp_path_factory.mktemp("runs")
    data = write_zip(root / "shapes.zip", shape_images(20, resolution=16))
    whole = train(run_options(data, root / "whole", 0.096, snapshot_kimg=0.048), SETTINGS, augment_factory=flip_pipes)
    first = root / "whole" / "snapshot-000000-048.pt"
    resumed = train(run_options(data, root / "resumed", 0.096, snapshot_kimg=0.048, resume=str(first)),
                    augment_factory=flip_pipes)
    return data, read_snapshot(whole.snapshot), read_snapshot(resumed.snapshot), first


def test_resumed_run_ends_bit_identical_to_an_uninterrupted_one(runs):
    _, whole, resumed, _ = runs
    for name in ("G", "D", "G_ema"):
        for key, tensor in whole[name]["state_dict"].items():
            assert torch.equal(resumed[name]["state_dict"][key], tensor), f"{name}.{key}"
    assert whole["progress"] == resumed["progress"] == {"step": 12, "cur_nimg": 96}
    assert torch.equal(whole["loss"]["pl_mean"], resumed["loss"]["pl_mean"])
    assert torch.equal(whole["augment"]["p"], resumed["augment"]["p"]) and whole["augment"]["p"] > 0


def test_optimiser_state_is_resumed_too(runs):
    _, whole, resumed, _ = runs
    for name in ("G", "D"):
        for key, state in whole["optimizers"][name]["state"].items():
            assert all(torch.equal(value, resumed["optimizers"][name]["state"][key][field])
                       for field, value in state.items())


def test_snapshot_reads_with_weights_only(runs):
    _, _, _, first = runs
    content = torch.load(first, weights_only=True)
    assert content["format"] == "stylecam-training-snapshot" and content["arch"] == "stylegan2"


def test_stylegan2_load_serves_the_snapshots_g_ema(runs):
    _, whole, _, first = runs
    loaded = stylegan2.load(first)
    snapshot = read_snapshot(first)
    assert loaded.meta["training_kimg"] == 0.048
    assert all(torch.equal(loaded.generator.state_dict()[key], value)
               for key, value in snapshot["G_ema"]["state_dict"].items())


def test_truncated_snapshot_is_refused_and_nothing_is_written(runs, tmp_path):
    data, _, _, first = runs
    broken = tmp_path / "broken.pt"
    broken.write_bytes(first.read_bytes()[: first.stat().st_size // 2])
    with pytest.raises(SnapshotError, match="damaged or truncated"):
        train(run_options(data, tmp_path / "out", 0.1, resume=str(broken)))
    assert not (tmp_path / "out").exists()


def test_snapshot_from_a_newer_stylecam_is_refused(runs, tmp_path):
    _, _, _, first = runs
    content = torch.load(first, weights_only=True)
    content["version"] = 99
    torch.save(content, tmp_path / "future.pt")
    with pytest.raises(SnapshotError, match="version 99"):
        read_snapshot(tmp_path / "future.pt")


def test_settings_cannot_change_when_a_snapshot_continues(runs, tmp_path):
    data, _, _, first = runs
    with pytest.raises(TrainingError, match=r"leave out \['glr'\]"):
        train(run_options(data, tmp_path / "out", 0.1, resume=str(first)), dict(glr=0.001))


def test_a_folder_holding_another_runs_snapshots_is_refused(runs, tmp_path):
    data, _, _, first = runs
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / first.name).write_bytes(first.read_bytes())
    with pytest.raises(TrainingError, match="already holds the snapshots of a run"):
        train(run_options(data, tmp_path / "out", 0.1), TINY)


def test_writing_leaves_no_temporary_files(runs):
    _, _, _, first = runs
    assert not list(first.parent.glob(".*"))
