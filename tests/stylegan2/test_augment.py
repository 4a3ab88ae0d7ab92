"""Augmentation for small datasets: ADA's pipeline (NVIDIA's "bgc" transforms) and DiffAugment."""
import math

import pytest
import torch

from stylegan2.training.augment import BGC, AugmentPipe, DiffAugment, build_augment, rotate2d

LUMA = torch.full((3,), 1 / math.sqrt(3))


def smooth_images(n: int = 1, channels: int = 3, size: int = 32, dtype=torch.float32) -> torch.Tensor:
    """Asymmetric, smooth test images in [-1, 1] (no symmetry a flip or quarter turn could hide)."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, size, dtype=dtype), torch.linspace(-1, 1, size, dtype=dtype),
                          indexing="ij")
    planes = [torch.sin(2.1 * x + 0.7 * y + 0.3), torch.cos(1.3 * x - 2.2 * y) * 0.8 + 0.1 * x,
              0.6 * torch.tanh(3 * (x + 0.4 * y - 0.2)) + 0.2 * y]
    return torch.stack(planes[:channels]).unsqueeze(0).repeat(n, 1, 1, 1) * 0.9


def blob(size: int = 64, center=(0.0, 0.0), sigma: float = 3.0) -> torch.Tensor:
    """A one-channel Gaussian dot in [-1, 1] at ``center`` (x, y pixels from the image centre)."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    dot = torch.exp(-((x - center[0]) ** 2 + (y - center[1]) ** 2) / (2 * sigma ** 2))
    return (dot * 2 - 1).reshape(1, 1, size, size).float()


def centroid_and_spread(images: torch.Tensor):
    """Centre (x, y) from the image centre, and RMS radius, of each image's dot."""
    weight = ((images[:, 0].double() + 1) / 2).clamp(min=0)
    size = images.shape[-1]
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    total = weight.sum(dim=[1, 2])
    cx, cy = (weight * x).sum(dim=[1, 2]) / total, (weight * y).sum(dim=[1, 2]) / total
    spread = (weight * ((x - cx.reshape(-1, 1, 1)) ** 2 + (y - cy.reshape(-1, 1, 1)) ** 2)).sum(dim=[1, 2]) / total
    return cx, cy, spread.sqrt()


def pipe_with(p: float = 1.0, **multipliers) -> AugmentPipe:
    return AugmentPipe(**multipliers, p=p)


def luma_and_chroma(images: torch.Tensor):
    luma = torch.einsum("nchw,c->nhw", images, LUMA)
    return luma, images - luma.unsqueeze(1) * LUMA.reshape(1, 3, 1, 1)


# --- the p buffer -----------------------------------------------------------------------------------------

def test_p_zero_returns_the_images_unchanged():
    images = torch.rand(4, 3, 16, 16) * 2 - 1
    assert torch.equal(AugmentPipe(**BGC, p=0.0)(images), images)


def test_p_is_a_scalar_buffer_that_starts_at_zero_for_ada():
    pipe = build_augment("ada")
    assert "p" in dict(pipe.named_buffers()) and pipe.p.shape == () and float(pipe.p) == 0.0
    pipe.p.copy_(torch.tensor(0.25))
    assert float(pipe.state_dict()["p"]) == 0.25


def test_p_is_the_probability_each_image_gets_a_transform():
    torch.manual_seed(0)
    images = torch.zeros(4000, 3, 2, 2)
    changed = (pipe_with(p=0.3, brightness=1)(images) != 0).flatten(1).any(dim=1).float().mean()
    assert abs(float(changed) - 0.3) < 0.03


def test_images_that_draw_no_transform_are_left_exactly_unchanged():
    torch.manual_seed(1)
    images = torch.rand(32, 3, 16, 16) * 2 - 1
    out = pipe_with(p=0.3, **BGC)(images)
    same = (out == images).flatten(1).all(dim=1)
    assert 0 < int(same.sum()) < 32


# --- geometric transforms ---------------------------------------------------------------------------------

def test_xflip_flips_half_of_the_images():
    torch.manual_seed(0)
    images = smooth_images(16)
    out = pipe_with(xflip=1)(images)
    kept = (out == images).flatten(1).all(dim=1)
    flip_error = (out - images.flip(3)).abs().flatten(1).mean(dim=1)
    assert 0 < int(kept.sum()) < 16
    assert (flip_error[~kept] < 0.01).all()
    assert (images - images.flip(3)).abs().mean() > 0.1


def test_rotate90_turns_by_quarter_turns():
    torch.manual_seed(0)
    images = smooth_images(32)
    out = pipe_with(rotate90=1)(images)
    errors = torch.stack([(out - torch.rot90(images, k, dims=[2, 3])).abs().flatten(1).mean(dim=1)
                          for k in range(4)])
    best = errors.min(dim=0)
    assert (best.values < 0.01).all()
    assert set(best.indices.tolist()) == {0, 1, 2, 3}


def test_xint_shifts_by_whole_pixels_within_an_eighth():
    torch.manual_seed(0)
    pipe = pipe_with(xint=1)
    geometry, _ = pipe.sample_transforms(16, 32, 32, torch.device("cpu"))
    shifts = geometry[:, :2, 2]
    assert torch.equal(geometry[:, :2, :2], torch.eye(2).expand(16, 2, 2))
    assert torch.equal(shifts, shifts.round()) and shifts.abs().max() <= 4 and shifts.abs().max() > 0
    images = torch.rand(16, 3, 32, 32) * 2 - 1
    out = pipe.apply_geometry(images, geometry)
    for image, moved, (dx, dy) in zip(images, out, shifts.int().tolist()):   # output (r, c) shows input (r+dy, c+dx)
        interior = moved[:, 4:28, 4:28]
        assert torch.allclose(interior, image[:, 4 + dy:28 + dy, 4 + dx:28 + dx], atol=1e-5)


def test_scale_scales_isotropically_about_the_centre():
    torch.manual_seed(0)
    pipe = pipe_with(scale=1)
    geometry, _ = pipe.sample_transforms(8, 64, 64, torch.device("cpu"))
    factors = 1 / geometry[:, 0, 0]
    assert torch.equal(geometry[:, 0, 0], geometry[:, 1, 1])
    assert (geometry[:, :2, 2] == 0).all() and (geometry[:, 0, 1] == 0).all()
    assert factors.std() > 0.05
    _, _, before = centroid_and_spread(blob())
    _, _, after = centroid_and_spread(pipe.apply_geometry(blob().repeat(8, 1, 1, 1), geometry))
    assert torch.allclose(after / before, factors.double(), rtol=0.03)


def test_rotate_turns_a_dot_about_the_centre_by_the_drawn_angle():
    torch.manual_seed(0)
    pipe = pipe_with(rotate=1)
    geometry, _ = pipe.sample_transforms(8, 64, 64, torch.device("cpu"))
    linear = geometry[:, :2, :2]
    assert torch.allclose(linear @ linear.transpose(1, 2), torch.eye(2).expand(8, 2, 2), atol=1e-6)
    assert torch.allclose(torch.det(linear), torch.ones(8)) and (geometry[:, :2, 2] == 0).all()
    out = pipe.apply_geometry(blob(center=(12.0, 0.0)).repeat(8, 1, 1, 1), geometry)
    cx, cy, _ = centroid_and_spread(out)
    expected = torch.linalg.solve(linear.double(), torch.tensor([12.0, 0.0], dtype=torch.float64).expand(8, 2))
    # Within 0.15 px: the upsampling filter is not symmetric, so the centre it turns about sits 0.05 px
    # off the image centre (as in NVIDIA's pipeline), which moves a dot 12 px out by up to 0.1 px.
    assert torch.allclose(torch.stack([cx, cy], dim=1), expected, atol=0.15)
    assert len({round(float(a), 3) for a in torch.atan2(expected[:, 1], expected[:, 0])}) > 4


def test_rotation_matrix_turns_x_towards_y():
    assert torch.allclose(rotate2d(torch.tensor([math.pi / 2]))[0, :2, :2], torch.tensor([[0.0, -1], [1, 0]]),
                          atol=1e-7)


def test_aniso_stretches_one_axis_and_squeezes_the_other():
    torch.manual_seed(0)
    geometry, _ = pipe_with(aniso=1).sample_transforms(8, 32, 32, torch.device("cpu"))
    assert torch.allclose(geometry[:, 0, 0] * geometry[:, 1, 1], torch.ones(8))
    assert (geometry[:, 0, 1] == 0).all() and (geometry[:, :2, 2] == 0).all() and geometry[:, 0, 0].std() > 0.05


def test_xfrac_moves_a_dot_by_fractions_of_a_pixel():
    torch.manual_seed(0)
    pipe = pipe_with(xfrac=1)
    geometry, _ = pipe.sample_transforms(8, 64, 64, torch.device("cpu"))
    shifts = geometry[:, :2, 2]
    assert torch.equal(geometry[:, :2, :2], torch.eye(2).expand(8, 2, 2)) and (shifts != shifts.round()).all()
    cx, cy, _ = centroid_and_spread(pipe.apply_geometry(blob().repeat(8, 1, 1, 1), geometry))
    assert torch.allclose(torch.stack([cx, cy], dim=1), -shifts.double(), atol=0.1)


# --- colour transforms ------------------------------------------------------------------------------------

def test_brightness_adds_one_offset_to_every_pixel():
    torch.manual_seed(0)
    images = smooth_images(8)
    offset = pipe_with(brightness=1)(images) - images
    per_image = offset.flatten(1).mean(dim=1)
    assert torch.allclose(offset, per_image.reshape(8, 1, 1, 1).expand_as(offset), atol=1e-6)
    assert per_image.abs().min() > 0 and per_image.std() > 0.05


def test_contrast_scales_about_mid_grey():
    torch.manual_seed(0)
    images = smooth_images(8)
    out = pipe_with(contrast=1)(images)
    factor = (out * images).flatten(1).sum(dim=1) / images.square().flatten(1).sum(dim=1)
    assert torch.allclose(out, images * factor.reshape(8, 1, 1, 1), atol=1e-6) and factor.std() > 0.1


def test_lumaflip_negates_luma_and_keeps_the_luma_orthogonal_colour():
    torch.manual_seed(0)
    images = smooth_images(16)
    out = pipe_with(lumaflip=1)(images)
    luma_in, chroma_in = luma_and_chroma(images)
    luma_out, chroma_out = luma_and_chroma(out)
    assert torch.allclose(chroma_out, chroma_in, atol=1e-6)
    per_image = [(torch.allclose(o, -i, atol=1e-6), torch.allclose(o, i, atol=1e-6)) for o, i in zip(luma_out, luma_in)]
    assert all(negated != kept for negated, kept in per_image)
    assert {negated for negated, _ in per_image} == {True, False}


def test_hue_rotates_colour_about_the_grey_axis():
    torch.manual_seed(0)
    images = smooth_images(8)
    out = pipe_with(hue=1)(images)
    luma_in, chroma_in = luma_and_chroma(images)
    luma_out, chroma_out = luma_and_chroma(out)
    assert torch.allclose(luma_out, luma_in, atol=1e-5)
    assert torch.allclose(chroma_out.norm(dim=1), chroma_in.norm(dim=1), atol=1e-5)
    assert (chroma_out - chroma_in).abs().max() > 0.1


def test_saturation_scales_colour_away_from_grey():
    torch.manual_seed(0)
    images = smooth_images(8)
    out = pipe_with(saturation=1)(images)
    luma_in, chroma_in = luma_and_chroma(images)
    luma_out, chroma_out = luma_and_chroma(out)
    factor = (chroma_out * chroma_in).flatten(1).sum(dim=1) / chroma_in.square().flatten(1).sum(dim=1)
    assert torch.allclose(luma_out, luma_in, atol=1e-5)
    assert torch.allclose(chroma_out, chroma_in * factor.reshape(8, 1, 1, 1), atol=1e-5) and factor.std() > 0.1


# --- the pipeline as a whole ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("channels", [1, 3])
def test_bgc_keeps_shape_and_dtype(dtype, channels):
    torch.manual_seed(0)
    images = smooth_images(4, channels, dtype=dtype)[:, :channels]
    out = AugmentPipe(**BGC, p=1.0)(images)
    assert out.shape == images.shape and out.dtype == dtype and torch.isfinite(out).all()


def test_bgc_is_deterministic_under_a_fixed_torch_seed():
    images = torch.rand(8, 3, 16, 16) * 2 - 1
    pipe = AugmentPipe(**BGC, p=0.8)
    torch.manual_seed(7)
    first = pipe(images)
    torch.manual_seed(7)
    assert torch.equal(pipe(images), first)
    assert not torch.equal(pipe(images), first)


def test_gradients_flow_to_every_image():
    torch.manual_seed(0)
    images = (torch.rand(8, 3, 16, 16) * 2 - 1).requires_grad_(True)
    AugmentPipe(**BGC, p=1.0)(images).square().sum().backward()
    assert torch.isfinite(images.grad).all()
    assert (images.grad.flatten(1).abs().sum(dim=1) > 0).all()


def test_r1_penalty_through_the_pipeline_reaches_the_discriminator_weights():
    """NVIDIA's R1 regulariser differentiates D(augment(reals)) w.r.t. the reals, then backpropagates
    the gradient's norm: a double backward through the resampling."""
    torch.manual_seed(0)
    reals = (torch.rand(4, 3, 16, 16) * 2 - 1).requires_grad_(True)
    weight = torch.randn(1, 3, 3, 3, requires_grad=True)
    logits = torch.nn.functional.conv2d(AugmentPipe(**BGC, p=1.0)(reals), weight).sum()
    gradient, = torch.autograd.grad(logits, reals, create_graph=True)
    gradient.square().sum().backward()
    assert weight.grad is not None and torch.isfinite(weight.grad).all() and weight.grad.abs().sum() > 0


@pytest.mark.parametrize("images", [torch.zeros(3, 16, 16), torch.zeros(2, 4, 16, 16),
                                    torch.zeros(2, 3, 16, 16, dtype=torch.uint8)])
def test_pipelines_refuse_what_is_not_a_float_image_batch(images):
    for pipe in (AugmentPipe(**BGC, p=1.0), DiffAugment()):
        with pytest.raises(ValueError, match="expected"):
            pipe(images)


def test_build_augment_names_the_three_kinds():
    assert isinstance(build_augment("ada"), AugmentPipe) and isinstance(build_augment("diffaugment"), DiffAugment)
    assert build_augment("none") is None
    with pytest.raises(ValueError, match="ada, diffaugment, none"):
        build_augment("bgc")


# --- DiffAugment ------------------------------------------------------------------------------------------

def test_diffaugment_translation_shifts_by_whole_pixels_with_zero_fill():
    torch.manual_seed(0)
    images = torch.rand(16, 3, 32, 32) + 0.5          # no zeros of its own
    out = DiffAugment("translation")(images)
    shifts = set()
    for image, moved in zip(images, out):
        matches = [(dx, dy) for dy in range(-4, 5) for dx in range(-4, 5)
                   if torch.equal(moved[:, 4:28, 4:28], image[:, 4 - dy:28 - dy, 4 - dx:28 - dx])]
        assert len(matches) == 1
        dx, dy = matches[0]
        shifts.add((dx, dy))
        zero_rows = (moved == 0).all(dim=0).all(dim=1).sum()
        assert zero_rows == abs(dy)
    assert len(shifts) > 4


def test_diffaugment_cutout_zeroes_one_square_of_half_the_size():
    torch.manual_seed(0)
    images = torch.rand(16, 3, 32, 32) + 0.5
    out = DiffAugment("cutout")(images)
    for image, cut in zip(images, out):
        zeroed = (cut == 0).all(dim=0)
        rows, cols = zeroed.any(dim=1).nonzero().flatten(), zeroed.any(dim=0).nonzero().flatten()
        assert zeroed.sum() == len(rows) * len(cols) and len(rows) <= 16 and len(cols) <= 16
        assert zeroed[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
        assert torch.equal(cut[:, ~zeroed], image[:, ~zeroed])


def test_diffaugment_color_changes_colours_only():
    """Each output pixel is the same affine function of that pixel's value and its grey level."""
    torch.manual_seed(0)
    images = smooth_images(4).double()
    out = DiffAugment("color")(images)
    for image, coloured in zip(images, out):
        grey = image.mean(dim=0, keepdim=True).expand_as(image)
        basis = torch.stack([image.flatten(), grey.flatten(), torch.ones(image.numel(), dtype=torch.float64)], 1)
        solution = torch.linalg.lstsq(basis, coloured.flatten().unsqueeze(1)).solution
        assert torch.allclose(basis @ solution, coloured.flatten().unsqueeze(1), atol=1e-9)
        assert (coloured - image).abs().max() > 0.01


def test_diffaugment_keeps_shape_dtype_and_gradients_and_its_p_is_one():
    torch.manual_seed(0)
    images = (torch.rand(4, 3, 16, 16) * 2 - 1).requires_grad_(True)
    augment = DiffAugment()
    out = augment(images)
    out.sum().backward()
    assert out.shape == images.shape and out.dtype == images.dtype and float(augment.p) == 1.0
    assert images.grad.abs().sum() > 0


def test_diffaugment_is_deterministic_under_a_fixed_torch_seed():
    images = torch.rand(4, 3, 16, 16)
    torch.manual_seed(3)
    first = DiffAugment()(images)
    torch.manual_seed(3)
    assert torch.equal(DiffAugment()(images), first)


def test_diffaugment_refuses_an_unknown_operation():
    with pytest.raises(ValueError, match="unknown DiffAugment operation.*noise"):
        DiffAugment("color,noise")
