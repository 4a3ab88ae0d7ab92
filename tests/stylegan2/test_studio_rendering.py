"""Batched rendering: a grid or a batch shows exactly the faces single renders show, row by row."""
import pytest
import torch

from stylegan2.inference import InferenceGenerator
from stylegan2.latents import seed_to_ws
from stylegan2.studio.rendering import as_renderer, render, render_grid
from stylegan2.studio.sampling import seeds_to_ws

SEEDS = [0, 1, 2, 3, 4, 5]


def single_image(G, ws):
    with torch.inference_mode():
        return G.synthesis(ws, noise_mode="const")


def test_a_grid_cell_equals_the_single_image_of_its_seed(golden_generator):
    grid = seeds_to_ws(golden_generator, SEEDS, psi=0.7).reshape(2, 3, golden_generator.num_ws, -1)
    images = render_grid(golden_generator, grid, batch_size=4)
    for index, seed in enumerate(SEEDS):
        expected = single_image(golden_generator, seed_to_ws(golden_generator, seed, psi=0.7))[0]
        torch.testing.assert_close(images[index // 3, index % 3], expected, rtol=0, atol=1e-5)


def test_rendering_in_batches_equals_rendering_all_at_once(golden_generator):
    ws = seeds_to_ws(golden_generator, list(range(7)))
    starts = []
    images = render(golden_generator, ws, batch_size=3,
                    on_batch=lambda start, batch: starts.append((start, len(batch))))
    assert starts == [(0, 3), (3, 3), (6, 1)]
    torch.testing.assert_close(images, single_image(golden_generator, ws), rtol=0, atol=1e-5)


def test_grid_rows_are_reported_once_in_order_as_soon_as_their_batch_is_done(small_generator):
    calls = []
    renderer = InferenceGenerator(small_generator, "reference")      # NVIDIA's layout: the module's own forward
    hook = small_generator.synthesis.register_forward_hook(lambda *args: calls.append(len(calls)))
    rows = []
    try:
        grid = seeds_to_ws(small_generator, list(range(16))).reshape(4, 4, small_generator.num_ws, -1)
        images = render_grid(renderer, grid, batch_size=8,
                             on_row=lambda row, row_images: rows.append((row, len(calls), row_images)))
    finally:
        hook.remove()
    assert [(row, batches_done) for row, batches_done, _ in rows] == [(0, 1), (1, 1), (2, 2), (3, 2)]
    for row, _, row_images in rows:
        assert torch.equal(row_images, images[row])


def test_render_refuses_latents_shaped_for_another_generator(small_generator):
    with pytest.raises(ValueError, match=r"expected latents \[N, 10, 32\]"):
        render(small_generator, torch.zeros(2, 14, 32))


def test_render_refuses_a_batch_size_below_one(small_generator):
    with pytest.raises(ValueError, match="batch_size"):
        render(small_generator, torch.zeros(1, 10, 32), batch_size=0)


def test_a_ready_inference_generator_is_used_as_it_is(small_generator):
    renderer = InferenceGenerator(small_generator)
    assert as_renderer(renderer) is renderer
    assert as_renderer(small_generator).generator is small_generator
