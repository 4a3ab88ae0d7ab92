"""What the browser tests share: Chromium must be there (``pytest.mark.usefixtures("chromium")``)."""
import pytest

from tests.app.browser_helpers import CHROMIUM


@pytest.fixture(scope="module")
def chromium(missing):
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is not installed (apt-get install chromium)")
