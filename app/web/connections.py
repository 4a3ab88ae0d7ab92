"""Keeping connections from holding the server: the rules waitress lacks, applied by the network loop.

Waitress itself closes a connection that has sent and received nothing for ``idle_timeout_s`` while it
is not being served (its ``channel_timeout``), and refuses bodies over ``max_request_bytes`` from their
Content-Length. What it does not do, this does, every time the server's loop turns:

- a client that has bytes waiting for it and accepts none for ``send_timeout_s`` (a viewer that stopped
  reading, a phone that left the network) is disconnected: that also ends its stream and frees its slot;
- a request that has not arrived in full ``request_timeout_s`` after its first byte is cut off: a client
  that trickles a header byte now and then is never idle, so the idle rule alone would keep it forever;
- at the connection limit, instead of waitress no longer accepting anyone (so that a hundred sockets
  that send nothing lock every user out), the connection that has waited longest for a complete
  request is closed to make room. A connection being served (a running request, an open stream) is
  never chosen, and a real client's request arrives right after it connects, so it is served.

It runs in the loop's thread, which owns the connections, so closing one here races with nothing.
"""
from __future__ import annotations

import logging
import time
from typing import Dict, Iterator, MutableMapping, Tuple

from waitress import wasyncore
from waitress.channel import HTTPChannel

from app.web.config import ServerConfig

log = logging.getLogger(__name__)


class ConnectionRules:
    """The rules above for the connections in one waitress socket map."""

    def __init__(self, config: ServerConfig, socket_map: MutableMapping[int, wasyncore.dispatcher]) -> None:
        self.config = config
        self._map = socket_map
        self._request_started: Dict[HTTPChannel, Tuple[object, float]] = {}   # partial request, first seen
        self._full = False

    def check(self) -> None:
        """Disconnect stalled receivers and overdue requests (call a few times a second)."""
        now = time.time()                            # waitress keeps last_activity in time.time()
        started = {}
        for channel in self._channels():
            if channel.total_outbufs_len and channel.last_activity < now - self.config.send_timeout_s:
                log.warning("disconnecting %s: it accepted no data for %.0f s", channel.addr[0],
                            self.config.send_timeout_s)
                channel.handle_close()
            elif self._waiting(channel) and channel.request is not None:
                request, since = self._request_started.get(channel, (None, now))
                if request is not channel.request:
                    since = now                      # a new request began since the last look
                if since < now - self.config.request_timeout_s:
                    log.warning("disconnecting %s: its request did not arrive in full within %.0f s",
                                channel.addr[0], self.config.request_timeout_s)
                    channel.handle_close()
                else:
                    started[channel] = (channel.request, since)
        self._request_started = started

    def make_room(self) -> None:
        """At the connection limit, close the connection that has waited longest for a complete request."""
        if len(self._map) < self.config.connection_limit:
            self._full = False
            return
        waiting = [channel for channel in self._channels() if self._waiting(channel)]
        if not waiting:
            return                                   # every connection is being served: waitress waits
        if not self._full:
            log.warning("%d connections are open (the limit): closing the ones that waited longest for a "
                        "complete request to make room", len(self._map))
            self._full = True
        min(waiting, key=self._waiting_since).handle_close()

    def _channels(self) -> Iterator[HTTPChannel]:
        return (channel for channel in list(self._map.values()) if isinstance(channel, HTTPChannel))

    @staticmethod
    def _waiting(channel: HTTPChannel) -> bool:
        """Whether the connection is waiting for a request: none is being served or answered on it."""
        return not (channel.requests or channel.total_outbufs_len or channel.will_close
                    or channel.close_when_flushed)

    def _waiting_since(self, channel: HTTPChannel) -> float:
        """When it started owing a request: its partial request's first byte, or its last activity."""
        request, since = self._request_started.get(channel, (None, channel.last_activity))
        return since if request is channel.request else channel.last_activity
