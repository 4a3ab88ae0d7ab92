"""Video sources: turn what the user typed after ``--source`` into something that yields frames.

Accepted specs (``parse_source``):

| spec | kind | opened as |
|---|---|---|
| ``0``, ``1`` | camera | camera index (OpenCV's default backend) |
| ``/dev/video0`` | device | V4L2 device path |
| ``clip.mp4`` (any video OpenCV can decode) | video | file, played at its own frame rate, looping by default |
| ``face.jpg`` (any image OpenCV can read) | image | a steady stream of that one frame |
| ``rtsp://…``, ``http(s)://…``, ``rtmp://…``, ``udp://…`` | stream | network stream (FFmpeg) |
| ``http(s)://…/clip.mp4`` (or .m4v .mov .avi .mkv .webm) | video | a file on a web server, played like a local one |
| anything containing ``!`` | gstreamer | a raw GStreamer pipeline ending in ``appsink`` |
| ``csi://N[?width=W&height=H&fps=F&flip=M]`` | gstreamer | Jetson CSI camera N through ``nvarguscamerasrc`` (read from a ``gst-launch-1.0`` process where OpenCV has no GStreamer: ``app.live.gst_process``) |

``open_source`` opens a parsed ``Source`` and returns a ``FrameSource``: ``read()`` gives the next BGR
frame or None when the source is gone (or a non-looping video ended), ``fps`` the rate to pace a file
at (None for live sources, which pace themselves), ``release()`` frees the device. Opening is quiet:
OpenCV's own console warnings about a camera it cannot open (several lines per attempt, and a lost camera
is tried again and again) are held back; the SourceError says what happened instead.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol, Union
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import cv2
import numpy as np

from app.live.gst_process import GstUnavailable, open_gst_process, opencv_has_gstreamer
from detectors.opencv_log import quiet_opencv

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
VIDEO_FILE_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm")   # An http(s) URL to one is a file.
LIVE_KINDS = ("camera", "device", "stream", "gstreamer")
DEFAULT_FILE_FPS = 30.0        # Used when a video file does not say its rate, and for still images.
STREAM_TIMEOUT_MS = 5000       # A network stream that stalls this long counts as lost.
CSI_FLIP_METHODS = ("0 none, 1 rotate 90 anticlockwise, 2 rotate 180, 3 rotate 90 clockwise, "
                    "4 mirror horizontally, 5 transpose, 6 mirror vertically, 7 transverse")   # nvvidconv's


class SourceError(ValueError):
    """A source spec that cannot be a source, or a source that cannot be opened; says what to do."""


@dataclass(frozen=True)
class Source:
    spec: str                      # What the user wrote (may hold stream credentials: never display it).
    kind: str                      # "camera" | "device" | "video" | "image" | "stream" | "gstreamer"
    target: Union[int, str]        # What OpenCV opens: camera index, path, URL or pipeline string.
    loop: bool = True              # Video files: start again at the end instead of ending.
    width: Optional[int] = None    # Resolution and rate to ask a camera for (None = its default).
    height: Optional[int] = None
    fps: Optional[float] = None

    @property
    def live(self) -> bool:
        """True for sources that deliver frames in real time (and can be lost and reconnected)."""
        return self.kind in LIVE_KINDS

    @property
    def remote(self) -> bool:
        """True for what FFmpeg fetches over the network: a stream, or a video file at an http(s) URL."""
        return self.kind in ("stream", "video") and urlsplit(self.spec).scheme.lower() in STREAM_SCHEMES

    def describe(self) -> str:
        """A short name for status and placeholder frames, with any password in a URL hidden."""
        if self.remote:
            return redact_url(self.spec)
        if self.kind in ("video", "image"):
            return Path(self.spec).name
        return self.spec


def redact_url(url: str) -> str:
    """``rtsp://user:secret@host/x`` -> ``rtsp://user:***@host/x``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def parse_source(spec: Union[str, int], *, loop: bool = True, width: Optional[int] = None,
                 height: Optional[int] = None, fps: Optional[float] = None) -> Source:
    """Classify a source spec (see the module docstring); raise SourceError if it cannot be one."""
    text = str(spec).strip()
    options = dict(loop=loop, width=width, height=height, fps=fps)
    if not text:
        raise SourceError("empty source: give a camera index (0), a device (/dev/video0), a video or "
                          "image file, a stream URL, a GStreamer pipeline or csi://0")
    if text.isdigit():
        return Source(text, "camera", int(text), **options)
    if text.startswith("csi://"):
        return Source(text, "gstreamer", parse_csi(text, width, height, fps), **options)
    if "!" in text:
        return Source(text, "gstreamer", text, **options)
    url = urlsplit(text)
    if url.scheme.lower() in STREAM_SCHEMES:
        on_demand = url.scheme.lower() in ("http", "https") and url.path.lower().endswith(VIDEO_FILE_SUFFIXES)
        return Source(text, "video" if on_demand else "stream", text, **options)
    if text.startswith("/dev/"):
        return Source(text, "device", text, **options)
    path = Path(text).expanduser()
    if not path.is_file():
        raise SourceError(f"source {text!r} is not a camera index, device, URL or pipeline, and no such "
                          "file exists")
    kind = "image" if cv2.haveImageReader(str(path)) else "video"
    return Source(text, kind, str(path), **options)


def parse_csi(spec: str, width: Optional[int], height: Optional[int], fps: Optional[float]) -> str:
    """``csi://N?width=&height=&fps=&flip=`` -> the nvarguscamerasrc pipeline for sensor N."""
    parts = urlsplit(spec)
    if not re.fullmatch(r"\d+", parts.netloc) or parts.path not in ("", "/"):
        raise SourceError(f"bad CSI source {spec!r}: write csi://N with N the sensor id, e.g. csi://0")
    settings = {"width": width or 1280, "height": height or 720, "fps": fps or 30, "flip": 0}
    given = set()
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in settings:
            raise SourceError(f"bad CSI option {key!r} in {spec!r}: use width, height, fps, flip")
        if key in given:
            raise SourceError(f"CSI option {key} is given twice in {spec!r}: give it once")
        given.add(key)
        settings[key] = csi_option(key, value, spec)
    return csi_pipeline(int(parts.netloc), **settings)


def csi_option(key: str, value: str, spec: str) -> int:
    """One csi:// query value: width, height and fps are positive integers, flip is nvvidconv's 0-7."""
    number = int(value) if re.fullmatch(r"[0-9]{1,5}", value) else None
    if key == "flip" and (number is None or number > 7):
        raise SourceError(f"bad CSI option flip={value!r} in {spec!r}: expected 0-7 ({CSI_FLIP_METHODS})")
    if number is None or (key != "flip" and number == 0):
        raise SourceError(f"bad CSI option {key}={value!r} in {spec!r}: expected a positive integer")
    return number


def csi_pipeline(sensor_id: int, width: int = 1280, height: int = 720, fps: float = 30,
                 flip: int = 0) -> str:
    """The GStreamer pipeline for a Jetson CSI camera, delivering BGR frames to OpenCV.

    The ISP (nvarguscamerasrc) and the converter (nvvidconv, which also flips or rotates with
    ``flip``, 0-7) work in NVMM memory; only the final BGR frames are copied to the CPU, and the
    appsink keeps just the newest one, so a slow reader never sees old frames.
    """
    return (f"nvarguscamerasrc sensor-id={sensor_id} ! "
            f"video/x-raw(memory:NVMM), width={width}, height={height}, "
            f"framerate={int(round(fps))}/1, format=NV12 ! "
            f"nvvidconv flip-method={flip} ! video/x-raw, width={width}, height={height}, format=BGRx ! "
            f"videoconvert ! video/x-raw, format=BGR ! appsink drop=true max-buffers=1")


class FrameSource(Protocol):
    fps: Optional[float]       # Rate to pace reads at; None = the source paces itself (live).
    ended: bool                # True once a non-looping video has played to its end.

    def read(self) -> Optional[np.ndarray]: ...

    def release(self) -> None: ...


class VideoCaptureSource:
    """A cv2.VideoCapture: cameras, devices, streams, pipelines and video files (which may loop)."""

    def __init__(self, capture: cv2.VideoCapture, source: Source):
        self.capture = capture
        self.loop = source.loop and not source.live
        self.fps = None if source.live else file_fps(capture)
        self.ended = False

    def read(self) -> Optional[np.ndarray]:
        ok, frame = self.capture.read()
        if not ok and self.fps is not None:
            if not self.loop:
                self.ended = True
                return None
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.capture.read()
        return frame if ok else None

    def release(self) -> None:
        self.capture.release()


class StillImageSource:
    """A still image served as a steady stream of that frame (for trying the app without a camera)."""

    def __init__(self, image: np.ndarray, fps: float):
        self.image = image
        self.fps = fps
        self.ended = False

    def read(self) -> Optional[np.ndarray]:
        return self.image

    def release(self) -> None:
        self.image = None


def file_fps(capture: cv2.VideoCapture) -> float:
    """The file's own frame rate, or DEFAULT_FILE_FPS when the container does not say."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    return float(fps) if np.isfinite(fps) and 1 <= fps <= 240 else DEFAULT_FILE_FPS


def open_source(source: Source) -> FrameSource:
    """Open a parsed source; raise SourceError with a hint when OpenCV cannot."""
    if source.kind in ("video", "image") and not source.remote:
        check_readable(source)
    if source.kind == "image":
        image = cv2.imread(source.target, cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(f"cannot read image {source.describe()}: the file is unreadable or corrupt")
        return StillImageSource(image, source.fps or DEFAULT_FILE_FPS)
    if source.kind == "gstreamer" and source.spec.startswith("csi://") and not opencv_has_gstreamer():
        try:
            return open_gst_process(source.target, source.describe())
        except GstUnavailable as error:
            raise SourceError(str(error)) from None
    if source.kind == "device" and not os.path.exists(source.target):
        raise SourceError(f"camera device {source.target} does not exist: is the camera plugged in? "
                          "(list devices with: ls /dev/video*)")
    with quiet_opencv():
        capture = open_capture(source)
        opened = capture.isOpened()
    if not opened:
        capture.release()
        raise SourceError(f"cannot open {source.kind} {source.describe()}: {open_hint(source)}")
    if source.kind in ("camera", "device"):
        request_camera_mode(capture, source)
    return VideoCaptureSource(capture, source)


def check_readable(source: Source) -> None:
    """SourceError saying why a local file cannot be read (gone since it was given, no permission):
    OpenCV would only say it cannot open it, as if it were not a video."""
    try:
        with open(source.target, "rb"):
            pass
    except OSError as error:
        raise SourceError(f"cannot open {source.kind} file {source.describe()}: "
                          f"{error.strerror or error}") from None


def open_capture(source: Source) -> cv2.VideoCapture:
    if source.kind == "gstreamer":
        return cv2.VideoCapture(source.target, cv2.CAP_GSTREAMER)
    if source.remote:
        timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS,
                    cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
        return cv2.VideoCapture(source.target, cv2.CAP_FFMPEG, timeouts)
    if source.kind == "device":
        return cv2.VideoCapture(source.target, cv2.CAP_V4L2)
    return cv2.VideoCapture(source.target)


def request_camera_mode(capture: cv2.VideoCapture, source: Source) -> None:
    """Ask a camera for the requested size and rate; it may pick the nearest mode it supports."""
    for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, source.width), (cv2.CAP_PROP_FRAME_HEIGHT, source.height),
                        (cv2.CAP_PROP_FPS, source.fps)):
        if value:
            capture.set(prop, value)


def open_hint(source: Source) -> str:
    if source.kind == "gstreamer" and not re.search(r"GStreamer:\s*YES", cv2.getBuildInformation()):
        return ("this OpenCV was built without GStreamer; use one that has it (on a Jetson, the system "
                "python3-opencv from JetPack)")
    if source.remote:
        return "check the URL, the network and the credentials"
    return {
        "camera": "is a camera connected, and not in use by another program? (ls /dev/video*)",
        "device": "is it a camera, and not in use by another program? (v4l2-ctl --list-devices)",
        "gstreamer": "check the pipeline with gst-launch-1.0; it must end in appsink",
        "video": "OpenCV cannot decode this file; is it a video?",
    }[source.kind]
