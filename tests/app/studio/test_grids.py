"""Labelled grids of faces: cells hold exactly the images put there, labels stay outside them."""
import numpy as np
import pytest

from app.studio.grids import GridCanvas


def test_a_cell_holds_exactly_the_image_put_there():
    canvas = GridCanvas(2, 3, 16, row_labels=["seed 1", "seed 2"], column_labels=["a", "b", "c"],
                        captions={(1, 2): "caption"})
    bgr = np.random.RandomState(0).randint(0, 256, (16, 16, 3), dtype=np.uint8)
    canvas.put(1, 2, bgr)
    y, x = canvas.top + canvas.pitch, canvas.left + 2 * 16
    assert np.array_equal(canvas.image[y:y + 16, x:x + 16], bgr)


def test_labels_and_captions_are_drawn_outside_the_cells():
    canvas = GridCanvas(1, 1, 64, row_labels=["a long row label"], column_labels=["psi 0.70"],
                        captions={(0, 0): "a caption far wider than the cell"})
    cell = canvas.image[canvas.top:canvas.top + 64, canvas.left:canvas.left + 64]
    assert np.all(cell == 255)
    assert canvas.left > 0 and canvas.top > 0 and canvas.caption_height > 0
    assert np.any(canvas.image[:canvas.top] < 255) and np.any(canvas.image[canvas.top + 64:] < 255)


def test_a_cell_outside_the_grid_is_refused():
    with pytest.raises(IndexError, match=r"cell \(2, 0\) is outside the 2 x 2 grid"):
        GridCanvas(2, 2, 8).put(2, 0, np.zeros((8, 8, 3), np.uint8))
