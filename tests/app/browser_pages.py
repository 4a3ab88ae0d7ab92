"""StyleCam's page opened in Chromium with Playwright, for the browser tests."""
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from playwright.sync_api import Page, sync_playwright

from tests.app.browser_helpers import launch


@contextmanager
def opened_page(profile: Path, port: int, token: Optional[str], init_script: Optional[str] = None) -> Iterator[Page]:
    """A fresh Chromium profile with StyleCam's page opened from the link it prints (``?token=``), after
    ``init_script`` is installed."""
    with sync_playwright() as playwright:
        context = launch(playwright, profile)
        page = context.new_page()
        if init_script:
            page.add_init_script(init_script)
        page.goto(f"http://127.0.0.1:{port}/?token={token}" if token else f"http://127.0.0.1:{port}/")
        try:
            yield page
        finally:
            context.close()
