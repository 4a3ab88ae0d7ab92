"""The one place where an image changes representation.

The app works in OpenCV's BGR uint8 arrays [H, W, 3]: camera frames, detectors, the compositor, the
JPEG and PNG codecs, uploads once decoded. The engine works in RGB float tensors [N, 3, H, W] in about
[-1, 1]: what the generator makes and what the projector matches. Everything that crosses between the
two goes through this module, so the colour order is flipped in exactly one place. Images written
to files are the app's (``write_image``).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Optional, Union

import cv2
import numpy as np
import torch


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


def write_image(path: Path, image: np.ndarray) -> None:
    """Write a BGR image atomically, in the format its name says (.jpg, .png, ...): encoded first, then
    written to a hidden file beside ``path`` and renamed over it, so a failure never leaves half an image
    (or destroys an earlier one) under the real name. ValueError if it cannot be encoded so; OSError if
    it cannot be written."""
    ok, encoded = cv2.imencode(path.suffix, image)
    if not ok:
        raise ValueError(f"cannot encode an image as {path.suffix or 'a file without extension'}")
    partial = path.absolute().with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)   # the umask applies
        with os.fdopen(descriptor, "wb") as file:
            file.write(encoded.tobytes())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
