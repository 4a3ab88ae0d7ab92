"""Projection schedules: NVIDIA's curves, the presets, and configs that survive a JSON round trip."""
import json

import pytest

from stylegan2.projection.schedule import ProjectionConfig, Stage


@pytest.fixture
def reference_stage() -> Stage:
    return ProjectionConfig.reference(steps=1000).stages[0]


def test_reference_learning_rate_warms_up_over_the_first_5_percent(reference_stage):
    assert reference_stage.learning_rate_at(0) == 0.0
    assert reference_stage.learning_rate_at(25) == pytest.approx(0.05)
    assert reference_stage.learning_rate_at(50) == pytest.approx(0.1)


def test_reference_learning_rate_holds_then_decays_along_a_cosine(reference_stage):
    assert reference_stage.learning_rate_at(500) == pytest.approx(0.1)
    assert reference_stage.learning_rate_at(750) == pytest.approx(0.1)
    assert reference_stage.learning_rate_at(875) == pytest.approx(0.05)
    assert reference_stage.learning_rate_at(999) < 1e-4


def test_reference_latent_noise_fades_quadratically_over_75_percent(reference_stage):
    assert reference_stage.w_noise_at(0) == pytest.approx(0.05)
    assert reference_stage.w_noise_at(375) == pytest.approx(0.05 * 0.25)
    assert reference_stage.w_noise_at(750) == 0.0
    assert reference_stage.w_noise_at(900) == 0.0


def test_reference_preset_is_nvidias_projector():
    config = ProjectionConfig.reference()
    assert config.num_steps == 1000 and config.space == "w"
    assert (config.start, config.w_avg_samples) == ("w_avg", 10000)
    assert (config.lpips_weight, config.pixel_weight, config.noise_weight) == (1.0, 0.0, 1e5)
    assert config.optimize_noise and config.early_stop_patience == 0


def test_fast_preset_refines_w_into_w_plus():
    config = ProjectionConfig.fast(steps=90)
    assert [stage.space for stage in config.stages] == ["w", "w+"]
    assert config.num_steps == 90 and config.space == "w+"


def test_fast_preset_in_w_stays_in_w():
    config = ProjectionConfig.fast(steps=90, space="w")
    assert [stage.space for stage in config.stages] == ["w"]
    assert config.num_steps == 90


def test_config_survives_a_json_round_trip():
    config = ProjectionConfig.fast(steps=60, seed=5)
    assert ProjectionConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_unknown_settings_are_refused():
    data = ProjectionConfig.fast().to_dict()
    data["learning_rat"] = 0.1
    with pytest.raises(ValueError, match="learning_rat"):
        ProjectionConfig.from_dict(data)


@pytest.mark.parametrize("stage", [dict(space="z", steps=10), dict(space="w", steps=0),
                                   dict(space="w", steps=10, lr_rampup=1.5),
                                   dict(space="w", steps=10, learning_rate=0)])
def test_invalid_stages_are_refused(stage):
    with pytest.raises(ValueError):
        Stage(**stage)


@pytest.mark.parametrize("changes", [dict(stages=()), dict(start="random"), dict(num_candidates=0),
                                     dict(lpips_weight=0.0, pixel_weight=0.0), dict(candidate_psi=2.0)])
def test_invalid_configs_are_refused(changes):
    with pytest.raises(ValueError):
        ProjectionConfig.fast().replace(**changes)


def test_fast_preset_needs_a_known_space():
    with pytest.raises(ValueError, match="space"):
        ProjectionConfig.fast(space="z")
