"""Made-up machines for the doctor's checks: a plain PC and the Jetsons StyleCam's README describes."""
from __future__ import annotations

from dataclasses import replace

from app.system.facts import GpuFacts, ModelFacts, SystemFacts
from app.system.jetson import L4tRelease

PC = SystemFacts(
    python="3.11.7", torch="2.13.0+cpu", torch_cuda=None, cuda_available=False, gpu=None, cpu="AMD EPYC",
    cpu_flags=frozenset({"avx2", "avx512f", "avx512_bf16"}), memory_bytes=24 << 30, opencv="4.10.0",
    face_detector_yn=True, haar=True, opencv_gstreamer=False, onnxruntime="1.19.2",
    onnxruntime_providers=("CPUExecutionProvider",), tensorrt=None, trtexec=None, gst_launch=None,
    nvarguscamerasrc=False, argus_socket=False, cameras=("/dev/video0",), l4t=None, board=None,
    models=(ModelFacts("ffhq-256", "/m/ffhq.pkl", True, "first-use record", True),
            ModelFacts("yunet", "/m/yunet.onnx", True, "verified", True),
            ModelFacts("vgg16", "/m/vgg16.pt", False, "", False)),
    weights_dir="/m", free_disk_bytes=50 << 30)

ORIGINAL_NANO_JETPACK4 = replace(
    PC, python="3.6.9", torch="1.10.0", torch_cuda="10.2", cuda_available=True,
    gpu=GpuFacts("NVIDIA Tegra X1", 4 << 30, (5, 3)), cpu="ARMv8 Processor rev 1 (v8l)", cpu_flags=frozenset(),
    memory_bytes=4 << 30, opencv="4.1.1", face_detector_yn=False, haar=True, opencv_gstreamer=True,
    onnxruntime=None, onnxruntime_providers=(), tensorrt="8.2.1.8", trtexec="/usr/src/tensorrt/bin/trtexec",
    gst_launch="/usr/bin/gst-launch-1.0", nvarguscamerasrc=True, argus_socket=True, cameras=(),
    l4t=L4tRelease(32, "7.1", "t210ref"), board="NVIDIA Jetson Nano Developer Kit")

NANO_UBUNTU_20_04 = replace(ORIGINAL_NANO_JETPACK4, python="3.8.10", torch="1.13.0", opencv="4.8.0",
                            face_detector_yn=True)

ORIN_JETPACK5 = replace(
    ORIGINAL_NANO_JETPACK4, python="3.8.10", torch="2.0.0+nv23.05", torch_cuda="11.4",
    gpu=GpuFacts("Orin", 7 << 30, (8, 7)), memory_bytes=8 << 30, opencv="4.5.4", face_detector_yn=True,
    tensorrt="8.5.2.2", l4t=L4tRelease(35, "2.1", "t186ref"), board="NVIDIA Jetson Orin Nano Developer Kit")
