"""Face datasets for training: every usable face in photos, folders and videos, aligned to the FFHQ layout.

``build_dataset(sources, out, detector, options)`` reads each photo (through the same untrusted-image
decoding as uploads: type by content, size and decompression-bomb checks, EXIF orientation) and every
``frame_step``-th frame of each video, finds every face (YuNet), aligns each to the FFHQ layout at the
dataset size, drops the ones ``face_quality`` judges too small, cut off by the frame edge, blurred, or
near-duplicates of faces already kept from the same video, and writes the rest into a zip in NVIDIA's
``dataset_tool.py`` layout (``dataset_zip``). Folders are searched recursively in name order; files that
are neither images nor videos are counted as unreadable and named, never fatal. When no face at all
can go into the dataset, nothing is written and ``NoUsableFaces`` says why, file by file.

Horizontal mirroring is not baked in: it is the trainer's ``--mirror`` option, applied at training time.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from app.live.sources import VIDEO_FILE_SUFFIXES
from app.projection.targets import TargetError, decode_image, sniff_format
from detectors import Detector, Face
from detectors.alignment import align_face, alignment_matrix

from .dataset_zip import DatasetZipWriter
from .face_quality import (
    BLUR_THRESHOLD,
    DUPLICATE_THRESHOLD,
    MIN_INSIDE,
    SHARPNESS_SIZE,
    NearDuplicates,
    inside_fraction,
    sharpness,
    square_side,
)

TOO_SMALL, CUT_OFF, BLURRED, DUPLICATE = "too small", "cut off by the frame edge", "blurred", "near-duplicate"
SKIP_REASONS = (TOO_SMALL, CUT_OFF, BLURRED, DUPLICATE)
MIN_SIZE, MAX_SIZE = 32, 1024
SIGNATURE_BYTES = 16       # Enough leading bytes to tell an image's type.
ProgressFn = Callable[[int, int], None]     # (work done, work in all): one unit per photo or video frame
PathLike = Union[str, Path]


class DatasetSourceError(ValueError):
    """A source path or an option that cannot make a dataset (missing path, bad size, ...)."""


class UnreadableFile(Exception):
    """A source file that is neither a photo nor a video that can be read; the message says why."""


class NoUsableFaces(ValueError):
    """Not one face could go into the dataset; ``report`` says what was read and why each face was left out."""

    def __init__(self, message: str, report: "DatasetReport") -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class DatasetOptions:
    size: int = 256                          # Side of the square faces, a power of two.
    min_side: Optional[int] = None           # Smallest face square in source pixels; None: half of size.
    frame_step: int = 1                      # Read every n-th frame of videos.
    blur_threshold: float = BLUR_THRESHOLD   # Faces less sharp than this are left out (face_quality).
    min_inside: float = MIN_INSIDE           # Faces with less of their square inside the frame are left out.
    duplicate_threshold: float = DUPLICATE_THRESHOLD

    def check(self) -> None:
        if self.size < MIN_SIZE or self.size > MAX_SIZE or self.size & (self.size - 1):
            raise DatasetSourceError(f"the face size must be a power of two from {MIN_SIZE} to {MAX_SIZE} "
                                     f"(StyleGAN2 trains on square power-of-two images), got {self.size}")
        if self.frame_step < 1:
            raise DatasetSourceError(f"the frame step must be at least 1, got {self.frame_step}")

    @property
    def smallest_side(self) -> float:
        return self.size / 2 if self.min_side is None else self.min_side


@dataclass(frozen=True)
class Source:
    path: Path
    kind: str              # "image", "video", or "other" (judged unreadable when it is read)


@dataclass
class DatasetReport:
    """What a build read, found, kept and left out."""

    output: Optional[Path] = None
    size: int = 0
    kept: int = 0
    photos: int = 0
    videos: int = 0
    frames: int = 0                                                  # video frames searched
    found: Dict[str, int] = field(default_factory=dict)              # faces found per file read
    skipped: Counter = field(default_factory=Counter)                # reason -> faces left out
    unreadable: List[Tuple[str, str]] = field(default_factory=list)  # (file, why)

    @property
    def faces_found(self) -> int:
        return sum(self.found.values())

    @property
    def without_faces(self) -> List[str]:
        return [name for name, count in self.found.items() if count == 0]

    def summary(self) -> List[str]:
        """The counts at the end of a build, a line each, for people."""
        lines = [f"Read {self.photos} photo(s) and {self.videos} video(s) ({self.frames} frame(s) searched); "
                 f"found {self.faces_found} face(s)."]
        if self.skipped:
            reasons = ", ".join(f"{self.skipped[reason]} {reason}" for reason in SKIP_REASONS if self.skipped[reason])
            lines.append(f"Left out {sum(self.skipped.values())} face(s): {reasons}.")
        if self.without_faces:
            lines.append(f"No face found in {len(self.without_faces)} file(s): {_some(self.without_faces)}.")
        if self.unreadable:
            lines.append(f"Could not read {len(self.unreadable)} file(s): "
                         f"{_some([f'{name} ({why})' for name, why in self.unreadable])}.")
        if self.output is not None:
            lines.append(f"Wrote {self.kept} face(s) of {self.size}x{self.size} to {self.output}.")
        return lines


def find_sources(paths: Sequence[PathLike], exclude: Optional[Path] = None) -> List[Source]:
    """Every file named or inside a named folder (recursively, in name order; hidden files skipped)."""
    sources: List[Source] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.rglob("*")
                           if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            files = [path]
        else:
            raise DatasetSourceError(f"{path} does not exist (expected photos, videos, or folders of them)")
        sources.extend(Source(f, _kind(f)) for f in files if exclude is None or f.resolve() != exclude.resolve())
    return sources


def build_dataset(paths: Sequence[PathLike], out: PathLike, detector: Detector,
                  options: DatasetOptions = DatasetOptions(), progress: Optional[ProgressFn] = None) -> DatasetReport:
    """Build the dataset zip ``out`` from photos, videos and folders; return what was found and kept.

    Raises DatasetSourceError before reading anything for a bad path or option, and NoUsableFaces (with
    nothing written) when no face can go into the dataset.
    """
    options.check()
    out = Path(out).expanduser()
    if out.suffix.lower() != ".zip":
        raise DatasetSourceError(f"the dataset must be a .zip file (NVIDIA's layout), got {out}")
    sources = find_sources(paths, exclude=out)
    if not sources:
        raise DatasetSourceError(f"no files in {', '.join(str(p) for p in paths)}")
    report = DatasetReport(size=options.size)
    progress = _Progress([_work_units(source) for source in sources], progress)
    with DatasetZipWriter(out, options.size) as writer:
        for source in sources:
            name = str(source.path)
            try:
                for frame, duplicates in _frames(source, options, report):
                    report.found.setdefault(name, 0)
                    _add_faces(frame, detector.detect(frame), duplicates, name, options, writer, report)
                    if duplicates is not None:
                        progress.advance(options.frame_step)
            except UnreadableFile as error:
                report.unreadable.append((name, str(error)))
            progress.next_source()
        report.kept = writer.count
        if report.kept == 0:
            raise NoUsableFaces(f"no face could go into the dataset, so nothing was written. "
                                f"{' '.join(report.summary())}", report)
        report.output = writer.commit()
    return report


def _frames(source: Source, options: DatasetOptions,
            report: DatasetReport) -> Iterator[Tuple[np.ndarray, Optional[NearDuplicates]]]:
    """The BGR frames to search: a photo's one (no duplicate check), or a video's every frame_step-th."""
    if source.kind == "image":
        yield _read_photo(source.path), None
        report.photos += 1
        return
    if source.kind == "other":
        raise UnreadableFile("neither a photo (JPEG, PNG, WebP: judged by its content) nor a video (judged by its "
                          f"name: {', '.join(VIDEO_FILE_SUFFIXES)})")
    capture = cv2.VideoCapture(str(source.path))
    try:
        if not capture.isOpened():
            raise UnreadableFile("cannot be opened as a video")
        duplicates = NearDuplicates(options.duplicate_threshold)
        index = 0
        while True:
            if index % options.frame_step:
                if not capture.grab():       # a frame to step over: not converted to an image
                    break
            else:
                ok, frame = capture.read()
                if not ok:
                    break
                report.frames += 1
                yield frame, duplicates
            index += 1
        if index == 0:
            raise UnreadableFile("no frame of the video could be decoded")
        report.videos += 1
    finally:
        capture.release()


def _read_photo(path: Path) -> np.ndarray:
    """A photo as upright BGR, through the untrusted-image decoding of uploads."""
    try:
        return decode_image(path.read_bytes())
    except TargetError as error:
        raise UnreadableFile(str(error)) from None
    except OSError as error:
        raise UnreadableFile(f"cannot be read: {error.strerror or error}") from None


def _add_faces(frame: np.ndarray, faces: List[Face], duplicates: Optional[NearDuplicates], name: str,
               options: DatasetOptions, writer: DatasetZipWriter, report: DatasetReport) -> None:
    report.found[name] += len(faces)
    for face in faces:
        reason = _reason_to_skip(frame, face, duplicates, options)
        if isinstance(reason, str):
            report.skipped[reason] += 1
        else:
            writer.add(cv2.cvtColor(reason, cv2.COLOR_BGR2RGB))


def _reason_to_skip(frame: np.ndarray, face: Face, duplicates: Optional[NearDuplicates],
                    options: DatasetOptions) -> Union[str, np.ndarray]:
    """Why the face stays out of the dataset, or its aligned BGR image if it goes in."""
    try:
        matrix = alignment_matrix(face.landmarks, options.size)
    except ValueError:                       # landmarks on top of each other: a face of no size
        return TOO_SMALL
    if square_side(matrix, options.size) < options.smallest_side:
        return TOO_SMALL
    if inside_fraction(matrix, options.size, frame.shape) < options.min_inside:
        return CUT_OFF
    aligned, _ = align_face(frame, face.landmarks, options.size)
    measured = aligned if options.size <= SHARPNESS_SIZE else align_face(frame, face.landmarks, SHARPNESS_SIZE)[0]
    if sharpness(measured) < options.blur_threshold:
        return BLURRED
    if duplicates is not None and duplicates.seen(aligned):
        return DUPLICATE
    return aligned


def _kind(path: Path) -> str:
    if path.suffix.lower() in VIDEO_FILE_SUFFIXES:
        return "video"
    try:
        with open(path, "rb") as f:
            sniff_format(f.read(SIGNATURE_BYTES))
        return "image"
    except (TargetError, OSError):
        return "other"


def _work_units(source: Source) -> int:
    """Progress units of a source: 1 for a photo, its frame count for a video (as its header says)."""
    if source.kind != "video":
        return 1
    capture = cv2.VideoCapture(str(source.path))
    try:
        return max(1, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
    finally:
        capture.release()


class _Progress:
    """Work done over all sources; a video whose header miscounts its frames is squared up at its end."""

    def __init__(self, units: List[int], callback: Optional[ProgressFn]) -> None:
        self.units, self.callback = units, callback
        self.total, self.start, self.done, self.index = sum(units), 0, 0, 0

    def advance(self, amount: int) -> None:
        self.done = min(self.done + amount, self.start + self.units[self.index])
        self._report()

    def next_source(self) -> None:
        self.start += self.units[self.index]
        self.index += 1
        self.done = self.start
        self._report()

    def _report(self) -> None:
        if self.callback:
            self.callback(self.done, self.total)


def _some(names: List[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
