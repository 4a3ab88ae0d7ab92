"""Which YuNet runs where: OpenCV with the current model, onnxruntime, or OpenCV with the 2022mar model."""
from pathlib import Path

import pytest

from detectors import YuNetPlan, plan_yunet
from detectors.yunet_models import min_opencv_for, parse_version


def test_opencv_4_8_and_later_run_the_current_model_without_a_word():
    assert plan_yunet("4.8.0", True, False) == YuNetPlan("opencv", "yunet", "")
    assert plan_yunet("5.0.0", True, True) == YuNetPlan("opencv", "yunet", "")


def test_jetpack_4s_opencv_without_face_detector_yn_runs_yunet_in_onnxruntime():
    plan = plan_yunet("4.1.1", False, True)
    assert (plan.runner, plan.model) == ("onnxruntime", "yunet")
    assert plan.reason == "OpenCV 4.1.1 has no cv2.FaceDetectorYN: YuNet runs in onnxruntime instead"


def test_jetpack_5s_opencv_prefers_onnxruntime_with_the_current_model_to_the_old_model():
    plan = plan_yunet("4.5.4", True, True)
    assert (plan.runner, plan.model) == ("onnxruntime", "yunet")
    assert "cannot read YuNet's current model (it needs 4.8)" in plan.reason


def test_opencv_4_5_4_to_4_7_without_onnxruntime_run_the_2022mar_model_and_say_how_to_do_better():
    plan = plan_yunet("4.7.0", True, False)
    assert (plan.runner, plan.model) == ("opencv", "yunet-2022mar")
    assert plan.reason.endswith("using YuNet's older 2022mar model, which it can read (pip install onnxruntime "
                                "to run the current one)")


def test_without_face_detector_yn_or_onnxruntime_no_yunet_can_run():
    assert plan_yunet("4.1.1", False, False) is None


def test_the_2022mar_model_needs_opencv_4_5_4_and_later_ones_4_8():
    assert min_opencv_for(Path("/m/face_detection_yunet_2022mar.onnx")) == (4, 5, 4)
    assert min_opencv_for(Path("/m/face_detection_yunet_2026may.onnx")) == (4, 8, 0)


@pytest.mark.parametrize("text, version", [("4.1.1", (4, 1, 1)), ("4.10.0-dev", (4, 10, 0)), ("5.0", (5, 0, 0))])
def test_versions_are_compared_as_numbers(text, version):
    assert parse_version(text) == version
