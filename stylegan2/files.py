"""File helpers the engine shares: the sha256 that identifies a weights or network file."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Union

CHUNK_BYTES = 1 << 20


def file_sha256(path: Union[str, Path]) -> str:
    """The hex sha256 of a file's bytes, read in chunks (model files are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()
