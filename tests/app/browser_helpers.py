"""Debian's chromium for the browser tests: where it is and how it is started (no Playwright import here:
the oldest stack's test run, which leaves out the browser tests, has no Playwright); and the real server
over a ``WebBackend`` whose views show frames, for the page to watch."""
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from app.web.config import ServerConfig
from app.web.server import StyleCamServer
from tests.app.conftest import WebBackend

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def launch(playwright, profile: Path):
    """A fresh persistent Chromium context in ``profile``, the size of a laptop screen."""
    return playwright.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS,
                                                         viewport={"width": 1200, "height": 900})


def publish_until(backend: WebBackend, stop: threading.Event) -> None:
    """Publish a frame of a changing shade to each of ``backend``'s views every 0.1 s until ``stop``."""
    shade = 0
    while not stop.wait(0.1):
        shade = (shade + 10) % 250
        for view in backend.views:
            backend.publish(shade, view)


@contextmanager
def serving(backend: WebBackend, token: str) -> Iterator[StyleCamServer]:
    """The real server over ``backend`` on a free port of 127.0.0.1, its views fed with frames meanwhile."""
    server = StyleCamServer(ServerConfig(host="127.0.0.1", port=0, token=token), backend)
    server.start_in_thread()
    stop = threading.Event()
    publisher = threading.Thread(target=publish_until, args=(backend, stop))
    publisher.start()
    try:
        yield server
    finally:
        stop.set()
        publisher.join()
        server.stop()
