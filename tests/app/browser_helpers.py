"""Debian's chromium for the browser tests: where it is and how it is started (no Playwright import here:
the oldest stack's test run, which leaves out the browser tests, has no Playwright)."""
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def launch(playwright, profile: Path):
    """A fresh persistent Chromium context in ``profile``, the size of a laptop screen."""
    return playwright.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS,
                                                         viewport={"width": 1200, "height": 900})
