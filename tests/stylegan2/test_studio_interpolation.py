"""Transitions: straight in W, spherical in Z, looped or open, and the midpoint of two faces."""
import pytest
import torch

from stylegan2.latents import seed_to_ws, seed_to_z, slerp
from stylegan2.studio.interpolation import frame_times, midpoint, w_transition, z_transition


@pytest.fixture
def endpoints(golden_generator):
    return seed_to_ws(golden_generator, 1, psi=0.7), seed_to_ws(golden_generator, 2, psi=0.7)


def test_an_open_w_transition_starts_and_ends_exactly_at_its_inputs(endpoints):
    frames = w_transition(*endpoints, frames=7, loop=False)
    assert frames.shape == (7,) + endpoints[0].shape[1:]
    assert torch.equal(frames[0], endpoints[0][0]) and torch.equal(frames[-1], endpoints[1][0])


def test_a_looped_w_transition_reaches_the_end_halfway_and_returns_without_repeating_the_start(endpoints):
    frames = w_transition(*endpoints, frames=8, loop=True)
    assert torch.equal(frames[0], endpoints[0][0]) and torch.equal(frames[4], endpoints[1][0])
    for index in range(1, 8):
        assert torch.equal(frames[index], frames[8 - index])
    assert not torch.equal(frames[-1], frames[0])


def test_w_transition_frames_lie_evenly_on_the_straight_line(endpoints):
    start, end = endpoints
    frames = w_transition(start, end, frames=5, loop=False)
    for index, t in enumerate([0.0, 0.25, 0.5, 0.75, 1.0]):
        torch.testing.assert_close(frames[index], (start + t * (end - start))[0], rtol=0, atol=1e-6)


def test_a_z_transition_maps_the_spherical_path_between_two_seeds(golden_generator):
    z0, z1 = seed_to_z(1, golden_generator.z_dim), seed_to_z(2, golden_generator.z_dim)
    frames = z_transition(golden_generator, z0, z1, frames=4, loop=False, psi=0.7)
    torch.testing.assert_close(frames[0:1], seed_to_ws(golden_generator, 1, psi=0.7), rtol=0, atol=1e-5)
    torch.testing.assert_close(frames[3:4], seed_to_ws(golden_generator, 2, psi=0.7), rtol=0, atol=1e-5)
    with torch.no_grad():
        third = golden_generator.mapping(slerp(z0, z1, 1 / 3), truncation_psi=0.7)
    torch.testing.assert_close(frames[1:2], third, rtol=0, atol=1e-5)


def test_the_midpoint_is_the_average_of_the_two_latents(endpoints):
    assert torch.equal(midpoint(*endpoints), (endpoints[0] + endpoints[1]) / 2)


def test_the_midpoint_of_an_even_open_w_path_matches_midpoint(endpoints):
    frames = w_transition(*endpoints, frames=3, loop=False)
    torch.testing.assert_close(frames[1:2], midpoint(*endpoints), rtol=0, atol=1e-6)


@pytest.mark.parametrize("frames", [1, 0, 2.5, True])
def test_a_transition_needs_at_least_two_frames(frames):
    with pytest.raises(ValueError, match="at least 2 frames"):
        frame_times(frames)


def test_w_transition_refuses_latents_of_different_shapes():
    with pytest.raises(ValueError, match="cannot interpolate"):
        w_transition(torch.zeros(1, 10, 8), torch.zeros(1, 14, 8), frames=4)
