"""The one place where an image changes representation.

The app works in OpenCV's BGR uint8 arrays [H, W, 3]: camera frames, detectors, the compositor, the
JPEG and PNG codecs, uploads once decoded. The engine works in RGB float tensors [N, 3, H, W] in about
[-1, 1]: what the generator makes and what the projector matches. Everything that crosses between the
two goes through this module, so the colour order is flipped in exactly one place, and so do image
files: stills (``write_image``) and animations (``write_animation``), all BGR in, written atomically
(to a hidden file beside the destination, renamed over it, so an interrupted write never leaves half a
file under the real name or destroys an earlier one).
"""
from __future__ import annotations

import io
import os
import secrets
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Union

import cv2
import numpy as np
import torch
from PIL import Image

STILL_SUFFIXES = (".png", ".jpg", ".jpeg")
ANIMATION_SUFFIXES = (".gif", ".mp4")
PathLike = Union[str, Path]


class OutputError(ValueError):
    """An image file that cannot be written: wrong kind of name, missing folder, full disk, ..."""


def to_engine(image: np.ndarray, device: Optional[Union[str, torch.device]] = None) -> torch.Tensor:
    """A BGR uint8 image [H, W, 3] -> an RGB float32 tensor [1, 3, H, W] in [-1, 1]."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a BGR uint8 image [H, W, 3], got {image.dtype} {list(image.shape)}")
    rgb = torch.from_numpy(np.ascontiguousarray(image[:, :, ::-1])).permute(2, 0, 1).unsqueeze(0)
    return (rgb.to(device=device, dtype=torch.float32) / 127.5 - 1).contiguous()


def from_engine(images: torch.Tensor, index: int = 0) -> np.ndarray:
    """Image ``index`` of an RGB float batch [N, 3, H, W] in about [-1, 1] -> BGR uint8 [H, W, 3].

    Values are rounded to the nearest level and clipped to 0..255, as NVIDIA's scripts save images.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected RGB images [N, 3, H, W], got {list(images.shape)}")
    pixels = (images[index].detach().float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return np.ascontiguousarray(pixels.permute(1, 2, 0).cpu().numpy()[:, :, ::-1])


def all_from_engine(images: torch.Tensor) -> List[np.ndarray]:
    """Every image of an RGB float batch [N, 3, H, W] as BGR uint8 (``from_engine`` of each)."""
    return [from_engine(images, index) for index in range(images.shape[0])]


def check_output(path: PathLike, suffixes: Sequence[str]) -> Path:
    """`path` if its extension is one of `suffixes` and its folder exists, else OutputError saying which."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise OutputError(f"cannot write {path.name!r}: expected a name ending in {' or '.join(suffixes)}")
    if not path.absolute().parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {path.absolute().parent} does not exist")
    return path


def write_image(path: PathLike, bgr: np.ndarray) -> None:
    """Write a BGR still (.png or .jpg) atomically."""
    path = check_output(path, STILL_SUFFIXES)
    ok, encoded = cv2.imencode(path.suffix, bgr)
    if not ok:
        raise OutputError(f"cannot encode {path.name}")
    _write_atomically(path, lambda partial: partial.write_bytes(encoded.tobytes()))


def write_gif(path: PathLike, frames: Sequence[np.ndarray], fps: float, loop: bool = True) -> None:
    """Write BGR frames as a GIF (Pillow; an adaptive palette per frame), looping forever if `loop`."""
    path = check_output(path, (".gif",))
    data = gif_bytes(frames, fps, loop)
    _write_atomically(path, lambda partial: partial.write_bytes(data))


def gif_bytes(frames: Sequence[np.ndarray], fps: float, loop: bool = True) -> bytes:
    """BGR frames as the bytes of a GIF (Pillow; an adaptive palette per frame), looping forever if `loop`."""
    images = [Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)) for frame in _check_frames(frames)]
    options = dict(format="GIF", save_all=True, append_images=images[1:], duration=max(int(round(1000 / fps)), 20))
    if loop:
        options["loop"] = 0
    buffer = io.BytesIO()
    images[0].save(buffer, **options)
    return buffer.getvalue()


def write_mp4(path: PathLike, frames: Sequence[np.ndarray], fps: float) -> None:
    """Write BGR frames as an MP4 (MPEG-4 part 2, cv2.VideoWriter: what every OpenCV build with FFmpeg
    writes without further codecs)."""
    path = check_output(path, (".mp4",))
    frames = _check_frames(frames)
    height, width = frames[0].shape[:2]

    def write(partial: Path) -> None:
        writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
        if not writer.isOpened():
            raise OutputError(f"cannot write {path.name}: this OpenCV cannot encode MP4 video (no FFmpeg); "
                              f"write a .gif instead")
        try:
            for frame in frames:
                writer.write(frame)
        finally:
            writer.release()

    _write_atomically(path, write)


def write_animation(path: PathLike, frames: Sequence[np.ndarray], fps: float, loop: bool = True) -> None:
    """BGR frames as a .gif or .mp4, chosen by the extension (an MP4 has no loop flag: players loop it or not)."""
    if check_output(path, ANIMATION_SUFFIXES).suffix.lower() == ".gif":
        write_gif(path, frames, fps, loop)
    else:
        write_mp4(path, frames, fps)


def _check_frames(frames: Sequence[np.ndarray]) -> List[np.ndarray]:
    frames = list(frames)
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
