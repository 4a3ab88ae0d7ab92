"""The training loop: phases and their schedule, Adam's lazy-regularisation correction, G_ema, ADA, outputs."""
import json

import pytest
import torch

import stylegan2
from stylegan2.testing import make_random_generator
from stylegan2.training import distributed, models
from stylegan2.training.config import TrainingConfig, auto_config
from stylegan2.training.errors import DatasetError, TrainingError
from stylegan2.training.loop import train
from stylegan2.training.snapshot import read_snapshot
from stylegan2.training.trainer import Trainer, make_phases
from tests.stylegan2.training_fixtures import TINY, FlipPipe, run_options, shape_images, write_folder, write_zip

CPU = distributed.ProcessGroup(rank=0, world_size=1, device=torch.device("cpu"))


@pytest.fixture(scope="module")
def data16(tmp_path_factory):
    return write_zip(tmp_path_factory.mktemp("data") / "shapes16.zip", shape_images(24, resolution=16))


def tiny_trainer(**overrides) -> Trainer:
    config = TrainingConfig(**{**TINY, **overrides})
    G, D = models.new_networks(config, resolution=16, img_channels=3, c_dim=0)
    return Trainer(config, G, D, CPU, augment_pipe=FlipPipe() if config.ada_target is not None else None)


def real_batch(count=8):
    return torch.from_numpy(shape_images(count, resolution=16)).permute(0, 3, 1, 2), torch.zeros([count, 0])


def test_lazy_regularisation_scales_adams_learning_rate_and_betas():
    G, D = models.new_networks(TrainingConfig(**TINY), 16, 3, 0)
    phases = make_phases(G, D, TrainingConfig(**TINY, G_reg_interval=4, D_reg_interval=16))
    assert [(phase.name, phase.interval) for phase in phases] == [("Gmain", 1), ("Greg", 4), ("Dmain", 1), ("Dreg", 16)]
    g_group, d_group = phases[0].opt.param_groups[0], phases[2].opt.param_groups[0]
    assert g_group["lr"] == pytest.approx(0.0025 * 4 / 5) and g_group["betas"] == pytest.approx((0, 0.99 ** (4 / 5)))
    assert d_group["lr"] == pytest.approx(0.0025 * 16 / 17) and d_group["betas"][1] == pytest.approx(0.99 ** (16 / 17))


def test_without_lazy_regularisation_each_network_has_one_phase_with_plain_adam():
    G, D = models.new_networks(TrainingConfig(**TINY), 16, 3, 0)
    phases = make_phases(G, D, TrainingConfig(**TINY, G_reg_interval=None, D_reg_interval=None))
    assert [phase.name for phase in phases] == ["Gboth", "Dboth"]
    assert phases[0].opt.param_groups[0]["lr"] == 0.0025


def test_regularisation_runs_on_steps_that_are_multiples_of_its_interval():
    trainer = tiny_trainer(G_reg_interval=2, D_reg_interval=3)
    seen = [set(trainer.train_step(*real_batch())) for _ in range(4)]
    assert [("G_reg" in losses, "D_reg" in losses) for losses in seen] == \
           [(True, True), (False, False), (True, False), (False, True)]
    assert all({"G_loss", "D_loss"} <= losses for losses in seen)


def test_g_ema_moves_towards_g_with_nvidias_half_life_and_ramp_up():
    trainer = tiny_trainer(ema_kimg=0.5, ema_rampup=0.05)
    trainer.train_step(*real_batch())
    before = [p.clone() for p in trainer.G_ema.parameters()]
    trainer.train_step(*real_batch())
    ema_nimg = min(500, 8 * 0.05)                     # ramp-up: at most 0.05 x the 8 images seen before
    beta = 0.5 ** (8 / ema_nimg)
    for old, new, current in zip(before, trainer.G_ema.parameters(), trainer.G.parameters()):
        assert torch.allclose(new, current + (old - current) * beta, atol=1e-7)
    assert torch.equal(trainer.G_ema.mapping.w_avg, trainer.G.mapping.w_avg)


def test_ada_raises_p_while_d_is_sure_of_the_reals():
    trainer = tiny_trainer(ada_target=-2.0, ada_interval=2, ada_kimg=0.1)   # r_t, in [-1, 1], is above it
    for _ in range(4):
        trainer.train_step(*real_batch())
    assert trainer.augment_p == pytest.approx(2 * 8 * 2 / 100)              # two adjustments of batch*interval/100


def test_ada_needs_a_pipeline_with_p():
    config = TrainingConfig(**TINY, ada_target=0.6)
    G, D = models.new_networks(config, 16, 3, 0)
    with pytest.raises(TrainingError, match="needs an augmentation pipeline"):
        Trainer(config, G, D, CPU)


def test_augmentation_pipeline_sees_the_images_d_judges():
    pipe = FlipPipe()
    config = TrainingConfig(**TINY)
    G, D = models.new_networks(config, 16, 3, 0)
    Trainer(config, G, D, CPU, augment_pipe=pipe).train_step(*real_batch())
    # Gmain fakes, Greg none, Dmain fakes and reals, Dreg reals.
    assert pipe.calls == 4


def test_batch_that_does_not_fit_the_minibatch_std_group_is_refused():
    with pytest.raises(TrainingError, match="minibatch-std group 4"):
        tiny_trainer(batch=6)


def test_run_writes_grids_stats_and_a_final_snapshot_and_reports_progress(tmp_path, data16):
    reports = []
    result = train(run_options(data16, tmp_path / "run", 0.032, tick_kimg=0.016, grid_kimg=0.032, snapshot_kimg=1),
                   TINY, progress=reports.append)
    names = sorted(path.name for path in (tmp_path / "run").iterdir())
    assert names == ["fakes000000-032.png", "fakes000000.png", "reals.png", "snapshot-000000-032.pt", "stats.jsonl"]
    lines = [json.loads(line) for line in (tmp_path / "run" / "stats.jsonl").read_text().splitlines()]
    assert [line["kimg"] for line in lines] == [0.016, 0.032] and lines == result.history
    assert {"G_loss", "D_loss", "augment_p", "sec_per_kimg"} <= set(lines[0])
    assert [report.step for report in reports] == [1, 2, 3, 4] and reports[-1].kimg == 0.032
    assert str(result.snapshot) in reports[-1].written


def test_metric_is_called_with_g_ema_every_metric_kimg_and_logged(tmp_path, data16):
    calls = []

    def metric(G_ema, kimg):
        calls.append((kimg, G_ema.training))
        return {"toy": kimg * 10}

    result = train(run_options(data16, tmp_path / "run", 0.048, metric_kimg=0.016, tick_kimg=1), TINY, metric=metric)
    assert calls == [(0.016, False), (0.032, False), (0.048, False)]
    assert [line["metric/toy"] for line in result.history] == [0.16, 0.32, 0.48]


def test_fine_tuning_continues_every_layer_of_the_checkpoint(tmp_path, data16):
    source = make_random_generator(resolution=16, mapping_layers=8, channel_base=512, channel_max=32, seed=3)
    stylegan2.save(source, tmp_path / "source.pt")
    result = train(run_options(data16, tmp_path / "run", 0.008, snapshot_kimg=1, resume=str(tmp_path / "source.pt")),
                   dict(batch=8, glr=0.0, dlr=0.0, augment="none"))
    tuned = stylegan2.load(result.snapshot).generator
    expected = {key: value for key, value in source.state_dict().items() if key != "mapping.w_avg"}
    assert tuned.mapping.num_layers == 8
    assert all(torch.equal(tuned.state_dict()[key], value) for key, value in expected.items())


def test_fine_tuning_builds_a_discriminator_for_the_generators_resolution_and_widths():
    G = make_random_generator(resolution=32, channel_base=1024, channel_max=16)
    D = models.discriminator_for(G, auto_config(32, fine_tuning=True))
    assert D.img_resolution == 32 and D.b32.conv0.weight.shape[0] == 16 and D.b4.conv.weight.shape[0] == 16


def test_fine_tuning_follows_nvidias_resume_settings():
    config = auto_config(256, fine_tuning=True)
    assert config.ema_rampup is None and config.ada_kimg == 100


def test_ada_with_target_0_6_is_the_default_and_another_augmentation_turns_its_controller_off():
    assert (auto_config(64).augment, auto_config(64).ada_target) == ("ada", 0.6)
    assert auto_config(64, augment="diffaugment").ada_target is None


def test_auto_config_is_nvidias_for_256_px_on_one_gpu():
    config = auto_config(256)
    assert (config.batch, config.mbstd_group, config.channel_base, config.glr, config.ema_kimg) == \
           (16, 4, 16384, 0.0025, 5)
    assert config.r1_gamma == pytest.approx(0.0002 * 256 ** 2 / 16)


def test_dataset_that_does_not_match_the_generator_is_refused_before_anything_is_written(tmp_path):
    stylegan2.save(make_random_generator(resolution=32, channel_base=512, channel_max=16), tmp_path / "g32.pt")
    data = write_folder(tmp_path / "data", shape_images(8, resolution=16))
    with pytest.raises(DatasetError, match="images are 16x16 .* the generator makes 32x32"):
        train(run_options(data, tmp_path / "run", 0.008, resume=str(tmp_path / "g32.pt")))
    assert not (tmp_path / "run").exists()


def test_empty_dataset_is_refused_before_anything_is_written(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no images"):
        train(run_options(tmp_path / "empty", tmp_path / "run", 0.008), TINY)
    assert not (tmp_path / "run").exists()


def test_ada_with_nvidias_pipeline_is_the_default_augmentation(tmp_path, data16):
    result = train(run_options(data16, tmp_path / "run", 0.032, snapshot_kimg=1), dict(TINY, augment=None))
    snapshot = read_snapshot(result.snapshot)
    assert (snapshot["config"]["augment"], snapshot["config"]["ada_target"]) == ("ada", 0.6)
    assert set(snapshot["augment"]) == {"p", "signs"}
