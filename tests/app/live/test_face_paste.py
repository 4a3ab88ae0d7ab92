"""Compositing: the face lands on each face, nothing outside the mask moves, colours follow the skin, and
the person's own mouth and eyes show through as much as asked, wherever the landmarks put them.

Real photos and the landmarks YuNet gives for them (``media/faces.json``); the "generated" face is a
real face cut into the FFHQ layout, which is what a generator produces.
"""
import json

import cv2
import numpy as np
import pytest

from app.live.face_paste import SKIN_REGIONS, composite, face_mask, feature_mask, prepare_face
from detectors.alignment import align_face, alignment_matrix, warp_to_frame

SIZE = 128


@pytest.fixture(scope="module")
def faces_json(shared_file):
    return json.loads(shared_file("media/faces.json").read_text())


def photo_and_landmarks(shared_file, faces_json, name):
    image = cv2.imread(str(shared_file(f"media/images/{name}")))
    faces = faces_json["images"][f"images/{name}"]["faces"]
    return image, [np.array(face["landmarks"], np.float32) for face in faces]


@pytest.fixture(scope="module")
def office(shared_file, faces_json):
    """640x480, three people."""
    return photo_and_landmarks(shared_file, faces_json, "office_three_people.jpg")


@pytest.fixture(scope="module")
def generated(shared_file, faces_json):
    image, [landmarks] = photo_and_landmarks(shared_file, faces_json, "grace_hopper.jpg")
    crop, _ = align_face(image, landmarks, SIZE)
    return prepare_face(crop)


def skin_mask(size):
    """The skin regions of the FFHQ layout (cheeks and forehead), drawn as a mask."""
    mask = np.zeros((size, size), np.float32)
    for cx, cy, ax, ay in SKIN_REGIONS:
        cv2.ellipse(mask, (round(cx * size), round(cy * size)), (round(ax * size), round(ay * size)), 0, 0, 360,
                    1.0, thickness=-1)
    return mask


def skin_region(frame_shape, landmarks):
    """Where the skin of the face at ``landmarks`` is in the frame."""
    return warp_to_frame(skin_mask(SIZE), alignment_matrix(landmarks, SIZE), frame_shape) > 0.5


def pasted_region(frame_shape, landmarks, threshold):
    """Where the face mask, warped onto the frame, is above ``threshold``."""
    matrix = alignment_matrix(landmarks, SIZE)
    return warp_to_frame(face_mask(SIZE), matrix, frame_shape) > threshold


def lab_mean(image, where):
    return cv2.cvtColor(image, cv2.COLOR_BGR2LAB)[where].astype(np.float64).mean(axis=0)


def test_the_mask_is_a_soft_oval_inside_the_aligned_face():
    mask = face_mask(SIZE)
    assert mask.shape == (SIZE, SIZE) and mask.dtype == np.float32
    assert mask[int(SIZE * 0.6), SIZE // 2] == pytest.approx(1.0)   # between nose and mouth: opaque
    assert mask[0, 0] == 0 and mask[0, SIZE // 2] == 0              # corners and the top edge: clear
    assert 0.05 < mask[int(SIZE * 0.585), int(SIZE * 0.265)] < 0.95  # the cheek edge: feathered


def test_prepare_face_keeps_the_face_its_statistics_and_the_masks_box(generated):
    assert generated.image.shape == (SIZE, SIZE, 3)
    assert generated.lab_mean.shape == generated.lab_std.shape == (3,)
    x0, y0, x1, y1 = generated.box
    assert 0 < x0 < x1 < SIZE and 0 < y0 < y1 <= SIZE


def test_the_face_region_changes(office, generated):
    frame, landmarks = office
    out = composite(frame, landmarks[:1], generated)
    inside = pasted_region(frame.shape, landmarks[0], 0.9)
    change = np.abs(out.astype(int) - frame.astype(int))[inside].mean()
    assert change > 10


def test_pixels_outside_the_mask_are_untouched(office, generated):
    frame, landmarks = office
    out = composite(frame, landmarks, generated)
    touched = np.zeros(frame.shape[:2], bool)
    for points in landmarks:
        touched |= pasted_region(frame.shape, points, 0)
    assert touched.any()
    assert np.array_equal(out[~touched], frame[~touched])


def test_the_input_frame_is_not_modified(office, generated):
    frame, landmarks = office
    before = frame.copy()
    composite(frame, landmarks, generated)
    assert np.array_equal(frame, before)


def test_every_face_in_view_gets_the_face(office, generated):
    frame, landmarks = office
    assert len(landmarks) == 3
    out = composite(frame, landmarks, generated)
    for points in landmarks:
        inside = pasted_region(frame.shape, points, 0.9)
        assert np.abs(out.astype(int) - frame.astype(int))[inside].mean() > 5


def test_prepare_face_measures_the_colour_of_the_skin(generated):
    skin = lab_mean(generated.image, skin_mask(SIZE) > 0.5)
    assert np.abs(generated.lab_mean - skin).max() < 1.5


def test_colour_matching_moves_the_face_toward_the_skin_it_covers(office, generated):
    frame, landmarks = office
    tinted = generated.image.copy()
    tinted[:, :, 0] = np.clip(tinted[:, :, 0].astype(int) + 90, 0, 255)     # a strongly blue face
    face = prepare_face(tinted)
    out = composite(frame, landmarks[:1], face)
    inside = skin_region(frame.shape, landmarks[0])
    skin, result = lab_mean(frame, inside), lab_mean(out, inside)
    unmatched = lab_mean(tinted, skin_mask(SIZE) > 0.5)
    assert np.linalg.norm(result - skin) < 0.25 * np.linalg.norm(unmatched - skin)


def test_colour_matching_follows_the_skin_not_sunglasses_over_it(shared_file, faces_json, generated):
    frame, [landmarks] = photo_and_landmarks(shared_file, faces_json, "runner_sunglasses.png")
    out = composite(frame, [landmarks], generated)
    inside = skin_region(frame.shape, landmarks)
    skin, result = lab_mean(frame, inside), lab_mean(out, inside)
    unmatched = lab_mean(generated.image, skin_mask(SIZE) > 0.5)
    # Matched to all that the mask covers, the dark lenses included, the skin would come out far too dark.
    assert np.linalg.norm(result - skin) < 0.1 * np.linalg.norm(unmatched - skin)


def test_a_dark_frame_gets_a_dark_face_with_its_shadows_not_clipped_to_black(office, generated):
    frame, landmarks = office
    dark = (frame * 0.25).astype(np.uint8)
    out = composite(dark, landmarks[:1], generated)
    inside = pasted_region(frame.shape, landmarks[0], 0.9)
    lightness = cv2.cvtColor(out, cv2.COLOR_BGR2LAB)[:, :, 0][inside]
    assert abs(lightness.mean() - lab_mean(dark, inside)[0]) < 10
    assert (lightness < 3).mean() < 0.01   # a plain mean/std transfer clips about 6% here


def test_a_face_cut_by_the_frame_edge_is_pasted_where_it_is_visible(office, generated):
    frame, landmarks = office
    shifted = landmarks[0] - np.array([landmarks[0][:, 0].mean(), 0], np.float32)  # centred on x = 0
    out = composite(frame, [shifted], generated)
    assert not np.array_equal(out, frame)
    assert np.array_equal(out[:, frame.shape[1] // 2:], frame[:, frame.shape[1] // 2:])


def test_a_face_entirely_outside_the_frame_changes_nothing(office, generated):
    frame, landmarks = office
    out = composite(frame, [landmarks[0] + np.float32(5000)], generated)
    assert np.array_equal(out, frame)


def test_no_faces_gives_the_frame_unchanged(office, generated):
    frame, _ = office
    assert np.array_equal(composite(frame, [], generated), frame)


def test_prepare_face_refuses_what_is_not_a_square_bgr_face():
    with pytest.raises(ValueError, match="square BGR uint8"):
        prepare_face(np.zeros((64, 32, 3), np.uint8))


# --- the person's own mouth and eyes ---------------------------------------------------------------

def selfie_frames(shared_file, faces_json, indices):
    """Frames of the selfie clip with the landmarks YuNet found in each (its largest face)."""
    described = faces_json["videos"]["videos/selfie_webcam_10s.mp4"]["frames"]
    capture = cv2.VideoCapture(str(shared_file("media/videos/selfie_webcam_10s.mp4")))
    frames, index = [], 0
    while len(frames) < len(indices):
        ok, image = capture.read()
        assert ok
        if index in indices:
            faces = sorted(described[index]["faces"], key=lambda face: -face["box"][2])
            frames.append((image, np.array(faces[0]["landmarks"], np.float32)))
        index += 1
    return frames


def mouth_centre(landmarks):
    return (landmarks[3] + landmarks[4]) / 2


def patch_difference(a, b, point, radius=4):
    """Mean absolute difference of two images over the small square around ``point``."""
    x, y = np.rint(point).astype(int)
    window = (slice(y - radius, y + radius + 1), slice(x - radius, x + radius + 1))
    return np.abs(a[window].astype(float) - b[window].astype(float)).mean()


def test_keeping_nothing_is_the_plain_paste(office, generated):
    frame, landmarks = office
    assert np.array_equal(composite(frame, landmarks, generated, keep_mouth=0.0, keep_eyes=0.0),
                          composite(frame, landmarks, generated))


def forehead_region(frame_shape, landmarks):
    """Where the forehead of the face at ``landmarks`` is in the frame (far from the eyes and the mouth)."""
    mask = np.zeros((SIZE, SIZE), np.float32)
    cx, cy, ax, ay = SKIN_REGIONS[2]
    cv2.ellipse(mask, (round(cx * SIZE), round(cy * SIZE)), (round(ax * SIZE), round(ay * SIZE)), 0, 0, 360, 1.0,
                thickness=-1)
    return warp_to_frame(mask, alignment_matrix(landmarks, SIZE), frame_shape) > 0.5


def test_a_kept_mouth_shows_the_persons_own_mouth_in_every_frame_and_leaves_the_rest_pasted(
        shared_file, faces_json, generated):
    for frame, landmarks in selfie_frames(shared_file, faces_json, {0, 60, 120, 180, 240}):
        kept = composite(frame, [landmarks], generated, keep_mouth=1.0)
        plain = composite(frame, [landmarks], generated)
        mouth = mouth_centre(landmarks)
        assert patch_difference(kept, frame, mouth, radius=8) < 1.5, "the mouth is the camera's"
        assert patch_difference(plain, frame, mouth, radius=8) > 5, "without it, the mouth is pasted"
        forehead = forehead_region(frame.shape, landmarks)
        assert forehead.sum() > 100 and np.array_equal(kept[forehead], plain[forehead])


def test_kept_eyes_show_the_persons_own_eyes(shared_file, faces_json, generated):
    [(frame, landmarks)] = selfie_frames(shared_file, faces_json, {90})
    kept = composite(frame, [landmarks], generated, keep_eyes=1.0)
    for eye in landmarks[:2]:
        assert patch_difference(kept, frame, eye, radius=2) < 1.5
    plain = composite(frame, [landmarks], generated)
    assert patch_difference(kept, plain, mouth_centre(landmarks)) == 0, "the mouth stays pasted"


def test_half_a_mouth_is_a_blend_of_the_two(shared_file, faces_json, generated):
    [(frame, landmarks)] = selfie_frames(shared_file, faces_json, {30})
    x, y = np.rint(mouth_centre(landmarks)).astype(int)
    plain = composite(frame, [landmarks], generated)[y, x].astype(float)
    half = composite(frame, [landmarks], generated, keep_mouth=0.5)[y, x].astype(float)
    assert np.abs(half - (plain + frame[y, x]) / 2).max() <= 3


def centre_of(mask):
    ys, xs = np.indices(mask.shape)
    return np.array([(xs * mask).sum(), (ys * mask).sum()]) / mask.sum()


def test_the_feature_mask_follows_the_landmarks(faces_json):
    [face] = faces_json["images"]["images/grace_hopper.jpg"]["faces"]
    landmarks = np.array(face["landmarks"], np.float32)
    shape = (600, 600)
    mask = feature_mask(landmarks, shape, 1.0, 1.0)
    moved = feature_mask(landmarks + np.array([40, 25], np.float32), shape, 1.0, 1.0)
    assert np.abs(centre_of(moved) - centre_of(mask) - [40, 25]).max() < 0.5
    assert moved.sum() == pytest.approx(mask.sum(), rel=0.02)
    for point in (*landmarks[:2], mouth_centre(landmarks)):
        x, y = np.rint(point).astype(int)
        assert mask[y, x] > 0.9
    x, y = np.rint(landmarks[2]).astype(int)
    assert mask[y, x] < 0.1, "the nose tip is not kept"
