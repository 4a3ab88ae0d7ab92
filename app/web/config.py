"""Server settings in one place: where StyleCam listens, who may see it, how many clients it serves.

The rest of StyleCam's settings (source, weights, device, detector, projection) live in
``app.composition.StyleCamConfig``; everything the web layer needs is here, with the defaults the
command line shows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

DEFAULT_HOST = "0.0.0.0"           # every interface, so a phone on the same network can open the page
DEFAULT_PORT = 5000
TOKEN_ENV = "STYLECAM_TOKEN"       # the access token can also come from the environment

API_RESERVED_THREADS = 4           # server threads kept free for the page and the API, never for streams


@dataclass(frozen=True)
class ServerConfig:
    host: str = DEFAULT_HOST            # Interface to listen on; "127.0.0.1" keeps it to this machine.
    port: int = DEFAULT_PORT            # TCP port; 0 picks a free one (tests).
    token: Optional[str] = None         # Access token; None means access control is switched off.
    threads: int = 24                   # Server threads: each open stream holds one for its lifetime.
    max_request_bytes: int = 8 << 20    # Largest request body (room for a photo upload); bigger gets 413.
    stream_wait_s: float = 0.5          # How long a stream waits for a frame before checking for shutdown.
    send_watermark_bytes: int = 128 << 10  # Bytes waitress buffers for a client before its stream waits.
    socket_send_buffer_bytes: int = 128 << 10  # The kernel's share of that backlog (SO_SNDBUF, per connection).
    shutdown_grace_s: float = 2.0       # Time open streams get to end cleanly at shutdown.
    send_timeout_s: float = 10.0        # A client that accepts none of the bytes waiting for it this long
                                        # (stopped reading, or vanished) is disconnected, freeing its stream slot.
    connection_limit: int = 100         # Open connections (waitress counts its own 2 sockets among them): the
                                        # page takes ~4 per viewer; at the limit the longest-waiting connection
                                        # that is not being served is closed to make room (app.web.connections).
    idle_timeout_s: int = 5             # A connection that sends nothing this long while it owes a request
                                        # (just opened, between requests, or stalled mid-request) is closed.
                                        # Whole seconds: it is waitress's channel_timeout.
    request_timeout_s: float = 60.0     # A request must arrive in full within this long of its first byte:
                                        # the largest upload needs ~1.1 Mbit/s; trickling headers cannot hold on.

    def __post_init__(self) -> None:
        if self.threads <= API_RESERVED_THREADS:
            raise ValueError(f"threads must be more than {API_RESERVED_THREADS} (got {self.threads})")
        for name in ("send_timeout_s", "idle_timeout_s", "request_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive (got {getattr(self, name)})")
        if self.connection_limit <= self.threads:
            raise ValueError(f"connection_limit must be more than threads ({self.threads}), got "
                             f"{self.connection_limit}")
        if self.token is not None and not self.token:
            raise ValueError("the access token must not be empty; switch it off explicitly instead")

    @property
    def max_streams(self) -> int:
        """Concurrent stream clients allowed, so that streams can never starve the page and the API."""
        return self.threads - API_RESERVED_THREADS
