"""Rendering with an exported synthesis network (`export.export_onnx`) in onnxruntime.

onnxruntime is optional (``pip install onnxruntime``; on a Jetson, the onnxruntime-gpu wheel for its
JetPack): without it this backend says so when asked for. On the CPU it runs with the CPU execution
provider; on CUDA with the CUDA provider (the CPU provider behind it for what CUDA lacks).
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Union

import torch

from .export import INPUT_NAME, OUTPUT_NAME

try:
    import onnxruntime
except ImportError:          # The optional extra (pyproject: stylecam[onnx]) is not installed.
    onnxruntime = None

INSTALL_HINT = "pip install onnxruntime (on a Jetson: the onnxruntime-gpu wheel built for its JetPack)"


class BackendUnavailable(RuntimeError):
    """A rendering backend that cannot run here (its library or its file is missing); says what to do."""


def default_providers(device: torch.device, available: Sequence[str]) -> List[str]:
    """The execution providers for ``device``: CUDA's (then the CPU's) on a CUDA device, else the CPU's."""
    if device.type == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise BackendUnavailable(f"this onnxruntime has no CUDA execution provider (it has "
                                     f"{', '.join(available)}): install onnxruntime-gpu, or render on the CPU")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxSynthesis:
    """ws [N, num_ws, w_dim] -> float32 images [N, C, R, R] on the ws' device, through onnxruntime."""

    def __init__(self, path: Union[str, Path], device: torch.device,
                 providers: Optional[Sequence[str]] = None) -> None:
        if onnxruntime is None:
            raise BackendUnavailable(f"the onnx backend needs onnxruntime, which is not installed: {INSTALL_HINT}")
        path = Path(path)
        if not path.is_file():
            raise BackendUnavailable(f"no exported ONNX file at {path}")
        providers = list(providers) if providers else default_providers(device,
                                                                         onnxruntime.get_available_providers())
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        if device.type == "cpu":
            options.intra_op_num_threads = torch.get_num_threads()
        self.session = onnxruntime.InferenceSession(str(path), options, providers=providers)
        self.path = path
        self.providers = self.session.get_providers()

    def describe(self) -> str:
        return f"onnxruntime {onnxruntime.__version__}, {self.providers[0]}"

    def __call__(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        if noise_mode != "const":
            raise ValueError(f"an exported network has its constant noise built in: noise_mode 'const' only, "
                             f"not {noise_mode!r}")
        inputs = {INPUT_NAME: ws.detach().to(device="cpu", dtype=torch.float32).contiguous().numpy()}
        image = self.session.run([OUTPUT_NAME], inputs)[0]
        return torch.from_numpy(image).to(ws.device)
