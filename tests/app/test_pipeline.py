"""The whole pipeline on the selfie clip: frames flow, faces are found and replaced, stop leaves nothing.

The generator is a small random-weight 64 px model saved to a temporary file and loaded the way the
app loads real weights (a test fixture: the app never shows such a model).
"""
import json
import socket
import threading
import time

import cv2
import numpy as np
import pytest
import torch

import stylegan2
from app.params import ParamsError
from app.pipeline import Pipeline, PipelineConfig, PipelineConfigError, resolve_device
from app.sources import SourceError
from detector_helpers import BrokenDetector, CountingDetector
from detectors import create_detector
from stylegan2.testing import make_random_generator

SELFIE = "media/videos/selfie_webcam_10s.mp4"
YUNET = "weights/face_detection_yunet_2026may.onnx"


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "random-g64.pt"
    stylegan2.save(make_random_generator(resolution=64), path, meta={"note": "random weights, test fixture"})
    return path


@pytest.fixture
def config(shared_file, weights_file, tmp_path):
    return PipelineConfig(source=str(shared_file(SELFIE)), weights=str(weights_file), device="cpu",
                          detector="yunet", detector_model=str(shared_file(YUNET)), jpeg_quality=80,
                          projections_dir=str(tmp_path / "projections"))


def next_frame(pipeline, after_version=0, timeout=30.0):
    got = pipeline.frames.get_newer(after_version, timeout=timeout)
    assert got is not None, "no frame within the timeout"
    return got


def frame_showing(pipeline, params_version, timeout=60.0):
    """The first encoded frame made from params ``params_version`` (or newer)."""
    deadline = time.monotonic() + timeout
    version = 0
    while time.monotonic() < deadline:
        version, frame = next_frame(pipeline, version)
        if frame.params_version >= params_version:
            return frame
    raise AssertionError(f"no frame showed params version {params_version}")


def decode(frame):
    return cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR)


@pytest.fixture
def running(config):
    pipeline = Pipeline(config)
    pipeline.start()
    yield pipeline
    pipeline.stop()


def test_encoded_frames_flow_at_the_clips_size(running):
    _, frame = next_frame(running)
    assert decode(frame).shape == (480, 640, 3)
    assert frame.version >= 1


def test_the_face_in_the_clip_is_found_and_the_generated_face_pasted(running):
    frame_showing(running, running.params_version)
    deadline = time.monotonic() + 30
    while running.status()["compositing_ms"] is None:     # Set only once a face has been pasted.
        assert time.monotonic() < deadline, "no generated face pasted onto the selfie clip"
        next_frame(running)
    assert running.status()["faces"] >= 1
    assert running.status()["renders"] == 1


def test_a_slider_change_reaches_the_stream_with_its_params_version(running):
    frame_showing(running, running.params_version)
    changed, version = running.update_params({"sliders": {"style": 1.0}})
    assert changed.sliders["style"] == 1.0 and version == running.params_version
    frame_showing(running, version)
    assert running.status()["renders"] == 2


def test_a_bad_update_changes_nothing(running):
    before, version = running.params, running.params_version
    with pytest.raises(ParamsError) as caught:
        running.update_params({"seed": 3, "psi": 7})
    assert caught.value.field == "psi"
    assert running.params == before and running.params_version == version


def test_status_is_plain_json_with_the_live_figures(running):
    frame_showing(running, running.params_version)
    status = json.loads(json.dumps(running.status()))
    assert status["source"]["state"] == "live"
    assert status["source"]["name"] == "selfie_webcam_10s.mp4"
    assert status["device"] == "cpu" and status["detector"] == "yunet"
    assert status["model"]["resolution"] == 64 and status["model"]["format"] == "stylecam"
    assert status["generation_ms"] > 0
    for figure in ("camera_fps", "stream_fps", "detection_ms", "faces"):
        assert figure in status


def test_the_stream_follows_the_camera_not_a_slower_detector(config):
    # YuNet made to take 0.2 s a frame: six times slower than the selfie clip's 30 frames a second.
    detector = CountingDetector(create_detector("yunet", model_path=config.detector_model), delay_s=0.2)
    with Pipeline(config, detector=detector) as pipeline:
        version, _ = next_frame(pipeline)
        detections_before = detector.calls
        shown = []
        for _ in range(30):
            version, frame = next_frame(pipeline, version)
            shown.append(frame.version)
        detections = detector.calls - detections_before
    assert shown == sorted(set(shown))                   # 30 different camera frames, in order
    assert len(shown) >= 2 * detections, f"{len(shown)} frames shown while {detections} were detected"


def test_a_detector_that_fails_on_every_frame_leaves_the_stream_running_and_says_so(config):
    with Pipeline(config, detector=BrokenDetector()) as pipeline:
        version = 0
        for _ in range(10):
            version, _ = next_frame(pipeline, version)
        status = pipeline.status()
    assert "detection failed: detector crashed" in status["errors"] and status["faces"] == 0


def test_stop_joins_every_thread_releases_the_source_and_closes_the_stream(config):
    before = set(threading.enumerate())
    pipeline = Pipeline(config)
    pipeline.start()
    next_frame(pipeline)
    pipeline.stop()
    assert set(threading.enumerate()) <= before
    assert pipeline.capture._reader is None
    assert pipeline.frames.closed


def test_a_pipeline_starts_only_once(running):
    with pytest.raises(RuntimeError, match="started once"):
        running.start()


def test_a_stream_that_is_down_at_start_up_starts_reconnecting_with_the_placeholder(config):
    with socket.socket() as probe:               # a port nothing listens on: the stream is down
        probe.bind(("127.0.0.1", 0))
        down = f"rtsp://127.0.0.1:{probe.getsockname()[1]}/camera"
    with Pipeline(PipelineConfig(**{**config.__dict__, "source": down})) as pipeline:
        _, frame = next_frame(pipeline)
        source = pipeline.status()["source"]
    assert source["state"] in ("reconnecting", "lost") and "cannot open stream" in source["error"]
    placeholder = decode(frame)
    assert placeholder.shape == (480, 640, 3) and abs(np.median(placeholder) - 32) <= 2   # dark, at its default size


def test_a_missing_source_file_fails_before_anything_starts(config, tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        Pipeline(PipelineConfig(**{**config.__dict__, "source": str(tmp_path / "gone.mp4")}))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_auto_device_is_the_cpu_without_cuda():
    assert resolve_device("auto").type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_cuda_says_what_to_do():
    with pytest.raises(PipelineConfigError, match="--device cpu"):
        resolve_device("cuda")


@pytest.fixture
def two_gpus(monkeypatch):
    """torch.cuda as on a machine with two CUDA devices."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_a_cuda_device_number_that_exists_is_accepted(two_gpus):
    assert resolve_device("cuda:1") == torch.device("cuda:1")


def test_a_cuda_device_number_beyond_the_machines_devices_says_which_exist(two_gpus):
    with pytest.raises(PipelineConfigError, match=r"has 2 CUDA devices \(cuda:0 to cuda:1\)"):
        resolve_device("cuda:2")


def test_an_unknown_device_is_refused():
    with pytest.raises(PipelineConfigError, match="unknown device"):
        resolve_device("quantum")


def test_a_jpeg_quality_out_of_range_is_refused():
    with pytest.raises(PipelineConfigError, match="jpeg_quality"):
        PipelineConfig(jpeg_quality=0)


def test_every_face_in_a_still_photo_is_replaced_and_the_rest_is_left_alone(config, shared_file):
    photo = "media/images/office_three_people.jpg"
    boxes = [face["box"] for face in
             json.loads(shared_file("media/faces.json").read_text())["images"]["images/office_three_people.jpg"]["faces"]]
    with Pipeline(PipelineConfig(**{**config.__dict__, "source": str(shared_file(photo))})) as pipeline:
        frame_showing(pipeline, pipeline.params_version)
        while pipeline.status()["faces"] < len(boxes):
            next_frame(pipeline)
        seed_frame = decode(next_frame(pipeline, pipeline.frames.version)[1])   # made once all were found
        pipeline.update_params({"mode": "passthrough"})
        camera_frame = decode(frame_showing(pipeline, pipeline.params_version))
    difference = np.abs(seed_frame.astype(int) - camera_frame.astype(int)).sum(axis=2)
    outside = np.ones(difference.shape, bool)
    for box in boxes:
        x0, y0, w, h = (int(value) for value in box)
        x1, y1 = x0 + w, y0 + h
        assert difference[y0 + h // 4:y1 - h // 4, x0 + w // 4:x1 - w // 4].mean() > 20
        outside[max(y0 - h // 2, 0):y1 + h // 2, max(x0 - w // 2, 0):x1 + w // 2] = False
    assert np.percentile(difference[outside], 99) < 30   # JPEG noise only
