"""The One-Euro filter on synthetic signals sampled at 30 frames per second."""
import numpy as np
import pytest

from detectors import OneEuroFilter

FPS = 30.0


def run(smoother, values, speed_scale=1.0):
    return np.array([smoother(v, i / FPS, speed_scale) for i, v in enumerate(values)])


def test_first_sample_passes_through_unchanged():
    np.testing.assert_array_equal(OneEuroFilter()(np.array([3.0, -7.5]), 0.0), [3.0, -7.5])


def test_constant_signal_stays_constant():
    np.testing.assert_allclose(run(OneEuroFilter(), np.full((50, 3), 12.5)), 12.5)


def test_noise_on_a_still_signal_is_cut_down():
    noise = np.random.default_rng(0).normal(0.0, 1.0, size=(300, 1))
    smoothed = run(OneEuroFilter(min_cutoff=1.0, beta=0.0), 100 + noise)
    assert np.diff(smoothed[30:], axis=0).std() < 0.2 * np.diff(noise[30:], axis=0).std()


def test_speed_opens_the_filter_so_a_fast_move_is_followed():
    ramp = np.concatenate([np.zeros(10), np.arange(1, 21) * 10.0])[:, None]  # 300 units per second.
    plain = run(OneEuroFilter(beta=0.0), ramp)
    adaptive = run(OneEuroFilter(beta=1.0), ramp)
    assert abs(ramp[-1, 0] - adaptive[-1, 0]) < 10.0  # Less than one frame behind.
    assert abs(ramp[-1, 0] - plain[-1, 0]) > 3 * abs(ramp[-1, 0] - adaptive[-1, 0])


def test_speed_scale_measures_speed_in_the_callers_units():
    ramp = (np.arange(30) * 10.0)[:, None]
    assert np.allclose(run(OneEuroFilter(beta=1.0), ramp, speed_scale=100.0),
                       run(OneEuroFilter(beta=0.01), ramp))


def test_each_coordinate_is_filtered_at_its_own_speed():
    noise = np.random.default_rng(1).normal(0.0, 1.0, size=300)
    signal = np.stack([100 + noise, np.arange(300) * 20.0], axis=1)  # Still + noisy, and fast.
    smoothed = run(OneEuroFilter(beta=1.0), signal)
    still_alone = run(OneEuroFilter(beta=1.0), signal[:, :1])
    np.testing.assert_allclose(smoothed[:, 0], still_alone[:, 0])


def test_timestamps_must_increase():
    smoother = OneEuroFilter()
    smoother(np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="increase"):
        smoother(np.zeros(2), 1.0)


def test_value_shape_must_stay_the_same():
    smoother = OneEuroFilter()
    smoother(np.zeros(2), 0.0)
    with pytest.raises(ValueError, match="shape"):
        smoother(np.zeros(3), 0.1)


def test_reset_forgets_the_signal():
    smoother = OneEuroFilter()
    smoother(np.zeros(1), 0.0)
    smoother.reset()
    np.testing.assert_array_equal(smoother(np.array([50.0]), 0.0), [50.0])


@pytest.mark.parametrize("settings", [{"min_cutoff": 0.0}, {"d_cutoff": -1.0}, {"beta": -0.1}])
def test_rejects_bad_settings(settings):
    with pytest.raises(ValueError):
        OneEuroFilter(**settings)
