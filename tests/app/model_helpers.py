"""Generator files for the model switcher's tests: small random-weight generators (test fixtures, never
shown as faces) saved with the engine's own saver, like the files users put in their models folder."""
from __future__ import annotations

from pathlib import Path

import stylegan2
from app.composition import StyleCam, StyleCamConfig
from stylegan2.testing import make_random_generator


def save_generator(path: Path, resolution: int = 32, seed: int = 0, w_dim: int = 32, **meta) -> Path:
    """A random generator of ``resolution`` px (8 W layers at 32, 10 at 64) saved at ``path``."""
    stylegan2.save(make_random_generator(resolution=resolution, w_dim=w_dim, z_dim=w_dim, seed=seed), path, meta)
    return path


def models_folder(folder: Path) -> Path:
    """A models folder of three generators: start.pt and same-shape.pt (32 px, 8 W layers, other weights)
    and bigger.pt (64 px, 10 W layers)."""
    folder.mkdir()
    save_generator(folder / "start.pt", resolution=32, seed=1)
    save_generator(folder / "same-shape.pt", resolution=32, seed=2)
    save_generator(folder / "bigger.pt", resolution=64, seed=3)
    return folder


def switchable_stylecam(models_dir: Path, yunet_file: Path, projections_dir: Path, **config) -> StyleCam:
    """The real StyleCam (not started) running start.pt (or ``weights``), with ``models_dir`` to switch in
    (and the rest of ``config``)."""
    config.setdefault("weights", str(models_dir / "start.pt"))
    return StyleCam(StyleCamConfig(source="0", device="cpu", detector="yunet",
                                   detector_model=str(yunet_file), projections_dir=str(projections_dir),
                                   models_dir=str(models_dir), precision="fp32", **config))
