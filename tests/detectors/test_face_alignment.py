"""FFHQ alignment: the recipe on known landmarks, the round trip, and real photos."""
import cv2
import numpy as np
import pytest

from detectors import align_face, alignment_matrix, invert, transform_points, warp_to_frame
from detectors.alignment import FFHQ_TEMPLATE

# An upright face: eyes 40 px apart, mouth 40 px below the eyes. The eyes size it (2.0 * 40 > 1.8 * 40):
# half-side 80, centre 10% of the way from the eyes (y 100) to the mouth (y 140), i.e. (120, 104).
UPRIGHT = np.array([[100, 100], [140, 100], [120, 120], [105, 140], [135, 140]], dtype=np.float64)


def rotate(points, degrees, center=(300.0, 200.0)):
    return transform_points(cv2.getRotationMatrix2D(center, degrees, 1.0), points)


def to_fractions(points, size):
    """Pixel positions in a crop as fractions of its side, measured from its outer edges."""
    return (np.asarray(points) + 0.5) / size


def test_upright_face_lands_where_the_recipe_puts_it():
    aligned = transform_points(alignment_matrix(UPRIGHT, 160), UPRIGHT)
    # At size 160 the scale is 1: each point moves by (80, 80) - (120, 104), less half a pixel.
    np.testing.assert_allclose(aligned, UPRIGHT + [-40, -24] - 0.5, atol=1e-9)


def test_long_face_is_sized_by_its_eye_to_mouth_distance():
    long_face = UPRIGHT + [[0, 0], [0, 0], [0, 20], [0, 40], [0, 40]]  # Mouth 80 px below the eyes.
    matrix = alignment_matrix(long_face, 100)
    assert np.sqrt(np.linalg.det(matrix[:, :2])) == pytest.approx(100 / (2 * 1.8 * 80))


def test_centre_of_the_square_lands_on_the_centre_of_the_crop():
    eye_mid, mouth_mid = UPRIGHT[:2].mean(axis=0), UPRIGHT[3:].mean(axis=0)
    centre = eye_mid + 0.1 * (mouth_mid - eye_mid)
    np.testing.assert_allclose(transform_points(alignment_matrix(UPRIGHT, 256), [centre]), [[127.5, 127.5]])


@pytest.mark.parametrize("degrees", [-60, -15, 30, 90, 180])
def test_rotation_scale_and_position_of_the_face_do_not_change_the_aligned_landmarks(degrees):
    moved = rotate(UPRIGHT * 1.7 + [40, -30], degrees)
    np.testing.assert_allclose(transform_points(alignment_matrix(moved, 256), moved),
                               transform_points(alignment_matrix(UPRIGHT, 256), UPRIGHT), atol=1e-6)


def test_typical_face_lands_on_the_documented_template():
    aligned = to_fractions(transform_points(alignment_matrix(UPRIGHT, 1024), UPRIGHT), 1024)
    np.testing.assert_allclose(aligned[[0, 1]], FFHQ_TEMPLATE[[0, 1]], atol=0.01)
    np.testing.assert_allclose(aligned[[3, 4]], FFHQ_TEMPLATE[[3, 4]], atol=0.03)


def test_points_round_trip_through_the_inverse(annotations):
    for entry in annotations["images"].values():
        for face in entry["faces"]:
            matrix = alignment_matrix(face["landmarks"], 256)
            back = transform_points(invert(matrix), transform_points(matrix, face["landmarks"]))
            np.testing.assert_allclose(back, face["landmarks"], atol=1e-3)


@pytest.mark.parametrize("size", [256, 512])
def test_real_photo_round_trips_through_align_and_warp_back_within_a_pixel(size, yunet, load_image):
    frame = load_image("images/astronaut.png")
    face = yunet.detect(frame)[0]
    crop, matrix = align_face(frame, face.landmarks, size)
    back = warp_to_frame(crop, matrix, frame.shape)
    x, y, w, h = face.box.astype(int)
    original, returned = (cv2.cvtColor(image[y:y + h, x:x + w], cv2.COLOR_BGR2GRAY).astype(np.float32)
                          for image in (frame, back))
    (shift_x, shift_y), _ = cv2.phaseCorrelate(original, returned)
    assert np.hypot(shift_x, shift_y) < 0.5
    assert np.abs(original - returned).mean() < 4  # Grey levels: only resampling blur remains.


@pytest.mark.parametrize("name", [
    "images/astronaut.png", "images/baby_face.png", "images/chris_pratt.jpg", "images/grace_hopper.jpg",
    "images/luciano.png",
])
def test_aligned_crop_of_a_real_photo_puts_the_face_where_the_template_says(name, yunet, load_image):
    frame = load_image(name)
    size = 256
    crop, _ = align_face(frame, yunet.detect(frame)[0].landmarks, size)
    found = yunet.detect(crop)
    assert found, "no face in the aligned crop"
    # Detected again in the crop, the landmarks sit on the template (faces differ by up to ~0.04).
    np.testing.assert_allclose(to_fractions(found[0].landmarks, size), FFHQ_TEMPLATE, atol=0.05)


def test_crop_of_a_rotated_photo_matches_the_crop_of_the_upright_one(yunet, load_image):
    frame = load_image("images/astronaut.png")
    landmarks = yunet.detect(frame)[0].landmarks
    rotation = cv2.getRotationMatrix2D((256.0, 256.0), 25, 1.0)
    rotated = cv2.warpAffine(frame, rotation, (512, 512), flags=cv2.INTER_CUBIC)
    upright_crop, _ = align_face(frame, landmarks, 256)
    rotated_crop, _ = align_face(rotated, transform_points(rotation, landmarks), 256)
    upright, turned = (cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)[32:-32, 32:-32]
                       for crop in (upright_crop, rotated_crop))
    (shift_x, shift_y), _ = cv2.phaseCorrelate(upright, turned)
    assert np.hypot(shift_x, shift_y) < 0.5
    assert np.abs(upright - turned).mean() < 4


def test_small_crop_of_a_large_face_is_not_aliased(yunet, load_image):
    frame = load_image("images/chris_pratt.jpg")
    landmarks = yunet.detect(frame)[0].landmarks
    reference = cv2.resize(align_face(frame, landmarks, 512)[0], (64, 64), interpolation=cv2.INTER_AREA)
    crop, matrix = align_face(frame, landmarks, 64)
    point_sampled = cv2.warpAffine(frame, matrix, (64, 64), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REFLECT)

    def error(image):
        return np.abs(image.astype(np.float32) - reference).mean()

    assert error(crop) < 0.6 * error(point_sampled)


def test_face_at_the_frame_edge_still_gives_a_full_crop(yunet, load_image):
    frame = load_image("images/chris_pratt.jpg")
    landmarks = yunet.detect(frame)[0].landmarks
    crop, _ = align_face(frame, landmarks - [200, 0], 128)  # Pretend the face is half out of the frame.
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8


def test_warp_to_frame_handles_float_masks_of_any_channel_layout():
    frame_shape = (300, 400, 3)
    matrix = alignment_matrix(UPRIGHT, 64)
    mask = np.ones((64, 64), dtype=np.float32)
    warped = warp_to_frame(mask, matrix, frame_shape)
    assert warped.shape == (300, 400) and warped.dtype == np.float32
    assert warped[104, 120] == pytest.approx(1.0) and warped[290, 390] == 0.0
    assert warp_to_frame(mask[:, :, None], matrix, frame_shape).shape == (300, 400, 1)


def test_warp_to_frame_covers_exactly_the_aligned_square():
    matrix = alignment_matrix(UPRIGHT, 64)
    covered = warp_to_frame(np.ones((64, 64), dtype=np.float32), matrix, (300, 400)) > 0.5
    assert covered.sum() == pytest.approx(160 * 160, rel=0.03)  # The square has a side of 160 px.


@pytest.mark.parametrize("landmarks", [
    np.zeros((5, 2)),                   # Everything on one point.
    UPRIGHT[:4],                        # Four points.
    np.where(UPRIGHT == 100, np.nan, UPRIGHT),
], ids=["degenerate", "four-points", "nan"])
def test_rejects_unusable_landmarks(landmarks):
    with pytest.raises(ValueError):
        alignment_matrix(landmarks, 256)


@pytest.mark.parametrize("size", [0, -4, 2.5])
def test_rejects_unusable_sizes(size):
    with pytest.raises(ValueError):
        alignment_matrix(UPRIGHT, size)


def test_warp_to_frame_rejects_an_image_that_is_not_square():
    with pytest.raises(ValueError):
        warp_to_frame(np.zeros((64, 32), dtype=np.float32), alignment_matrix(UPRIGHT, 64), (300, 400))
