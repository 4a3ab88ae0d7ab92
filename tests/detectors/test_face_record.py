"""The Face record, box overlap, and largest-first ordering."""
import numpy as np
import pytest

from detectors import Face, box_iou
from detectors.face import largest_first

LANDMARKS = [[30, 40], [50, 40], [40, 50], [32, 60], [48, 60]]


def make_face(x=10.0, y=20.0, w=40.0, h=50.0, score=0.9):
    return Face(box=[x, y, w, h], landmarks=LANDMARKS, score=score)


def test_face_stores_float32_arrays_of_the_documented_shapes():
    face = make_face()
    assert face.box.dtype == np.float32 and face.box.shape == (4,)
    assert face.landmarks.dtype == np.float32 and face.landmarks.shape == (5, 2)
    assert face.landmarks_estimated is False


def test_face_geometry_helpers():
    face = make_face(x=10, y=20, w=40, h=90)
    assert face.area == 3600
    assert face.size == 60
    np.testing.assert_allclose(face.center, [30, 65])


@pytest.mark.parametrize("box, landmarks", [
    ([0, 0, 10], LANDMARKS),                 # Three numbers for a box.
    ([0, 0, 0, 10], LANDMARKS),              # Zero width.
    ([0, 0, 10, 10], LANDMARKS[:4]),         # Four landmarks.
    ([0, 0, np.nan, 10], LANDMARKS),         # Not a number.
])
def test_face_rejects_malformed_geometry(box, landmarks):
    with pytest.raises(ValueError):
        Face(box=box, landmarks=landmarks, score=0.5)


def test_iou_of_identical_boxes_is_one_and_of_disjoint_boxes_zero():
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == pytest.approx(1.0)
    assert box_iou([0, 0, 10, 10], [20, 0, 10, 10]) == 0.0
    assert box_iou([0, 0, 10, 10], [10, 0, 10, 10]) == 0.0


def test_iou_of_half_shifted_boxes_is_one_third():
    assert box_iou([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(50 / 150)


def test_largest_first_orders_by_area_then_score_and_limits():
    small, big, big_sure = make_face(w=10, h=10), make_face(w=30, h=30, score=0.7), make_face(w=30, h=30)
    assert largest_first([small, big, big_sure]) == [big_sure, big, small]
    assert largest_first([small, big, big_sure], max_faces=1) == [big_sure]
