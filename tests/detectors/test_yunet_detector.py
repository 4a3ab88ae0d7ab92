"""YuNet on the real photos in ../shared/media, checked against faces.json and a person's counts."""
import cv2
import numpy as np
import pytest

from detectors import DetectorUnavailable, InvalidImageError, YuNetDetector, box_iou

STILLS = [
    "astronaut.png", "baby_face.png", "bryan_115px.png", "cameraman_profile.png", "chris_pratt.jpg",
    "glider_two_men.jpg", "grace_hopper.jpg", "group_fisheye.png", "luciano.png", "mug_occlusion.jpg",
    "noface_cat.png", "noface_fruits.jpg", "office_three_people.jpg", "race_runners.jpg",
    "runner_sunglasses.png",
]
NO_FACE_STILLS = ("noface_cat.png", "noface_fruits.jpg")   # checked by test_finds_nothing_where_there_is_no_face
FACE_STILLS = [name for name in STILLS if name not in NO_FACE_STILLS]


def listed_faces(annotations, name):
    return annotations["images"][f"images/{name}"]["faces"]


def best_overlaps(expected, found):
    """For each expected face, the IoU of the found face that overlaps it most (0 if none)."""
    return [max((box_iou(face["box"], f.box) for f in found), default=0.0) for face in expected]


@pytest.mark.parametrize("name", FACE_STILLS)
def test_finds_every_listed_face(name, yunet, annotations, load_image):
    expected = listed_faces(annotations, name)
    assert expected, f"{name}: faces.json lists no face"
    overlaps = best_overlaps(expected, yunet.detect(load_image(f"images/{name}")))
    assert all(iou >= 0.5 for iou in overlaps), f"{name}: best IoU per listed face {overlaps}"


@pytest.mark.parametrize("name", STILLS)
def test_face_count_is_within_the_human_range(name, yunet, annotations, load_image):
    low, high = annotations["images"][f"images/{name}"]["human_count_range"]
    assert low <= len(yunet.detect(load_image(f"images/{name}"))) <= high


def test_the_stills_without_a_face_are_the_ones_faces_json_counts_none_in(no_face_images):
    assert {f"images/{name}" for name in STILLS} & set(no_face_images) == {f"images/{n}" for n in NO_FACE_STILLS}


def test_finds_nothing_where_there_is_no_face(yunet, no_face_images, load_image):
    found = {name: len(yunet.detect(load_image(name))) for name in no_face_images}
    assert not any(found.values()), f"faces found per still: {found}"


@pytest.mark.parametrize("name", FACE_STILLS)
def test_landmarks_lie_inside_their_box(name, yunet, load_image):
    faces = yunet.detect(load_image(f"images/{name}"))
    assert faces, f"{name}: no face found"
    for face in faces:
        x, y, w, h = face.box
        assert (face.landmarks >= [x, y]).all() and (face.landmarks <= [x + w, y + h]).all()
        assert face.landmarks_estimated is False


def test_landmarks_come_in_the_documented_order(yunet, load_image):
    face = yunet.detect(load_image("images/luciano.png"))[0]
    right_eye, left_eye, nose, right_mouth, left_mouth = face.landmarks
    # The subject's right eye and mouth corner are on the image's left; eyes above nose above mouth.
    assert right_eye[0] < nose[0] < left_eye[0] and right_mouth[0] < left_mouth[0]
    assert max(right_eye[1], left_eye[1]) < nose[1] < min(right_mouth[1], left_mouth[1])


def test_faces_come_largest_first(yunet, load_image):
    areas = [face.area for face in yunet.detect(load_image("images/group_fisheye.png"))]
    assert len(areas) >= 22 and areas == sorted(areas, reverse=True)


def test_max_faces_keeps_the_largest(yunet_path, yunet, load_image):
    image = load_image("images/race_runners.jpg")
    largest_three = YuNetDetector(yunet_path, max_faces=3).detect(image)
    assert [f.area for f in largest_three] == [f.area for f in yunet.detect(image)[:3]]


def test_score_threshold_drops_weaker_faces(yunet_path, yunet, load_image):
    image = load_image("images/group_fisheye.png")
    confident = YuNetDetector(yunet_path, score_threshold=0.85).detect(image)
    assert 0 < len(confident) < len(yunet.detect(image))
    assert all(face.score >= 0.85 for face in confident)


def test_nms_threshold_sets_how_much_the_faces_kept_may_overlap(yunet_path, yunet, load_image):
    image = load_image("images/group_fisheye.png")

    def largest_overlap(faces):
        return max(box_iou(a.box, b.box) for i, a in enumerate(faces) for b in faces[i + 1:])

    default, loose = yunet.detect(image), YuNetDetector(yunet_path, nms_threshold=0.9).detect(image)
    assert len(loose) > len(default)  # The same face found at several nearby boxes, all kept.
    assert largest_overlap(default) <= 0.3 < largest_overlap(loose)


# Every still with a face has one that stays at least 16 px wide in a 320-px-wide copy.
@pytest.mark.parametrize("name", FACE_STILLS)
def test_downscaled_detection_maps_faces_back_to_the_full_frame(name, yunet_path, annotations, load_image):
    image = load_image(f"images/{name}")
    scale = min(1.0, 320 / image.shape[1])
    # Faces under about 16 px wide in the shrunken copy are too small for YuNet; only larger ones count.
    expected = [f for f in listed_faces(annotations, name) if f["box"][2] * scale >= 16]
    assert expected, f"{name}: faces.json lists no face 16 px or wider in a 320-px-wide copy"
    overlaps = best_overlaps(expected, YuNetDetector(yunet_path, detect_width=320).detect(image))
    assert all(iou >= 0.5 for iou in overlaps), f"{name}: best IoU per listed face {overlaps}"


# Portraits whose face stays at least 50 px wide in a 320-px-wide copy.
LARGE_FACES = ["astronaut.png", "chris_pratt.jpg", "grace_hopper.jpg", "luciano.png", "mug_occlusion.jpg"]


@pytest.mark.parametrize("name", LARGE_FACES)
def test_downscaled_detection_puts_the_landmarks_where_full_size_detection_does(name, yunet_path, yunet,
                                                                                load_image):
    image = load_image(f"images/{name}")
    (full,) = yunet.detect(image)
    (small,) = YuNetDetector(yunet_path, detect_width=320).detect(image)
    assert full.box[2] * 320 / image.shape[1] >= 50
    # YuNet itself places landmarks a little differently at another scale: about 2-3% of the face width.
    error = np.linalg.norm(small.landmarks - full.landmarks, axis=1)
    assert error.mean() <= 0.05 * full.box[2], \
        f"landmarks {error.round(1)} px apart, face {full.box[2]:.0f} px wide"


def test_one_detector_follows_changing_frame_sizes(yunet_path, yunet, load_image):
    small, large = load_image("images/bryan_115px.png"), load_image("images/glider_two_men.jpg")
    for image in (small, large, small):
        fresh = YuNetDetector(yunet_path).detect(image)
        reused = yunet.detect(image)
        assert len(reused) == len(fresh)
        for a, b in zip(reused, fresh):
            np.testing.assert_allclose(a.box, b.box, atol=1e-3)


@pytest.mark.parametrize("name, flags, convert", [
    ("images/group_fisheye.png", cv2.IMREAD_GRAYSCALE, None),
    ("images/luciano.png", cv2.IMREAD_COLOR, cv2.COLOR_BGR2BGRA),
], ids=["grayscale", "bgra"])
def test_grayscale_and_bgra_frames_give_the_same_faces_as_bgr(name, flags, convert, yunet, load_image):
    image = load_image(name, flags)
    image = image if convert is None else cv2.cvtColor(image, convert)
    found, expected = yunet.detect(image), yunet.detect(load_image(name))
    assert len(found) == len(expected) > 0
    for a, b in zip(found, expected):
        np.testing.assert_allclose(a.box, b.box, atol=1e-3)


@pytest.mark.parametrize("image", [
    None,
    np.zeros((48, 64, 3), dtype=np.float32),
    np.zeros((0, 64, 3), dtype=np.uint8),
    np.zeros((48, 64, 2), dtype=np.uint8),
    np.zeros((48, 64, 3, 1), dtype=np.uint8),
], ids=["none", "float", "empty", "two-channels", "four-dims"])
def test_rejects_what_is_not_an_8_bit_picture(image, yunet):
    with pytest.raises(InvalidImageError):
        yunet.detect(image)


def test_a_missing_model_names_the_file_and_no_application_command(tmp_path):
    with pytest.raises(DetectorUnavailable, match="YuNet model file not found: .*absent.onnx") as caught:
        YuNetDetector(tmp_path / "absent.onnx")
    assert "model_path" not in str(caught.value) and "python -m" not in str(caught.value)


@pytest.mark.parametrize("model_path", [None, "yunet"], ids=["default", "registry-name"])
def test_model_comes_from_the_weights_folder_by_default_or_by_name(model_path, tmp_path, monkeypatch):
    monkeypatch.setenv("STYLECAM_WEIGHTS", str(tmp_path))
    with pytest.raises(DetectorUnavailable, match=str(tmp_path / "face_detection_yunet_2026may.onnx")):
        YuNetDetector(model_path)


def test_damaged_model_is_reported_as_unavailable_naming_both_possible_causes(tmp_path):
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(b"not an ONNX model")
    with pytest.raises(DetectorUnavailable, match="damaged.*replace it with a good copy.*OpenCV >= 4.8.*pip install"):
        YuNetDetector(damaged)


def test_a_model_that_loads_but_cannot_run_is_reported_when_the_detector_is_made(yunet_path, monkeypatch):
    # What OpenCV 4.7 does with this model: FaceDetectorYN.create succeeds, the first detect fails.
    class LoadsButCannotRun:
        def detect(self, image):
            raise cv2.error("Layer with requested id=-1 not found in function 'getLayerData'")

    monkeypatch.setattr(cv2.FaceDetectorYN, "create", lambda *args: LoadsButCannotRun())
    with pytest.raises(DetectorUnavailable, match="getLayerData.*OpenCV >= 4.8"):
        YuNetDetector(yunet_path)


def test_opencv_without_yunet_says_what_to_install(yunet_path, monkeypatch):
    monkeypatch.delattr(cv2, "FaceDetectorYN")
    with pytest.raises(DetectorUnavailable, match="OpenCV >= 4.8.*pip install 'opencv-python-headless>=4.8'"):
        YuNetDetector(yunet_path)


@pytest.mark.parametrize("version", ["4.7.0", "4.5.4-dev"])
def test_opencv_too_old_for_the_model_says_what_to_install(version, yunet_path, monkeypatch):
    monkeypatch.setattr(cv2, "__version__", version)
    with pytest.raises(DetectorUnavailable, match=f"OpenCV {version} is too old.*>=4.8"):
        YuNetDetector(yunet_path)


@pytest.mark.parametrize("options", [{"score_threshold": 1.5}, {"max_faces": 0}, {"detect_width": 8}])
def test_rejects_bad_settings(yunet_path, options):
    with pytest.raises(ValueError):
        YuNetDetector(yunet_path, **options)
