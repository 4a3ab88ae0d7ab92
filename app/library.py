"""The user's own model library: the folder where StyleCam looks for what a user made or brought.

``$STYLECAM_MODELS`` if set, else ``$XDG_DATA_HOME/stylecam/models`` (``~/.local/share/stylecam/models``).
Inside it, ``directions/`` holds directions files (``python -m app directions ... --out``) that a
presets file names by file name alone.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

MODELS_ENV = "STYLECAM_MODELS"


def default_models_dir() -> Path:
    """The user's models folder: ``$STYLECAM_MODELS``, else ``$XDG_DATA_HOME/stylecam/models``."""
    configured = os.environ.get(MODELS_ENV)
    if configured:
        return Path(configured).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "stylecam" / "models"


def directions_dir(models_dir: Optional[Path] = None) -> Path:
    """Where the user's directions files are: ``directions/`` in ``models_dir`` (default: the user's)."""
    return Path(models_dir if models_dir is not None else default_models_dir()) / "directions"
