"""Quieting OpenCV's console log around calls that warn about nothing the user can act on (a camera
index probed by every backend, YuNet's compute targets)."""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Tuple

import cv2

LOG_LEVEL_ERROR = 2     # OpenCV's level numbers: 0 silent, 1 fatal, 2 error, 3 warning, 4 info


def _log_level_functions() -> Tuple[Callable[[], int], Callable[[int], None]]:
    """OpenCV 4.x has cv2.getLogLevel/setLogLevel; OpenCV 5 moved them to cv2.utils.logging."""
    logging = getattr(cv2.utils, "logging", None)
    if logging is not None:
        return logging.getLogLevel, logging.setLogLevel
    return cv2.getLogLevel, cv2.setLogLevel


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Only OpenCV's errors reach the console inside the block; the previous level is restored after."""
    get_level, set_level = _log_level_functions()
    previous = get_level()
    set_level(LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        set_level(previous)
