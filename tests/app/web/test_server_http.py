"""The real server over real HTTP, with the real pipeline on the selfie clip.

What a client sees: live JPEG frames, a slider change that shows up as the new face exactly on the
frames whose ``X-Params-Version`` says so, a stalled client that holds up no one, and a shutdown that
ends every stream and leaves no thread behind.
"""
import dataclasses
import errno
import json
import socket
import threading
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from app.composition import StyleCam
from app.web.config import API_RESERVED_THREADS, ServerConfig
from app.web.context import STREAMS
from app.web.server import StyleCamServer
from app.web.streams import read_parts
from tests.app.clock_helpers import wait_until

pytestmark = pytest.mark.slow


def url(server, path):
    return f"http://127.0.0.1:{server.port}{path}"


def request(server, path, token, payload=None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data = None if payload is None else json.dumps(payload).encode()
    return urllib.request.urlopen(urllib.request.Request(url(server, path), data, headers), timeout=30)


def open_stream(server, token):
    return read_parts(request(server, "/stream.mjpg", token))


def decode(jpeg):
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)


def parts_showing(parts, params_version, selfie, count=3, limit=300):
    """The first ``count`` streamed frames made from ``params_version`` (or newer) with a face pasted on, as
    (frame version, faces version, image)."""
    found = []
    for _ in range(limit):
        headers, jpeg = next(parts)
        faces_version = int(headers["X-Faces-Version"])
        if int(headers["X-Params-Version"]) >= params_version and selfie.has_face(faces_version):
            found.append((int(headers["X-Frame-Version"]), faces_version, decode(jpeg)))
            if len(found) == count:
                return found
    raise AssertionError(f"too few frames showed params version {params_version} within {limit} frames")


def test_the_stream_delivers_live_frames_of_the_clip(live_server, token):
    parts = open_stream(live_server, token)
    versions = []
    for _ in range(5):
        headers, jpeg = next(parts)
        assert headers["Content-Type"] == "image/jpeg"
        assert decode(jpeg).shape == (480, 640, 3)
        versions.append(int(headers["X-Frame-Version"]))
    assert versions == sorted(set(versions))


def test_a_slider_change_puts_the_new_face_on_the_frames_that_say_so(live_server, token, selfie, render_face):
    parts = open_stream(live_server, token)
    before = live_server.backend.params.current().params
    old_version = int(request(live_server, "/api/params", token).headers["X-Params-Version"])
    shown_before = parts_showing(parts, old_version, selfie)

    answer = request(live_server, "/api/params", token, {"sliders": {"smile": 1.0}})
    after = live_server.backend.params.current().params
    assert json.load(answer)["sliders"]["smile"] == 1.0
    shown_after = parts_showing(parts, int(answer.headers["X-Params-Version"]), selfie)

    faces = [render_face(before), render_face(after)]
    assert selfie.face_shown(shown_before, faces) == 0, "before the change the stream must show the old face"
    assert selfie.face_shown(shown_after, faces) == 1, "after the change the stream must show the new face"


def test_without_the_token_the_stream_is_refused(live_server):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url(live_server, "/stream.mjpg"), timeout=10)
    assert refused.value.code == 401


def stalled_client(server, token) -> socket.socket:
    """A client that asks for the stream and then never reads it (with a tiny receive buffer)."""
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", server.port))
    stalled.sendall(f"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    return stalled


def test_a_stalled_client_holds_up_no_other_client(live_server, token):
    stalled = stalled_client(live_server, token)
    try:
        parts = open_stream(live_server, token)
        received = sum(len(next(parts)[1]) for _ in range(90))
        stalled.setblocking(False)
        held = 0
        while True:
            try:
                chunk = stalled.recv(1 << 20)
            except BlockingIOError:
                break
            assert chunk, "the server closed the stalled connection"
            held += len(chunk)
        assert held < received / 3, "the stalled client was sent everything anyway"
    finally:
        stalled.close()


def test_a_stalled_clients_stream_slot_is_reclaimed_for_a_new_client(selfie_pipeline_config, token):
    config = ServerConfig(host="127.0.0.1", port=0, token=token, threads=API_RESERVED_THREADS + 1,
                          send_timeout_s=1.0)                        # room for one stream
    server = StyleCamServer(config, StyleCam(selfie_pipeline_config))
    server.start_in_thread()
    stalled = stalled_client(server, token)
    try:
        streams = server.app.extensions[STREAMS]
        wait_until(lambda: streams.count == 1, timeout=30.0)
        with pytest.raises(urllib.error.HTTPError) as refused:
            open_stream(server, token)
        assert refused.value.code == 503
        wait_until(lambda: streams.count == 0, timeout=30.0)        # the server gave up on the stalled client
        headers, jpeg = next(open_stream(server, token))
        assert decode(jpeg).shape == (480, 640, 3)
        stalled.settimeout(10)
        while stalled.recv(1 << 20):                                # what it had been sent, then the end
            pass
    finally:
        stalled.close()
        server.stop()


def test_shutdown_ends_streams_stops_the_pipeline_and_leaves_no_thread(selfie_pipeline_config, token):
    before = set(threading.enumerate())
    stylecam = StyleCam(selfie_pipeline_config)
    server = StyleCamServer(ServerConfig(host="127.0.0.1", port=0, token=token), stylecam)
    server.start_in_thread()
    parts = open_stream(server, token)
    next(parts)
    server.stop()
    for _ in parts:         # what was already sent, then the end of the stream (a hang fails on timeout)
        pass
    assert stylecam.live.frames.closed
    assert set(threading.enumerate()) <= before


def test_a_port_in_use_is_a_clear_oserror(selfie_pipeline_config, token):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError) as caught:
            StyleCamServer(ServerConfig(host="127.0.0.1", port=port, token=token), StyleCam(selfie_pipeline_config))
    assert caught.value.errno == errno.EADDRINUSE


def test_with_nobody_watching_the_pipeline_idles_and_the_first_client_gets_fresh_frames(selfie_pipeline_config,
                                                                                         token):
    config = dataclasses.replace(selfie_pipeline_config, idle_after_s=0.5)
    server = StyleCamServer(ServerConfig(host="127.0.0.1", port=0, token=token), StyleCam(config))
    server.start_in_thread()
    def status():
        return json.load(request(server, "/api/status", token))

    try:
        wait_until(lambda: status()["live"] == "idle", timeout=30.0)
        assert status()["source"]["state"] == "idle"
        before = server.backend.live.frames.version
        headers, _ = next(open_stream(server, token))
        assert int(headers["X-Frame-Version"]) > before                 # not the frame from before the pause
        assert status()["live"] == "running" and status()["viewers"] == 1
    finally:
        server.stop()
