"""Fixtures for the detector tests: the YuNet model, the annotated test media, decoded clips.

Everything heavy (detectors, faces.json, detections on every frame of a clip) is made once per session.
"""
import json

import cv2
import numpy as np
import pytest

from detectors import DetectorUnavailable, HaarDetector, YuNetDetector

YUNET_MODEL = "weights/face_detection_yunet_2026may.onnx"


@pytest.fixture(scope="session")
def yunet_path(shared_file):
    return shared_file(YUNET_MODEL)


@pytest.fixture(scope="session")
def yunet(yunet_path):
    return YuNetDetector(yunet_path)


@pytest.fixture(scope="session")
def haar(missing):
    """The Haar detector with OpenCV's own cascade; skips where OpenCV has no Haar cascades. An OpenCV 4
    without the cascade file is a missing file: a skip, or a failure where everything is required."""
    if not hasattr(cv2, "CascadeClassifier"):
        pytest.skip(f"OpenCV {cv2.__version__} has no cv2.CascadeClassifier (removed in OpenCV 5); "
                    f"the Haar tests run in an OpenCV 4 venv such as .venv-cv4")
    try:
        return HaarDetector()
    except DetectorUnavailable as error:
        missing(f"no Haar cascade file here: {error}")


@pytest.fixture(scope="session")
def annotations(shared_file):
    """faces.json: what YuNet found in each still and clip frame, and a person's face counts."""
    with open(shared_file("media/faces.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def no_face_images(annotations):
    """The stills in which a person counted no face at all (faces.json: human_count_range [0, 0])."""
    names = [name for name, image in annotations["images"].items() if image["human_count_range"] == [0, 0]]
    assert names, "faces.json should list at least one still without a face"
    return names


@pytest.fixture(scope="session")
def load_image(shared_file):
    """Read a still from media/ as faces.json did: BGR at full resolution."""

    def load(name: str, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
        image = cv2.imread(str(shared_file(f"media/{name}")), flags)
        assert image is not None, f"could not decode media/{name}"
        return image

    return load


@pytest.fixture(scope="session")
def clip_detections(shared_file, yunet):
    """Decode a clip and run YuNet on every frame: returns (frame shape, fps, faces per frame). Cached."""
    cache = {}

    def detect(name: str):
        if name not in cache:
            capture = cv2.VideoCapture(str(shared_file(f"media/videos/{name}")))
            fps = capture.get(cv2.CAP_PROP_FPS)
            frames_faces, shape = [], None
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                shape = frame.shape
                frames_faces.append(yunet.detect(frame))
            capture.release()
            assert frames_faces, f"could not decode any frame of {name}"
            cache[name] = (shape, fps, frames_faces)
        return cache[name]

    return detect
