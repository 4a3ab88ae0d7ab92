"""quiet_opencv on the OpenCV installed (5.x has cv2.utils.logging; 4.8, the oldest stack's, has
cv2.setLogLevel instead: scripts/test-stack oldest runs these there)."""
import cv2

from detectors.opencv_log import LOG_LEVEL_ERROR, _log_level_functions, quiet_opencv


def test_only_errors_are_logged_inside_the_block():
    get_level, _ = _log_level_functions()
    with quiet_opencv():
        assert get_level() == LOG_LEVEL_ERROR


def test_the_previous_level_is_restored_after_the_block():
    get_level, set_level = _log_level_functions()
    set_level(4)
    try:
        with quiet_opencv():
            pass
        assert get_level() == 4
    finally:
        set_level(3)


def test_a_camera_probed_inside_the_block_prints_no_warning(capfd):
    with quiet_opencv():
        cv2.VideoCapture(7).release()
    assert "WARN" not in capfd.readouterr().err
