"""The image boundary: the app's BGR uint8 arrays and the engine's RGB float tensors, and image files."""
import os
import stat

import cv2
import numpy as np
import pytest
import torch

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
    with pytest.raises(OSError, match="No space left on device"):
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
