"""The checks of ``python -m app doctor``: each judges `SystemFacts` and says what is wrong and how to fix it,
and `rendering_choice` says what ``serve``'s "auto" settings pick on this machine.

A check that fails means StyleCam cannot run (doctor exits non-zero); a warning means it runs with less
(no camera found, CPU rendering on a Jetson, the Haar fallback, a model still to download).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List

from app.system.facts import SystemFacts
from detectors.yunet_models import parse_version, plan_yunet
from stylegan2.inference.precision import cpu_has_native_bf16

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_PYTHON = (3, 8)
MIN_TORCH = (1, 13)
LOW_MEMORY_BYTES = 6 << 30           # Below this (the 4 GB Nano) the low-memory settings matter.
MIN_FREE_DISK_BYTES = 1 << 30        # The default models need about 0.7 GB.
JETSON_GUIDE = "README, \"On a Jetson\""


@dataclass(frozen=True)
class Check:
    name: str
    status: str              # OK, WARN or FAIL
    detail: str              # what was found
    fix: str = ""            # what to do, for WARN and FAIL


@dataclass(frozen=True)
class RenderingChoice:
    backend: str
    precision: str
    why: str


def run_checks(facts: SystemFacts, engine_cached: bool = False) -> List[Check]:
    """Every check, in the order doctor shows them."""
    checks: List[Callable[[SystemFacts], Check]] = [
        check_jetson, check_python, check_torch, check_gpu, check_cpu, check_memory, check_opencv, check_yunet,
        check_gstreamer, check_cameras, check_onnxruntime, check_tensorrt, check_disk]
    results = [check(facts) for check in checks]
    results += check_models(facts)
    choice = rendering_choice(facts, engine_cached)
    results.append(Check("rendering", OK, f"--backend auto --precision auto: {choice.backend}, {choice.precision} "
                                          f"({choice.why})"))
    return results


def can_run(checks: List[Check]) -> bool:
    return all(check.status != FAIL for check in checks)


def rendering_choice(facts: SystemFacts, engine_cached: bool = False) -> RenderingChoice:
    """What ``serve --backend auto --precision auto`` renders with here (for NVIDIA's models, which have fp16
    resolutions)."""
    if facts.cuda_available:
        if facts.tensorrt and engine_cached:
            return RenderingChoice("tensorrt", "fp16", "a TensorRT engine is cached for this model and GPU")
        why = "NVIDIA's mixed precision on the GPU"
        if facts.tensorrt:
            why += "; `python -m app export tensorrt` builds a faster TensorRT engine once"
        return RenderingChoice("torch", "fp16", why)
    if cpu_has_native_bf16(facts.cpu_flags):
        return RenderingChoice("torch", "bf16", "the CPU computes bf16 natively")
    return RenderingChoice("torch", "fp32", "no GPU, and no native bf16 on this CPU")


def check_jetson(facts: SystemFacts) -> Check:
    if facts.l4t is None:
        return Check("jetson", OK, "not a Jetson")
    board = f", {facts.board}" if facts.board else ""
    if facts.l4t.jetpack is None:
        return Check("jetson", WARN, f"{facts.l4t}{board}: a release StyleCam does not know",
                     f"StyleCam knows L4T r32 (JetPack 4.6), r35 (5) and r36 (6); see {JETSON_GUIDE}")
    detail = f"{facts.l4t} (JetPack {facts.l4t.jetpack}){board}"
    if facts.l4t.major == 32:
        detail += ": the original Nano's last release; StyleCam runs there in the Nano image or natively on the " \
                  "Ubuntu 20.04 community image"
    return Check("jetson", OK, detail)


def check_python(facts: SystemFacts) -> Check:
    if tuple(int(part) for part in facts.python.split(".")[:2]) >= MIN_PYTHON:
        return Check("python", OK, facts.python)
    fix = "install Python 3.8 or newer"
    if facts.l4t is not None and facts.l4t.major == 32:
        fix = (f"JetPack 4.6 brings Python 3.6: use the Nano image (Dockerfile.jetson with the r32 base) or "
               f"scripts/install-jetson.sh on the Ubuntu 20.04 community image ({JETSON_GUIDE})")
    return Check("python", FAIL, f"{facts.python}: StyleCam needs 3.8 or newer", fix)


def check_torch(facts: SystemFacts) -> Check:
    cuda = f", CUDA {facts.torch_cuda}" if facts.torch_cuda else ", CPU build"
    if parse_version(facts.torch)[:2] >= MIN_TORCH:
        return Check("torch", OK, f"{facts.torch}{cuda}")
    fix = "pip install 'torch>=1.13'"
    if facts.l4t is not None:
        fix = f"install NVIDIA's PyTorch 1.13 or newer for JetPack {facts.l4t.jetpack} ({JETSON_GUIDE})"
    return Check("torch", FAIL, f"{facts.torch}{cuda}: StyleCam needs 1.13 or newer", fix)


def check_gpu(facts: SystemFacts) -> Check:
    if facts.gpu is not None:
        major, minor = facts.gpu.capability
        fp16 = "yes" if (major, minor) >= (5, 3) else "slow"
        bf16 = "yes" if major >= 8 else "no"
        return Check("gpu", OK, f"{facts.gpu.name}, {facts.gpu.memory_bytes / 2 ** 30:.1f} GB, compute "
                                f"{major}.{minor}; fp16 {fp16}, bf16 {bf16}")
    if facts.l4t is not None:
        why = "this PyTorch is a CPU build" if facts.torch_cuda is None else \
            f"this PyTorch (CUDA {facts.torch_cuda}) cannot use the GPU"
        return Check("gpu", WARN, f"none usable: {why}; StyleCam renders on the CPU, far slower",
                     f"install NVIDIA's PyTorch for JetPack {facts.l4t.jetpack}; in Docker, run with --runtime "
                     f"nvidia ({JETSON_GUIDE})")
    return Check("gpu", OK, "none: StyleCam renders on the CPU")


def check_cpu(facts: SystemFacts) -> Check:
    bf16 = "native bf16 (AVX512-BF16/AMX)" if cpu_has_native_bf16(facts.cpu_flags) else "no native bf16"
    return Check("cpu", OK, f"{facts.cpu}; {bf16}")


def check_memory(facts: SystemFacts) -> Check:
    if facts.memory_bytes is None:
        return Check("memory", OK, "unknown")
    size = f"{facts.memory_bytes / 2 ** 30:.1f} GB"
    if facts.memory_bytes < LOW_MEMORY_BYTES:
        return Check("memory", WARN, f"{size}{' shared by CPU and GPU' if facts.l4t else ''}",
                     "use the low-memory settings: serve --max-faces 1 --detect-width 320 --projector-url "
                     "http://<a bigger machine>:5000 (README, \"Memory\")")
    return Check("memory", OK, size)


def check_opencv(facts: SystemFacts) -> Check:
    features = [f"FaceDetectorYN {'yes' if facts.face_detector_yn else 'no'}",
                f"GStreamer {'yes' if facts.opencv_gstreamer else 'no'}"]
    return Check("opencv", OK, f"{facts.opencv}; {', '.join(features)}")


def check_yunet(facts: SystemFacts) -> Check:
    plan = plan_yunet(facts.opencv, facts.face_detector_yn, facts.onnxruntime is not None)
    if plan is None:
        if facts.haar:
            return Check("face detector", WARN, f"OpenCV {facts.opencv} cannot run YuNet: the Haar cascade stands "
                                                f"in (fewer faces found, landmarks guessed)",
                         "pip install onnxruntime (runs YuNet on any OpenCV)")
        return Check("face detector", FAIL, f"OpenCV {facts.opencv} runs neither YuNet nor the Haar cascade",
                     "pip install onnxruntime")
    runner = "OpenCV" if plan.runner == "opencv" else f"onnxruntime {facts.onnxruntime}"
    detail = f"YuNet '{plan.model}' in {runner}"
    return Check("face detector", OK, f"{detail} ({plan.reason})" if plan.reason else detail)


def check_gstreamer(facts: SystemFacts) -> Check:
    if facts.opencv_gstreamer:
        return Check("gstreamer", OK, "in OpenCV: GStreamer pipelines and csi:// cameras open directly")
    if facts.gst_launch:
        return Check("gstreamer", OK, f"not in OpenCV: csi:// cameras are read through {facts.gst_launch}")
    if facts.l4t is not None:
        return Check("gstreamer", WARN, "neither in OpenCV nor gst-launch-1.0: CSI cameras cannot be read",
                     "apt install gstreamer1.0-tools nvidia-l4t-gstreamer (or use a USB camera: --source 0)")
    return Check("gstreamer", OK, "not in OpenCV (only GStreamer pipelines and CSI cameras need it)")


def check_cameras(facts: SystemFacts) -> Check:
    found = list(facts.cameras)
    if facts.argus_socket and facts.nvarguscamerasrc:
        found.append("CSI through Argus (csi://0)")
    if found:
        return Check("cameras", OK, ", ".join(found))
    fix = "plug in a camera, or give a video file or URL with --source"
    if facts.l4t is not None:
        fix += ("; in Docker pass --device /dev/video0 for a USB camera, -v /tmp/argus_socket:/tmp/argus_socket "
                "for a CSI one")
    return Check("cameras", WARN, "none found", fix)


def check_onnxruntime(facts: SystemFacts) -> Check:
    if facts.onnxruntime is None:
        return Check("onnxruntime", OK, "not installed (the onnx backend and YuNet on an old OpenCV need it: "
                                        "pip install onnxruntime)")
    return Check("onnxruntime", OK, f"{facts.onnxruntime}; {', '.join(facts.onnxruntime_providers)}")


def check_tensorrt(facts: SystemFacts) -> Check:
    if facts.tensorrt is None:
        return Check("tensorrt", OK, "not installed" + (" (JetPack has it: python3-libnvinfer)" if facts.l4t else ""))
    trtexec = facts.trtexec or "trtexec not found"
    return Check("tensorrt", OK, f"{facts.tensorrt}; {trtexec}")


def check_models(facts: SystemFacts) -> List[Check]:
    checks = []
    for model in facts.models:
        name = f"model {model.name}"
        if not model.present:
            if model.required:
                checks.append(Check(name, WARN, f"not downloaded ({model.path})",
                                    f"serve fetches it at its first start, or: python -m app weights fetch "
                                    f"{model.name}"))
            else:
                checks.append(Check(name, OK, f"not downloaded (only projection needs it: python -m app weights "
                                              f"fetch {model.name})"))
        elif model.checksum == "mismatch":
            checks.append(Check(name, FAIL, f"{model.path} does not match its sha256",
                                f"delete it and fetch it again: python -m app weights fetch {model.name} --force"))
        else:
            checks.append(Check(name, OK, f"{model.path} (sha256 {model.checksum})"))
    return checks


def check_disk(facts: SystemFacts) -> Check:
    if facts.free_disk_bytes is None:
        return Check("disk", OK, f"models in {facts.weights_dir}")
    free = f"{facts.free_disk_bytes / 2 ** 30:.1f} GB free for models in {facts.weights_dir}"
    missing = any(not model.present and model.required for model in facts.models)
    if missing and facts.free_disk_bytes < MIN_FREE_DISK_BYTES:
        return Check("disk", FAIL, free, "free some space: the models to download need about 0.7 GB "
                                         "($STYLECAM_WEIGHTS puts them on another disk)")
    return Check("disk", OK, free)
