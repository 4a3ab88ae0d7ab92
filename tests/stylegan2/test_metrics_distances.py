"""FID and KID arithmetic, checked against closed forms and brute-force computations."""
import numpy as np
import pytest

from stylegan2.metrics import FeatureStatistics, MomentAccumulator, frechet_distance, kernel_inception_distance
from stylegan2.metrics.distances import unbiased_mmd2


def random_rotation(dims: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.RandomState(seed).randn(dims, dims))
    return q * np.sign(np.diag(r))


def gaussian(mean, eigenvalues, rotation) -> FeatureStatistics:
    return FeatureStatistics(np.asarray(mean, np.float64), (rotation * eigenvalues) @ rotation.T, count=1000)


def test_identical_statistics_are_at_distance_zero():
    features = np.random.RandomState(0).randn(5000, 64) @ np.random.RandomState(1).randn(64, 64)
    stats = FeatureStatistics.of(features)
    assert abs(frechet_distance(stats, stats)) < 1e-9 * np.trace(stats.cov)


def test_identical_rank_deficient_statistics_are_at_distance_zero():
    """Fewer vectors than dimensions (a small dataset): the covariance is singular."""
    stats = FeatureStatistics.of(np.random.RandomState(0).rand(20, 512))
    assert abs(frechet_distance(stats, stats)) < 1e-9 * np.trace(stats.cov)


def test_diagonal_gaussians_give_the_closed_form():
    rng = np.random.RandomState(0)
    a_var, b_var = rng.uniform(0.1, 3, 16), rng.uniform(0.1, 3, 16)
    a_mean, b_mean = rng.randn(16), rng.randn(16)
    expected = np.sum((a_mean - b_mean) ** 2) + np.sum((np.sqrt(a_var) - np.sqrt(b_var)) ** 2)
    got = frechet_distance(FeatureStatistics(a_mean, np.diag(a_var), 2), FeatureStatistics(b_mean, np.diag(b_var), 2))
    assert got == pytest.approx(expected, rel=1e-12)


def test_commuting_gaussians_in_512_dimensions_give_the_closed_form_in_float64():
    rng = np.random.RandomState(1)
    rotation = random_rotation(512, 2)
    a_eig, b_eig = rng.uniform(0, 2, 512) ** 2, rng.uniform(0, 2, 512) ** 2
    a = gaussian(rng.randn(512) * 0.1, a_eig, rotation)
    b = gaussian(rng.randn(512) * 0.1, b_eig, rotation)
    expected = np.sum((a.mean - b.mean) ** 2) + np.sum((np.sqrt(a_eig) - np.sqrt(b_eig)) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_non_commuting_2d_gaussians_give_the_closed_form():
    """For 2x2 matrices, tr sqrt(AB) = sqrt(tr(AB) + 2 sqrt(det A det B))."""
    a_cov, b_cov = np.array([[2.0, 0.7], [0.7, 0.5]]), np.array([[0.3, -0.2], [-0.2, 1.5]])
    a_mean, b_mean = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    trace_root = np.sqrt(np.trace(a_cov @ b_cov) + 2 * np.sqrt(np.linalg.det(a_cov) * np.linalg.det(b_cov)))
    expected = np.sum((a_mean - b_mean) ** 2) + np.trace(a_cov) + np.trace(b_cov) - 2 * trace_root
    got = frechet_distance(FeatureStatistics(a_mean, a_cov, 2), FeatureStatistics(b_mean, b_cov, 2))
    assert got == pytest.approx(expected, rel=1e-12)


def test_samples_of_two_gaussians_approach_their_distance():
    rng = np.random.RandomState(3)
    a_cov, b_cov = np.array([[2.0, 0.7], [0.7, 0.5]]), np.array([[0.3, -0.2], [-0.2, 1.5]])
    a = rng.multivariate_normal([1.0, -2.0], a_cov, 200000)
    b = rng.multivariate_normal([0.5, 0.25], b_cov, 200000)
    exact = frechet_distance(FeatureStatistics(np.array([1.0, -2.0]), a_cov, 2),
                             FeatureStatistics(np.array([0.5, 0.25]), b_cov, 2))
    assert frechet_distance(FeatureStatistics.of(a), FeatureStatistics.of(b)) == pytest.approx(exact, abs=0.03)


def test_statistics_are_the_unbiased_mean_and_covariance_however_batched():
    features = np.random.RandomState(4).randn(1000, 8) * 3 + 100
    whole = FeatureStatistics.of(features)
    batched = MomentAccumulator().add_all(np.array_split(features, 7)).statistics()
    for stats in (whole, batched):
        assert stats.count == 1000
        assert np.allclose(stats.mean, features.mean(axis=0), rtol=0, atol=1e-10)
        assert np.allclose(stats.cov, np.cov(features, rowvar=False), rtol=0, atol=1e-10)


def test_statistics_refuse_mismatched_or_too_few_features():
    with pytest.raises(ValueError, match="at least 2"):
        FeatureStatistics.of(np.zeros((1, 4)))
    accumulator = MomentAccumulator()
    accumulator.add(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="expected 4 features"):
        accumulator.add(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="do not match"):
        frechet_distance(FeatureStatistics.of(np.random.rand(3, 4)), FeatureStatistics.of(np.random.rand(3, 5)))


def test_unbiased_mmd_matches_a_brute_force_sum_over_pairs():
    rng = np.random.RandomState(5)
    x, y = rng.randn(6, 3), rng.randn(6, 3) + 0.5
    kernel = lambda u, v: (u @ v / 3 + 1) ** 3  # noqa: E731
    m = len(x)
    within = sum(kernel(x[i], x[j]) + kernel(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    across = sum(kernel(x[i], y[j]) for i in range(m) for j in range(m))
    assert unbiased_mmd2(x, y) == pytest.approx(within / (m * (m - 1)) - 2 * across / m ** 2, rel=1e-12)


def test_kid_of_one_distribution_is_near_zero_and_grows_with_the_shift():
    rng = np.random.RandomState(6)
    a, b = rng.randn(600, 32), rng.randn(600, 32)
    same = kernel_inception_distance(a, b, num_subsets=20, max_subset_size=300)
    shifted = kernel_inception_distance(a, b + 0.3, num_subsets=20, max_subset_size=300)
    further = kernel_inception_distance(a, b + 0.6, num_subsets=20, max_subset_size=300)
    assert abs(same.value) < 3 * same.std + 1e-3
    assert 0 < shifted.value < further.value and shifted.value > 5 * shifted.std / np.sqrt(20)


def test_kid_is_deterministic_for_a_seed():
    rng = np.random.RandomState(7)
    a, b = rng.randn(100, 8), rng.randn(120, 8)
    assert kernel_inception_distance(a, b, 5, 50, seed=1) == kernel_inception_distance(a, b, 5, 50, seed=1)
    assert kernel_inception_distance(a, b, 5, 50, seed=1) != kernel_inception_distance(a, b, 5, 50, seed=2)


def test_kid_over_whole_sets_equals_their_unbiased_mmd():
    """With subsets as large as both sets, every subset is a reordering of the whole set."""
    rng = np.random.RandomState(8)
    a, b = rng.randn(40, 8), rng.randn(40, 8) + 0.2
    kid = kernel_inception_distance(a, b, num_subsets=3, max_subset_size=1000)
    assert kid.value == pytest.approx(unbiased_mmd2(a, b), rel=1e-10) and kid.std < 1e-12


def test_kid_refuses_sets_too_small_or_of_different_widths():
    with pytest.raises(ValueError, match="at least 2"):
        kernel_inception_distance(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="same D"):
        kernel_inception_distance(np.zeros((5, 4)), np.zeros((5, 3)))
