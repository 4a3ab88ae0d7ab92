"""The studio's output files: labelled grids, stills, GIF and MP4, written atomically."""
import cv2
import numpy as np
import pytest
from PIL import Image

from app.studio.images import GridCanvas, OutputError, write_animation, write_gif, write_image, write_mp4


def frames(count, size=32):
    return [np.full((size, size, 3), 8 * index, np.uint8) for index in range(count)]


def test_a_cell_holds_exactly_the_image_put_there_as_bgr():
    canvas = GridCanvas(2, 3, 16, row_labels=["seed 1", "seed 2"], column_labels=["a", "b", "c"],
                        captions={(1, 2): "caption"})
    rgb = np.random.RandomState(0).randint(0, 256, (16, 16, 3), dtype=np.uint8)
    canvas.put(1, 2, rgb)
    y, x = canvas.top + canvas.pitch, canvas.left + 2 * 16
    assert np.array_equal(canvas.image[y:y + 16, x:x + 16], rgb[:, :, ::-1])


def test_labels_and_captions_are_drawn_outside_the_cells():
    canvas = GridCanvas(1, 1, 64, row_labels=["a long row label"], column_labels=["psi 0.70"],
                        captions={(0, 0): "a caption far wider than the cell"})
    cell = canvas.image[canvas.top:canvas.top + 64, canvas.left:canvas.left + 64]
    assert np.all(cell == 255)
    assert canvas.left > 0 and canvas.top > 0 and canvas.caption_height > 0
    assert np.any(canvas.image[:canvas.top] < 255) and np.any(canvas.image[canvas.top + 64:] < 255)


def test_a_cell_outside_the_grid_is_refused():
    with pytest.raises(IndexError, match=r"cell \(2, 0\) is outside the 2 x 2 grid"):
        GridCanvas(2, 2, 8).put(2, 0, np.zeros((8, 8, 3), np.uint8))


def test_a_still_is_written_without_leaving_a_partial_file(tmp_path):
    rgb = frames(1)[0]
    write_image(tmp_path / "still.png", rgb)
    assert [path.name for path in tmp_path.iterdir()] == ["still.png"]
    assert np.array_equal(cv2.imread(str(tmp_path / "still.png")), rgb)


@pytest.mark.parametrize("name, problem", [("still.gif", "ending in .png or .jpg or .jpeg"),
                                           ("missing/still.png", "does not exist")])
def test_a_still_with_a_wrong_name_or_folder_is_refused(tmp_path, name, problem):
    with pytest.raises(OutputError, match=problem):
        write_image(tmp_path / name, frames(1)[0])


def test_a_looping_gif_holds_every_frame_at_the_frame_rate(tmp_path):
    write_gif(tmp_path / "loop.gif", frames(6), fps=25, loop=True)
    with Image.open(tmp_path / "loop.gif") as gif:
        assert (gif.n_frames, gif.size, gif.info["loop"], gif.info["duration"]) == (6, (32, 32), 0, 40)
    assert [path.name for path in tmp_path.iterdir()] == ["loop.gif"]


def test_a_gif_without_loop_plays_once(tmp_path):
    write_gif(tmp_path / "once.gif", frames(3), fps=10, loop=False)
    with Image.open(tmp_path / "once.gif") as gif:
        assert "loop" not in gif.info and gif.n_frames == 3


def test_an_mp4_holds_every_frame(tmp_path):
    write_animation(tmp_path / "clip.mp4", frames(5, size=64), fps=30)
    capture = cv2.VideoCapture(str(tmp_path / "clip.mp4"))
    read = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        read.append(frame)
    assert len(read) == 5 and read[0].shape == (64, 64, 3)
    assert abs(float(read[4].mean()) - 32) < 3


def test_frames_of_different_sizes_are_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(OutputError, match="one size"):
        write_mp4(tmp_path / "clip.mp4", frames(2) + frames(1, size=16), fps=30)
    assert list(tmp_path.iterdir()) == []


def test_an_animation_name_must_be_gif_or_mp4(tmp_path):
    with pytest.raises(OutputError, match=r"ending in .gif or .mp4"):
        write_animation(tmp_path / "clip.avi", frames(2), fps=30)
