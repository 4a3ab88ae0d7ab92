"""The studio commands on a small random-weight generator: they write exactly the files they name, with
the faces the engine gives for the same latents, and every mistake ends in one error line."""
import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import stylegan2
from app.cli.directions import PREVIEW_STRENGTHS, directions
from app.cli.studio import blend, generate, interpolate, mix
from app.images import from_engine
from app.projection.store import ProjectionStore
from stylegan2.inference import InferenceGenerator
from stylegan2.latents import seed_to_ws
from stylegan2.studio.directions import load_directions
from stylegan2.testing import make_random_generator, make_random_stylegan3
from tests.app.projection_helpers import fake_result

COMMAND = {command.name: command for command in (generate, mix, interpolate, blend, directions)}


def run(name, *args):
    return CliRunner().invoke(COMMAND[name], [str(arg) for arg in args], catch_exceptions=False)


def assert_clean_failure(result, *phrases):
    """A user mistake: non-zero exit, one error line naming the problem, no traceback."""
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    for phrase in phrases:
        assert phrase in errors[0], errors[0]


@pytest.fixture(scope="module")
def generator(random_weights):
    return stylegan2.load(random_weights).generator


@pytest.fixture
def model(random_weights):
    return ["--weights", random_weights]


def image_of(G, ws):
    """The BGR image the commands render for ws (through the same inference layout)."""
    return from_engine(InferenceGenerator(G).synthesis(ws))


def seed_image(G, seed, psi=0.7):
    return image_of(G, seed_to_ws(G, seed, psi=psi))


def locate(sheet, template):
    """(x, y) of the best match of a BGR image in a BGR sheet, and the largest pixel difference there."""
    scores = cv2.matchTemplate(sheet.astype(np.float32), template.astype(np.float32), cv2.TM_SQDIFF)
    x, y = cv2.minMaxLoc(scores)[2]
    found = sheet[y:y + template.shape[0], x:x + template.shape[1]].astype(int)
    return x, y, int(np.abs(found - template.astype(int)).max())


@pytest.mark.parametrize("name", sorted(COMMAND))
def test_every_command_has_help_with_examples(name):
    result = run(name, "--help")
    assert result.exit_code == 0 and "Examples:" in result.output and "python -m app " + name in result.output


def test_generate_writes_a_grid_whose_cells_are_the_single_images_in_reading_order(generator, model, tmp_path):
    result = run("generate", "--seeds", "1-3,42", "--columns", "2", "--out", tmp_path / "grid.png", *model)
    assert result.exit_code == 0, result.output
    sheet = cv2.imread(str(tmp_path / "grid.png"))
    places = [locate(sheet, seed_image(generator, seed)) for seed in (1, 2, 3, 42)]
    assert all(difference <= 1 for _, _, difference in places)
    (x1, y1, _), (x2, y2, _), (x3, y3, _), (x4, y4, _) = places
    assert y1 == y2 < y3 == y4 and x1 == x3 < x2 == x4
    assert [path.name for path in tmp_path.iterdir()] == ["grid.png"]


def test_generate_writes_one_png_per_seed_into_a_folder_and_nothing_else(generator, model, tmp_path):
    result = run("generate", "--seeds", "5,7", "--psi", "0.5", "--out", tmp_path / "faces", *model)
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in (tmp_path / "faces").iterdir()) == ["seed0005.png", "seed0007.png"]
    written = cv2.imread(str(tmp_path / "faces" / "seed0007.png"))
    assert np.abs(written.astype(int) - seed_image(generator, 7, psi=0.5)).max() <= 1


def test_a_psi_sweep_renders_each_seed_at_each_psi(generator, model, tmp_path):
    result = run("generate", "--seeds", "3", "--psi-sweep", "-1:1:3", "--out", tmp_path / "sweep", *model)
    assert result.exit_code == 0, result.output
    names = sorted(path.name for path in (tmp_path / "sweep").iterdir())
    assert names == ["seed0003-psi+0.00.png", "seed0003-psi+1.00.png", "seed0003-psi-1.00.png"]
    written = cv2.imread(str(tmp_path / "sweep" / "seed0003-psi-1.00.png"))
    assert np.abs(written.astype(int) - seed_image(generator, 3, psi=-1.0)).max() <= 1


@pytest.mark.parametrize("args, phrase", [
    (["--seeds", "8-1"], "runs backwards"),
    (["--seeds", "1", "--psi", "0.5", "--psi-sweep", "0:1:3"], "--psi and --psi-sweep contradict"),
    (["--seeds", "1", "--psi-sweep", "0:1"], "START:STOP:COUNT"),
    (["--seeds", "1", "--cutoff", "11"], "this model has 10 layers"),
])
def test_generate_refuses_bad_arguments_in_one_line(model, tmp_path, args, phrase):
    assert_clean_failure(run("generate", *args, "--out", tmp_path / "x.png", *model), phrase)
    assert list(tmp_path.iterdir()) == []


def test_generate_refuses_an_output_that_is_neither_a_still_nor_a_folder(model, tmp_path):
    assert_clean_failure(run("generate", "--seeds", "1", "--out", tmp_path / "x.gif", *model), ".png or .jpg")


def test_a_missing_weights_file_is_one_error_line(tmp_path):
    assert_clean_failure(run("generate", "--seeds", "1", "--out", tmp_path / "x.png", "--weights",
                             tmp_path / "nothing.pt"), "nothing.pt")


def test_a_mixing_matrix_cell_is_the_row_face_with_the_column_layers(generator, model, tmp_path):
    result = run("mix", "--rows", "1,2", "--cols", "10,11,12", "--layers", "coarse", "--out", tmp_path / "m.png",
                 *model)
    assert result.exit_code == 0, result.output
    sheet = cv2.imread(str(tmp_path / "m.png"))
    row, column = seed_to_ws(generator, 2, psi=0.7), seed_to_ws(generator, 11, psi=0.7)
    spliced = torch.cat([column[:, :4], row[:, 4:]], dim=1)
    cell_x, cell_y, difference = locate(sheet, image_of(generator, spliced))
    header_x, _, header_difference = locate(sheet, seed_image(generator, 11))
    _, row_y, row_difference = locate(sheet, seed_image(generator, 2))
    assert max(difference, header_difference, row_difference) <= 1
    assert (cell_x, cell_y) == (header_x, row_y)


def test_a_saved_projection_can_be_a_row_of_the_matrix(generator, model, tmp_path):
    ProjectionStore(tmp_path / "projections", generator).save(fake_result(generator, seed=4), "me", source="test")
    result = run("mix", "--rows", "me", "--cols", "10", "--layers", "8:10", "--projections", tmp_path / "projections",
                 "--out", tmp_path / "m.png", *model)
    assert result.exit_code == 0, result.output
    sheet = cv2.imread(str(tmp_path / "m.png"))
    assert locate(sheet, image_of(generator, fake_result(generator, seed=4).ws))[2] <= 1


@pytest.mark.parametrize("args, phrase", [
    (["--rows", "1", "--cols", "2", "--layers", "hair"], "coarse, middle, fine"),
    (["--rows", "1", "--cols", "2", "--layers", "4:12"], "within 0:10"),
    (["--rows", "nobody", "--cols", "2", "--layers", "fine"], "'nobody' is neither a saved projection in"),
])
def test_mix_refuses_unknown_layers_and_faces_in_one_line(model, tmp_path, args, phrase):
    result = run("mix", *args, "--projections", tmp_path / "projections", "--out", tmp_path / "m.png", *model)
    assert_clean_failure(result, phrase)


def test_interpolate_writes_a_looping_gif_of_every_frame_starting_at_the_first_face(generator, model, tmp_path):
    result = run("interpolate", "--from", "1", "--to", "2", "--frames", "6", "--out", tmp_path / "x.gif", *model)
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "x.gif") as gif:
        assert (gif.n_frames, gif.info["loop"]) == (6, 0)
        first = cv2.cvtColor(np.asarray(gif.convert("RGB")), cv2.COLOR_RGB2BGR).astype(int)
    assert np.abs(first - seed_image(generator, 1)).mean() < 8          # GIF colours are a 256-colour palette


def test_interpolate_writes_an_mp4_of_every_frame(model, tmp_path):
    result = run("interpolate", "--from", "1", "--to", "2", "--frames", "5", "--space", "z", "--no-loop",
                 "--out", tmp_path / "x.mp4", *model)
    assert result.exit_code == 0, result.output
    capture = cv2.VideoCapture(str(tmp_path / "x.mp4"))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 5


def test_the_midpoint_still_is_the_image_of_the_average_latent(generator, model, tmp_path):
    result = run("interpolate", "--from", "3", "--to", "4", "--midpoint", "--out", tmp_path / "mid.png", *model)
    assert result.exit_code == 0, result.output
    average = (seed_to_ws(generator, 3, psi=0.7) + seed_to_ws(generator, 4, psi=0.7)) / 2
    written = cv2.imread(str(tmp_path / "mid.png"))
    assert np.abs(written.astype(int) - image_of(generator, average)).max() <= 1


@pytest.mark.parametrize("args, phrase", [
    (["--from", "1", "--to", "2", "--out", "x.png"], ".gif or .mp4"),
    (["--from", "1", "--to", "2", "--midpoint", "--out", "x.gif"], ".png or .jpg"),
    (["--from", "1-2", "--to", "3", "--out", "x.gif"], "expected one seed or projection"),
    (["--from", "1", "--to", "me", "--space", "z", "--out", "x.gif"], "projection 'me' has no z"),
])
def test_interpolate_refuses_bad_arguments_in_one_line(generator, model, tmp_path, args, phrase):
    ProjectionStore(tmp_path / "projections", generator).save(fake_result(generator), "me", source="test")
    args = [tmp_path / arg if arg.startswith("x.") else arg for arg in args]
    result = run("interpolate", *args, "--projections", tmp_path / "projections", *model)
    assert_clean_failure(result, phrase)
    assert not any(path.suffix for path in tmp_path.iterdir())


@pytest.fixture
def second_model(tmp_path):
    """Another generator of the fixture's architecture (random weights, another seed)."""
    path = tmp_path / "other.pt"
    stylegan2.save(make_random_generator(resolution=64, seed=5), path)
    return path


def test_blend_writes_a_generator_that_loads_and_records_its_sources(random_weights, second_model, tmp_path):
    result = run("blend", random_weights, second_model, "--swap-res", "32", "--out", tmp_path / "blend.pt")
    assert result.exit_code == 0, result.output
    assert "4-16 px from BASE, 32 px up from OTHER, mapping from base" in result.output
    loaded = stylegan2.load(tmp_path / "blend.pt")
    assert loaded.meta["blend"]["other"]["file"] == "other.pt" and loaded.meta["blend"]["swap_res"] == 32


@pytest.mark.parametrize("args, phrase", [
    (["--swap-res", "128"], "one of 8, 16, 32, 64 for a 64 px model"),
    (["--swap-res", "32", "--blend-width", "0"], "--blend-width"),
])
def test_blend_refuses_a_swap_point_the_models_do_not_have(random_weights, second_model, tmp_path, args, phrase):
    assert_clean_failure(run("blend", random_weights, second_model, *args, "--out", tmp_path / "b.pt"), phrase)
    assert not (tmp_path / "b.pt").exists()


def test_blend_refuses_models_of_different_architectures_saying_what_differs(random_weights, projection_weights,
                                                                            tmp_path):
    result = run("blend", random_weights, projection_weights, "--swap-res", "16", "--out", tmp_path / "b.pt")
    assert_clean_failure(result, "differ in resolution (64 vs 32)")


def test_sefa_directions_are_written_with_a_preview_sheet(generator, random_weights, tmp_path):
    result = run("directions", random_weights, "--method", "sefa", "--layers", "coarse", "--top", "2",
                 "--out", tmp_path / "d.pt", "--preview", tmp_path / "p.png", "--preview-seeds", "1,2")
    assert result.exit_code == 0, result.output
    found = load_directions(tmp_path / "d.pt", generator)
    assert found.names == ["sefa 1", "sefa 2"] and found.layers == slice(0, 4)
    sheet = cv2.imread(str(tmp_path / "p.png"))
    stepped = found.apply(seed_to_ws(generator, 2, psi=0.7), {"sefa 2": PREVIEW_STRENGTHS[-1]})
    assert locate(sheet, image_of(generator, stepped))[2] <= 1
    assert sheet.shape[0] > 4 * 64 and sheet.shape[1] > len(PREVIEW_STRENGTHS) * 64


def test_imported_directions_keep_their_names(generator, random_weights, tmp_path):
    np.save(tmp_path / "mine.npy", np.random.RandomState(0).randn(2, generator.w_dim).astype(np.float32))
    result = run("directions", random_weights, "--method", "import", "--from", tmp_path / "mine.npy",
                 "--names", "smile, age", "--out", tmp_path / "d.pt")
    assert result.exit_code == 0, result.output
    assert load_directions(tmp_path / "d.pt").names == ["smile", "age"]


def test_labelled_directions_run_end_to_end_and_say_which_measures_were_left_out(random_weights, yunet_file,
                                                                                 tmp_path):
    result = run("directions", random_weights, "--method", "labelled", "--samples", "40", "--top", "2",
                 "--detector-model", yunet_file, "--out", tmp_path / "d.pt")
    assert result.exit_code == 0, result.output
    assert len(load_directions(tmp_path / "d.pt")) == 2
    assert "left out smile: only 0 faces were measured" in result.output
    assert "held-out r" in result.output


@pytest.mark.parametrize("args, phrase", [
    (["--method", "sefa", "--names", "a"], "--names does not apply to --method sefa"),
    (["--method", "import"], "--method import needs --from FILE"),
    (["--method", "pca", "--samples", "10"], "more samples than w has dimensions (32)"),
    (["--method", "sefa", "--layers", "0:14"], "within 0:10"),
])
def test_directions_refuse_bad_arguments_in_one_line(random_weights, tmp_path, args, phrase):
    assert_clean_failure(run("directions", random_weights, *args, "--out", tmp_path / "d.pt"), phrase)
    assert not (tmp_path / "d.pt").exists()


def test_generate_renders_a_stylegan3_model_as_the_engine_does(tmp_path):
    G = make_random_stylegan3("r", resolution=16, channel_base=1024, channel_max=32)
    weights_file = tmp_path / "sg3.pt"
    stylegan2.save(G, weights_file)
    result = run("generate", "--seeds", "4", "--out", tmp_path / "faces", "--weights", weights_file)
    assert result.exit_code == 0, result.output
    written = cv2.imread(str(tmp_path / "faces" / "seed0004.png"))
    assert np.abs(written.astype(int) - seed_image(stylegan2.load(weights_file).generator, 4)).max() <= 1
