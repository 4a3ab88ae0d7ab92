"""Writing a dataset zip in exactly the layout NVIDIA's ``dataset_tool.py`` produces.

Both trainers (NVIDIA's stylegan2-ada-pytorch and StyleCam's) read it: an uncompressed zip of
uncompressed PNGs named ``00000/img00000000.png``, ``00000/img00000001.png``, ... (a folder per thousand
images, named by the first five of the eight index digits), all RGB, square and the same power-of-two
size, and a ``dataset.json`` of ``{"labels": null}`` (these faces have no class labels). Mirroring is
not stored: the trainer's ``--mirror`` option flips images at training time.

The zip is written to a temporary file beside the target and moved into place only by ``commit()``,
so an interrupted or failed build leaves no zip, and an existing zip stays as it was until then.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image


def image_name(index: int) -> str:
    """The archive name of the ``index``-th image, as dataset_tool.py names it."""
    digits = f"{index:08d}"
    return f"{digits[:5]}/img{digits}.png"


class DatasetZipWriter:
    """Adds same-size RGB images to a new dataset zip; ``commit()`` finishes it, ``discard()`` drops it."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = Path(path)
        self.size = size
        self.count = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".part")
        os.close(handle)
        self._temporary: Optional[Path] = Path(temporary)
        self._archive = zipfile.ZipFile(self._temporary, "w", compression=zipfile.ZIP_STORED)

    def add(self, rgb: np.ndarray) -> str:
        """Store one uint8 RGB image [size, size, 3]; return its name in the archive."""
        if rgb.shape != (self.size, self.size, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"expected a uint8 RGB image of {self.size}x{self.size}, got {rgb.dtype} {rgb.shape}")
        buffer = io.BytesIO()
        Image.fromarray(rgb, "RGB").save(buffer, format="png", compress_level=0, optimize=False)
        name = image_name(self.count)
        self._archive.writestr(name, buffer.getvalue())
        self.count += 1
        return name

    def commit(self) -> Path:
        """Write dataset.json, close the zip and move it into place."""
        self._archive.writestr("dataset.json", json.dumps({"labels": None}))
        self._archive.close()
        with open(self._temporary, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(self._temporary, self.path)
        self._temporary = None
        return self.path

    def discard(self) -> None:
        """Drop the unfinished zip (the target path is left as it was)."""
        if self._temporary is not None:
            self._archive.close()
            self._temporary.unlink(missing_ok=True)
            self._temporary = None

    def __enter__(self) -> "DatasetZipWriter":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.discard()          # after commit() there is nothing left to discard
