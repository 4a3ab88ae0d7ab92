"""How the live app renders its generator: the backend and precision ``serve --backend --precision`` ask for
("auto": chosen from what this machine offers), and the exported files those backends run, cached next to
the model file (or in StyleCam's cache folder where that folder is read-only).

- torch: the engine's layouts; "auto" precision is fp16 on CUDA, bf16 on CPUs with AVX512-BF16 or AMX.
- onnx: the synthesis network exported once to ONNX (``<model>.synthesis-<digest>.onnx``, a few seconds,
  done at the first start that asks for it) and run by onnxruntime.
- tensorrt: an engine built once from that ONNX file with trtexec (``python -m app export tensorrt``:
  minutes on a Jetson), found by a name that holds everything it depends on.
"auto" backend is tensorrt where TensorRT is importable and an engine for this model, precision and GPU is
cached; torch otherwise (an engine build is never started behind the user's back).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

import torch

import weights
from stylegan2.hardware import device_name
from stylegan2.inference import InferenceGenerator, resolve_precision, tensorrt_backend
from stylegan2.inference.export import EXPORT_VERSION, export_onnx
from stylegan2.inference.tensorrt_backend import engine_file_name, find_trtexec, trtexec_command

BACKEND_CHOICES = ("auto", "torch", "onnx", "tensorrt")
ENGINE_MAX_BATCH = 1          # The live app renders one face at a time.
log = logging.getLogger(__name__)


class RenderingUnavailable(RuntimeError):
    """The backend asked for cannot render here; says what to do (a user error: one line, no traceback)."""


def model_digest(model_path: Path, registry_name: Optional[str] = None) -> str:
    """The sha256 that identifies a generator file: the registry's pinned (or first-use) checksum where there
    is one, else the file's own."""
    if registry_name in weights.REGISTRY:
        expected = weights.expected_sha256(registry_name)
        if expected:
            return expected
    return weights.file_sha256(model_path)


def export_dir(model_path: Path) -> Path:
    """Where a model's exports are cached: beside it, or StyleCam's cache folder where that is read-only."""
    folder = model_path.resolve().parent
    return folder if os.access(folder, os.W_OK) else weights.cache_dir() / "exports"


def onnx_path(model_path: Path, digest: str) -> Path:
    """The cached ONNX export of a model's synthesis network (the digest and exporter version in its name)."""
    return export_dir(model_path) / f"{model_path.stem}.synthesis-{digest[:16]}-v{EXPORT_VERSION}.onnx"


def engine_path(model_path: Path, onnx_file: Path, precision: str, gpu_name: str, trt_version: str,
                max_batch: int = ENGINE_MAX_BATCH) -> Path:
    """The cached TensorRT engine built from ``onnx_file`` for this precision, batch, TensorRT and GPU."""
    name = engine_file_name(weights.file_sha256(onnx_file), precision, max_batch, trt_version, gpu_name)
    return export_dir(model_path) / f"{model_path.stem}.{name}"


def ensure_onnx(generator: torch.nn.Module, model_path: Path, digest: str) -> Path:
    """The model's ONNX export, made now (and cached) if it is not there yet."""
    path = onnx_path(model_path, digest)
    if not path.is_file():
        log.info("exporting the synthesis network to ONNX once: %s", path)
        export_onnx(generator.synthesis, path)
    return path


def cached_engine(model_path: Path, digest: str, precision: str, device: torch.device) -> Optional[Path]:
    """The cached engine for this model and precision on this GPU, or None (also where TensorRT is absent)."""
    version = tensorrt_backend.tensorrt_version()
    if version is None or device.type != "cuda":
        return None
    onnx_file = onnx_path(model_path, digest)
    if not onnx_file.is_file():
        return None
    path = engine_path(model_path, onnx_file, precision, device_name(device), version)
    return path if path.is_file() else None


def engine_build_command(generator: torch.nn.Module, model_path: Path, digest: str, precision: str,
                         device: torch.device, max_batch: int = ENGINE_MAX_BATCH) -> list:
    """The trtexec command that builds this model's engine (exporting the ONNX file first if needed)."""
    version = tensorrt_backend.tensorrt_version()
    if version is None:
        raise RenderingUnavailable("TensorRT's Python package is not importable here: install it (JetPack: apt "
                                   "install python3-libnvinfer), or use --backend torch or onnx")
    if device.type != "cuda":
        raise RenderingUnavailable(f"a TensorRT engine is built for a CUDA GPU, and this device is {device}")
    trtexec = find_trtexec()
    if trtexec is None:
        raise RenderingUnavailable("trtexec is not installed (JetPack has it in /usr/src/tensorrt/bin; apt install "
                                   "tensorrt)")
    onnx_file = ensure_onnx(generator, model_path, digest)
    engine = engine_path(model_path, onnx_file, precision, device_name(device), version, max_batch)
    return trtexec_command(onnx_file, engine, precision, generator.num_ws, generator.w_dim, max_batch, trtexec)


def make_renderer(generator: torch.nn.Module, model_path: Optional[Path], registry_name: Optional[str],
                  backend: str = "auto", precision: str = "auto") -> InferenceGenerator:
    """The live app's renderer for ``serve --backend --precision`` (see the module docstring); a choice that
    cannot render here is a RenderingUnavailable saying why."""
    if backend not in BACKEND_CHOICES:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKEND_CHOICES)}")
    try:
        return _renderer(generator, model_path, registry_name, backend, precision)
    except ValueError as error:       # a precision or backend this generator or device cannot render in
        raise RenderingUnavailable(f"--backend {backend} --precision {precision}: {error}") from None


def _renderer(generator: torch.nn.Module, model_path: Optional[Path], registry_name: Optional[str], backend: str,
              precision: str) -> InferenceGenerator:
    device = next(generator.parameters()).device
    tensorrt_possible = (model_path is not None and generator.architecture == "stylegan2" and device.type == "cuda"
                         and tensorrt_backend.tensorrt_version() is not None)
    if backend == "torch" or (backend == "auto" and not tensorrt_possible):
        return InferenceGenerator(generator, precision=precision)
    if model_path is None:
        raise RenderingUnavailable(f"the {backend} backend caches its exported network beside the model file, "
                                   f"and this generator has none")
    digest = model_digest(model_path, registry_name)
    if backend == "onnx":
        return InferenceGenerator(generator, backend="onnx", precision=precision,
                                  exported_file=ensure_onnx(generator, model_path, digest))
    concrete = resolve_precision(precision, generator, device, backend="tensorrt")
    engine = cached_engine(model_path, digest, concrete, device)
    if backend == "auto":
        if engine is None:
            return InferenceGenerator(generator, precision=precision)
        return InferenceGenerator(generator, backend="tensorrt", precision=concrete, exported_file=engine)
    if engine is None:
        command = " ".join(engine_build_command(generator, model_path, digest, concrete, device))
        raise RenderingUnavailable(f"no TensorRT engine is built for this model in {concrete} on this GPU yet: "
                                   f"build it once (minutes) with `python -m app export tensorrt --precision "
                                   f"{concrete}`, which runs: {command}")
    return InferenceGenerator(generator, backend="tensorrt", precision=concrete, exported_file=engine)
