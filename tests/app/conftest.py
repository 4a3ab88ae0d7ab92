"""Fixtures for the web layer: a Flask app over a stand-in pipeline with the real params validation.

The stand-in has the ``Pipeline`` interface (params, update_params, presets, frames, status, start,
stop) without cameras or models, so the API, auth and stream tests run in milliseconds. The HTTP and
browser tests use the real ``Pipeline``.
"""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from app import create_app
from app.buffers import LatestBuffer
from app.config import ServerConfig
from app.params import apply_update, default_params, load_presets
from app.pipeline import EncodedFrame

TOKEN = "test-token-1234"


class StandInPipeline:
    """The Pipeline interface over real params validation and a real frame buffer; no camera, no model."""

    def __init__(self) -> None:
        self.presets = load_presets()
        self._params = default_params(self.presets)
        self.params_version = 0
        self.frames: LatestBuffer = LatestBuffer()
        self.running = False

    @property
    def params(self):
        return self._params

    def update_params(self, payload):
        self._params = apply_update(self._params, payload, self.presets)
        self.params_version += 1
        return self._params

    def status(self) -> dict:
        return {"source": {"state": "live"}, "camera_fps": 30.0, "stream_fps": 30.0, "detection_ms": 4.0,
                "generation_ms": 120.0, "faces": 1, "device": "cpu"}

    def start(self) -> None:
        self.running = True

    def stop(self, timeout: float = 5.0) -> None:
        self.running = False
        self.frames.close()

    def publish(self, shade: int) -> EncodedFrame:
        """Put a small grey frame of the given shade, as the pipeline's encoder would."""
        image = np.full((48, 64, 3), shade, np.uint8)
        frame = EncodedFrame(jpeg=cv2.imencode(".jpg", image)[1].tobytes(), version=self.frames.version + 1,
                             params_version=self.params_version, timestamp=time.time())
        self.frames.put(frame)
        return frame


@pytest.fixture
def pipeline() -> StandInPipeline:
    return StandInPipeline()


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture
def make_client(pipeline):
    """Build a test client over ``pipeline`` with the given server settings (token on by default)."""

    def make(token=TOKEN, **config):
        app = create_app(ServerConfig(token=token, **config), pipeline)
        app.testing = True
        return app.test_client()

    return make


@pytest.fixture
def client(make_client):
    """A test client that presents the token as a Bearer header on every request."""
    client = make_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return client
