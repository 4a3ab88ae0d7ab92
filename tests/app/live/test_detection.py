"""The detection worker: faces and tracks for the newest frame; placeholder frames and frames whose
detection fails have none."""
import json

import cv2
import numpy as np
import pytest

from app.live.buffers import LatestBuffer
from app.live.capture import CapturedFrame, placeholder_frame
from app.live.detection import DetectionWorker
from detectors import create_detector
from detectors.face import box_iou
from tests.app.detector_helpers import BrokenDetector, CountingDetector

PHOTO_NAME = "images/office_three_people.jpg"   # Its key in faces.json.
PHOTO = "media/" + PHOTO_NAME


@pytest.fixture
def worker(shared_file):
    detector = create_detector("yunet", model_path=str(shared_file("weights/face_detection_yunet_2026may.onnx")))
    return DetectionWorker(CountingDetector(detector), LatestBuffer(), LatestBuffer())


@pytest.fixture
def photo(shared_file):
    return cv2.imread(str(shared_file(PHOTO)))


def test_every_face_in_the_frame_is_tracked(worker, photo, shared_file):
    expected = json.loads(shared_file("media/faces.json").read_text())["images"][PHOTO_NAME]["faces"]
    result = worker.detect(CapturedFrame(photo, timestamp=1.0), version=7)
    assert result.frame_version == 7 and worker.detection_ms.value > 0
    assert len(result.tracks) == len(expected) == worker.faces
    for face in expected:
        assert max(box_iou(np.array(face["box"]), track.face.box) for track in result.tracks) > 0.5


def test_a_placeholder_frame_has_no_faces_and_ends_the_tracks(worker, photo):
    worker.detect(CapturedFrame(photo, timestamp=1.0), version=1)
    result = worker.detect(CapturedFrame(placeholder_frame((640, 480), "0"), 1.1, placeholder=True), version=2)
    assert result.tracks == [] and worker.faces == 0
    assert worker.detector.calls == 1
    again = worker.detect(CapturedFrame(photo, timestamp=1.2), version=3)
    assert again.tracks and all(track.age == 1 for track in again.tracks)   # new faces, new tracks


def published(worker, frame):
    """What the running ``worker`` publishes for ``frame`` (the worker has stopped when it returns)."""
    worker.start()
    try:
        worker.frames.put(frame)
        return worker.output.get_newer(0, timeout=30)[1]
    finally:
        worker.stop()


def test_the_worker_publishes_a_result_for_the_newest_frame(worker, photo):
    result = published(worker, CapturedFrame(photo, timestamp=1.0))
    assert result.frame_version == 1 and len(result.tracks) == 3


def test_a_frame_whose_detection_fails_goes_on_with_no_faces_and_the_error_shows(photo):
    worker = DetectionWorker(BrokenDetector(), LatestBuffer(), LatestBuffer())
    result = published(worker, CapturedFrame(photo, timestamp=1.0))
    assert (result.frame_version, result.tracks) == (1, []) and result.frame.image is photo
    assert worker.error == "detection failed: detector crashed" and worker.faces == 0


def test_with_detect_every_3_only_every_third_frame_is_looked_at(shared_file, photo):
    detector = CountingDetector(create_detector("yunet", model_path=str(shared_file(
        "weights/face_detection_yunet_2026may.onnx"))))
    worker = DetectionWorker(detector, LatestBuffer(), LatestBuffer(), detect_every=3)
    due = []
    for version in range(1, 9):
        due.append(worker.due(version))
        worker.publish(version, CapturedFrame(photo, timestamp=float(version)))
    assert due == [True, False, False, True, False, False, True, False]
    assert detector.calls == 3 and worker.output.latest()[1].frame_version == 7


def test_a_frame_that_comes_late_is_looked_at_and_the_count_starts_from_it(worker, photo):
    worker.detect_every = 3
    worker.publish(1, CapturedFrame(photo, timestamp=1.0))
    worker.publish(5, CapturedFrame(photo, timestamp=5.0))          # the frames in between were never read
    assert worker.detector.calls == 2 and not worker.due(7) and worker.due(8)


def test_after_each_detection_the_tracks_still_followed_are_reported(shared_file, photo):
    reported = []
    detector = create_detector("yunet", model_path=str(shared_file("weights/face_detection_yunet_2026may.onnx")))
    worker = DetectionWorker(detector, LatestBuffer(), LatestBuffer(), on_tracks=reported.append)
    worker.publish(1, CapturedFrame(photo, timestamp=1.0))
    ids = {track.id for track in worker.output.latest()[1].tracks}
    worker.publish(2, CapturedFrame(photo[:, ::-1].copy(), timestamp=1.05))   # mirrored: the faces moved away
    worker.publish(3, CapturedFrame(placeholder_frame((640, 480), "0"), 1.1, placeholder=True))
    assert len(ids) == 3 and reported[0] == ids
    assert ids < reported[1], "faces that moved away are still remembered, the new ones added"
    assert reported[2] == set(), "the camera was lost: every track ended"


def test_detect_every_must_be_a_positive_count(photo):
    with pytest.raises(ValueError, match="at least 1"):
        DetectionWorker(BrokenDetector(), LatestBuffer(), LatestBuffer(), detect_every=0)
