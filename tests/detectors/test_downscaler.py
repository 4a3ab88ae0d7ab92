"""Detecting on a shrunken copy of the frame: what is shrunk, and how faces map back to the frame."""
import numpy as np

from detectors import Face
from detectors.base import Downscaler


def test_frames_no_wider_than_detect_width_are_left_alone():
    frame = np.zeros((240, 320, 3), dtype=np.uint8)
    small, scale = Downscaler(320).shrink(frame)
    assert small is frame and (scale == 1).all()


def test_the_whole_shrunken_frame_maps_back_onto_the_whole_frame_in_x_and_y():
    # 1000 x 333 shrinks to 320 x 107: the height is rounded, so y scales by 107/333, not 320/1000.
    small, scale = Downscaler(320).shrink(np.zeros((333, 1000, 3), dtype=np.uint8))
    assert small.shape[:2] == (107, 320)
    # Pixel centres sit at integers, so the frame's outer edge lies half a pixel beyond them.
    corners = [[-0.5, -0.5], [319.5, -0.5], [159.5, 53], [-0.5, 106.5], [319.5, 106.5]]
    face = Downscaler.restore(Face([-0.5, -0.5, 320, 107], corners, 1.0), scale)
    np.testing.assert_allclose(face.box, [-0.5, -0.5, 1000, 333], atol=1e-3)
    np.testing.assert_allclose(face.landmarks, [[-0.5, -0.5], [999.5, -0.5], [499.5, 166],
                                                [-0.5, 332.5], [999.5, 332.5]], atol=1e-3)
