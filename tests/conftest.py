"""Shared test settings.

Every test that needs the offline data (YuNet model, golden references, media) finds it through one
setting: ``--shared PATH`` or the ``STYLECAM_SHARED`` environment variable, defaulting to ``../shared``
beside the project root. A missing file makes the test skip with the path it looked for, never pass.

``STYLECAM_REQUIRE_ALL=1`` (CI sets it) turns those skips, and the browser test's skip without chromium,
into failures: where everything is installed, nothing may quietly not run.
"""
import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REQUIRE_ALL_ENV = "STYLECAM_REQUIRE_ALL"


def pytest_addoption(parser):
    parser.addoption(
        "--shared",
        default=os.environ.get("STYLECAM_SHARED", str(PROJECT_ROOT.parent / "shared")),
        help="folder with the offline test data (weights/, golden/, media/); default ../shared",
    )


@pytest.fixture(scope="session")
def shared_dir(request) -> Path:
    return Path(request.config.getoption("--shared")).resolve()


def skip_for_missing(reason: str) -> None:
    """Skip a test that lacks something outside the project (data, a browser), or fail it where
    ``$STYLECAM_REQUIRE_ALL`` is 1."""
    if os.environ.get(REQUIRE_ALL_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ALL_ENV}=1 requires it", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def missing():
    """``skip_for_missing``, for the tests that check for something themselves (e.g. the browser)."""
    return skip_for_missing


@pytest.fixture(scope="session")
def shared_file(shared_dir):
    """Return a function that resolves a path under the shared folder, skipping if it is absent."""

    def resolve(relative: str) -> Path:
        path = shared_dir / relative
        if not path.exists():
            skip_for_missing(f"offline test data not found: {path} (set --shared or STYLECAM_SHARED)")
        return path

    return resolve
