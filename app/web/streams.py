"""The MJPEG stream's mechanics: the cap on open streams, one client's stream, and the multipart format.

Every frame is JPEG-encoded once by the pipeline and shared: each stream client waits on the
pipeline's frame buffer for anything newer than what it sent last, so a client that is slow to
receive simply skips the frames it missed, and never holds up the pipeline or the other clients.
A client counts as a viewer of its view for as long as its stream is open (``app.live.viewers``): each
view is encoded only while someone watches it, once for all of them.
"""
from __future__ import annotations

import threading
from contextlib import ExitStack
from typing import BinaryIO, Dict, Iterator, Tuple

from app.live.buffers import LatestBuffer
from app.live.viewers import DEFAULT_VIEW, Viewers

BOUNDARY = "stylecam-frame"


class StreamClients:
    """The open streams: caps their number and tells them when the server shuts down."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.closing = threading.Event()      # set at shutdown: streams end within their wait for a frame
        self._count = 0
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        with self._lock:
            return self._count

    def try_open(self) -> bool:
        """Count one more stream, unless the cap is reached or the server is shutting down."""
        with self._lock:
            if self._count >= self.limit or self.closing.is_set():
                return False
            self._count += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._count -= 1


class MjpegStream:
    """One client's multipart stream: the newest frame each time the client is ready for one.

    A class rather than a generator so that ``close()`` (called by the WSGI server when the client
    goes away, even before the first frame) always gives the client's slot back.
    """

    def __init__(self, frames: LatestBuffer, clients: StreamClients, viewers: Viewers, wait_s: float,
                 view: str = DEFAULT_VIEW) -> None:
        self._frames = frames
        self._clients = clients
        self._wait_s = wait_s
        self._released = False
        self._watching = ExitStack()
        was_unwanted = self._watching.enter_context(viewers.watching(view))
        # A view nobody wanted (or woken from idle): its buffer holds a frame from before; wait for a fresh one.
        self._start_after = frames.version if was_unwanted else 0

    def __iter__(self) -> Iterator[bytes]:
        sent_version = self._start_after
        while not (self._clients.closing.is_set() or self._frames.closed):
            newer = self._frames.get_newer(sent_version, timeout=self._wait_s)
            if newer is not None:
                sent_version, frame = newer
                yield multipart_part(frame)

    def close(self) -> None:
        if not self._released:
            self._released = True
            self._watching.close()
            self._clients.release()


def multipart_part(frame) -> bytes:
    """One part of the stream; the headers say which camera frame it shows, the frame whose detected faces
    it pastes at, and which params' face it pastes."""
    headers = (f"--{BOUNDARY}\r\n"
               f"Content-Type: image/jpeg\r\n"
               f"Content-Length: {len(frame.jpeg)}\r\n"
               f"X-Frame-Version: {frame.version}\r\n"
               f"X-Faces-Version: {frame.faces_version}\r\n"
               f"X-Params-Version: {frame.params_version}\r\n"
               f"X-Timestamp: {frame.timestamp:.6f}\r\n\r\n")
    return headers.encode("ascii") + frame.jpeg + b"\r\n"


def read_parts(stream: BinaryIO) -> Iterator[Tuple[Dict[str, str], bytes]]:
    """Parse a stream body back into (headers, jpeg) parts: the client side, for tests and benchmarks."""
    while True:
        line = stream.readline()
        if not line:
            return
        if line.rstrip() != f"--{BOUNDARY}".encode("ascii"):
            continue                        # the blank line that ends the previous part
        headers = {}
        while line := stream.readline().rstrip():
            name, _, value = line.decode("ascii").partition(":")
            headers[name.strip()] = value.strip()
        if "Content-Length" not in headers:
            return                          # the stream ended in the middle of a part
        yield headers, stream.read(int(headers["Content-Length"]))
