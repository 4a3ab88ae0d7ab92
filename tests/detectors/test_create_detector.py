"""Choosing a detector by name, and the automatic fallback from YuNet to Haar."""
import cv2
import pytest

from detectors import DetectorFallbackWarning, DetectorUnavailable, HaarDetector, YuNetDetector, create_detector


def test_yunet_by_name_with_its_options(yunet_path):
    detector = create_detector("yunet", model_path=yunet_path, score_threshold=0.8, nms_threshold=0.4,
                               max_faces=2, detect_width=320)
    assert isinstance(detector, YuNetDetector) and detector.name == "yunet"
    assert (detector.score_threshold, detector.nms_threshold, detector.max_faces) == (0.8, 0.4, 2)


def test_auto_picks_yunet_where_it_can_run(yunet_path):
    assert create_detector("auto", model_path=yunet_path).name == "yunet"


def test_yunet_by_name_does_not_fall_back(tmp_path):
    with pytest.raises(DetectorUnavailable, match="YuNet model file not found"):
        create_detector("yunet", model_path=tmp_path / "absent.onnx")


def test_haar_by_name_with_its_options(haar):
    detector = create_detector("haar", scale_factor=1.2, min_neighbors=3)
    assert isinstance(detector, HaarDetector)
    assert (detector.scale_factor, detector.min_neighbors) == (1.2, 3)


def test_auto_falls_back_to_haar_with_a_warning(haar, tmp_path):
    with pytest.warns(DetectorFallbackWarning, match="YuNet is unavailable"):
        detector = create_detector("auto", model_path=tmp_path / "absent.onnx")
    assert detector.name == "haar"


def test_auto_gives_the_fallback_its_own_options(haar, tmp_path):
    with pytest.warns(DetectorFallbackWarning):
        detector = create_detector("auto", model_path=tmp_path / "absent.onnx", score_threshold=0.8,
                                   min_neighbors=3)
    assert detector.min_neighbors == 3


def test_auto_explains_both_failures_when_nothing_can_run(tmp_path, monkeypatch):
    monkeypatch.delattr(cv2, "CascadeClassifier", raising=False)
    both_reasons = "YuNet: .*absent.onnx.* Haar: .*opencv-python-headless<5"
    with pytest.raises(DetectorUnavailable, match=both_reasons):
        create_detector("auto", model_path=tmp_path / "absent.onnx")


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="auto, yunet, haar"):
        create_detector("mtcnn")


@pytest.mark.parametrize("name", ["auto", "yunet"])
def test_a_misspelt_option_is_an_error_that_names_it(name, yunet_path):
    with pytest.raises(TypeError, match="min_neighbours"):
        create_detector(name, model_path=yunet_path, min_neighbours=3)


def test_haar_options_are_an_error_for_yunet(yunet_path):
    with pytest.raises(ValueError, match="scale_factor and min_neighbors: options of the Haar cascade"):
        create_detector("yunet", model_path=yunet_path, scale_factor=1.2, min_neighbors=3)


def test_yunet_thresholds_are_an_error_for_haar():
    with pytest.raises(ValueError, match="nms_threshold: options of YuNet"):
        create_detector("haar", nms_threshold=0.5)
