"""Choosing a detector by name, and the automatic fallback from YuNet to Haar."""
import cv2
import pytest

from detectors import (DetectorFallbackWarning, DetectorUnavailable, HaarDetector, YuNetDetector,
                       create_detector)


def test_yunet_by_name_with_its_options(yunet_path):
    detector = create_detector("yunet", model_path=yunet_path, max_faces=2, detect_width=320)
    assert isinstance(detector, YuNetDetector) and detector.name == "yunet"
    assert detector.max_faces == 2


def test_auto_picks_yunet_where_it_can_run(yunet_path):
    assert create_detector("auto", model_path=yunet_path).name == "yunet"


def test_yunet_by_name_does_not_fall_back(tmp_path):
    with pytest.raises(DetectorUnavailable, match="weights fetch yunet"):
        create_detector("yunet", model_path=tmp_path / "absent.onnx")


def test_haar_by_name(haar):
    assert isinstance(create_detector("haar"), HaarDetector)


def test_auto_falls_back_to_haar_with_a_warning(haar, tmp_path):
    with pytest.warns(DetectorFallbackWarning, match="YuNet is unavailable"):
        detector = create_detector("auto", model_path=tmp_path / "absent.onnx")
    assert detector.name == "haar"


def test_auto_explains_both_failures_when_nothing_can_run(tmp_path, monkeypatch):
    monkeypatch.delattr(cv2, "CascadeClassifier", raising=False)
    both_reasons = "YuNet: .*weights fetch yunet.* Haar: .*opencv-python-headless<5"
    with pytest.raises(DetectorUnavailable, match=both_reasons):
        create_detector("auto", model_path=tmp_path / "absent.onnx")


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="auto, yunet, haar"):
        create_detector("mtcnn")
