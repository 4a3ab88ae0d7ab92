"""A CSI camera for an OpenCV built without GStreamer: frames read raw from a ``gst-launch-1.0`` process.

pip's OpenCV wheels have no GStreamer, and some Jetson images (a venv, or JetPack 4's Python 3.8 builds)
have no OpenCV that does. GStreamer itself is still there: ``gst-launch-1.0`` runs the same
``nvarguscamerasrc`` pipeline as ``csi_pipeline``, ending in ``fdsink`` instead of ``appsink``, and writes
each BGR frame, width * height * 3 bytes, to its standard output, where `GstProcessSource` reads it. A
leaky one-frame queue before the sink drops frames a slow reader has not taken, as appsink's ``drop=true``
does, so the newest frame is never far behind.
"""
from __future__ import annotations

import logging
import re
import shutil
import subprocess
from typing import Callable, List, Optional, Sequence

import cv2
import numpy as np

GST_LAUNCH = "gst-launch-1.0"
RAW_SINK = "queue max-size-buffers=1 leaky=downstream ! fdsink fd=1 sync=false"
STOP_TIMEOUT_S = 2.0
log = logging.getLogger(__name__)


class GstUnavailable(RuntimeError):
    """The pipeline cannot be run through gst-launch-1.0 here; says why (``open_source`` makes it a SourceError)."""


def opencv_has_gstreamer(build_information: Optional[str] = None) -> bool:
    """Whether OpenCV was built with GStreamer (what ``cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER)`` needs)."""
    info = cv2.getBuildInformation() if build_information is None else build_information
    return re.search(r"GStreamer:\s*YES", info) is not None


def raw_pipeline(appsink_pipeline: str) -> str:
    """A BGR pipeline ending in appsink (``csi_pipeline``'s) -> the same one writing raw frames to stdout."""
    head, sink, _ = appsink_pipeline.rpartition("! appsink")
    if not sink or "format=BGR" not in head:
        raise GstUnavailable(f"cannot read raw frames from this pipeline: it must deliver BGR to appsink "
                             f"({appsink_pipeline!r})")
    return f"{head.rstrip()} ! {RAW_SINK}"


def frame_shape(pipeline: str) -> tuple:
    """(height, width, 3) of the BGR frames a pipeline delivers: the last width and height its caps name."""
    sizes = re.findall(r"width=(\d+), height=(\d+)", pipeline)
    if not sizes:
        raise GstUnavailable(f"the pipeline names no frame size (width=..., height=...): {pipeline!r}")
    width, height = sizes[-1]
    return int(height), int(width), 3


class GstProcessSource:
    """BGR frames read from a process that writes them raw, one after another, to its standard output.

    ``read()`` gives the next frame, or None once the process has ended (the camera is gone: the capture
    worker then reopens the source); ``release()`` stops the process.
    """

    fps: Optional[float] = None        # A camera paces itself.

    def __init__(self, command: Sequence[str], shape: tuple,
                 popen: Callable[..., subprocess.Popen] = subprocess.Popen) -> None:
        self.command = list(command)
        self.shape = shape
        self.frame_bytes = int(np.prod(shape))
        self.ended = False
        self.process = popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, bufsize=0)

    def read(self) -> Optional[np.ndarray]:
        buffer = bytearray(self.frame_bytes)
        view, filled = memoryview(buffer), 0
        while filled < self.frame_bytes:
            count = self.process.stdout.readinto(view[filled:])
            if not count:
                return None
            filled += count
        return np.frombuffer(buffer, dtype=np.uint8).reshape(self.shape)

    def release(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()


def gst_launch_command(pipeline: str, gst_launch: str) -> List[str]:
    """The gst-launch-1.0 command line (quiet: its messages would mix with the frames on stdout)."""
    return [gst_launch, "-q", *pipeline.split()]


def open_gst_process(pipeline: str, name: str, which: Callable[[str], Optional[str]] = shutil.which,
                     popen: Callable[..., subprocess.Popen] = subprocess.Popen) -> GstProcessSource:
    """Run an appsink ``pipeline`` (the camera ``name``) through gst-launch-1.0 instead of OpenCV, saying so in
    the log; GstUnavailable where gst-launch-1.0 is not installed."""
    gst_launch = which(GST_LAUNCH)
    if gst_launch is None:
        raise GstUnavailable(f"cannot open {name}: this OpenCV was built without GStreamer and {GST_LAUNCH} is "
                             f"not installed (apt install gstreamer1.0-tools), so there is no way to read it")
    raw = raw_pipeline(pipeline)
    log.warning("OpenCV %s has no GStreamer: reading %s through a %s process instead", cv2.__version__, name,
                GST_LAUNCH)
    return GstProcessSource(gst_launch_command(raw, gst_launch), frame_shape(raw), popen)
