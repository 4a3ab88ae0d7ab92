"""The studio's output files: labelled grids of faces, still images, GIF and MP4 animations.

Every file is written to a hidden temporary file beside its destination and renamed over it, so an
interrupted write never leaves half a file under the real name (or destroys an earlier one). Grids are
laid out with plain OpenCV text: row labels on the left, column labels on top, a caption under a cell.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from PIL import Image

STILL_SUFFIXES = (".png", ".jpg", ".jpeg")
ANIMATION_SUFFIXES = (".gif", ".mp4")
FONT = cv2.FONT_HERSHEY_SIMPLEX
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)
PathLike = Union[str, Path]


class OutputError(ValueError):
    """An output file that cannot be written: wrong kind of name, missing folder, full disk, ..."""


class GridCanvas:
    """A white page of `rows` x `columns` cells of `cell` px, with text labels around them and captions
    under cells (shrunk to the cell's width); cells are filled as their images arrive (`put`), so a partly
    rendered grid can be shown at any time (`image`)."""

    def __init__(self, rows: int, columns: int, cell: int, row_labels: Optional[Sequence[str]] = None,
                 column_labels: Optional[Sequence[str]] = None,
                 captions: Optional[Dict[Tuple[int, int], str]] = None) -> None:
        for name, labels, count in (("row", row_labels, rows), ("column", column_labels, columns)):
            if labels is not None and len(labels) != count:
                raise ValueError(f"{len(labels)} {name} labels for {count} {name}s")
        self.rows, self.columns, self.cell = rows, columns, cell
        self.captions = dict(captions or {})
        self.scale = max(0.35, cell / 320)
        self.thickness = 1 if cell < 384 else 2
        self.line = self._text_size("Ag")[1] + int(8 * self.scale) + 4
        self.left = (max(self._text_size(label)[0] for label in row_labels) + 2 * self._pad) if row_labels else 0
        self.top = self.line if column_labels else 0
        self.caption_height = self.line if self.captions else 0
        self.pitch = cell + self.caption_height
        self.image = np.full((self.top + rows * self.pitch, self.left + columns * cell, 3), BACKGROUND, np.uint8)
        for row, label in enumerate(row_labels or []):
            y = self.top + row * self.pitch + cell // 2 + self._text_size(label)[1] // 2
            self._write(label, self._pad, y)
        for column, label in enumerate(column_labels or []):
            width = self._text_size(label)[0]
            self._write(label, self.left + column * cell + (cell - width) // 2, self.top - self._pad - 2)
        for (row, column), caption in self.captions.items():
            self._check_cell(row, column)
            scale = self.scale
            while self._text_size(caption, scale)[0] > cell - 2 and scale > 0.15:
                scale *= 0.9
            width = self._text_size(caption, scale)[0]
            self._write(caption, self.left + column * cell + max((cell - width) // 2, 0),
                        self.top + row * self.pitch + cell + self.line - self._pad, scale)

    @property
    def _pad(self) -> int:
        return int(6 * self.scale) + 2

    def put(self, row: int, column: int, rgb: np.ndarray) -> None:
        """Place one uint8 RGB image in a cell (resized to the cell if need be)."""
        self._check_cell(row, column)
        if rgb.shape[:2] != (self.cell, self.cell):
            rgb = cv2.resize(rgb, (self.cell, self.cell), interpolation=cv2.INTER_AREA)
        y, x = self.top + row * self.pitch, self.left + column * self.cell
        self.image[y:y + self.cell, x:x + self.cell] = rgb[:, :, ::-1]

    def put_row(self, row: int, images_rgb: Sequence[np.ndarray], first_column: int = 0) -> None:
        for offset, rgb in enumerate(images_rgb):
            self.put(row, first_column + offset, rgb)

    def _check_cell(self, row: int, column: int) -> None:
        if not (0 <= row < self.rows and 0 <= column < self.columns):
            raise IndexError(f"cell ({row}, {column}) is outside the {self.rows} x {self.columns} grid")

    def _text_size(self, text: str, scale: Optional[float] = None) -> Tuple[int, int]:
        (width, height), baseline = cv2.getTextSize(text, FONT, scale or self.scale, self.thickness)
        return width, height + baseline

    def _write(self, text: str, x: int, y: int, scale: Optional[float] = None) -> None:
        cv2.putText(self.image, text, (int(x), int(y)), FONT, scale or self.scale, INK, self.thickness, cv2.LINE_AA)


def check_output(path: PathLike, suffixes: Sequence[str]) -> Path:
    """`path` if its extension is one of `suffixes` and its folder exists, else OutputError saying which."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise OutputError(f"cannot write {path.name!r}: expected a name ending in {' or '.join(suffixes)}")
    if not path.absolute().parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {path.absolute().parent} does not exist")
    return path


def write_image(path: PathLike, bgr: np.ndarray) -> None:
    """Write a still (.png or .jpg) atomically."""
    path = check_output(path, STILL_SUFFIXES)
    ok, encoded = cv2.imencode(path.suffix, bgr)
    if not ok:
        raise OutputError(f"cannot encode {path.name}")
    _write_atomically(path, lambda partial: partial.write_bytes(encoded.tobytes()))


def write_gif(path: PathLike, frames_rgb: Sequence[np.ndarray], fps: float, loop: bool = True) -> None:
    """Write uint8 RGB frames as a GIF (Pillow; an adaptive palette per frame), looping forever if `loop`."""
    path = check_output(path, (".gif",))
    images = [Image.fromarray(frame) for frame in _check_frames(frames_rgb)]
    options = dict(format="GIF", save_all=True, append_images=images[1:], duration=max(int(round(1000 / fps)), 20))
    if loop:
        options["loop"] = 0
    _write_atomically(path, lambda partial: images[0].save(partial, **options))


def write_mp4(path: PathLike, frames_rgb: Sequence[np.ndarray], fps: float) -> None:
    """Write uint8 RGB frames as an MP4 (MPEG-4 part 2, cv2.VideoWriter: what every OpenCV build with
    FFmpeg writes without further codecs)."""
    path = check_output(path, (".mp4",))
    frames = _check_frames(frames_rgb)
    height, width = frames[0].shape[:2]

    def write(partial: Path) -> None:
        writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
        if not writer.isOpened():
            raise OutputError(f"cannot write {path.name}: this OpenCV cannot encode MP4 video (no FFmpeg); "
                              f"write a .gif instead")
        try:
            for frame in frames:
                writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
        finally:
            writer.release()

    _write_atomically(path, write)


def write_animation(path: PathLike, frames_rgb: Sequence[np.ndarray], fps: float, loop: bool = True) -> None:
    """A .gif or .mp4, chosen by the extension (an MP4 has no loop flag: players loop it or not)."""
    if check_output(path, ANIMATION_SUFFIXES).suffix.lower() == ".gif":
        write_gif(path, frames_rgb, fps, loop)
    else:
        write_mp4(path, frames_rgb, fps)


def _check_frames(frames_rgb: Sequence[np.ndarray]) -> List[np.ndarray]:
    frames = list(frames_rgb)
    if not frames:
        raise OutputError("an animation needs at least one frame")
    shape = frames[0].shape
    if any(frame.dtype != np.uint8 or frame.shape != shape or frame.ndim != 3 for frame in frames):
        raise OutputError(f"animation frames must all be uint8 [H, W, 3] of one size, like the first {shape}")
    return frames


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Run `write(partial)` on a hidden file beside `path` (same extension, for writers that go by it),
    then rename it over `path`; on any failure the partial file goes and `path` is untouched."""
    partial = path.absolute().with_name(f".{path.stem}.{secrets.token_hex(4)}.partial{path.suffix}")
    try:
        write(partial)
        if not partial.is_file() or partial.stat().st_size == 0:
            raise OutputError(f"cannot write {path}: nothing was written")
        os.replace(partial, path)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        partial.unlink(missing_ok=True)
