"""The Haar fallback on the real photos. Skipped, with the reason, where OpenCV has no Haar cascades;
the checks of its error messages run everywhere."""
import shutil

import cv2
import numpy as np
import pytest

from detectors import DetectorUnavailable, HaarDetector, box_iou

PORTRAITS = ["astronaut.png", "baby_face.png", "bryan_115px.png", "chris_pratt.jpg", "grace_hopper.jpg",
             "luciano.png", "runner_sunglasses.png"]
# Portraits that a 320-px-wide copy would not shrink, or would shrink to a face under 50 px.
SMALL_OR_NARROW = ["baby_face.png", "bryan_115px.png", "runner_sunglasses.png"]


def yunet_face(annotations, name):
    (face,) = annotations["images"][f"images/{name}"]["faces"]
    return face


@pytest.mark.parametrize("name", PORTRAITS)
def test_finds_the_face_in_frontal_portraits(name, haar, annotations, load_image):
    found = haar.detect(load_image(f"images/{name}"))
    assert len(found) == 1
    assert box_iou(found[0].box, yunet_face(annotations, name)["box"]) >= 0.5


@pytest.mark.parametrize("name", PORTRAITS)
def test_estimated_landmarks_fall_near_yunets(name, haar, annotations, load_image):
    face = haar.detect(load_image(f"images/{name}"))[0]
    error = np.linalg.norm(face.landmarks - np.array(yunet_face(annotations, name)["landmarks"]), axis=1)
    assert face.landmarks_estimated is True
    assert error.mean() < 0.1 * face.box[2], f"mean landmark error {error.mean():.1f} px"


def test_finds_nothing_where_there_is_no_face(haar, no_face_images, load_image):
    found = {name: len(haar.detect(load_image(name))) for name in no_face_images}
    assert not any(found.values()), f"faces found per still: {found}"


def test_faces_come_largest_first_with_landmarks_inside_the_box(haar, load_image):
    faces = haar.detect(load_image("images/group_fisheye.png"))
    assert len(faces) > 5
    assert [f.area for f in faces] == sorted((f.area for f in faces), reverse=True)
    for face in faces:
        x, y, w, h = face.box
        assert (face.landmarks >= [x, y]).all() and (face.landmarks <= [x + w, y + h]).all()


def test_downscaled_detection_maps_faces_back_to_the_full_frame(haar, annotations, load_image):
    image = load_image("images/chris_pratt.jpg")
    found = HaarDetector(detect_width=128).detect(image)
    assert len(found) == 1 and box_iou(found[0].box, haar.detect(image)[0].box) >= 0.7


@pytest.mark.parametrize("name", [name for name in PORTRAITS if name not in SMALL_OR_NARROW])
def test_downscaled_detection_puts_the_landmarks_where_full_size_detection_does(name, haar, load_image):
    image = load_image(f"images/{name}")
    (full,) = haar.detect(image)
    (small,) = HaarDetector(detect_width=320).detect(image)
    assert full.box[2] * 320 / image.shape[1] >= 50
    error = np.linalg.norm(small.landmarks - full.landmarks, axis=1)
    assert error.mean() <= 0.05 * full.box[2], \
        f"landmarks {error.round(1)} px apart, face {full.box[2]:.0f} px wide"


def test_uses_the_registry_cascade_where_opencv_ships_none(haar, tmp_path, monkeypatch):
    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path / "empty"), raising=False)
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(tmp_path))
    with pytest.raises(DetectorUnavailable, match=str(tmp_path / "haarcascade_frontalface_default.xml")):
        HaarDetector()
    shutil.copy(haar.model_path, tmp_path / "haarcascade_frontalface_default.xml")
    assert HaarDetector().model_path == tmp_path / "haarcascade_frontalface_default.xml"


def test_damaged_cascade_is_reported_as_unavailable(haar, tmp_path):
    damaged = tmp_path / "damaged.xml"
    damaged.write_text("<opencv_storage>not a cascade</opencv_storage>")
    with pytest.raises(DetectorUnavailable, match="not a cascade"):
        HaarDetector(damaged)


def test_opencv_without_haar_says_what_to_install(monkeypatch):
    monkeypatch.delattr(cv2, "CascadeClassifier", raising=False)
    with pytest.raises(DetectorUnavailable, match="opencv-python-headless<5"):
        HaarDetector()
