"""Projection targets: the aligned face a projection matches, from a photo or from the camera.

Photos arrive from the network, so they are untrusted: their type is told from their first bytes
(never from the file name or the declared Content-Type) and only JPEG, PNG and WebP are opened; their
pixel count is read from the header and checked before anything is decoded, so a small file that
declares a huge image (a decompression bomb) is refused without allocating it; Pillow's own
``MAX_IMAGE_PIXELS`` guard counts as a refusal too. Uploads are scaled down to ``UPLOAD_SIDE`` while
decoding (a JPEG decodes at a reduced scale directly where that keeps the quality) and every later step
works in place: one decode and about two copies of at most that size instead of five full-size copies
(a 36-megapixel JPEG: ~300 MB at the peak instead of ~480). ``PhotoSlots`` bounds how many photos are
decoded at once, since every request thread could start one. The photo is turned upright from
its EXIF orientation (phones store portraits sideways), then the largest face is found and aligned to
the FFHQ layout at the generator's resolution, as the projector expects (``app.images`` converts it).

Every refusal is a ``TargetError`` whose ``status`` is the HTTP status the API answers with.
"""
from __future__ import annotations

import copy
import io
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from detectors import Detector, Face
from detectors.alignment import align_face

MAX_PIXELS = 40_000_000        # Largest photo decoded (a 50-megapixel phone photo is refused): ~120 MB as RGB.
UPLOAD_SIDE = 4096             # Uploads are scaled down to fit this square while decoding (~50 MB as RGB at most).
MAX_CONCURRENT_DECODES = 2     # Photos decoded and searched for faces at once; more are refused (503).
BUSY_RETRY_AFTER_S = 5         # What a refused upload is told to wait.
DETECT_WIDTH = 1024            # Photos are searched for faces at this width (faces are mapped back to full size).
SIGNATURES = {                 # Leading bytes -> (Pillow format, name for messages).
    b"\xff\xd8\xff": ("JPEG", "JPEG"),
    b"\x89PNG\r\n\x1a\n": ("PNG", "PNG"),
}
OBJECT_REPR = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>")      # how Python shows an object: type and address
NO_FACE_HINT = "use a photo in which one face is clearly visible, facing the camera, not too small"


class TargetError(ValueError):
    """A photo or frame that cannot become a projection target; ``status`` is the HTTP answer."""

    status = 400


class UnsupportedImage(TargetError):
    status = 415


class ImageTooLarge(TargetError):
    status = 413


class NoFaceFound(TargetError):
    status = 422


class PhotosBusy(TargetError):
    """Every photo slot is in use; ``retry_after_s`` says when to try again (HTTP 503, Retry-After)."""

    status = 503
    retry_after_s = BUSY_RETRY_AFTER_S


@dataclass(frozen=True)
class Target:
    image: np.ndarray       # BGR uint8 [R, R, 3] in the FFHQ layout: what the projector matches.
    source: str             # Where it came from, for the saved metadata: "camera", "upload:me.jpg", ...


def sniff_format(data: bytes) -> str:
    """The Pillow format of an image from its leading bytes; UnsupportedImage for anything else."""
    for signature, (pillow_format, _) in SIGNATURES.items():
        if data.startswith(signature):
            return pillow_format
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    raise UnsupportedImage("not a JPEG, PNG or WebP image (judged by its content, not its name)")


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS,
                 max_side: Optional[int] = UPLOAD_SIDE) -> np.ndarray:
    """An untrusted JPEG, PNG or WebP file's bytes -> an upright BGR uint8 image, or TargetError.

    The image is scaled down to fit ``max_side`` x ``max_side`` (None: kept at full size) as it is
    decoded, then turned upright and handed over in OpenCV's channel order in place, with no other copies.
    """
    if not data:
        raise TargetError("the image is empty")
    pillow_format = sniff_format(data)
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    try:
        image = Image.open(io.BytesIO(data), formats=[pillow_format])   # reads the header only
    except Image.DecompressionBombError as error:
        raise ImageTooLarge(f"the image declares too many pixels to decode safely ({error})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise undecodable(pillow_format, error) from None
    with image:
        width, height = image.size
        if width * height > limit:
            raise ImageTooLarge(f"the image is {width}x{height} pixels; at most {limit:,} pixels are "
                                f"accepted: send a smaller photo")
        try:
            if image.mode in ("1", "P"):                 # resized by nearest neighbour: convert them first
                image = image.convert("RGB")
            if max_side is not None:
                image.thumbnail((max_side, max_side))    # decodes at a reduced JPEG scale where it can
            ImageOps.exif_transpose(image, in_place=True)
            if image.mode != "RGB":
                image = image.convert("RGB")
            width, height = image.size
            pixels = image.tobytes("raw", "BGR")
        except (OSError, ValueError, SyntaxError) as error:
            raise undecodable(pillow_format, error) from None
    return np.frombuffer(bytearray(pixels), np.uint8).reshape(height, width, 3)


def undecodable(pillow_format: str, error: Exception) -> TargetError:
    """Pillow's reason, without the ``<_io.BytesIO object at 0x...>`` some of its messages name: a heap
    address is no business of the sender's."""
    reason = OBJECT_REPR.sub("", str(error)).strip()
    return TargetError(f"the {pillow_format} image cannot be decoded (truncated or damaged?): {reason}")


def aligned_target(frame: np.ndarray, landmarks: np.ndarray, resolution: int, source: str) -> Target:
    """The face at ``landmarks`` in a BGR frame, aligned to the FFHQ layout at ``resolution``."""
    crop, _ = align_face(frame, landmarks, resolution)
    return Target(crop, source)


def prealigned_target(image: np.ndarray, resolution: int, source: str) -> Target:
    """A BGR image that is already an aligned face (what a remote StyleCam sends) used as it is."""
    if image.shape[:2] != (resolution, resolution):
        raise TargetError(f"an aligned face must be exactly {resolution}x{resolution} pixels (this "
                          f"generator's resolution), got {image.shape[1]}x{image.shape[0]}")
    return Target(image, source)


class PhotoSlots:
    """At most ``count`` photos decoded and searched for faces at once.

    Each photo takes up to a few hundred MB for a moment and the server has many request threads, so
    a photo over the limit is refused at once (``PhotosBusy``) instead of waiting and holding memory.
    """

    def __init__(self, count: int = MAX_CONCURRENT_DECODES) -> None:
        self.count = count
        self._free = threading.Semaphore(count)

    @contextmanager
    def hold(self) -> Iterator[None]:
        if not self._free.acquire(blocking=False):
            raise PhotosBusy(f"{self.count} photos are being read right now; try again in "
                             f"{BUSY_RETRY_AFTER_S} seconds")
        try:
            yield
        finally:
            self._free.release()


PHOTO_SLOTS = PhotoSlots()     # Shared by every request thread of this process.


class FaceFinder:
    """Finds and aligns the largest face of still photos, with a detector of its own.

    Detectors are not thread-safe, and the live pipeline's is busy with the camera, so photos get
    their own, shared by the request threads under a lock (a photo takes tens of milliseconds).
    """

    def __init__(self, make_detector: Callable[[], Detector], resolution: int) -> None:
        self.resolution = resolution
        self._detector = make_detector()
        self._lock = threading.Lock()

    def at_resolution(self, resolution: int) -> "FaceFinder":
        """This finder (the same detector) aligning faces for a generator of ``resolution`` pixels."""
        finder = copy.copy(self)
        finder.resolution = resolution
        return finder

    def faces(self, image: np.ndarray) -> List[Face]:
        """Every face in a BGR image, largest first."""
        with self._lock:
            return self._detector.detect(image)

    def target(self, image: np.ndarray, source: str) -> Target:
        """The aligned largest face of a BGR photo; NoFaceFound if there is none."""
        faces = self.faces(image)      # Largest first, as every detector gives them.
        if not faces:
            raise NoFaceFound(f"no face found in the image; {NO_FACE_HINT}")
        return aligned_target(image, faces[0].landmarks, self.resolution, source)
