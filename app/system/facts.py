"""The facts ``python -m app doctor`` judges, gathered from this machine in one place (`gather_facts`), so
that every check can be tested on facts made up for it (`SystemFacts` is plain data)."""
from __future__ import annotations

import glob
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, Optional, Sequence, Tuple

import cv2
import torch

import weights
from app.live.gst_process import GST_LAUNCH, opencv_has_gstreamer
from app.system.jetson import L4tRelease, board_model, l4t_release
from detectors import yunet_onnxruntime
from stylegan2.hardware import cpu_flags, cpu_name
from stylegan2.inference import tensorrt_backend

ARGUS_SOCKET = Path("/tmp/argus_socket")     # nvargus-daemon's socket: CSI cameras (mounted into containers)
MEMINFO = Path("/proc/meminfo")


@dataclass(frozen=True)
class GpuFacts:
    name: str
    memory_bytes: int
    capability: Tuple[int, int]     # CUDA compute capability: (5, 3) the Nano, (8, 7) Orin


@dataclass(frozen=True)
class ModelFacts:
    name: str               # registry name
    path: str
    present: bool
    checksum: str           # "verified", "mismatch", "first-use record", "no checksum"; "" when absent
    required: bool          # False for models only some features need (vgg16: projection)


@dataclass(frozen=True)
class SystemFacts:
    python: str                             # "3.8.10"
    torch: str                              # "1.13.0", "2.0.0+nv23.05"
    torch_cuda: Optional[str]               # torch.version.cuda: None for a CPU-only build
    cuda_available: bool
    gpu: Optional[GpuFacts]
    cpu: str
    cpu_flags: FrozenSet[str]
    memory_bytes: Optional[int]             # RAM (shared with the GPU on a Jetson)
    opencv: str
    face_detector_yn: bool                  # cv2.FaceDetectorYN (OpenCV 4.5.4+)
    haar: bool                              # cv2.CascadeClassifier (OpenCV 4; gone in 5)
    opencv_gstreamer: bool
    onnxruntime: Optional[str]              # version, None when not installed
    onnxruntime_providers: Tuple[str, ...]
    tensorrt: Optional[str]
    trtexec: Optional[str]
    gst_launch: Optional[str]               # gst-launch-1.0's path
    nvarguscamerasrc: bool                  # GStreamer has the Jetson CSI source element
    argus_socket: bool                      # nvargus-daemon is reachable (CSI cameras)
    cameras: Tuple[str, ...]                # /dev/video* devices
    l4t: Optional[L4tRelease]               # None: not a Jetson
    board: Optional[str]
    models: Tuple[ModelFacts, ...]
    weights_dir: str
    free_disk_bytes: Optional[int]          # on the models' disk


def gather_facts(models: Sequence[Tuple[str, bool]]) -> SystemFacts:
    """This machine's facts; ``models`` are the (registry name, required) pairs to look for."""
    cuda = torch.cuda.is_available()
    onnxruntime = yunet_onnxruntime.onnxruntime
    gst_launch = shutil.which(GST_LAUNCH)
    return SystemFacts(
        python=platform.python_version(), torch=torch.__version__, torch_cuda=torch.version.cuda,
        cuda_available=cuda, gpu=gpu_facts() if cuda else None, cpu=cpu_name(), cpu_flags=cpu_flags(),
        memory_bytes=memory_bytes(), opencv=cv2.__version__, face_detector_yn=hasattr(cv2, "FaceDetectorYN"),
        haar=hasattr(cv2, "CascadeClassifier"), opencv_gstreamer=opencv_has_gstreamer(),
        onnxruntime=onnxruntime.__version__ if onnxruntime is not None else None,
        onnxruntime_providers=tuple(onnxruntime.get_available_providers()) if onnxruntime is not None else (),
        tensorrt=tensorrt_backend.tensorrt_version(), trtexec=tensorrt_backend.find_trtexec(),
        gst_launch=gst_launch, nvarguscamerasrc=gst_launch is not None and has_gst_element("nvarguscamerasrc"),
        argus_socket=ARGUS_SOCKET.exists(), cameras=tuple(sorted(glob.glob("/dev/video*"))),
        l4t=l4t_release(), board=board_model(), models=tuple(model_facts(name, required) for name, required in models),
        weights_dir=str(weights.weights_dir()), free_disk_bytes=free_disk_bytes(weights.weights_dir()))


def gpu_facts(index: int = 0) -> GpuFacts:
    properties = torch.cuda.get_device_properties(index)
    return GpuFacts(properties.name, properties.total_memory, (properties.major, properties.minor))


def memory_bytes(meminfo: Path = MEMINFO) -> Optional[int]:
    """Total RAM from /proc/meminfo (Linux), None elsewhere."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def has_gst_element(element: str) -> bool:
    """Whether GStreamer has a plugin element (gst-inspect-1.0 finds it)."""
    try:
        return subprocess.run(["gst-inspect-1.0", element], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def model_facts(name: str, required: bool) -> ModelFacts:
    """A registry model's file: present, and whether it passes its checksum (reads the whole file)."""
    path = weights.local_path(name)
    if not path.is_file():
        return ModelFacts(name, str(path), False, "", required)
    try:
        weights.verify(name)
    except weights.WeightsError:
        return ModelFacts(name, str(path), True, "mismatch", required)
    if weights.get(name).sha256:
        checksum = "verified"
    else:
        checksum = "first-use record" if weights.expected_sha256(name) else "no checksum"
    return ModelFacts(name, str(path), True, checksum, required)


def free_disk_bytes(folder: Path) -> Optional[int]:
    """Free space on the disk ``folder`` is (or will be) on."""
    for candidate in [folder, *folder.parents]:
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return None
