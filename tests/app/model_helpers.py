"""Generator files for the model switcher's tests: small random-weight generators (test fixtures, never
shown as faces) saved with the engine's own saver, like the files users put in their models folder."""
from __future__ import annotations

from pathlib import Path

import stylegan2
from stylegan2.testing import make_random_generator


def save_generator(path: Path, resolution: int = 32, seed: int = 0, w_dim: int = 32, **meta) -> Path:
    """A random generator of ``resolution`` px (8 W layers at 32, 10 at 64) saved at ``path``."""
    stylegan2.save(make_random_generator(resolution=resolution, w_dim=w_dim, z_dim=w_dim, seed=seed), path, meta)
    return path
