"""Motion compensation: faces found a few frames before are moved to where the heads are in the frame shown.

On the hand-held selfie clip, against the landmarks YuNet finds in every frame (``media/faces.json``), and
on a real photo moved by a known transform.
"""
import json

import cv2
import numpy as np
import pytest

from app.live.motion import FLOW_WIDTH, FaceMotion
from detectors import Face, FaceTracker

SELFIE = "media/videos/selfie_webcam_10s.mp4"


@pytest.fixture(scope="module")
def selfie(shared_file):
    """The clip's frames and, for each, YuNet's faces in it."""
    described = json.loads(shared_file("media/faces.json").read_text())["videos"]["videos/selfie_webcam_10s.mp4"]
    capture = cv2.VideoCapture(str(shared_file(SELFIE)))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    faces = [[face_of(entry) for entry in frame["faces"]] for frame in described["frames"]]
    return frames, faces


@pytest.fixture(scope="module")
def photo(shared_file):
    """Grace Hopper, in a 640x480 frame, and her face as YuNet found it."""
    [entry] = json.loads(shared_file("media/faces.json").read_text())["images"]["images/grace_hopper.jpg"]["faces"]
    image = cv2.imread(str(shared_file("media/images/grace_hopper.jpg")))
    return image[:480, :640].copy(), face_of(entry)


def face_of(entry) -> Face:
    return Face(np.array(entry["box"], np.float32), np.array(entry["landmarks"], np.float32), entry["score"])


def tracks_of(faces):
    return FaceTracker().update(faces, 1.0)


def error(face: Face, reference: Face) -> float:
    """Mean landmark distance in inter-ocular distances of ``reference``."""
    iod = np.linalg.norm(reference.landmarks[1] - reference.landmarks[0])
    return float(np.linalg.norm(face.landmarks - reference.landmarks, axis=1).mean() / iod)


def similarity(angle_degrees, scale, shift, centre):
    matrix = cv2.getRotationMatrix2D(centre, angle_degrees, scale)
    matrix[:, 2] += shift
    return matrix


def test_faces_found_three_frames_before_are_moved_to_where_the_head_is(selfie):
    frames, faces = selfie
    moved_errors, still_errors = [], []
    for start in range(10, 280, 15):
        if len(faces[start]) != 1 or len(faces[start + 3]) != 1:
            continue
        motion = FaceMotion()
        tracks = tracks_of(faces[start])
        for version in range(start, start + 4):
            [moved] = motion.faces_at(version, frames[version], tracks, start, frames[start])
        moved_errors.append(error(moved.face, faces[start + 3][0]))
        still_errors.append(error(tracks[0].face, faces[start + 3][0]))
    assert len(moved_errors) >= 10
    assert np.median(moved_errors) < 0.1
    assert np.median(moved_errors) < 0.5 * np.median(still_errors)


def test_a_frame_that_did_not_move_leaves_the_faces_where_they_were(photo):
    image, face = photo
    motion = FaceMotion()
    tracks = tracks_of([face])
    motion.faces_at(1, image, tracks, 1, image)
    [moved] = motion.faces_at(2, image.copy(), tracks, 1, image)
    assert np.abs(moved.face.landmarks - face.landmarks).max() < 0.05


@pytest.mark.parametrize("width", [640, 2 * FLOW_WIDTH])
def test_a_turned_scaled_and_shifted_frame_takes_the_landmarks_with_it(photo, width):
    image, face = photo
    zoom = width / image.shape[1]
    image = cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LINEAR)
    landmarks = face.landmarks * zoom
    face = Face(face.box * zoom, landmarks, face.score)
    matrix = similarity(3.0, 1.03, (9 * zoom, -6 * zoom), tuple(map(float, landmarks[2])))
    after = cv2.warpAffine(image, matrix, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REFLECT)
    motion = FaceMotion()
    tracks = tracks_of([face])
    [moved] = motion.faces_at(2, after, tracks, 1, image)
    expected = landmarks @ matrix[:, :2].T + matrix[:, 2]
    assert np.abs(moved.face.landmarks - expected).max() < 0.5 * zoom
    assert moved.face.size == pytest.approx(face.size * 1.03, rel=0.01)
    assert moved.id == tracks[0].id


def test_a_newer_detection_replaces_the_moved_faces(photo):
    image, face = photo
    after = cv2.warpAffine(image, similarity(0, 1, (8, 4), (0.0, 0.0)), (640, 480), borderMode=cv2.BORDER_REFLECT)
    motion = FaceMotion()
    motion.faces_at(2, after, tracks_of([face]), 1, image)
    found_now = tracks_of([Face(face.box + [8, 4, 0, 0], face.landmarks + [8, 4], face.score)])
    assert motion.faces_at(2, after, found_now, 2, after) == found_now


def test_faces_cannot_be_moved_back_to_an_earlier_frame(photo):
    image, face = photo
    with pytest.raises(ValueError, match="cannot be moved back"):
        FaceMotion().faces_at(3, image, tracks_of([face]), 4, image)


def test_a_face_with_nothing_to_follow_stays_where_it_was(photo):
    _, face = photo
    grey = np.full((480, 640, 3), 128, np.uint8)
    motion = FaceMotion()
    tracks = tracks_of([face])
    assert motion.faces_at(2, grey.copy(), tracks, 1, grey) == tracks
