"""Seeds and samples to latents in batches, truncation and truncation sweeps."""
import pytest
import torch

from stylegan2.latents import seed_to_ws
from stylegan2.studio.sampling import sample_ws, seeds_to_ws, truncate, truncation_sweep


def test_seeds_map_in_one_batch_to_the_latents_of_each_seed(golden_generator):
    ws = seeds_to_ws(golden_generator, [3, 1, 4], psi=0.5, cutoff=4)
    for index, seed in enumerate([3, 1, 4]):
        expected = seed_to_ws(golden_generator, seed, psi=0.5, cutoff=4)
        torch.testing.assert_close(ws[index:index + 1], expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("psi, cutoff, golden", [(0.7, None, "ws_psi07"), (0.5, 4, "ws_psi05_cut4")])
def test_truncation_reproduces_nvidias_truncated_mapping(nvlabs_golden, golden_generator, psi, cutoff, golden):
    io = nvlabs_golden[2]
    truncated = truncate(golden_generator, io["ws_psi1"], psi, cutoff)
    torch.testing.assert_close(truncated, io[golden], rtol=0, atol=1e-6)


def test_each_column_of_a_truncation_sweep_is_the_seeds_at_that_psi(golden_generator):
    psis = [-1.0, 0.0, 0.7, 1.5]
    sweep = truncation_sweep(golden_generator, [5, 6], psis)
    assert sweep.shape == (2, 4, golden_generator.num_ws, golden_generator.w_dim)
    for column, psi in enumerate(psis):
        assert torch.equal(sweep[:, column], seeds_to_ws(golden_generator, [5, 6], psi=psi))


def test_psi_zero_gives_w_avg_and_negative_psi_mirrors_the_face_through_it(golden_generator):
    w_avg = golden_generator.mapping.w_avg
    sweep = truncation_sweep(golden_generator, [8], [0.0, -1.0, 1.0])
    assert torch.allclose(sweep[0, 0], w_avg.expand_as(sweep[0, 0]))
    torch.testing.assert_close(sweep[0, 1] - w_avg, -(sweep[0, 2] - w_avg), rtol=0, atol=1e-6)


def test_random_samples_repeat_for_a_seed_and_differ_for_another(small_generator):
    first, again, other = (sample_ws(small_generator, 5, seed=seed) for seed in (1, 1, 2))
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)


def test_truncation_refuses_a_cutoff_beyond_the_layers(small_generator):
    with pytest.raises(ValueError, match="cutoff must lie in 0..10"):
        truncate(small_generator, torch.zeros(1, 10, 32), 0.7, cutoff=11)
