"""Projection: optimising a latent so a small random-weight generator reproduces a target it made."""
import threading

import numpy as np
import pytest
import torch

from stylegan2.projection.perceptual import load_perceptual
from stylegan2.projection.projector import ProjectionCancelled, ProjectionError, prepare_target, project, w_statistics
from stylegan2.projection.schedule import ProjectionConfig, Stage
from stylegan2.testing import fit_output_range, make_random_generator, make_random_stylegan3, make_target, save_standin

RESOLUTION = 32


@pytest.fixture(scope="module")
def G():
    """A 32x32 random generator (8 ws) with images in [-1, 1]; tests must not modify it."""
    generator = make_random_generator(resolution=RESOLUTION, z_dim=32, w_dim=32, mapping_layers=2, seed=3)
    return fit_output_range(generator).requires_grad_(False)


@pytest.fixture(scope="module")
def perceptual(tmp_path_factory):
    return load_perceptual(save_standin(tmp_path_factory.mktemp("projector") / "standin_vgg16.pt"))


@pytest.fixture(scope="module")
def target(G):
    image, _ = make_target(G, seed=7)
    return image


def config(*stages, **changes) -> ProjectionConfig:
    """A short projection: by default 12 steps in W+ from w_avg, LPIPS + pixel, no early stopping."""
    settings = dict(stages=stages or (Stage("w+", 12, learning_rate=0.05),), start="w_avg",
                    w_avg_samples=200, pixel_weight=1.0, optimize_noise=False, preview_every=0)
    settings.update(changes)
    return ProjectionConfig(**settings)


def test_the_loss_decreases(G, target, perceptual):
    result = project(G, target, perceptual, config())
    assert result.losses["total"] < 0.7 * result.history[0]["total"]
    assert result.losses["pixel"] < result.history[0]["pixel"]


def test_w_space_returns_one_vector_for_every_layer(G, target, perceptual):
    result = project(G, target, perceptual, config(Stage("w", 5)))
    assert result.ws.shape == (1, G.num_ws, G.w_dim)
    assert torch.equal(result.ws, result.ws[:, :1].expand_as(result.ws))


def test_w_plus_space_returns_a_vector_per_layer(G, target, perceptual):
    result = project(G, target, perceptual, config(Stage("w+", 5)))
    assert result.ws.shape == (1, G.num_ws, G.w_dim)
    assert not torch.equal(result.ws[:, 0], result.ws[:, -1])


def test_w_plus_refinement_continues_from_the_w_result(G, target, perceptual):
    result = project(G, target, perceptual, config(Stage("w", 8), Stage("w+", 8, learning_rate=0.05)))
    w_stage = [entry["total"] for entry in result.history if entry["stage"] == 0]
    refinement = [entry["total"] for entry in result.history if entry["stage"] == 1]
    assert len(w_stage) == 8 and len(refinement) == 8
    assert refinement[0] < w_stage[0]        # Started where W left off, not from scratch...
    assert refinement[-1] < w_stage[-1]      # ...and improved on it.
    assert result.space == "w+"


def test_early_stopping_ends_a_projection_that_stopped_improving(G, target, perceptual):
    settings = config(Stage("w+", 200), early_stop_patience=3, early_stop_tolerance=0.5)
    result = project(G, target, perceptual, settings)
    assert result.stopped_early
    assert result.steps < 200


def test_the_best_latent_visited_is_returned_even_if_later_steps_got_worse(G, target, perceptual):
    unstable = config(Stage("w+", 8, learning_rate=5.0, lr_rampup=0.0, lr_rampdown=0.0))
    result = project(G, target, perceptual, unstable)
    assert result.history[-1]["total"] > min(entry["total"] for entry in result.history)
    assert result.losses["total"] == pytest.approx(min(entry["total"] for entry in result.history), rel=1e-4)


def test_without_early_stopping_every_step_runs(G, target, perceptual):
    result = project(G, target, perceptual, config(Stage("w+", 6), early_stop_patience=0))
    assert not result.stopped_early
    assert result.steps == 6 == len(result.history)


def test_the_same_seed_gives_the_same_result(G, target, perceptual):
    settings = config(start="candidates", num_candidates=4, optimize_noise=True, seed=11)
    first = project(G, target, perceptual, settings)
    second = project(G, target, perceptual, settings)
    assert torch.equal(first.ws, second.ws)
    assert all(torch.equal(first.noise[name], second.noise[name]) for name in first.noise)


def test_another_seed_gives_another_result(G, target, perceptual):
    first = project(G, target, perceptual, config(optimize_noise=True, seed=1))
    second = project(G, target, perceptual, config(optimize_noise=True, seed=2))
    assert not torch.equal(first.ws, second.ws)


def test_the_candidate_search_starts_from_the_sampled_latent_that_made_the_target(G, perceptual):
    """The candidates are the projector's own W samples (untruncated here): a target rendered from one of
    them must be found, and start the projection far closer than w_avg does."""
    settings = config(Stage("w", 1), start="candidates", num_candidates=8, candidate_psi=1.0, seed=5)
    _, _, samples = w_statistics(G, settings.w_avg_samples, torch.Generator().manual_seed(settings.seed))
    with torch.no_grad():
        target = G.synthesis(samples[4][None, None, :].expand(1, G.num_ws, -1)).clamp(-1, 1)
    from_avg = project(G, target, perceptual, config(Stage("w", 1), start="w_avg"))
    from_best = project(G, target, perceptual, settings)
    assert from_best.history[0]["total"] < 0.1 * from_avg.history[0]["total"]


def test_progress_is_reported_every_step_with_previews_every_k(G, target, perceptual):
    reports = []
    project(G, target, perceptual, config(Stage("w", 4), Stage("w+", 3), preview_every=3),
            progress=reports.append)
    assert [report.step for report in reports] == [1, 2, 3, 4, 5, 6, 7]
    assert [report.stage for report in reports] == [0, 0, 0, 0, 1, 1, 1]
    with_preview = [report.step for report in reports if report.preview is not None]
    assert with_preview == [3, 4, 6, 7]      # Every 3rd step and the last step of each stage.
    preview = reports[2].preview
    assert preview.dtype == torch.float32 and preview.shape == (1, 3, RESOLUTION, RESOLUTION)
    assert set(reports[0].losses) == {"total", "lpips", "pixel", "noise"}
    assert all(report.num_steps == 7 for report in reports)


def test_the_start_search_reports_its_own_phase_before_the_first_step(G, target, perceptual):
    reports = []
    project(G, target, perceptual, config(Stage("w", 2), start="candidates", num_candidates=10),
            progress=reports.append)
    searching = [report for report in reports if report.phase == "start"]
    assert [(report.phase_step, report.phase_steps, report.step) for report in searching] == [
        (4, 10, 0), (8, 10, 0), (10, 10, 0)]
    assert reports[:3] == searching, "the search comes before the first step"
    assert searching[-1].losses["total"] <= searching[0].losses["total"]
    assert [(report.phase, report.phase_step, report.phase_steps) for report in reports[3:]] == [
        ("optimise", 1, 2), ("optimise", 2, 2)]


def test_progress_returning_false_during_the_start_search_cancels_before_any_step(G, target, perceptual):
    with pytest.raises(ProjectionCancelled) as cancelled:
        project(G, target, perceptual, config(start="candidates", num_candidates=8),
                progress=lambda report: report.phase != "start")
    assert cancelled.value.step == 0


def test_progress_returning_false_cancels_at_that_step(G, target, perceptual):
    with pytest.raises(ProjectionCancelled) as cancelled:
        project(G, target, perceptual, config(Stage("w+", 50)), progress=lambda report: report.step < 3)
    assert cancelled.value.step == 3


def test_a_cancel_event_stops_before_the_next_step(G, target, perceptual):
    cancel = threading.Event()
    steps_seen = []

    def on_progress(report):
        steps_seen.append(report.step)
        if report.step == 2:
            cancel.set()

    with pytest.raises(ProjectionCancelled) as cancelled:
        project(G, target, perceptual, config(Stage("w+", 50)), progress=on_progress, cancel=cancel)
    assert cancelled.value.step == 2
    assert steps_seen == [1, 2]


def test_a_cancel_event_set_beforehand_runs_no_step(G, target, perceptual):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ProjectionCancelled) as cancelled:
        project(G, target, perceptual, config(start="candidates"), cancel=cancel)
    assert cancelled.value.step == 0


def test_the_shared_generator_is_left_exactly_as_it_was(G, target, perceptual):
    before = {name: tensor.clone() for name, tensor in G.state_dict().items()}
    flags = {name: parameter.requires_grad for name, parameter in G.named_parameters()}
    project(G, target, perceptual, config(optimize_noise=True, start="candidates", num_candidates=4))
    after = G.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)
    assert all(not buf.requires_grad for buf in G.buffers())
    assert flags == {name: parameter.requires_grad for name, parameter in G.named_parameters()}


def test_optimised_noise_comes_back_by_state_dict_name(G, target, perceptual):
    result = project(G, target, perceptual, config(optimize_noise=True))
    stored = {name: buf for name, buf in G.state_dict().items() if name.endswith("noise_const")}
    assert set(result.noise) == set(stored)
    assert all(result.noise[name].shape == stored[name].shape for name in stored)
    assert not any(torch.equal(result.noise[name], stored[name]) for name in stored)


def test_with_kept_noise_the_latent_alone_reproduces_the_result_image(G, target, perceptual):
    result = project(G, target, perceptual, config(optimize_noise=False))
    assert result.noise == {}
    with torch.no_grad():
        image = G.synthesis(result.ws, noise_mode="const")
    assert (image - result.image).abs().max() < 1e-5


def test_the_unfused_layout_gives_the_same_result(G, target, perceptual):
    automatic = project(G, target, perceptual, config(Stage("w+", 5)))
    unfused = project(G, target, perceptual, config(Stage("w+", 5), fused_modconv=False))
    assert torch.allclose(automatic.ws, unfused.ws, atol=1e-4)


def test_the_result_carries_target_image_and_bookkeeping(G, target, perceptual):
    result = project(G, target, perceptual, config(Stage("w", 3)))
    assert torch.equal(result.target, target)
    assert result.image.shape == (1, 3, RESOLUTION, RESOLUTION)
    assert result.steps == 3 and result.seconds > 0
    assert set(result.losses) == {"total", "lpips", "pixel", "noise"}


def test_the_result_names_the_perceptual_network_it_was_made_with(G, target, perceptual):
    result = project(G, target, perceptual, config(Stage("w", 2)))
    assert result.perceptual == perceptual.identity and result.perceptual["name"] == "stand-in"


def test_a_uint8_tensor_is_a_valid_target(G, target, perceptual):
    pixels = (target[0] * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    tensor = prepare_target(pixels, RESOLUTION)
    assert tensor.shape == (1, 3, RESOLUTION, RESOLUTION)
    assert torch.allclose(tensor, target, atol=1 / 127.5)


def test_a_target_of_the_wrong_size_asks_for_alignment(G, perceptual):
    with pytest.raises(ProjectionError, match="align_face"):
        project(G, torch.zeros((1, 3, 48, 48)), perceptual, config())


@pytest.mark.parametrize("bad", [torch.zeros((RESOLUTION, RESOLUTION), dtype=torch.uint8),
                                 torch.zeros((3, RESOLUTION, RESOLUTION), dtype=torch.int32),
                                 np.zeros((RESOLUTION, RESOLUTION, 3), np.uint8),
                                 torch.full((3, RESOLUTION, RESOLUTION), 200.0),
                                 "face.png"], ids=["2-d", "int32", "numpy", "out-of-range", "path"])
def test_targets_of_the_wrong_kind_are_refused(bad):
    with pytest.raises(ProjectionError):
        prepare_target(bad, RESOLUTION)


def test_a_conditional_generator_is_refused(target, perceptual):
    conditional = make_random_generator(resolution=RESOLUTION, c_dim=2, seed=0)
    with pytest.raises(ProjectionError, match="conditional"):
        project(conditional, target, perceptual, config())


@pytest.fixture(scope="module")
def stylegan3_generator():
    return fit_output_range(make_random_stylegan3("t", resolution=16, channel_base=512, channel_max=16, seed=1))


def test_a_stylegan3_face_is_projected_like_a_stylegan2_one(stylegan3_generator, perceptual):
    target, _ = make_target(stylegan3_generator, seed=7)
    result = project(stylegan3_generator, target, perceptual, config())
    assert result.ws.shape == (1, stylegan3_generator.num_ws, stylegan3_generator.w_dim)
    assert result.noise == {} and result.losses["total"] < result.history[0]["total"]


def test_noise_optimisation_is_refused_for_a_stylegan3_generator_with_the_reason(stylegan3_generator, perceptual):
    target, _ = make_target(stylegan3_generator, seed=7)
    with pytest.raises(ProjectionError, match="stylegan3.*no noise inputs"):
        project(stylegan3_generator, target, perceptual, config(optimize_noise=True))
