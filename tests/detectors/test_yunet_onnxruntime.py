"""YuNet run by onnxruntime (for OpenCVs that cannot run it) gives OpenCV's detections, on the real photos."""
import numpy as np
import pytest

import detectors
from detectors import (
    DetectorUnavailable,
    YuNetChoiceWarning,
    YuNetDetector,
    YuNetOnnxDetector,
    YuNetPlan,
    yunet_onnxruntime,
)
from tests.detectors.test_yunet_detector import STILLS, listed_faces


@pytest.fixture(scope="module")
def yunet_onnx(yunet_path, missing):
    if yunet_onnxruntime.onnxruntime is None:
        missing("onnxruntime is not installed (pip install onnxruntime)")
    return YuNetOnnxDetector(yunet_path)


@pytest.mark.parametrize("name", STILLS)
def test_onnxruntime_finds_the_faces_opencv_found(name, yunet_onnx, annotations, load_image):
    """faces.json holds OpenCV's FaceDetectorYN's detections with the same model file."""
    expected = listed_faces(annotations, name)
    found = yunet_onnx.detect(load_image(f"images/{name}"))
    assert len(found) == len(expected)
    for face, listed in zip(found, sorted(expected, key=lambda f: -f["box"][2] * f["box"][3])):
        assert np.abs(face.box - listed["box"]).max() < 0.05
        assert np.abs(face.landmarks - np.asarray(listed["landmarks"])).max() < 0.05
        assert abs(face.score - listed["score"]) < 1e-3


def test_onnxruntime_and_opencv_agree_when_detecting_shrunk_and_at_most_two(yunet_onnx, yunet_path, load_image):
    image = load_image("images/group_fisheye.png")
    options = dict(max_faces=2, detect_width=320)
    found = YuNetOnnxDetector(yunet_path, **options).detect(image)
    expected = YuNetDetector(yunet_path, **options).detect(image)
    assert len(found) == len(expected) == 2
    assert all(np.abs(a.box - b.box).max() < 0.05 for a, b in zip(found, expected))


def test_without_onnxruntime_it_says_what_to_install(yunet_path, monkeypatch):
    monkeypatch.setattr(yunet_onnxruntime, "onnxruntime", None)
    with pytest.raises(DetectorUnavailable, match="onnxruntime is not installed.*pip install onnxruntime"):
        YuNetOnnxDetector(yunet_path)


def test_a_file_onnxruntime_cannot_read_is_refused_naming_it(yunet_onnx, tmp_path):
    damaged = tmp_path / "yunet.onnx"
    damaged.write_bytes(b"not a model")
    with pytest.raises(DetectorUnavailable, match="onnxruntime cannot load the YuNet model .*yunet.onnx"):
        YuNetOnnxDetector(damaged)


def test_create_detector_runs_yunet_in_onnxruntime_where_opencv_cannot_and_says_so(yunet_onnx, yunet_path,
                                                                                  monkeypatch):
    plan = YuNetPlan("onnxruntime", "yunet", "OpenCV 4.1.1 has no cv2.FaceDetectorYN: YuNet runs in onnxruntime")
    monkeypatch.setattr(detectors, "this_machines_plan", lambda: plan)
    with pytest.warns(YuNetChoiceWarning, match="4.1.1 has no cv2.FaceDetectorYN: YuNet runs in onnxruntime"):
        detector = detectors.create_detector("auto", model_path=yunet_path)
    assert isinstance(detector, YuNetOnnxDetector)
    assert detector.description.startswith("YuNet (face_detection_yunet_2026may.onnx) in onnxruntime ")
