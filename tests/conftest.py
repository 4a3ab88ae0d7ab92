"""Shared test settings.

Every test that needs the offline data (YuNet model, golden references, media) finds it through one
setting: ``--shared PATH`` or the ``STYLECAM_SHARED`` environment variable, defaulting to ``../shared``
beside the project root. A missing file makes the test skip with the path it looked for, never pass.
"""
import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser):
    parser.addoption(
        "--shared",
        default=os.environ.get("STYLECAM_SHARED", str(PROJECT_ROOT.parent / "shared")),
        help="folder with the offline test data (weights/, golden/, media/); default ../shared",
    )


@pytest.fixture(scope="session")
def shared_dir(request) -> Path:
    return Path(request.config.getoption("--shared")).resolve()


@pytest.fixture(scope="session")
def shared_file(shared_dir):
    """Return a function that resolves a path under the shared folder, skipping if it is absent."""

    def resolve(relative: str) -> Path:
        path = shared_dir / relative
        if not path.exists():
            pytest.skip(f"offline test data not found: {path} (set --shared or STYLECAM_SHARED)")
        return path

    return resolve
