"""ops.grid_sample: F.grid_sample whose input gradient is itself differentiable (R1 through the augmentations),
on torch 1.13 as on 2.x."""
import torch
import torch.nn.functional as F

from stylegan2.ops import grid_sample


def inputs():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64, generator=generator)
    theta = torch.tensor([[[0.9, 0.2, 0.1], [-0.1, 1.1, -0.05]]], dtype=torch.float64).repeat(2, 1, 1)
    grid = F.affine_grid(theta, [2, 3, 7, 4], align_corners=False)
    return x, grid


def test_it_samples_and_differentiates_once_as_pytorchs_grid_sample():
    x, grid = inputs()
    x.requires_grad_(True)
    grid.requires_grad_(True)
    ours = grid_sample(x, grid)
    reference = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    assert torch.equal(ours, reference)
    weights = torch.randn(ours.shape, dtype=torch.float64)
    ours_grads = torch.autograd.grad((ours * weights).sum(), [x, grid])
    reference_grads = torch.autograd.grad((reference * weights).sum(), [x, grid])
    assert all(torch.allclose(a, b) for a, b in zip(ours_grads, reference_grads))


def test_its_input_gradient_is_differentiable_again():
    x, grid = inputs()
    x.requires_grad_(True)
    assert torch.autograd.gradgradcheck(lambda image: grid_sample(image, grid), (x,))
