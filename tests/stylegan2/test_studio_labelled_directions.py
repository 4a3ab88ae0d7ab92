"""Fitting a direction per measured trait: synthetic labels of known directions are recovered, and the
held-out correlation tells a real direction from noise. The w are the golden generator's own."""
import pytest
import torch

from stylegan2 import Generator
from stylegan2.studio.labelled_directions import fit_direction, fit_directions
from stylegan2.studio.sampling import sample_ws

FACES = 2000


@pytest.fixture(scope="module")
def faces_w(nvlabs_golden):
    """The w of FACES faces of the golden generator (module scope: built once for every test here)."""
    G = Generator(**nvlabs_golden[0]["init_kwargs"]).eval()
    G.load_state_dict(nvlabs_golden[1])
    return sample_ws(G, FACES, seed=11, psi=0.7)[:, 0].double()


def known_direction(w_dim, seed):
    vector = torch.randn(w_dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return vector / vector.norm()


def noise(count, seed):
    return torch.randn(count, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def cosine(a, b):
    return float(a @ b / (a.norm() * b.norm()))


def test_ridge_recovers_a_known_direction_from_noisy_measures(faces_w):
    direction = known_direction(faces_w.shape[1], 0)
    projection = faces_w @ direction
    labels = 3.0 * projection + 0.2 * projection.std() * noise(FACES, 1) + 5.0
    fit = fit_direction(faces_w, labels, "ridge", alpha=0.01)
    assert cosine(fit.vector, direction) > 0.98
    assert fit.heldout_correlation > 0.95
    assert (fit.train_count, fit.test_count) == (1600, 400)


def test_the_direction_points_to_higher_measures(faces_w):
    direction = known_direction(faces_w.shape[1], 2)
    fit = fit_direction(faces_w, -(faces_w @ direction), "ridge", alpha=0.01)
    assert cosine(fit.vector, -direction) > 0.98


def test_logistic_recovers_a_known_direction_from_yes_no_labels(faces_w):
    direction = known_direction(faces_w.shape[1], 3)
    projection = faces_w @ direction
    labels = (projection + 0.2 * projection.std() * noise(FACES, 4) > projection.median()).double()
    fit = fit_direction(faces_w, labels, "logistic", alpha=0.01)
    assert cosine(fit.vector, direction) > 0.9
    assert fit.heldout_correlation > 0.7


def test_logistic_splits_a_continuous_measure_at_its_median(faces_w):
    measure = faces_w @ known_direction(faces_w.shape[1], 5) + 0.1 * noise(FACES, 6)
    continuous = fit_direction(faces_w, measure, "logistic")
    split = fit_direction(faces_w, (measure > measure.median()).double(), "logistic")
    assert torch.equal(continuous.vector, split.vector)


def test_labels_of_pure_noise_give_a_held_out_correlation_near_zero(faces_w):
    fit = fit_direction(faces_w, noise(FACES, 7), "ridge")
    assert abs(fit.heldout_correlation) < 0.15


def test_unmeasured_faces_are_left_out(faces_w):
    labels = faces_w @ known_direction(faces_w.shape[1], 8)
    labels[::2] = float("nan")
    fit = fit_direction(faces_w, labels, "ridge", alpha=0.01)
    assert fit.train_count + fit.test_count == FACES // 2
    assert fit.heldout_correlation > 0.95


def test_the_scale_is_the_standard_deviation_of_w_along_the_direction(faces_w):
    fit = fit_direction(faces_w, faces_w @ known_direction(faces_w.shape[1], 9), "ridge")
    assert fit.scale == pytest.approx(float((faces_w @ fit.vector).std()))


def test_too_few_measured_faces_are_refused(faces_w):
    labels = torch.full((FACES,), float("nan"), dtype=torch.float64)
    labels[:10] = 1.0
    with pytest.raises(ValueError, match="only 10 faces were measured; a fit needs at least 20"):
        fit_direction(faces_w, labels)


@pytest.mark.parametrize("method", ["ridge", "logistic"])
def test_a_fit_without_a_penalty_is_refused(faces_w, method):
    with pytest.raises(ValueError, match="alpha must be positive"):
        fit_direction(faces_w, noise(FACES, 0) > 0, method, alpha=0)


def test_fit_directions_ranks_by_held_out_correlation_and_says_why_a_measure_was_left_out(faces_w):
    true_direction = known_direction(faces_w.shape[1], 10)
    measures = {"noise": noise(FACES, 11), "trait": faces_w @ true_direction,
                "unmeasured": torch.full((FACES,), float("nan"), dtype=torch.float64)}
    directions, skipped = fit_directions(faces_w, measures, slice(4, 8), num_ws=10, alpha=0.01)
    assert directions.names == ["trait", "noise"]
    assert directions.layers == slice(4, 8) and directions.method == "ridge"
    assert directions.scores[0] > 0.95 and abs(directions.scores[1]) < 0.15
    assert skipped == {"unmeasured": "only 0 faces were measured; a fit needs at least 20"}
    assert cosine(directions.vectors[0].double(), true_direction) > 0.98


def test_fit_directions_returns_none_when_nothing_could_be_fitted(faces_w):
    empty = torch.full((FACES,), float("nan"))
    directions, skipped = fit_directions(faces_w, {"yaw": empty}, slice(None), num_ws=10)
    assert directions is None and list(skipped) == ["yaw"]
