"""Rendering with a TensorRT engine built from the exported ONNX synthesis network, and how to build one.

An engine is built once with NVIDIA's ``trtexec`` (minutes on a Jetson) and cached: it is specific to the
ONNX file, the precision, the largest batch, the TensorRT version and the GPU, and its file name
(`engine_file_name`) says all five, so a changed model, JetPack or board never loads a stale engine.
`trtexec_command` is the build command; `TensorRTSynthesis` loads a built engine where the ``tensorrt``
Python package is importable (JetPack ships it: python3-libnvinfer).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import List, Optional, Union

import torch

from .export import INPUT_NAME, OUTPUT_NAME
from .onnx_backend import BackendUnavailable

try:
    import tensorrt
except ImportError:          # Not a machine with TensorRT (JetPack and NVIDIA's containers have it).
    tensorrt = None

TRTEXEC_PATHS = ("/usr/src/tensorrt/bin/trtexec",)     # Where JetPack puts trtexec, off the PATH.
ENGINE_PRECISIONS = ("fp32", "fp16")


def tensorrt_version() -> Optional[str]:
    """The importable TensorRT's version, or None."""
    return tensorrt.__version__ if tensorrt is not None else None


def engine_file_name(onnx_sha256: str, precision: str, max_batch: int, trt_version: str, gpu_name: str) -> str:
    """The cache name of an engine: the ONNX file's digest, precision, largest batch, TensorRT version and GPU
    (an engine runs only on the TensorRT and the GPU it was built with)."""
    if precision not in ENGINE_PRECISIONS:
        raise ValueError(f"a TensorRT engine is built in {' or '.join(ENGINE_PRECISIONS)}, not {precision!r}")
    gpu = re.sub(r"[^a-z0-9]+", "-", gpu_name.lower()).strip("-") or "gpu"
    return f"synthesis-{onnx_sha256[:16]}-{precision}-b{max_batch}-trt{trt_version}-{gpu}.engine"


def find_trtexec() -> Optional[str]:
    """trtexec on the PATH, or where JetPack installs it; None where there is none."""
    found = shutil.which("trtexec")
    if found:
        return found
    return next((path for path in TRTEXEC_PATHS if Path(path).is_file()), None)


def trtexec_command(onnx_path: Union[str, Path], engine_path: Union[str, Path], precision: str, num_ws: int,
                    w_dim: int, max_batch: int = 1, trtexec: str = "trtexec") -> List[str]:
    """The command that builds the engine for batches 1 to ``max_batch`` (tuned for 1, the live app's)."""
    if precision not in ENGINE_PRECISIONS:
        raise ValueError(f"a TensorRT engine is built in {' or '.join(ENGINE_PRECISIONS)}, not {precision!r}")
    if max_batch < 1:
        raise ValueError(f"max_batch must be at least 1, got {max_batch}")
    shape = f"x{num_ws}x{w_dim}"
    command = [trtexec, f"--onnx={onnx_path}", f"--saveEngine={engine_path}",
               f"--minShapes={INPUT_NAME}:1{shape}", f"--optShapes={INPUT_NAME}:1{shape}",
               f"--maxShapes={INPUT_NAME}:{max_batch}{shape}"]
    if precision == "fp16":
        command.append("--fp16")
    return command


class TensorRTSynthesis:
    """ws [N, num_ws, w_dim] (CUDA) -> float32 images [N, C, R, R] (CUDA), through a built engine."""

    def __init__(self, path: Union[str, Path], device: torch.device) -> None:
        if tensorrt is None:
            raise BackendUnavailable("the tensorrt backend needs TensorRT's Python package, which is not "
                                     "importable here (JetPack has it: apt install python3-libnvinfer)")
        if device.type != "cuda":
            raise BackendUnavailable(f"a TensorRT engine runs on a CUDA device, not on {device}")
        path = Path(path)
        if not path.is_file():
            raise BackendUnavailable(f"no TensorRT engine at {path}")
        self.path = path
        self.device = device
        self.logger = tensorrt.Logger(tensorrt.Logger.WARNING)
        self.engine = tensorrt.Runtime(self.logger).deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise BackendUnavailable(f"TensorRT {tensorrt.__version__} cannot load the engine {path}: it was "
                                     f"built by another TensorRT or for another GPU; build it again")
        self.context = self.engine.create_execution_context()

    def describe(self) -> str:
        return f"TensorRT {tensorrt.__version__}"

    def __call__(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        if noise_mode != "const":
            raise ValueError(f"an engine has its constant noise built in: noise_mode 'const' only, not "
                             f"{noise_mode!r}")
        ws = ws.detach().to(device=self.device, dtype=torch.float32).contiguous()
        stream = torch.cuda.current_stream(self.device)
        if hasattr(self.context, "set_tensor_address"):          # TensorRT 8.5 and later
            self.context.set_input_shape(INPUT_NAME, tuple(ws.shape))
            image = torch.empty(tuple(self.context.get_tensor_shape(OUTPUT_NAME)), device=self.device)
            self.context.set_tensor_address(INPUT_NAME, ws.data_ptr())
            self.context.set_tensor_address(OUTPUT_NAME, image.data_ptr())
            ok = self.context.execute_async_v3(stream.cuda_stream)
        else:                                                   # TensorRT 8.2 (JetPack 4.6): bindings
            input_index = self.engine.get_binding_index(INPUT_NAME)
            output_index = self.engine.get_binding_index(OUTPUT_NAME)
            self.context.set_binding_shape(input_index, tuple(ws.shape))
            image = torch.empty(tuple(self.context.get_binding_shape(output_index)), device=self.device)
            bindings = [0] * self.engine.num_bindings
            bindings[input_index], bindings[output_index] = ws.data_ptr(), image.data_ptr()
            ok = self.context.execute_async_v2(bindings, stream.cuda_stream)
        if not ok:
            raise RuntimeError(f"TensorRT failed to run the engine {self.path.name} on ws {list(ws.shape)}")
        return image
