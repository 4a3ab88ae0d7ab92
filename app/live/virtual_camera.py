"""The virtual camera: the stylized stream as a webcam for video calls (Linux, v4l2loopback).

The v4l2loopback kernel module makes a video device that programs read like a camera and that StyleCam
writes to: ``serve --virtual-camera /dev/video10`` writes every composited frame there, and Zoom, Meet,
Teams, OBS or a browser pick "StyleCam" as their camera. The module is loaded once per boot::

    sudo apt install v4l2loopback-dkms          # or the distribution's v4l2loopback package
    sudo modprobe v4l2loopback devices=1 video_nr=10 card_label=StyleCam exclusive_caps=1

(``exclusive_caps=1``: browsers list the device as a camera only then.) Frames are written with plain
``write()`` calls after one ``VIDIOC_S_FMT`` ioctl that sets the size and the pixel format: YUYV (4:2:2,
BT.601 limited range), which every program that takes a webcam reads. No library is needed: pyvirtualcam,
which does the same, ships no wheels for ARM boards such as the Jetson.

Any other path (a file, or a named pipe that, say, ffmpeg reads as ``-f rawvideo -pix_fmt yuyv422``)
gets the same raw YUYV frames without the ioctl: that is how the output is tested without the module.

``output_problems`` is the start-up check: what is missing (the module, the device, the permission),
each with what to do, so that ``serve`` refuses to start with a clear message instead of failing later.
The worker keeps the pipeline awake (it watches ``VIRTUAL_CAMERA``): a video call has no browser open.
"""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import stat
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import cv2
import numpy as np

from app.live.buffers import LatestBuffer
from app.live.compositing import CompositedFrame
from app.live.viewers import Viewers
from app.live.views import VIRTUAL_CAMERA
from app.live.worker import Worker

log = logging.getLogger(__name__)

V4L2_BUF_TYPE_VIDEO_OUTPUT = 2
V4L2_FIELD_NONE = 1
V4L2_COLORSPACE_SMPTE170M = 1           # BT.601, what OpenCV's YUV conversion gives.
V4L2_QUANTIZATION_LIM_RANGE = 2         # Y in 16..235.
V4L2_PIX_FMT_YUYV = int.from_bytes(b"YUYV", "little")
FORMAT_UNION_BYTES = 200                # struct v4l2_format's union, whatever the architecture.
LOAD_MODULE = ("sudo modprobe v4l2loopback devices=1 video_nr={number} card_label=StyleCam exclusive_caps=1 "
               "(install it first if needed: sudo apt install v4l2loopback-dkms)")


class VirtualCameraError(RuntimeError):
    """The virtual camera cannot be written; the message says what to do."""


def format_request_size() -> int:
    """sizeof(struct v4l2_format): a 4-byte type, then the union, aligned as a pointer (it holds some)."""
    return struct.calcsize("P") + FORMAT_UNION_BYTES


def vidioc_s_fmt() -> int:
    """The VIDIOC_S_FMT request number: _IOWR('V', 5, struct v4l2_format)."""
    read_write = 3
    return (read_write << 30) | (format_request_size() << 16) | (ord("V") << 8) | 5


def format_request(width: int, height: int) -> bytes:
    """struct v4l2_format for an output of ``width`` x ``height`` YUYV frames."""
    pix = struct.pack("=12I", width, height, V4L2_PIX_FMT_YUYV, V4L2_FIELD_NONE, width * 2, width * height * 2,
                      V4L2_COLORSPACE_SMPTE170M, 0, 0, 0, V4L2_QUANTIZATION_LIM_RANGE, 0)
    header = struct.pack("=I", V4L2_BUF_TYPE_VIDEO_OUTPUT).ljust(struct.calcsize("P"), b"\0")
    return (header + pix).ljust(format_request_size(), b"\0")


def to_yuyv(image: np.ndarray) -> np.ndarray:
    """A BGR uint8 frame (even width and height) as YUYV bytes: (height, width * 2) uint8."""
    height, width = image.shape[:2]
    i420 = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)      # BT.601, limited range.
    quarter = height * width // 4
    chroma = i420[height:].reshape(-1)
    u = chroma[:quarter].reshape(height // 2, width // 2)
    v = chroma[quarter:].reshape(height // 2, width // 2)
    yuyv = np.empty((height, width * 2), np.uint8)
    yuyv[:, 0::2] = i420[:height]
    yuyv[:, 1::4] = np.repeat(u, 2, axis=0)
    yuyv[:, 3::4] = np.repeat(v, 2, axis=0)
    return yuyv


def even_size(width: int, height: int) -> Tuple[int, int]:
    """YUYV pairs pixels, and 4:2:0 input pairs rows: the largest even size that fits."""
    return max(width - width % 2, 2), max(height - height % 2, 2)


# --- the start-up check ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DeviceFacts:
    """What the start-up check looks at, gathered by ``device_facts`` (and made up in tests)."""

    linux: bool
    module_loaded: bool       # /sys/module/v4l2loopback exists.
    exists: bool
    is_device: bool           # A character device.
    loopback: bool            # Its sysfs entry is a virtual device (what v4l2loopback makes).
    name: str                 # Its card name (sysfs), e.g. "StyleCam" or a real camera's.
    writable: bool


def device_facts(path: str, sysfs: Path = Path("/sys")) -> DeviceFacts:
    target = Path(path)
    try:
        mode = target.stat().st_mode
    except OSError:
        mode = None
    entry = sysfs / "class" / "video4linux" / target.name
    try:
        name = (entry / "name").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        name = ""
    return DeviceFacts(linux=sys.platform.startswith("linux"),
                       module_loaded=(sysfs / "module" / "v4l2loopback").is_dir(),
                       exists=mode is not None, is_device=mode is not None and stat.S_ISCHR(mode),
                       loopback="/virtual/" in os.path.realpath(entry), name=name,
                       writable=mode is not None and os.access(target, os.W_OK))


def output_problems(path: str, sysfs: Path = Path("/sys")) -> List[str]:
    """What stands between StyleCam and writing frames to ``path``, each with what to do; [] if nothing.

    A path under /dev must be a v4l2loopback device; any other path is a file or a named pipe that gets
    the raw frames."""
    if not path.startswith("/dev/"):
        folder = Path(path).parent
        return [] if folder.is_dir() else [f"cannot write raw frames to {path}: the folder {folder} does not exist"]
    return device_problems(path, device_facts(path, sysfs))


def device_problems(path: str, facts: DeviceFacts) -> List[str]:
    if not facts.linux:
        return [f"a virtual camera needs Linux and its v4l2loopback module; this is {sys.platform}"]
    number = re.sub(r"\D", "", Path(path).name) or "10"
    problems = []
    if not facts.module_loaded:
        problems.append("the v4l2loopback kernel module is not loaded: " + LOAD_MODULE.format(number=number))
    if not facts.exists:
        if facts.module_loaded:
            problems.append(f"{path} does not exist: v4l2loopback made other devices (see: v4l2-ctl "
                            f"--list-devices); reload it with video_nr={number}, or give one of those")
        return problems
    if not facts.is_device:
        return problems + [f"{path} is not a video device"]
    if not facts.loopback:
        problems.append(f"{path} is a camera ({facts.name or 'a real device'}), not a v4l2loopback device: give "
                        f"the loopback device (v4l2-ctl --list-devices shows which is StyleCam's)")
    if not facts.writable:
        problems.append(f"no permission to write {path}: add yourself to the video group (sudo usermod -aG "
                        f"video $USER, then log in again)")
    return problems


# --- the output -----------------------------------------------------------------------------------

class RawOutput:
    """An open virtual camera device, or a file or pipe that stands in for one, taking YUYV frames."""

    def __init__(self, path: str, width: int, height: int,
                 ioctl: Callable[[int, int, bytes], bytes] = fcntl.ioctl) -> None:
        self.path = path
        self.size = even_size(width, height)
        flags = os.O_WRONLY | (0 if path.startswith("/dev/") else os.O_CREAT | os.O_APPEND)
        try:
            self.fd = os.open(path, flags | os.O_NONBLOCK, 0o644)
        except OSError as error:
            if error.errno == errno.ENXIO:     # A named pipe nobody reads yet.
                raise VirtualCameraError(f"nobody reads {path} yet") from None
            raise VirtualCameraError(f"cannot open {path}: {error.strerror}") from None
        try:
            os.set_blocking(self.fd, True)
            if stat.S_ISCHR(os.fstat(self.fd).st_mode):
                ioctl(self.fd, vidioc_s_fmt(), format_request(*self.size))
        except OSError as error:
            os.close(self.fd)
            raise VirtualCameraError(f"{path} refused the format {self.size[0]}x{self.size[1]} YUYV "
                                     f"({error.strerror}); is it a v4l2loopback device?") from None

    def write(self, image: np.ndarray) -> None:
        """Write one BGR frame, scaled to the output's size if it has another (a camera came back changed)."""
        width, height = self.size
        if image.shape[1] != width or image.shape[0] != height:
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        data = memoryview(to_yuyv(image)).cast("B")
        while data:
            data = data[os.write(self.fd, data):]

    def close(self) -> None:
        os.close(self.fd)


class VirtualCameraWorker(Worker):
    """Writes every composited frame to the virtual camera; keeps the pipeline awake while it runs.

    The output is opened at the first frame (its size is the frame's). A failed write is reported in
    ``error`` and the output is opened again at the next frame.
    """

    name = "stylecam-virtual-camera"

    def __init__(self, path: str, composited: LatestBuffer, viewers: Viewers,
                 opener: Callable[[str, int, int], RawOutput] = RawOutput) -> None:
        super().__init__()
        self.path = path
        self.composited = composited      # CompositedFrame, from the compositing worker.
        self.viewers = viewers
        self.opener = opener
        self.frames = 0
        self._output: Optional[RawOutput] = None

    def open(self) -> None:
        """The start-up check: VirtualCameraError naming every problem (the module, the device, ...)."""
        problems = output_problems(self.path)
        if problems:
            raise VirtualCameraError(f"cannot use {self.path} as a virtual camera: " + "; ".join(problems))

    def status(self) -> dict:
        return {"device": self.path, "frames": self.frames, "error": self.error,
                "size": list(self._output.size) if self._output is not None else None}

    def run(self) -> None:
        with self.viewers.watching(VIRTUAL_CAMERA):
            try:
                self.consume(self.composited, self.write)
            finally:
                self._close()

    def write(self, version: int, frame: CompositedFrame) -> None:
        try:
            if self._output is None:
                height, width = frame.image.shape[:2]
                self._output = self.opener(self.path, width, height)
                log.info("writing the stylized stream to %s (%dx%d YUYV)", self.path, *self._output.size)
            self._output.write(frame.image)
        except (OSError, VirtualCameraError):
            self._close()
            raise
        self.frames += 1

    def _close(self) -> None:
        output, self._output = self._output, None
        if output is not None:
            output.close()
