"""The image boundary: the app's BGR uint8 arrays and the engine's RGB float tensors, and image files."""
import os
import stat

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from app import images


def test_an_image_crosses_to_the_engine_as_rgb_in_minus_one_to_one():
    bgr = np.zeros((2, 3, 3), np.uint8)
    bgr[..., 0] = 255                                  # pure blue in OpenCV's order
    tensor = images.to_engine(bgr)
    assert tensor.shape == (1, 3, 2, 3) and tensor.dtype == torch.float32
    assert torch.equal(tensor[0, 2], torch.ones(2, 3)) and torch.equal(tensor[0, 0], -torch.ones(2, 3))


def test_every_level_survives_the_round_trip():
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    levels[..., 0] = levels[..., 0][::-1]
    assert np.array_equal(images.from_engine(images.to_engine(levels)), levels)


def test_engine_images_are_rounded_and_clipped_to_bgr_levels():
    tensor = torch.tensor([-2.0, 0.0, 1.1 / 127.5]).view(1, 3, 1, 1)      # r, g, b: 0, 127.5, 128.6 as levels
    assert images.from_engine(tensor)[0, 0].tolist() == [129, 128, 0]          # b, g, r


def frames(count, size=32):
    return [np.full((size, size, 3), 8 * index, np.uint8) for index in range(count)]


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32)])
def test_only_bgr_uint8_images_cross(bad):
    with pytest.raises(ValueError, match="BGR uint8"):
        images.to_engine(bad)


def test_an_image_is_written_atomically_and_a_failed_write_keeps_the_earlier_file(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    path.write_bytes(b"earlier")

    def fail(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(images.os, "replace", fail)
    with pytest.raises(images.OutputError, match="cannot write .*No space left on device"):
        images.write_image(path, np.zeros((4, 4, 3), np.uint8))
    assert [entry.name for entry in tmp_path.iterdir()] == ["out.png"] and path.read_bytes() == b"earlier"


def test_a_written_image_gets_normal_file_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        images.write_image(tmp_path / "out.png", np.zeros((4, 4, 3), np.uint8))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.png").stat().st_mode) == 0o644
    assert cv2.imread(str(tmp_path / "out.png")).shape == (4, 4, 3)


def test_a_still_is_written_without_leaving_a_partial_file(tmp_path):
    bgr = frames(1)[0]
    images.write_image(tmp_path / "still.png", bgr)
    assert [path.name for path in tmp_path.iterdir()] == ["still.png"]
    assert np.array_equal(cv2.imread(str(tmp_path / "still.png")), bgr)


@pytest.mark.parametrize("name, problem", [("still.gif", "ending in .png or .jpg or .jpeg"),
                                           ("missing/still.png", "does not exist")])
def test_a_still_with_a_wrong_name_or_folder_is_refused(tmp_path, name, problem):
    with pytest.raises(images.OutputError, match=problem):
        images.write_image(tmp_path / name, frames(1)[0])


def test_a_looping_gif_holds_every_frame_at_the_frame_rate(tmp_path):
    images.write_gif(tmp_path / "loop.gif", frames(6), fps=25, loop=True)
    with Image.open(tmp_path / "loop.gif") as gif:
        assert (gif.n_frames, gif.size, gif.info["loop"], gif.info["duration"]) == (6, (32, 32), 0, 40)
    assert [path.name for path in tmp_path.iterdir()] == ["loop.gif"]


def test_a_gif_without_loop_plays_once(tmp_path):
    images.write_gif(tmp_path / "once.gif", frames(3), fps=10, loop=False)
    with Image.open(tmp_path / "once.gif") as gif:
        assert "loop" not in gif.info and gif.n_frames == 3


def test_an_mp4_holds_every_frame(tmp_path):
    images.write_animation(tmp_path / "clip.mp4", frames(5, size=64), fps=30)
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
    with pytest.raises(images.OutputError, match="one size"):
        images.write_mp4(tmp_path / "clip.mp4", frames(2) + frames(1, size=16), fps=30)
    assert list(tmp_path.iterdir()) == []


def test_an_animation_name_must_be_gif_or_mp4(tmp_path):
    with pytest.raises(images.OutputError, match=r"ending in .gif or .mp4"):
        images.write_animation(tmp_path / "clip.avi", frames(2), fps=30)
