"""The production server: waitress in front of the Flask app, and an orderly shutdown of everything.

Each open MJPEG stream holds one server thread for as long as it is watched, so the server gets many
threads and a cap on streams (``ServerConfig.max_streams``) that keeps some free for the page and the
API. A client that reads slowly makes only its own thread wait, and that thread then skips to the
newest frame. For "slowly" to mean anything, what may pile up for a client is kept small: waitress
blocks a writer once ``send_watermark_bytes`` are unsent (its default, 16 MB, is minutes of stale
video), and the kernel's send buffer is fixed at ``socket_send_buffer_bytes`` instead of growing to
megabytes on its own. A client that accepts nothing at all of what waits for it for ``send_timeout_s``
(a viewer that stopped reading, a phone that left the network) is disconnected, which frees its thread
and its stream slot; otherwise it would hold them until TCP gives up, which can take a quarter of an hour.

Connections that owe a request are kept on a short leash (``app.web.connections``): idle ones are closed
after ``idle_timeout_s``, a request must arrive within ``request_timeout_s``, its body may be at most
``max_request_bytes`` (refused from its Content-Length, before any of it is read), and at the connection
limit the longest-waiting connection gives way to the new one, so sockets that send nothing cannot lock
users out.

Shutdown (Ctrl-C, SIGTERM, or ``stop()``): stop accepting connections, let the open streams end, stop
the backend (which joins its workers and releases the camera), close the remaining connections and
join every server thread.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Callable, Dict, Optional

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from app.web.config import ServerConfig
from app.web.connections import ConnectionRules
from app.web.context import STREAMS
from app.web.factory import create_app
from app.web.headers import SECURITY_HEADERS
from app.web.interfaces import Backend

POLL_INTERVAL_S = 0.25       # how often the network loop looks at the stop flag when idle, and for stalled clients
CLEANUP_INTERVAL_S = 1       # how often waitress looks for idle connections (whole seconds)
THREAD_JOIN_TIMEOUT_S = 5.0

log = logging.getLogger(__name__)


class SecureErrorTask(ErrorTask):
    """Waitress's own answers (a body over the limit, a malformed request), which never reach the app, with
    the security headers the app puts on every answer of its own."""

    def execute(self) -> None:
        self.response_headers.extend(SECURITY_HEADERS.items())
        super().execute()


class StyleCamChannel(HTTPChannel):
    error_task_class = SecureErrorTask


class StyleCamServer:
    """The web app for ``backend`` on a waitress server; owns the backend's start and stop."""

    def __init__(self, config: ServerConfig, backend: Backend) -> None:
        self.config = config
        self.backend = backend
        self.app = create_app(config, backend.live, backend.projection, backend.studio, backend.models)
        self._socket_map: Dict[int, wasyncore.dispatcher] = {}
        self._stop_requested = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._wsgi = waitress.create_server(
            self.app,
            map=self._socket_map,
            sockets=[listening_socket(config)],
            threads=config.threads,
            outbuf_high_watermark=config.send_watermark_bytes,
            connection_limit=config.connection_limit,
            channel_timeout=config.idle_timeout_s,
            cleanup_interval=CLEANUP_INTERVAL_S,
            max_request_body_size=config.max_request_bytes + 1,    # waitress refuses a body of this size or more
            ident="StyleCam",
        )
        self._wsgi.channel_class = StyleCamChannel
        self._connections = ConnectionRules(config, self._socket_map)

    @property
    def port(self) -> int:
        """The port actually listened on (the one the OS picked when the config asked for 0)."""
        return int(self._wsgi.effective_port)

    def start(self) -> None:
        """Start the backend (a source file that cannot be opened raises SourceError); on failure, close all."""
        try:
            self.backend.start()
        except BaseException:
            self._shut_down()
            raise

    def serve_forever(self) -> None:
        """Serve until ``request_stop()``, then shut everything down in order. Call ``start()`` first."""
        next_check = 0.0
        try:
            while not self._stop_requested.is_set():
                self._connections.make_room()
                wasyncore.loop(timeout=POLL_INTERVAL_S, map=self._socket_map, use_poll=True, count=1)
                if time.monotonic() >= next_check:
                    self._connections.check()
                    next_check = time.monotonic() + POLL_INTERVAL_S
        finally:
            self._shut_down()

    def request_stop(self) -> None:
        """Ask ``serve_forever`` to return; safe from a signal handler and from any thread."""
        self._stop_requested.set()

    def start_in_thread(self) -> None:
        """Start, then serve from a background thread (tests, benchmarks); ``stop()`` ends it."""
        self.start()
        self._thread = threading.Thread(target=self.serve_forever, name="stylecam-server")
        self._thread.start()

    def stop(self) -> None:
        """Stop a server started with ``start_in_thread`` and wait until it has fully shut down."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join()

    def _shut_down(self) -> None:
        self._wsgi.accepting = False        # no new connections from here on
        streams = self.app.extensions[STREAMS]
        streams.closing.set()
        self._serve_until(lambda: streams.count == 0, self.config.shutdown_grace_s)
        self.backend.stop()
        for dispatcher in list(self._socket_map.values()):
            if isinstance(dispatcher, HTTPChannel):
                dispatcher.handle_close()   # also wakes a thread still waiting to send on it
        wasyncore.close_all(self._socket_map)
        self._wsgi.task_dispatcher.shutdown(timeout=THREAD_JOIN_TIMEOUT_S)

    def _serve_until(self, done: Callable[[], bool], timeout: float) -> None:
        """Keep the network loop turning so that ending streams can send their last bytes."""
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            wasyncore.loop(timeout=0.05, map=self._socket_map, use_poll=True, count=1)


def listening_socket(config: ServerConfig) -> socket.socket:
    """The bound server socket, made first, so that a port in use fails before anything has started.

    Connections accepted on it inherit its send buffer size (``socket_send_buffer_bytes``).
    """
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, config.socket_send_buffer_bytes)
        listening.bind((config.host, config.port))
    except OSError:
        listening.close()
        raise
    return listening
