"""Style mixing: the paper's layer groups at any resolution, and the matrix of spliced latents."""
import pytest
import torch

from stylegan2.studio.mixing import layer_group, mixing_matrix, parse_layer_spec
from stylegan2.studio.rendering import render_grid
from stylegan2.studio.sampling import seeds_to_ws


@pytest.mark.parametrize("resolution, num_ws, coarse, middle, fine", [
    (1024, 18, slice(0, 4), slice(4, 8), slice(8, 18)),
    (256, 14, slice(0, 4), slice(4, 8), slice(8, 14)),
    (64, 10, slice(0, 4), slice(4, 8), slice(8, 10)),
])
def test_layer_groups_hold_4_to_8_16_to_32_and_64_px_up(resolution, num_ws, coarse, middle, fine):
    assert [layer_group(num_ws, name) for name in ("coarse", "middle", "fine")] == [coarse, middle, fine]


def test_a_16_px_model_has_no_fine_layers_and_says_what_to_give_instead():
    with pytest.raises(ValueError, match="a 16 px model has no fine layers.*0:6"):
        layer_group(6, "fine")


@pytest.mark.parametrize("spec, expected", [("coarse", slice(0, 4)), (" Fine ", slice(8, 14)), ("7:14", slice(7, 14)),
                                            ("3", slice(3, 4)), (":2", slice(0, 2))])
def test_a_layer_spec_is_a_group_name_or_a_range(spec, expected):
    assert parse_layer_spec(spec, 14) == expected


@pytest.mark.parametrize("spec", ["hair", "7:20", "5:5", "-1:3"])
def test_a_layer_spec_outside_the_model_is_refused_naming_the_groups(spec):
    with pytest.raises(ValueError, match="coarse, middle, fine"):
        parse_layer_spec(spec, 14)


def test_the_matrix_diagonal_reproduces_nvidias_style_mixing(nvlabs_golden, golden_generator):
    io = nvlabs_golden[2]
    cells = mixing_matrix(io["ws_psi07"], io["ws_psi07"].flip(0), slice(4, None))
    count = len(io["ws_psi07"])
    diagonal = torch.stack([cells[i, i] for i in range(count)])
    assert torch.equal(diagonal, io["ws_mixed"])
    images = render_grid(golden_generator, diagonal.unsqueeze(0), batch_size=count)[0]
    torch.testing.assert_close(images, io["img_mixed_const"], rtol=0, atol=1e-4)


def test_a_matrix_cell_equals_the_generator_run_on_the_spliced_latent(golden_generator):
    rows, columns = seeds_to_ws(golden_generator, [1, 2], psi=0.7), seeds_to_ws(golden_generator, [10, 11, 12], psi=0.7)
    images = render_grid(golden_generator, mixing_matrix(rows, columns, slice(4, 8)), batch_size=4)
    spliced = torch.cat([rows[1:2, :4], columns[2:3, 4:8], rows[1:2, 8:]], dim=1)
    with torch.inference_mode():
        expected = golden_generator.synthesis(spliced, noise_mode="const")[0]
    torch.testing.assert_close(images[1, 2], expected, rtol=0, atol=1e-5)


def test_the_matrix_refuses_rows_and_columns_of_different_shapes():
    with pytest.raises(ValueError, match="does not match"):
        mixing_matrix(torch.zeros(2, 10, 8), torch.zeros(2, 14, 8), slice(0, 4))
