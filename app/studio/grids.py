"""Labelled grids of faces, laid out with plain OpenCV text: row labels on the left, column labels on top,
a caption under a cell (``app.images`` writes them)."""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)


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

    def put(self, row: int, column: int, bgr: np.ndarray) -> None:
        """Place one BGR image in a cell (resized to the cell if need be)."""
        self._check_cell(row, column)
        if bgr.shape[:2] != (self.cell, self.cell):
            bgr = cv2.resize(bgr, (self.cell, self.cell), interpolation=cv2.INTER_AREA)
        y, x = self.top + row * self.pitch, self.left + column * self.cell
        self.image[y:y + self.cell, x:x + self.cell] = bgr

    def put_row(self, row: int, images: Sequence[np.ndarray], first_column: int = 0) -> None:
        for offset, bgr in enumerate(images):
            self.put(row, first_column + offset, bgr)

    def _check_cell(self, row: int, column: int) -> None:
        if not (0 <= row < self.rows and 0 <= column < self.columns):
            raise IndexError(f"cell ({row}, {column}) is outside the {self.rows} x {self.columns} grid")

    def _text_size(self, text: str, scale: Optional[float] = None) -> Tuple[int, int]:
        (width, height), baseline = cv2.getTextSize(text, FONT, scale or self.scale, self.thickness)
        return width, height + baseline

    def _write(self, text: str, x: int, y: int, scale: Optional[float] = None) -> None:
        cv2.putText(self.image, text, (int(x), int(y)), FONT, scale or self.scale, INK, self.thickness, cv2.LINE_AA)
