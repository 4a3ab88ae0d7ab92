"""The real server's connections over real sockets: what a client that sends too much, too little or
too slowly gets, and that none of them can lock out a client with the token or cut an open stream.

The server runs over ``WebBackend`` (the real web parts, no camera); streams show frames the test
publishes.
"""
import json
import socket
import threading
import time
import urllib.request

import pytest

from app.web.config import API_RESERVED_THREADS, ServerConfig
from app.web.headers import SECURITY_HEADERS
from app.web.server import StyleCamServer
from app.web.streams import read_parts
from tests.app.conftest import WebBackend
from tests.app.projection_helpers import GatedProjector

pytestmark = pytest.mark.slow

ANSWER_WITHIN_S = 10.0      # a client that is served is served in well under this (or the test fails)


@pytest.fixture
def serve(tmp_path, projection_generator, face_finder, token):
    """Start a server with these ServerConfig settings (token on, 127.0.0.1, a free port); stopped after."""
    servers = []

    def start(**settings) -> StyleCamServer:
        backend = WebBackend(projection_generator, tmp_path / f"projections{len(servers)}", face_finder,
                             GatedProjector(projection_generator))
        server = StyleCamServer(ServerConfig(host="127.0.0.1", port=0, token=token, **settings), backend)
        server.start_in_thread()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def connect(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=ANSWER_WITHIN_S)


def get(server, path, token):
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}",
                                     headers={"Authorization": f"Bearer {token}"})
    return urllib.request.urlopen(request, timeout=ANSWER_WITHIN_S)


def closed_by_server(client: socket.socket, timeout: float) -> bool:
    """Whether the server closes ``client`` within ``timeout`` seconds (reading whatever it sent first)."""
    client.settimeout(timeout)
    try:
        while client.recv(65536):
            pass
    except socket.timeout:
        return False
    except ConnectionResetError:
        pass
    return True


def post_headers(length: int, token: str = "") -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST /api/params HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}"
            f"Content-Length: {length}\r\n\r\n").encode()


def status_line(client: socket.socket) -> str:
    client.settimeout(ANSWER_WITHIN_S)
    return client.recv(65536).split(b"\r\n", 1)[0].decode()


def test_a_body_over_the_limit_is_refused_from_its_content_length_before_it_is_sent(serve):
    server = serve()
    with connect(server) as client:
        client.sendall(post_headers(500_000_000))        # 500 MB announced, not one byte of it sent
        assert status_line(client) == "HTTP/1.1 413 Request Entity Too Large"


def test_waitress_own_refusals_carry_the_security_headers(serve):
    server = serve()
    with connect(server) as client:
        client.sendall(post_headers(500_000_000))
        client.settimeout(ANSWER_WITHIN_S)
        head = client.recv(65536).split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("HTTP/1.1 413")
    headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])
    assert {name: headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS


def test_a_body_of_exactly_the_limit_still_reaches_stylecam(serve, token):
    server = serve(max_request_bytes=1024)
    for length, status in ((1024, "400 BAD REQUEST"), (1025, "413 Request Entity Too Large")):
        body = json.dumps({"seed": 1, "padding": ""}).encode()
        body = body[:-2] + b"x" * (length - len(body)) + b'"}'
        with connect(server) as client:
            client.sendall(post_headers(len(body), token) + body)
            assert status_line(client) == f"HTTP/1.1 {status}"      # 400: StyleCam read it (no such field)


def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout(serve):
    server = serve(idle_timeout_s=1)
    with connect(server) as idle:
        assert closed_by_server(idle, timeout=ANSWER_WITHIN_S)


def test_a_request_trickled_in_is_cut_off_at_the_request_timeout_though_never_idle(serve):
    server = serve(idle_timeout_s=2, request_timeout_s=2.0)
    request = b"GET /api/params HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"x" * 100
    with connect(server) as slow:
        slow.setblocking(False)
        sent = 0
        while sent < len(request):
            try:
                if slow.recv(1) == b"":
                    break                                      # closed by the server
            except BlockingIOError:
                pass
            try:
                slow.send(request[sent:sent + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
            time.sleep(0.25)                                   # a byte every quarter second: never idle
        assert sent < len(request), "the server waited for the whole trickle"


def test_more_idle_connections_than_the_limit_lock_out_no_client_with_the_token(serve, token):
    server = serve(idle_timeout_s=60)       # the idle rule cannot be what makes room here
    idle = [connect(server) for _ in range(server.config.connection_limit + 10)]
    try:
        answer = get(server, "/api/params", token)
        assert answer.status == 200 and "seed" in json.load(answer)
    finally:
        for client in idle:
            client.close()


def publish_until(backend: WebBackend, stop: threading.Event) -> None:
    """Publish a frame every 50 ms, as a camera would, until ``stop``."""
    while not stop.wait(0.05):
        backend.publish(shade=20)


def test_an_open_stream_is_never_closed_to_make_room_nor_timed_out(serve, token):
    server = serve(threads=API_RESERVED_THREADS + 1, connection_limit=API_RESERVED_THREADS + 4,
                   idle_timeout_s=1, request_timeout_s=1.0)
    frames = server.backend
    frames.publish(shade=10)
    parts = read_parts(get(server, "/stream.mjpg", token))
    next(parts)
    stop = threading.Event()
    publisher = threading.Thread(target=publish_until, args=(frames, stop))
    publisher.start()
    idle = [connect(server) for _ in range(3 * server.config.connection_limit)]
    try:
        deadline = time.monotonic() + 3.0                     # past both timeouts, with the server full
        while time.monotonic() < deadline:
            headers, jpeg = next(parts)
            assert jpeg
        assert sum(closed_by_server(client, timeout=0.01) for client in idle) > 2 * server.config.connection_limit
    finally:
        stop.set()
        publisher.join()
        for client in idle:
            client.close()
