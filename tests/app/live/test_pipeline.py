"""The whole of StyleCam on the selfie clip: frames flow, faces are found and replaced, stop leaves nothing.

The generator is a small random-weight 64 px model saved to a temporary file and loaded the way the
app loads real weights (a test fixture: the app never shows such a model).
"""
import json
import os
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import stylegan2
from app.composition import StyleCam, StyleCamConfig
from app.live.params import ParamsError
from app.live.pipeline import LiveConfig
from app.live.sources import SourceError
from app.live.virtual_camera import VirtualCameraError
from detectors import create_detector
from stylegan2.testing import make_random_generator, make_random_stylegan3
from tests.app.clock_helpers import wait_until
from tests.app.detector_helpers import BrokenDetector, CountingDetector
from tests.app.projection_helpers import fake_result

SELFIE = "media/videos/selfie_webcam_10s.mp4"
YUNET = "weights/face_detection_yunet_2026may.onnx"


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "random-g64.pt"
    stylegan2.save(make_random_generator(resolution=64), path, meta={"note": "random weights, test fixture"})
    return path


@pytest.fixture
def config(shared_file, weights_file, tmp_path):
    return StyleCamConfig(source=str(shared_file(SELFIE)), weights=str(weights_file), device="cpu",
                          detector="yunet", detector_model=str(shared_file(YUNET)), jpeg_quality=80,
                          projections_dir=str(tmp_path / "projections"))


def next_frame(stylecam, after_version=0, timeout=30.0):
    got = stylecam.live.frames.get_newer(after_version, timeout=timeout)
    assert got is not None, "no frame within the timeout"
    return got


def frame_showing(stylecam, params_version, timeout=60.0):
    """The first encoded frame made from params ``params_version`` (or newer)."""
    deadline = time.monotonic() + timeout
    version = 0
    while time.monotonic() < deadline:
        version, frame = next_frame(stylecam, version)
        if frame.params_version >= params_version:
            return frame
    raise AssertionError(f"no frame showed params version {params_version}")


def decode(frame):
    return cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR)


def params_version(stylecam) -> int:
    return stylecam.params.current().version


@pytest.fixture
def running(config):
    stylecam = StyleCam(config)
    stylecam.start()
    yield stylecam
    stylecam.stop()


def test_encoded_frames_flow_at_the_clips_size(running):
    _, frame = next_frame(running)
    assert decode(frame).shape == (480, 640, 3)
    assert frame.version >= 1


def test_the_face_in_the_clip_is_found_and_the_generated_face_pasted(running):
    frame_showing(running, params_version(running))
    deadline = time.monotonic() + 30
    while running.status()["compositing_ms"] is None:     # Set only once a face has been pasted.
        assert time.monotonic() < deadline, "no generated face pasted onto the selfie clip"
        next_frame(running)
    assert running.status()["faces"] >= 1
    assert running.status()["renders"] == 1


def test_a_slider_change_reaches_the_stream_with_its_params_version(running):
    frame_showing(running, params_version(running))
    changed, version = running.params.update({"sliders": {"style": 1.0}})
    assert changed.sliders["style"] == 1.0 and version == params_version(running)
    frame_showing(running, version)
    assert running.status()["renders"] == 2


def test_a_bad_update_changes_nothing(running):
    before, version = running.params.current()
    with pytest.raises(ParamsError) as caught:
        running.params.update({"seed": 3, "psi": 7})
    assert caught.value.field == "psi"
    assert running.params.current() == (before, version)


def test_status_is_plain_json_with_the_live_figures(running):
    frame_showing(running, params_version(running))
    status = json.loads(json.dumps(running.status()))
    assert status["source"]["state"] == "live"
    assert status["source"]["name"] == "selfie_webcam_10s.mp4"
    assert status["device"] == "cpu" and status["detector"] == "yunet"
    assert status["model"]["resolution"] == 64 and status["model"]["format"] == "stylecam"
    assert status["generation_ms"] > 0
    for figure in ("camera_fps", "stream_fps", "detection_ms", "faces"):
        assert figure in status


def test_status_and_saved_projections_name_the_weights_file_never_a_server_folder(config, weights_file):
    stylecam = StyleCam(config)
    store = stylecam.projection.store
    saved = store.save(fake_result(store.generator), "me", source="camera")
    shown = [json.dumps(stylecam.status()), (saved / "meta.json").read_text()]
    assert stylecam.status()["model"]["weights"] == json.loads(shown[1])["model"]["weights"] == weights_file.name
    for folder in (weights_file.parent, Path(config.source).parent, Path(config.projections_dir)):
        assert not any(str(folder) in text for text in shown)


def test_what_the_live_additions_show_names_projections_never_a_server_folder(config, weights_file):
    stylecam = StyleCam(config)
    store = stylecam.projection.store
    store.save(fake_result(store.generator), "me", source="camera")
    stylecam.params.update({"mode": "me", "projection": "me", "faces": {"3": {"projection": "me"}}})
    renamed = stylecam.projection.rename("me", "me-too")
    shown = [json.dumps(stylecam.status()), json.dumps(stylecam.pipeline.tracked_faces()),
             json.dumps(stylecam.projection.projections()), json.dumps(renamed),
             json.dumps(stylecam.params.current().params.to_json()), (store.path("me-too") / "meta.json").read_text()]
    assert stylecam.params.current().params.faces[3].to_json() == {"projection": "me-too"}
    for folder in (weights_file.parent, Path(config.source).parent, Path(config.projections_dir)):
        assert not any(str(folder) in text for text in shown)


def test_the_stream_follows_the_camera_not_a_slower_detector(config):
    # YuNet made to take 0.2 s a frame: six times slower than the selfie clip's 30 frames a second.
    detector = CountingDetector(create_detector("yunet", model_path=config.detector_model), delay_s=0.2)
    with StyleCam(config, detector=detector) as stylecam:
        version, _ = next_frame(stylecam)
        detections_before = detector.calls
        shown = []
        for _ in range(30):
            version, frame = next_frame(stylecam, version)
            shown.append(frame.version)
        detections = detector.calls - detections_before
    assert shown == sorted(set(shown))                   # 30 different camera frames, in order
    assert len(shown) >= 2 * detections, f"{len(shown)} frames shown while {detections} were detected"


def test_a_detector_that_fails_on_every_frame_leaves_the_stream_running_and_says_so(config):
    with StyleCam(config, detector=BrokenDetector()) as pipeline:
        version = 0
        for _ in range(10):
            version, _ = next_frame(pipeline, version)
        status = pipeline.status()
    assert "detection failed: detector crashed" in status["errors"] and status["faces"] == 0


def test_stop_joins_every_thread_releases_the_source_and_closes_the_stream(config):
    before = set(threading.enumerate())
    stylecam = StyleCam(config)
    stylecam.start()
    next_frame(stylecam)
    stylecam.stop()
    assert set(threading.enumerate()) <= before
    assert stylecam.pipeline.capture._reader is None
    assert stylecam.live.frames.closed


def test_a_pipeline_starts_only_once(running):
    with pytest.raises(RuntimeError, match="started once"):
        running.start()


def test_a_stream_that_is_down_at_start_up_is_not_found_with_the_placeholder(config):
    with socket.socket() as probe:               # a port nothing listens on: the stream is down
        probe.bind(("127.0.0.1", 0))
        down = f"rtsp://127.0.0.1:{probe.getsockname()[1]}/camera"
    with StyleCam(StyleCamConfig(**{**config.__dict__, "source": down})) as pipeline:
        _, frame = next_frame(pipeline)
        source = pipeline.status()["source"]
    assert source["state"] == "not_found" and "cannot open stream" in source["error"]
    placeholder = decode(frame)
    assert placeholder.shape == (480, 640, 3) and abs(np.median(placeholder) - 32) <= 2   # dark, at its default size


def test_a_missing_source_file_fails_before_anything_starts(config, tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        StyleCam(StyleCamConfig(**{**config.__dict__, "source": str(tmp_path / "gone.mp4")}))


def test_a_jpeg_quality_out_of_range_is_refused():
    with pytest.raises(ValueError, match="jpeg_quality"):
        LiveConfig(jpeg_quality=0)


def test_every_face_in_a_still_photo_is_replaced_and_the_rest_is_left_alone(config, shared_file):
    photo = "media/images/office_three_people.jpg"
    boxes = [face["box"] for face in
             json.loads(shared_file("media/faces.json").read_text())["images"]["images/office_three_people.jpg"]["faces"]]
    with StyleCam(StyleCamConfig(**{**config.__dict__, "source": str(shared_file(photo))})) as stylecam:
        frame_showing(stylecam, params_version(stylecam))
        while stylecam.status()["faces"] < len(boxes):
            next_frame(stylecam)
        seed_frame = decode(next_frame(stylecam, stylecam.live.frames.version)[1])   # made once all were found
        stylecam.params.update({"mode": "passthrough"})
        camera_frame = decode(frame_showing(stylecam, params_version(stylecam)))
    difference = np.abs(seed_frame.astype(int) - camera_frame.astype(int)).sum(axis=2)
    outside = np.ones(difference.shape, bool)
    for box in boxes:
        x0, y0, w, h = (int(value) for value in box)
        x1, y1 = x0 + w, y0 + h
        assert difference[y0 + h // 4:y1 - h // 4, x0 + w // 4:x1 - w // 4].mean() > 20
        outside[max(y0 - h // 2, 0):y1 + h // 2, max(x0 - w // 2, 0):x1 + w // 2] = False
    assert np.percentile(difference[outside], 99) < 30   # JPEG noise only


def test_detecting_every_third_frame_still_shows_every_frame_with_the_face_on_it(config):
    detector = CountingDetector(create_detector("yunet", model_path=config.detector_model))
    with StyleCam(StyleCamConfig(**{**config.__dict__, "detect_every": 3}), detector=detector) as stylecam:
        version, _ = next_frame(stylecam)
        detections_before, shown = detector.calls, []
        for _ in range(30):
            version, frame = next_frame(stylecam, version)
            shown.append((frame.version, frame.faces_version))
        detections = detector.calls - detections_before
        status = stylecam.status()
    assert status["detect_every"] == 3
    assert detections <= 12, f"{detections} detections for 30 frames"
    pasted_from_earlier = [faces for version, faces in shown if 0 < faces < version]
    assert len(pasted_from_earlier) >= 10, "frames in between carry the faces of an earlier one"


def test_the_camera_view_is_encoded_only_while_watched(config):
    with StyleCam(config) as stylecam:
        camera = stylecam.live.views["camera"]
        next_frame(stylecam)
        assert camera.version == 0
        with stylecam.live.viewers.watching("camera"):
            got = camera.get_newer(0, timeout=30)
            assert stylecam.status()["views"] == {"camera": 1} and stylecam.status()["viewers"] == 1
    assert got is not None and got[1].params_version == 0


def test_the_tracked_faces_say_where_each_face_is_and_what_it_was_given(config):
    with StyleCam(config) as stylecam:
        deadline = time.monotonic() + 30
        while not stylecam.pipeline.tracked_faces()["faces"]:
            assert time.monotonic() < deadline, "no face tracked"
            next_frame(stylecam)
        [face, *_] = stylecam.pipeline.tracked_faces()["faces"]
        stylecam.params.update({"faces": {str(face["id"]): {"seed": 5}}})
        faces = json.loads(json.dumps(stylecam.pipeline.tracked_faces()))
    assert faces["frame_size"] == [640, 480]
    chosen = [entry for entry in faces["faces"] if entry["id"] == face["id"]]
    assert chosen == [] or chosen[0]["choice"] == {"seed": 5}
    assert len(face["box"]) == 4 and face["choice"] is None


def test_a_virtual_camera_gets_the_stylized_frames_without_any_viewer(config, tmp_path):
    output = tmp_path / "virtual-camera.yuv"
    idle_config = StyleCamConfig(**{**config.__dict__, "virtual_camera": str(output), "idle_after_s": 0.5})
    with StyleCam(idle_config) as stylecam:
        time.sleep(1.0)                                  # longer than idle_after_s, and nobody watches
        written = stylecam.status()["virtual_camera"]["frames"]
        wait_until(lambda: stylecam.status()["virtual_camera"]["frames"] >= written + 5)
        live = stylecam.status()["live"]
    assert live == "running"
    assert output.stat().st_size % (640 * 480 * 2) == 0 and output.stat().st_size >= 5 * 640 * 480 * 2


def test_a_virtual_camera_that_cannot_be_used_fails_before_anything_starts(config):
    if os.path.exists("/sys/module/v4l2loopback"):
        pytest.skip("v4l2loopback is loaded here")
    stylecam = StyleCam(StyleCamConfig(**{**config.__dict__, "virtual_camera": "/dev/video10"}))
    with pytest.raises(VirtualCameraError, match="modprobe v4l2loopback"):
        stylecam.start()
    stylecam.stop()


def test_a_stylegan3_model_runs_live_like_a_stylegan2_one(config, tmp_path):
    weights_file = tmp_path / "sg3.pt"
    stylegan2.save(make_random_stylegan3("t", resolution=16, channel_base=512, channel_max=16), weights_file)
    with StyleCam(StyleCamConfig(**{**config.__dict__, "weights": str(weights_file)})) as stylecam:
        frame_showing(stylecam, params_version(stylecam))
        deadline = time.monotonic() + 30
        while stylecam.status()["compositing_ms"] is None:     # set once a face has been pasted
            assert time.monotonic() < deadline, "no StyleGAN3 face pasted onto the selfie clip"
            next_frame(stylecam)
        assert stylecam.status()["model"]["num_ws"] == 16
