"""The StyleGAN3 generator reproduces NVlabs stylegan3 on its own weights, configs T and R
(../shared/golden/nvlabs_sg3_t64, nvlabs_sg3_r64)."""
import pytest
import torch

from stylegan2.stylegan3 import Generator, rotate_translate

TOLERANCE = 1e-4


def assert_close(actual: torch.Tensor, expected: torch.Tensor, tolerance: float = TOLERANCE) -> None:
    assert actual.shape == expected.shape
    assert (actual - expected).abs().max().item() <= tolerance


def test_state_dict_has_exactly_the_nvlabs_keys(stylegan3_golden, stylegan3_generator):
    meta, state_dict, _ = stylegan3_golden
    assert set(stylegan3_generator.state_dict()) == set(state_dict)
    assert stylegan3_generator.num_ws == meta["num_ws"] == 16


def test_identity_filters_are_none_as_in_the_reference(stylegan3_generator):
    torgb = getattr(stylegan3_generator.synthesis, stylegan3_generator.synthesis.layer_names[-1])
    assert torgb.is_torgb and torgb.up_filter is None and torgb.down_filter is None


def test_layers_have_the_reference_sizes_rates_filters_and_padding(stylegan3_golden, stylegan3_generator):
    meta = stylegan3_golden[0]
    synthesis = stylegan3_generator.synthesis
    assert synthesis.layer_names == [layer["name"] for layer in meta["layers"]]
    for expected in meta["layers"]:
        layer = getattr(synthesis, expected["name"])
        for key in ("in_channels", "out_channels", "in_sampling_rate", "out_sampling_rate", "conv_kernel",
                    "up_factor", "down_factor", "up_taps", "down_taps", "down_radial", "padding", "is_torgb",
                    "use_fp16", "is_critically_sampled"):
            assert getattr(layer, key) == expected[key], (expected["name"], key)
        assert layer.in_size == (expected["in_size"],) * 2 and layer.out_size == (expected["out_size"],) * 2
        for key in ("in_cutoff", "out_cutoff", "in_half_width", "out_half_width"):
            assert getattr(layer, key) == pytest.approx(expected[key], rel=1e-12), (expected["name"], key)
    expected_input = meta["input"]
    assert synthesis.input.channels == expected_input["channels"]
    assert list(synthesis.input.size) == expected_input["size"]
    assert synthesis.input.sampling_rate == expected_input["sampling_rate"]
    assert synthesis.input.bandwidth == pytest.approx(expected_input["bandwidth"], rel=1e-12)


def test_filters_designed_from_the_settings_are_the_reference_filters(stylegan3_golden):
    meta, state_dict, _ = stylegan3_golden
    built = Generator(**meta["init_kwargs"]).state_dict()
    filters = [key for key in state_dict if key.endswith(("up_filter", "down_filter"))]
    assert filters and all(torch.allclose(built[key], state_dict[key], rtol=0, atol=1e-7) for key in filters)


@pytest.mark.parametrize("psi, cutoff, expected", [(1.0, None, "ws_psi1"), (0.7, None, "ws_psi07"),
                                                   (0.5, 4, "ws_psi05_cut4")])
def test_mapping_and_truncation_match(stylegan3_golden, stylegan3_generator, psi, cutoff, expected):
    io = stylegan3_golden[2]
    with torch.no_grad():
        ws = stylegan3_generator.mapping(io["z"], None, truncation_psi=psi, truncation_cutoff=cutoff)
    assert_close(ws, io[expected])


@pytest.mark.parametrize("ws_name, expected", [("ws_psi07", "img_const"), ("ws_psi1", "img_psi1_const")])
def test_synthesis_matches(stylegan3_golden, stylegan3_generator, ws_name, expected):
    io = stylegan3_golden[2]
    with torch.no_grad():
        img = stylegan3_generator.synthesis(io[ws_name], noise_mode="const")
    assert img.dtype == torch.float32
    assert_close(img, io[expected])


def test_full_generator_matches(stylegan3_golden, stylegan3_generator):
    io = stylegan3_golden[2]
    with torch.no_grad():
        img = stylegan3_generator(io["z"][:2], truncation_psi=0.7)
    assert_close(img, io["img_const"][:2])


def test_unfused_modulated_convolution_gives_the_same_images(stylegan3_golden, stylegan3_generator):
    io = stylegan3_golden[2]
    with torch.no_grad():
        img = stylegan3_generator.synthesis(io["ws_psi07"][:2], fused_modconv=False)
    assert_close(img, io["img_const"][:2])


def test_synthesis_matches_with_autograd_enabled(stylegan3_golden, stylegan3_generator):
    io = stylegan3_golden[2]
    ws = io["ws_psi07"][:1].clone().requires_grad_(True)
    img = stylegan3_generator.synthesis(ws)
    img.square().sum().backward()
    assert_close(img.detach(), io["img_const"][:1])
    assert ws.grad is not None and ws.grad.abs().sum() > 0


def test_noise_mode_is_accepted_and_changes_nothing(stylegan3_golden, stylegan3_generator):
    ws = stylegan3_golden[2]["ws_psi07"][:1]
    with torch.no_grad():
        images = [stylegan3_generator.synthesis(ws, noise_mode=mode) for mode in ("const", "random", "none")]
    assert torch.equal(images[0], images[1]) and torch.equal(images[0], images[2])
    assert stylegan3_generator.has_noise is False
    with pytest.raises(ValueError, match="noise_mode"):
        stylegan3_generator.synthesis(ws, noise_mode="fixed")


def test_rotate_translate_is_the_inverse_of_gen_images_make_transform(stylegan3_golden):
    io = stylegan3_golden[2]
    assert_close(rotate_translate(5, (0.1, -0.05)), io["transform_rt"], tolerance=1e-7)
    assert torch.equal(rotate_translate(), torch.eye(3))


def test_positive_translation_moves_the_image_right_and_down(stylegan3_golden, stylegan3_generator):
    """StyleGAN3 is equivariant to translation: a quarter of the image is 16 pixels at 64 px."""
    ws = stylegan3_golden[2]["ws_psi07"][:1]
    with torch.no_grad():
        image = stylegan3_generator.synthesis(ws)[0]
        right = stylegan3_generator.synthesis(ws, transform=rotate_translate(translate=(0.25, 0)))[0]
        down = stylegan3_generator.synthesis(ws, transform=rotate_translate(translate=(0, 0.25)))[0]
    assert (right[:, :, 16:] - image[:, :, :-16]).abs().mean() < 1e-3 < image.abs().mean() / 10
    assert (down[:, 16:, :] - image[:, :-16, :]).abs().mean() < 1e-3


def test_positive_angle_turns_the_image_counter_clockwise(stylegan3_r_golden, stylegan3_r_generator):
    """Config R is equivariant to rotation: a quarter turn of the input is a quarter turn of the image."""
    ws = stylegan3_r_golden[2]["ws_psi07"][:1]
    with torch.no_grad():
        image = stylegan3_r_generator.synthesis(ws)[0]
        turned = stylegan3_r_generator.synthesis(ws, transform=rotate_translate(angle=90))[0]
    counter_clockwise = torch.rot90(image, 1, dims=(1, 2))  # [C, row, column]: the top row moves to the left
    inside = slice(8, 56)  # away from the borders, where content enters from outside the image
    assert (turned - counter_clockwise)[:, inside, inside].abs().max() < 1e-4


def test_set_input_transform_rotates_and_translates_the_image(stylegan3_golden, stylegan3_generator):
    io = stylegan3_golden[2]
    stylegan3_generator.set_input_transform(rotate_translate(angle=5, translate=(0.1, -0.05)))
    with torch.no_grad():
        img = stylegan3_generator.synthesis(io["ws_psi07"][:2])
    assert_close(img, io["img_const_rt"][:2])
    assert torch.equal(stylegan3_generator.state_dict()["synthesis.input.transform"], rotate_translate(5, (0.1, -0.05)))


def test_set_input_transform_none_restores_the_identity(stylegan3_golden, stylegan3_generator):
    io = stylegan3_golden[2]
    stylegan3_generator.set_input_transform(io["transform_rt"])
    stylegan3_generator.set_input_transform(None)
    with torch.no_grad():
        img = stylegan3_generator.synthesis(io["ws_psi07"][:1])
    assert_close(img, io["img_const"][:1])


def test_transform_for_one_call_leaves_the_generator_alone(stylegan3_golden, stylegan3_generator):
    io = stylegan3_golden[2]
    with torch.no_grad():
        img = stylegan3_generator.synthesis(io["ws_psi07"][:2], transform=io["transform_rt"])
    assert_close(img, io["img_const_rt"][:2])
    assert torch.equal(stylegan3_generator.synthesis.input.transform, torch.eye(3))


def test_scaled_transform_dampens_frequencies_past_the_bandwidth(stylegan3_golden, stylegan3_generator):
    io = stylegan3_golden[2]
    with torch.no_grad():
        img = stylegan3_generator.synthesis(io["ws_psi07"][:2], transform=io["transform_rt_scale2"])
    assert_close(img, io["img_const_rt_scale2"][:2])


def test_one_transform_per_sample(stylegan3_golden, stylegan3_generator):
    io = stylegan3_golden[2]
    transforms = torch.stack([torch.eye(3), io["transform_rt"]])
    with torch.no_grad():
        img = stylegan3_generator.synthesis(io["ws_psi07"][:2], transform=transforms)
    assert_close(img[0], io["img_const"][0])
    assert_close(img[1], io["img_const_rt"][1])


@pytest.mark.parametrize("matrix, problem", [(torch.eye(2), "shape"), (torch.eye(3)[None].repeat(3, 1, 1), "shape"),
                                             (torch.ones(3, 3), "last row"),
                                             (torch.full((3, 3), float("nan")), "finite")])
def test_malformed_transforms_are_refused(stylegan3_golden, stylegan3_generator, matrix, problem):
    ws = stylegan3_golden[2]["ws_psi07"][:2]
    with pytest.raises(ValueError, match=problem):
        stylegan3_generator.synthesis(ws, transform=matrix)
    with pytest.raises(ValueError, match=problem):
        stylegan3_generator.set_input_transform(matrix)


@pytest.mark.usefixtures("cpu_fp16")
def test_fp16_layers_stay_close_to_the_fp32_reference(stylegan3_golden, stylegan3_generator):
    io = stylegan3_golden[2]
    assert all(getattr(stylegan3_generator.synthesis, name).use_fp16
               for name in stylegan3_generator.synthesis.layer_names)
    with torch.no_grad():
        img = stylegan3_generator.synthesis(io["ws_psi07"][:1], fp16_on_cpu=True)
        forced = stylegan3_generator.synthesis(io["ws_psi07"][:1], fp16_on_cpu=True, force_fp32=True)
    assert img.dtype == torch.float32
    assert 0 < (img - io["img_const"][:1]).abs().max() <= 1e-2
    assert_close(forced, io["img_const"][:1])
