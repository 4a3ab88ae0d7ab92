"""Training images: a zip in the layout of NVIDIA's dataset_tool (image files, optional dataset.json with
labels) or a plain folder of images, and the order in which training steps draw them.

The order is a pure function of (seed, step): every epoch is a fresh seeded shuffle, each training step
takes the next `batch` positions, and each process of a multi-process run takes its own slice of them.
A resumed run therefore draws exactly the images it would have drawn had it never stopped, and a batch
is the same whether one process or several share it.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Iterator, List, Optional, Tuple, Union

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .errors import DatasetError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
LABELS_FILE = "dataset.json"


class ImageDataset(torch.utils.data.Dataset):
    """Images as uint8 tensors [C, R, R] (C = 1 for an all-greyscale dataset, else 3) with their labels.

    Opening checks every image's header: all square, one power-of-two size, decodable. `mirror` (an
    attribute that may be set later) appends each image flipped left to right (NVIDIA's --mirror),
    doubling the dataset. Labels come from
    dataset.json when `use_labels`: an integer class becomes a one-hot vector, a list of numbers is used
    as it is; without labels `label_dim` is 0 and every label is an empty vector.
    """

    def __init__(self, path: Union[str, Path], mirror: bool = False, use_labels: bool = False):
        self.path = Path(path)
        self.mirror = mirror
        self._zip: Optional[zipfile.ZipFile] = None
        if not self.path.exists():
            raise DatasetError(f"{self.path}: no such dataset (expected a .zip from the dataset tool or a folder "
                               f"of images)")
        if self.path.is_file() and not zipfile.is_zipfile(self.path):
            raise DatasetError(f"{self.path}: is neither a zip archive nor a folder of images")
        all_names = self._all_names()
        self.names = sorted(name for name in all_names if name.lower().endswith(IMAGE_EXTENSIONS))
        if not self.names:
            raise DatasetError(f"{self.path}: holds no images (expected {', '.join(IMAGE_EXTENSIONS)} files)")
        self.resolution, self.num_channels = self._check_images()
        self.labels = np.zeros([len(self.names), 0], dtype=np.float32)
        if use_labels:
            self.read_labels()

    @property
    def label_dim(self) -> int:
        return self.labels.shape[1]

    def read_labels(self) -> None:
        """Use the labels of dataset.json (for a conditional generator); DatasetError if there are none."""
        self.labels = self._read_labels()

    def __len__(self) -> int:
        return len(self.names) * (2 if self.mirror else 1)

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, torch.Tensor]:
        raw = index % len(self.names)
        name = self.names[raw]
        try:
            with self._open(name) as file, Image.open(file) as image:
                pixels = np.array(image.convert("L" if self.num_channels == 1 else "RGB"))
        except (OSError, UnidentifiedImageError, ValueError) as error:
            raise DatasetError(f"{self.path}: image '{name}' cannot be decoded ({error})") from None
        if pixels.shape[:2] != (self.resolution, self.resolution):
            raise DatasetError(f"{self.path}: image '{name}' is {pixels.shape[1]}x{pixels.shape[0]}, the others "
                               f"{self.resolution}x{self.resolution}")
        pixels = pixels.reshape(self.resolution, self.resolution, -1).transpose(2, 0, 1)
        if index >= len(self.names):
            pixels = pixels[:, :, ::-1]
        return torch.from_numpy(np.ascontiguousarray(pixels)), torch.from_numpy(self.labels[raw].copy())

    def __getstate__(self) -> dict:
        """DataLoader workers get their own zip handle (one opened before a fork cannot be shared)."""
        return dict(self.__dict__, _zip=None)

    def _all_names(self) -> List[str]:
        if self.path.is_dir():
            return [str(path.relative_to(self.path).as_posix()) for path in self.path.rglob("*") if path.is_file()]
        try:
            return [info.filename for info in self._archive().infolist() if not info.is_dir()]
        except (zipfile.BadZipFile, OSError) as error:
            raise DatasetError(f"{self.path}: is a damaged zip archive ({error})") from None

    def _archive(self) -> zipfile.ZipFile:
        if self._zip is None:
            self._zip = zipfile.ZipFile(self.path)
        return self._zip

    def _open(self, name: str):
        return self._archive().open(name) if self.path.is_file() else open(self.path / name, "rb")

    def _check_images(self) -> Tuple[int, int]:
        """(resolution, channels) from every image's header; DatasetError naming the first that does not fit."""
        sizes, greyscale = {}, True
        for name in self.names:
            try:
                with self._open(name) as file, Image.open(file) as image:
                    size, mode = image.size, image.mode
            except (OSError, UnidentifiedImageError, zipfile.BadZipFile) as error:
                raise DatasetError(f"{self.path}: '{name}' is not a readable image ({error})") from None
            if size[0] != size[1] or size[0] < 4 or size[0] & (size[0] - 1):
                raise DatasetError(f"{self.path}: '{name}' is {size[0]}x{size[1]}; training needs square images "
                                   f"whose side is a power of two (make the dataset with the dataset tool's --size)")
            sizes.setdefault(size[0], name)
            greyscale = greyscale and mode in ("L", "I;16", "1")
        if len(sizes) > 1:
            found = ", ".join(f"{size}x{size} ('{name}')" for size, name in sorted(sizes.items()))
            raise DatasetError(f"{self.path}: images of different sizes: {found}; all must have one size")
        return next(iter(sizes)), 1 if greyscale else 3

    def _read_labels(self) -> np.ndarray:
        try:
            with self._open(LABELS_FILE) as file:
                listed = json.load(file).get("labels")
        except (OSError, KeyError):
            listed = None
        except (ValueError, AttributeError) as error:
            raise DatasetError(f"{self.path}: {LABELS_FILE} is not a JSON object with 'labels' ({error})") from None
        if not listed:
            raise DatasetError(f"{self.path}: the generator is conditional but the dataset has no labels "
                               f"({LABELS_FILE} with a 'labels' list)")
        by_name = {str(name): label for name, label in listed}
        missing = [name for name in self.names if name not in by_name]
        if missing:
            raise DatasetError(f"{self.path}: {len(missing)} images have no label in {LABELS_FILE} "
                               f"(e.g. '{missing[0]}')")
        raw = [by_name[name] for name in self.names]
        if all(isinstance(label, int) and label >= 0 for label in raw):
            return np.eye(max(raw) + 1, dtype=np.float32)[raw]
        try:
            return np.asarray(raw, dtype=np.float32).reshape(len(raw), -1)
        except ValueError as error:
            raise DatasetError(f"{self.path}: labels must be class numbers or equal-length lists ({error})") from None


class StepSampler:
    """Dataset indices for each training step from `start_step` on, forever: this process's slice of the
    step's global batch, in the seeded per-epoch order (see the module docstring). A DataLoader takes it
    as its `batch_sampler`."""

    def __init__(self, dataset_size: int, batch: int, seed: int, start_step: int = 0, rank: int = 0,
                 world_size: int = 1):
        if batch % world_size:
            raise ValueError(f"batch {batch} does not split over {world_size} processes")
        self.dataset_size = dataset_size
        self.batch = batch
        self.seed = seed
        self.start_step = start_step
        self.per_process = batch // world_size
        self.offset = rank * self.per_process
        self._epoch, self._order = -1, torch.empty([0], dtype=torch.int64)   # the epoch whose order is cached

    def step_indices(self, step: int) -> List[int]:
        positions = range(step * self.batch + self.offset, step * self.batch + self.offset + self.per_process)
        return [int(self.epoch_order(position // self.dataset_size)[position % self.dataset_size])
                for position in positions]

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """The dataset indices in the order epoch `epoch` visits them."""
        if self._epoch != epoch:
            seed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])
            generator = torch.Generator().manual_seed(seed)
            self._epoch, self._order = epoch, torch.randperm(self.dataset_size, generator=generator)
        return self._order

    def __iter__(self) -> Iterator[List[int]]:
        step = self.start_step
        while True:
            yield self.step_indices(step)
            step += 1
