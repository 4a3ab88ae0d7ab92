"""The compositing stage: every camera frame is shown, with the faces found in it when detection keeps up
and with the newest tracked faces when it does not; a failure shows the camera's frame instead.

A real photo as the camera frame, its YuNet landmarks (``media/faces.json``) as the tracked face, and a
real face cut into the FFHQ layout as the generated face.
"""
import json
import time

import cv2
import numpy as np
import pytest

from app.live.buffers import LatestBuffer
from app.live.capture import CapturedFrame
from app.live.compositing import MAX_TRACK_AGE_S, CompositingWorker
from app.live.detection import DetectionResult
from app.live.face_paste import prepare_face
from app.live.generation import GeneratedFace
from app.live.params import Params
from detectors import Face, FaceTracker
from detectors.alignment import align_face

JPEG_QUALITY = 80


def photo_and_face(shared_file, name):
    image = cv2.imread(str(shared_file(f"media/images/{name}")))
    [face] = json.loads(shared_file("media/faces.json").read_text())["images"][f"images/{name}"]["faces"]
    return image, Face(np.array(face["box"], np.float32), np.array(face["landmarks"], np.float32), face["score"])


@pytest.fixture(scope="module")
def camera(shared_file):
    """The camera's view: Grace Hopper, and where YuNet found her face."""
    return photo_and_face(shared_file, "grace_hopper.jpg")


@pytest.fixture(scope="module")
def generated(shared_file):
    image, face = photo_and_face(shared_file, "chris_pratt.jpg")
    return GeneratedFace(Params(), 1, prepare_face(align_face(image, face.landmarks, 64)[0]))


class Stage:
    """A running CompositingWorker and the buffers around it, fed by the test as capture and detection."""

    def __init__(self, camera, generated, camera_fps):
        self.image, self.face = camera
        self.captured, self.detections, self.faces, self.output = (LatestBuffer() for _ in range(4))
        self.faces.put(generated)
        self.worker = CompositingWorker(self.captured, self.detections, self.faces, self.output, JPEG_QUALITY,
                                        camera_fps=lambda: camera_fps)
        self.tracker = FaceTracker()
        self.shown = 0

    def stop(self) -> None:
        self.captured.close()                   # as the pipeline does: wakes the worker at once
        self.worker.stop()

    def capture(self, timestamp=None) -> CapturedFrame:
        frame = CapturedFrame(self.image, time.monotonic() if timestamp is None else timestamp)
        self.captured.put(frame)
        return frame

    def detect(self, frame: CapturedFrame) -> None:
        tracks = self.tracker.update([self.face], frame.timestamp)
        self.detections.put(DetectionResult(frame, self.captured.version, tracks))

    def next_shown(self):
        """The next encoded frame: (captured version it shows, version whose faces it pastes, decoded image)."""
        got = self.output.get_newer(self.shown, timeout=30)
        assert got is not None, "no frame was shown"
        self.shown, encoded = got
        image = cv2.imdecode(np.frombuffer(encoded.jpeg, np.uint8), cv2.IMREAD_COLOR)
        return encoded.version, encoded.faces_version, image

    def as_camera_gave_it(self) -> np.ndarray:
        return cv2.imdecode(cv2.imencode(".jpg", self.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1],
                            cv2.IMREAD_COLOR)

    def face_pasted(self, shown: np.ndarray) -> bool:
        x, y, w, h = self.face.box.astype(int)
        inner = (slice(y + h // 4, y + 3 * h // 4), slice(x + w // 4, x + 3 * w // 4))
        return np.abs(shown[inner].astype(int) - self.as_camera_gave_it()[inner].astype(int)).mean() > 10


@pytest.fixture
def make_stage(camera, generated):
    stages = []

    def make(camera_fps):
        stage = Stage(camera, generated, camera_fps)
        stage.worker.start()
        stages.append(stage)
        return stage

    yield make
    for stage in stages:
        stage.stop()


def test_a_frame_waits_for_its_own_detection_when_it_comes_within_a_frame_interval(make_stage):
    stage = make_stage(camera_fps=0.5)          # a frame interval of 2 s: detection always keeps up
    frame = stage.capture()
    stage.detect(frame)                         # arrives while the worker waits
    version, faces_version, shown = stage.next_shown()
    assert version == faces_version == 1 and stage.face_pasted(shown)


def test_every_frame_is_shown_when_detection_falls_behind_with_the_newest_faces(make_stage):
    stage = make_stage(camera_fps=50)
    stage.detect(stage.capture())
    assert stage.next_shown()[0] == 1
    for expected in (2, 3, 4):                  # detection never comes back with these frames
        stage.capture()
        version, faces_version, shown = stage.next_shown()
        assert (version, faces_version) == (expected, 1) and stage.face_pasted(shown)


def test_faces_found_too_long_before_a_frame_are_not_pasted_on_it(make_stage):
    stage = make_stage(camera_fps=50)
    stage.detect(stage.capture(timestamp=time.monotonic() - 2 * MAX_TRACK_AGE_S))
    stage.next_shown()
    stage.capture()
    version, faces_version, shown = stage.next_shown()
    assert (version, faces_version) == (2, 0) and np.array_equal(shown, stage.as_camera_gave_it())


def test_a_frame_whose_compositing_fails_is_shown_as_the_camera_gave_it(make_stage, monkeypatch):
    def broken_composite(*_):
        raise RuntimeError("warp failed")

    monkeypatch.setattr("app.live.compositing.composite", broken_composite)
    stage = make_stage(camera_fps=0.5)
    stage.detect(stage.capture())
    version, faces_version, shown = stage.next_shown()
    assert (version, faces_version) == (1, 0) and np.array_equal(shown, stage.as_camera_gave_it())
    stage.stop()
    assert stage.worker.error == "compositing failed: warp failed"
