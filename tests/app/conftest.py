"""Fixtures for the web layer and the app.

Unit tests get a Flask app over ``WebBackend``: the real parts the web layer is given (``LiveControls``:
the params store, a frame buffer, the viewers; and a ``ProjectionService`` with its real store, job
worker and face finder), without a camera or a running pipeline, so the API, auth and stream tests run
in milliseconds. A test publishes frames into the buffer itself, and may show a photo to the "camera"
(``camera_frame``). A real projection gets a tiny generator and the engine's stand-in perceptual
network. The HTTP and browser tests run the real server and the real ``StyleCam`` on the selfie clip,
with a small random-weight generator saved to a temporary file (a test fixture: the app never shows
such a model), and check what the stream shows against ``SelfieClip``: the clip's own frames with the
faces YuNet finds in them.
"""
from __future__ import annotations

import json
import time
from collections import OrderedDict
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np
import pytest
import torch

import stylegan2
from app.composition import StyleCam, StyleCamConfig
from app.live.buffers import LatestBuffer
from app.live.compositing import EncodedFrame
from app.live.face_paste import PreparedFace, composite, prepare_face
from app.live.generation import FaceGenerator
from app.live.params import Params
from app.live.params_store import ParamsStore
from app.live.presets import load_presets
from app.live.viewers import Viewers
from app.projection.jobs import ProjectionJobs
from app.projection.service import ProjectionService
from app.projection.store import ProjectionStore
from app.projection.targets import FaceFinder
from app.rendering import make_renderer
from app.studio.jobs import StudioJobs
from app.studio.service import StudioService
from app.web.config import ServerConfig
from app.web.factory import create_app
from app.web.interfaces import LiveControls
from app.web.server import StyleCamServer
from detectors import create_detector
from stylegan2.testing import fit_output_range, make_random_generator, save_standin
from tests.app.projection_helpers import GatedProjector, shrink

SELFIE = "media/videos/selfie_webcam_10s.mp4"
YUNET = "weights/face_detection_yunet_2026may.onnx"

TOKEN = "test-token-1234"
STATUS = {"source": {"state": "live"}, "live": "running", "viewers": 1, "views": {"stylized": 1},
          "camera_fps": 30.0, "stream_fps": 30.0, "detection_ms": 4.0, "generation_ms": 120.0, "faces": 1,
          "device": "cpu", "errors": []}      # the keys the page reads, as LivePipeline.status() has them


class WebBackend:
    """What ``StyleCamServer`` and ``create_app`` are given, made of the real parts, with no camera."""

    def __init__(self, generator: torch.nn.Module, folder: Path, face_finder: FaceFinder, projector,
                 **jobs_options) -> None:
        store = ProjectionStore(folder, generator)
        self.params = ParamsStore(load_presets(), check_projection=store.check)
        self.frames: LatestBuffer = LatestBuffer()
        self.views = {"stylized": self.frames, "camera": LatestBuffer()}      # no side-by-side view here
        self.tracked = {"frame_size": None, "faces": []}                       # what GET /api/faces answers
        self.live = LiveControls(self.params, self.frames, Viewers(idle_after_s=None), lambda: self.status(),
                                 views=self.views, faces=lambda: self.tracked)
        self.camera_frame: Optional[np.ndarray] = None       # What the "camera" shows (a BGR photo), if any.
        self.projection = ProjectionService(store, ProjectionJobs(projector, store, **jobs_options), face_finder,
                                            self.params, self.camera_faces)
        self.studio = StudioService(StudioJobs(lambda: generator, batch_size=4), self.params, store.load_ws)
        self.running = False
        self.models = None                                   # this backend cannot switch generators

    def camera_faces(self):
        if self.camera_frame is None:
            return None
        return self.camera_frame, self.projection.finder.faces(self.camera_frame)

    def status(self) -> dict:
        return dict(STATUS)

    @property
    def store(self) -> ProjectionStore:
        return self.projection.store

    def start(self) -> None:
        self.running = True
        self.projection.jobs.start()
        self.studio.jobs.start()

    def stop(self) -> None:
        self.running = False
        for frames in self.views.values():
            frames.close()
        self.params.close()
        self.projection.jobs.stop()
        self.studio.jobs.stop()

    def publish(self, shade: int, view: str = "stylized") -> EncodedFrame:
        """Put a small grey frame of the given shade into a view, as the pipeline's encoder would."""
        image = np.full((48, 64, 3), shade, np.uint8)
        frames = self.views[view]
        captured_version = 100 + frames.version           # the camera's count, unlike the buffer's
        frame = EncodedFrame(jpeg=cv2.imencode(".jpg", image)[1].tobytes(), version=captured_version,
                             faces_version=captured_version - 1,      # as when detection is a frame behind
                             params_version=self.params.changes.version, timestamp=time.time())
        frames.put(frame)
        return frame


@pytest.fixture(scope="session")
def token() -> str:
    return TOKEN


@pytest.fixture
def make_backend(tmp_path, projection_generator, face_finder):
    """Build a started ``WebBackend`` over ``projector`` (default: one that waits until released); stopped
    after the test."""
    made = []

    def make(projector=None, **jobs_options) -> WebBackend:
        backend = WebBackend(projection_generator, tmp_path / "projections", face_finder,
                             projector or GatedProjector(projection_generator), **jobs_options)
        backend.start()
        made.append(backend)
        return backend

    yield make
    for backend in made:
        if isinstance(backend.projection.jobs.projector, GatedProjector):
            backend.projection.jobs.projector.release.set()
        backend.stop()


@pytest.fixture
def backend(make_backend) -> WebBackend:
    return make_backend()


@pytest.fixture
def make_client(backend):
    """Build a test client over ``backend`` with the given server settings (token on by default)."""

    def make(token=TOKEN, bearer=False, **config):
        """``bearer``: present the token as a Bearer header on every request."""
        app = create_app(ServerConfig(token=token, **config), backend.live, backend.projection, backend.studio)
        app.testing = True
        client = app.test_client()
        if bearer:
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    return make


@pytest.fixture
def client(make_client):
    """A test client that presents the token as a Bearer header on every request."""
    return make_client(bearer=True)


# --- projection ----------------------------------------------------------------------------------------

PROJECTION_RESOLUTION = 32      # Tiny generator for projection tests: 8 W+ layers, a real projection in ~1 s.


@pytest.fixture(scope="session")
def projection_weights(tmp_path_factory) -> Path:
    """A 32 px random-weight generator with images in [-1, 1], saved like real weights (test fixture)."""
    G = fit_output_range(make_random_generator(resolution=PROJECTION_RESOLUTION, seed=3))
    path = tmp_path_factory.mktemp("weights") / "random-g32.pt"
    stylegan2.save(G, path, meta={"note": "random weights, test fixture"})
    return path


@pytest.fixture(scope="session")
def projection_generator(projection_weights) -> torch.nn.Module:
    """The generator of ``projection_weights``; tests must not modify it."""
    return stylegan2.load(projection_weights).generator


@pytest.fixture(scope="session")
def standin_perceptual(tmp_path_factory) -> Path:
    """The engine tests' random-weight stand-in for NVIDIA's vgg16.pt, as a TorchScript file."""
    return save_standin(tmp_path_factory.mktemp("perceptual") / "standin_vgg16.pt")


@pytest.fixture(scope="session")
def face_finder(yunet_file, projection_generator) -> FaceFinder:
    return FaceFinder(lambda: create_detector("yunet", model_path=yunet_file), projection_generator.img_resolution)


# --- the real server on the selfie clip ----------------------------------------------------------------

# Tracking smooths the landmarks the pipeline pastes at, so "the face shown" is near, not exact: the
# right candidate must be at most this fraction of the other's distance (a wrong face gives 2 to 5).
CLEARLY_NEARER = 0.75


class SelfieClip:
    """The selfie clip as the pipeline reads it, and the faces YuNet finds in each frame (faces.json).

    ``X-Frame-Version`` n is the clip's frame (n - 1) modulo its length (the source loops), so a test
    can rebuild what any streamed frame should show: that camera frame with a given face pasted on where
    the heads are in it (``distances``).
    """

    KEPT_FRAMES = 64

    def __init__(self, video: Path, faces_json: Path) -> None:
        self.video = video
        self._capture = None
        self._next_index = 0
        self._decoded: "OrderedDict[int, np.ndarray]" = OrderedDict()
        described = json.loads(faces_json.read_text())["videos"]["videos/" + video.name]
        self.frame_count = described["frame_count"]
        self.landmarks = {entry["frame"]: [np.array(face["landmarks"], np.float32) for face in entry["faces"]]
                          for entry in described["frames"]}

    def index(self, frame_version: int) -> int:
        return (frame_version - 1) % self.frame_count

    def has_face(self, frame_version: int) -> bool:
        """Whether YuNet finds a face in the clip's frame of that version (0: none was looked for)."""
        return frame_version > 0 and bool(self.landmarks[self.index(frame_version)])

    def camera_frame(self, frame_version: int) -> np.ndarray:
        """The clip's frame, decoded in order like the pipeline does; the most recent ones are kept."""
        index = self.index(frame_version)
        if index not in self._decoded:
            if self._capture is None or index < self._next_index:
                self._capture = cv2.VideoCapture(str(self.video))
                self._next_index = 0
            while self._next_index <= index:
                ok, image = self._capture.read()
                assert ok, f"cannot decode frame {self._next_index} of {self.video}"
                self._decoded[self._next_index] = image
                self._next_index += 1
                if len(self._decoded) > self.KEPT_FRAMES:
                    self._decoded.popitem(last=False)
        return self._decoded[index]

    def distances(self, shown: np.ndarray, frame_version: int, faces_version: int,
                  faces: List[PreparedFace]) -> List[float]:
        """How far ``shown`` (a streamed frame with those ``X-Frame-Version`` and ``X-Faces-Version``) is
        from that camera frame with each of ``faces`` pasted on where the heads are in it, over the pixels
        where those candidates differ (mean absolute difference, summed over channels).

        Where the heads are: the faces found in the shown frame itself. The pipeline pastes those when
        detection keeps up, and otherwise moves the faces of the frame ``faces_version`` to where the heads
        are in the shown frame (motion compensation), which is the same place give or take a few pixels;
        only a frame in which YuNet found no face falls back to the faces of ``faces_version``.
        Compared at a quarter of the size: the pipeline pastes at tracked (smoothed, moved) landmarks, a
        few pixels off the raw ones used here, and that must not count as a different face.
        """
        camera = self.camera_frame(frame_version)
        landmarks = self.landmarks[self.index(frame_version)] or self.landmarks[self.index(faces_version)]
        candidates = [shrink(composite(camera, landmarks, face)) for face in faces]
        differs = np.zeros(candidates[0].shape[:2], bool)
        for other in candidates[1:]:
            differs |= np.abs(other - candidates[0]).sum(axis=2) > 30
        assert differs.sum() > 30, "the candidate faces look alike: nothing to tell them apart by"
        shown = shrink(shown)
        return [float(np.abs(shown - candidate).sum(axis=2)[differs].mean()) for candidate in candidates]

    def face_shown(self, shown: List[Tuple[int, int, np.ndarray]], faces: List[PreparedFace]) -> Optional[int]:
        """Which of ``faces`` the (frame version, faces version, image) triples of streamed frames show: the
        index of the candidate that is clearly nearest over all of them, or None if none is."""
        totals = np.sum([self.distances(image, frame_version, faces_version, faces)
                         for frame_version, faces_version, image in shown], axis=0)
        best = int(np.argmin(totals))
        clearly = all(totals[best] < CLEARLY_NEARER * total for index, total in enumerate(totals) if index != best)
        return best if clearly else None


@pytest.fixture(scope="session")
def selfie(shared_file) -> SelfieClip:
    return SelfieClip(shared_file(SELFIE), shared_file("media/faces.json"))


@pytest.fixture(scope="session")
def yunet_file(shared_file) -> Path:
    return shared_file(YUNET)


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory) -> Path:
    """A small random-weight generator saved like real weights (64 px, renders in milliseconds)."""
    path = tmp_path_factory.mktemp("weights") / "random-g64.pt"
    stylegan2.save(make_random_generator(resolution=64), path, meta={"note": "random weights, test fixture"})
    return path


@pytest.fixture(scope="session")
def render_face(random_weights):
    """Params -> the face the pipeline pastes for them, rendered independently of the running pipeline (in
    the precision the app picks here: ``serve --precision auto``)."""
    faces = FaceGenerator(make_renderer(stylegan2.load(random_weights).generator, None, None), load_presets())

    def render(params: Params) -> PreparedFace:
        return prepare_face(faces.render(params))

    return render


@pytest.fixture(scope="session")
def selfie_pipeline_config(selfie, random_weights, yunet_file, standin_perceptual,
                           tmp_path_factory) -> StyleCamConfig:
    return StyleCamConfig(source=str(selfie.video), weights=str(random_weights), device="cpu",
                          detector="yunet", detector_model=str(yunet_file), perceptual=str(standin_perceptual),
                          projections_dir=str(tmp_path_factory.mktemp("projections")), projection_steps=30)


@pytest.fixture(scope="module")
def live_server(selfie_pipeline_config) -> Iterator[StyleCamServer]:
    """The real server and pipeline on the selfie clip, on a free port of 127.0.0.1, token required."""
    server = StyleCamServer(ServerConfig(host="127.0.0.1", port=0, token=TOKEN), StyleCam(selfie_pipeline_config))
    server.start_in_thread()
    yield server
    server.stop()
