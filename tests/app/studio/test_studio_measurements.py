"""Face measurements on real photos (YuNet landmarks, FFHQ-layout regions) and on constructed images."""
import math

import cv2
import numpy as np
import pytest

from app.studio.measurements import (
    CHEEKS,
    CHIN,
    COLOUR_MEASURES,
    HAIR,
    LANDMARK_MEASURES,
    MEASURES,
    FaceMeasurer,
    colour_measures,
)
from detectors import align_face, create_detector

FRONTAL = ["astronaut.png", "chris_pratt.jpg", "luciano.png", "grace_hopper.jpg", "baby_face.png"]


@pytest.fixture(scope="module")
def measurer(yunet_file):
    return FaceMeasurer(create_detector("yunet", model_path=yunet_file))


def photo(shared_file, name):
    return cv2.imread(str(shared_file(f"media/images/{name}")))


def rotated(image, degrees):
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("name", FRONTAL)
def test_a_frontal_portrait_gets_every_measure_in_a_plausible_range(measurer, shared_file, name):
    measures = measurer.measure_photo(photo(shared_file, name))
    assert list(measures) == list(MEASURES)
    assert all(math.isfinite(value) for value in measures.values())
    assert 0.6 < measures["smile"] < 1.2 and 0.3 < measures["pitch"] < 0.8
    assert abs(measures["yaw"]) < 0.3 and abs(measures["roll"]) < 10
    assert 0 < measures["face size"] < 1 and 30 < measures["skin brightness"] < 100


@pytest.mark.parametrize("degrees", [-15, 15])
def test_turning_the_photo_changes_the_roll_by_as_much(measurer, shared_file, degrees):
    image = photo(shared_file, "chris_pratt.jpg")
    upright = measurer.measure_photo(image)["roll"]
    turned = measurer.measure_photo(rotated(image, degrees))["roll"]   # OpenCV turns counter-clockwise
    assert turned - upright == pytest.approx(-degrees, abs=3)


def test_a_profile_and_its_mirror_image_have_opposite_yaw(measurer, shared_file):
    image = photo(shared_file, "cameraman_profile.png")
    yaw = measurer.measure_photo(image)["yaw"]
    mirrored = measurer.measure_photo(np.ascontiguousarray(image[:, ::-1]))["yaw"]
    assert abs(yaw) > 0.5 and abs(mirrored) > 0.5 and np.sign(yaw) == -np.sign(mirrored)


def test_a_photo_without_a_face_measures_nothing(measurer, shared_file):
    assert all(math.isnan(value) for value in measurer.measure_photo(photo(shared_file, "noface_fruits.jpg")).values())


def test_an_aligned_face_measures_like_the_photo_it_came_from(measurer, shared_file):
    image = photo(shared_file, "astronaut.png")
    aligned, _ = align_face(image, measurer.detector.detect(image)[0].landmarks, 256)
    generated = measurer.measure_generated(np.ascontiguousarray(aligned[:, :, ::-1]))
    direct = measurer.measure_photo(image)
    for name in ("hair brightness", "skin brightness", "smile", "pitch"):
        assert generated[name] == pytest.approx(direct[name], rel=0.1, abs=1.0), name


def test_a_generated_image_without_a_face_still_gets_its_colour_measures(measurer):
    noise = np.random.RandomState(0).randint(0, 256, (64, 64, 3), dtype=np.uint8)
    measures = measurer.measure_generated(noise)
    assert all(math.isfinite(measures[name]) for name in COLOUR_MEASURES)
    assert all(math.isnan(measures[name]) for name in LANDMARK_MEASURES)


def paint(image, box, bgr):
    side = image.shape[0]
    x0, y0, x1, y1 = (int(round(fraction * side)) for fraction in box)
    image[y0:y1, x0:x1] = bgr


def test_colour_measures_read_the_hair_cheek_and_chin_regions_in_cielab():
    image = np.full((256, 256, 3), 128, np.uint8)
    paint(image, HAIR, (0, 0, 255))                     # pure red hair: L* 53.2, a* 80.1
    for cheek in CHEEKS:
        paint(image, cheek, (255, 255, 255))            # white cheeks: L* 100
    paint(image, CHIN, (0, 0, 0))                       # black chin: L* 0
    measures = colour_measures(image)
    assert measures["hair brightness"] == pytest.approx(53.2, abs=0.5)
    assert measures["hair redness"] == pytest.approx(80.1, abs=0.5)
    assert measures["skin brightness"] == pytest.approx(100, abs=0.5)
    assert measures["beard"] == pytest.approx(100, abs=0.5)
