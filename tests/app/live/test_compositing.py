"""The compositing stage: every camera frame is shown, with the faces found in it when detection keeps up
and with the newest tracked faces, moved with the head, when it does not; each face gets its own face if it
has one; each view is encoded while someone watches it; a failure shows the camera's frame instead.

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
from app.live.face_paste import composite, prepare_face
from app.live.generation import GeneratedFace
from app.live.motion import FaceMotion
from app.live.params import Params
from app.live.viewers import Viewers
from app.live.views import VIEWS
from detectors import Face, FaceTracker
from detectors.alignment import align_face
from tests.app.clock_helpers import FakeClock

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


@pytest.fixture(scope="module")
def other_face(shared_file):
    image, face = photo_and_face(shared_file, "luciano.png")
    return prepare_face(align_face(image, face.landmarks, 64)[0])


class Stage:
    """A running CompositingWorker and the buffers around it, fed by the test as capture and detection."""

    def __init__(self, camera, generated, camera_fps, viewers=None, detection_due=lambda version: True,
                 motion=None):
        self.image, self.face = camera
        self.captured, self.detections, self.faces, self.composited = (LatestBuffer() for _ in range(4))
        self.views = {view: LatestBuffer() for view in VIEWS}
        self.output = self.views["stylized"]
        self.faces.put(generated)
        self.worker = CompositingWorker(self.captured, self.detections, self.faces, self.views, JPEG_QUALITY,
                                        camera_fps=lambda: camera_fps, viewers=viewers, detection_due=detection_due,
                                        motion=motion, composited=self.composited)
        self.tracker = FaceTracker()
        self.shown = 0

    def stop(self) -> None:
        self.captured.close()                   # as the pipeline does: wakes the worker at once
        self.worker.stop()

    def capture(self, timestamp=None, image=None) -> CapturedFrame:
        frame = CapturedFrame(self.image if image is None else image,
                              time.monotonic() if timestamp is None else timestamp)
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

    def as_camera_gave_it(self, image=None) -> np.ndarray:
        return jpeg_round_trip(self.image if image is None else image)

    def face_pasted(self, shown: np.ndarray) -> bool:
        x, y, w, h = self.face.box.astype(int)
        inner = (slice(y + h // 4, y + 3 * h // 4), slice(x + w // 4, x + 3 * w // 4))
        return np.abs(shown[inner].astype(int) - self.as_camera_gave_it()[inner].astype(int)).mean() > 10


def jpeg_round_trip(image: np.ndarray) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1], cv2.IMREAD_COLOR)


@pytest.fixture
def make_stage(camera, generated):
    stages = []

    def make(camera_fps, **options):
        stage = Stage(camera, generated, camera_fps, **options)
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

    monkeypatch.setattr("app.live.compositing.paste_face", broken_composite)
    stage = make_stage(camera_fps=0.5)
    stage.detect(stage.capture())
    version, faces_version, shown = stage.next_shown()
    assert (version, faces_version) == (1, 0) and np.array_equal(shown, stage.as_camera_gave_it())
    stage.stop()
    assert stage.worker.error == "compositing failed: warp failed"


def test_a_frame_the_detector_skips_does_not_wait_for_a_detection(make_stage):
    stage = make_stage(camera_fps=0.001, detection_due=lambda version: version == 1)   # 1000 s per frame
    stage.detect(stage.capture())
    assert stage.next_shown()[:2] == (1, 1)
    stage.capture()                             # not due: shown at once (a wait would outlast the test)
    assert stage.next_shown()[:2] == (2, 1)


def test_faces_found_in_an_earlier_frame_are_pasted_where_the_head_moved_to(make_stage, generated):
    stage = make_stage(camera_fps=50, motion=FaceMotion())
    stage.detect(stage.capture())
    stage.next_shown()
    shift = np.float32([[1, 0, 14], [0, 1, -9]])
    moved_image = cv2.warpAffine(stage.image, shift, stage.image.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
    stage.capture(image=moved_image)
    version, faces_version, shown = stage.next_shown()
    assert (version, faces_version) == (2, 1)
    [track] = stage.tracker.update([stage.face], time.monotonic())
    where_it_is = composite(moved_image, [track.face.landmarks + [14, -9]], generated.face).astype(int)
    where_it_was = composite(moved_image, [track.face.landmarks], generated.face).astype(int)
    differs = np.abs(where_it_is - where_it_was).sum(axis=2) > 30
    assert differs.sum() > 1000
    distance = [np.abs(shown.astype(int) - candidate).sum(axis=2)[differs].mean()
                for candidate in (where_it_is, where_it_was)]
    assert distance[0] < 0.3 * distance[1]


def test_a_face_with_a_face_of_its_own_gets_it(make_stage, generated, other_face):
    stage = make_stage(camera_fps=0.5)
    frame = stage.capture()
    stage.detect(frame)
    _, _, everyones = stage.next_shown()
    [track] = stage.detections.latest()[1].tracks
    stage.faces.put(GeneratedFace(generated.params, 2, generated.face, {track.id: other_face}))
    stage.detect(stage.capture())
    _, _, its_own = stage.next_shown()
    expected = jpeg_round_trip(composite(stage.image, [track.face.landmarks], other_face))
    assert np.abs(its_own.astype(int) - expected).mean() < np.abs(everyones.astype(int) - expected).mean() / 3


def test_the_params_keep_as_much_of_the_mouth_as_they_say(make_stage, generated):
    stage = make_stage(camera_fps=0.5)
    stage.faces.put(GeneratedFace(Params(keep_mouth=1.0), 2, generated.face))
    stage.detect(stage.capture())
    _, _, shown = stage.next_shown()
    x, y = np.rint((stage.face.landmarks[3] + stage.face.landmarks[4]) / 2).astype(int)
    camera = stage.as_camera_gave_it()
    assert np.abs(shown[y - 3:y + 4, x - 3:x + 4].astype(int) - camera[y - 3:y + 4, x - 3:x + 4]).mean() < 3


def test_each_watched_view_is_encoded_and_the_others_are_not(make_stage):
    viewers = Viewers(idle_after_s=None)
    stage = make_stage(camera_fps=0.5, viewers=viewers)
    with viewers.watching("camera"), viewers.watching("side"):
        stage.detect(stage.capture())
        _, _, stylized = stage.next_shown()
        camera = stage.views["camera"].get_newer(0, timeout=30)[1]
        side = stage.views["side"].get_newer(0, timeout=30)[1]
    assert camera.params_version == camera.faces_version == 0 and side.faces_version == 1
    assert np.array_equal(decode(camera), stage.as_camera_gave_it())
    side_image = decode(side)
    assert side_image.shape == (stylized.shape[0], 2 * stylized.shape[1], 3)
    width = stylized.shape[1]
    assert np.abs(side_image[:, :width].astype(int) - stage.as_camera_gave_it()).mean() < 2
    assert np.abs(side_image[:, width:].astype(int) - stylized).mean() < 2


def test_while_only_the_camera_is_watched_nothing_is_composited(make_stage):
    clock = FakeClock()
    viewers = Viewers(idle_after_s=1.0, clock=clock)
    clock.now += 2.0                            # past the start-up visit of the stylized view
    stage = make_stage(camera_fps=0.5, viewers=viewers)
    with viewers.watching("camera"):
        stage.detect(stage.capture())
        got = stage.views["camera"].get_newer(0, timeout=30)
    assert got is not None and np.array_equal(decode(got[1]), stage.as_camera_gave_it())
    assert stage.output.version == 0 and stage.composited.version == 0
    assert stage.worker.compositing_ms.value is None


def test_the_virtual_camera_gets_the_composited_frames_unencoded(make_stage):
    viewers = Viewers(idle_after_s=None)
    stage = make_stage(camera_fps=0.5, viewers=viewers)
    with viewers.watching("virtual-camera"):
        stage.detect(stage.capture())
        _, _, shown = stage.next_shown()
    composited = stage.composited.latest()[1]
    assert composited.version == 1 and composited.image.shape == stage.image.shape
    assert np.abs(jpeg_round_trip(composited.image).astype(int) - shown).mean() < 1


def decode(encoded):
    return cv2.imdecode(np.frombuffer(encoded.jpeg, np.uint8), cv2.IMREAD_COLOR)
