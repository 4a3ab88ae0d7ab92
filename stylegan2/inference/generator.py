"""`InferenceGenerator`: a generator frozen for rendering, in the layout, precision and backend chosen for
its device."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Union

import torch

from ..networks import SynthesisNetwork
from .cpu_synthesis import CpuSynthesis
from .onnx_backend import OnnxSynthesis
from .precision import DTYPES, resolve_precision
from .tensorrt_backend import TensorRTSynthesis

LAYOUTS = ("auto", "reference", "cpu-fast")
BACKENDS = ("torch", "onnx", "tensorrt")
EXPORTED_LAYOUT = "exported"    # The layout of the onnx and tensorrt backends: the exported graph's.


def resolve_layout(layout: str, generator: torch.nn.Module, device: torch.device) -> str:
    """The layout ``layout`` means for ``generator`` on ``device``: "auto" picks "cpu-fast" for a StyleGAN2
    synthesis network on the CPU and "reference" everywhere else. A layout that cannot run there is a
    ValueError that says why."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    fast_possible = device.type == "cpu" and isinstance(generator.synthesis, SynthesisNetwork)
    if layout == "auto":
        return "cpu-fast" if fast_possible else "reference"
    if layout == "cpu-fast" and not fast_possible:
        raise ValueError(f"the cpu-fast layout renders StyleGAN2 networks on the CPU; this generator is a "
                         f"{type(generator.synthesis).__name__} on {device}")
    return layout


class ReferenceSynthesis:
    """The network's own layers (NVIDIA's layout) at one precision: fp16 is NVIDIA's mixed precision (its
    fp16 resolutions in float16, on CUDA), bf16 runs under autocast, fp32 forces every layer to float32."""

    def __init__(self, synthesis: torch.nn.Module, precision: str) -> None:
        self.synthesis = synthesis
        self.precision = precision

    def __call__(self, ws: torch.Tensor, noise_mode: str = "const", **kwargs) -> torch.Tensor:
        if self.precision == "fp16":
            return self.synthesis(ws, noise_mode=noise_mode, **kwargs)
        if self.precision == "bf16":
            with torch.autocast(device_type=ws.device.type, dtype=torch.bfloat16):
                return self.synthesis(ws, noise_mode=noise_mode, force_fp32=True, **kwargs).float()
        return self.synthesis(ws, noise_mode=noise_mode, force_fp32=True, **kwargs)


class InferenceGenerator:
    """Mapping and synthesis without autograd, in one layout, precision and backend chosen once.

    - ``layout`` (torch backend): "auto", "cpu-fast" or "reference" (`resolve_layout`).
    - ``precision``: "native", "auto", "fp32", "fp16" or "bf16" (`precision.resolve_precision`).
    - ``backend``: "torch" (the layouts above), "onnx" (onnxruntime runs ``exported_file``, an ONNX file
      from `export.export_onnx`) or "tensorrt" (a TensorRT engine file built from that ONNX file).
      The exported backends run the synthesis network only, with its constant noise built in; mapping stays
      in PyTorch.

    The generator is put in eval mode with gradients off; the layout reads its weights when it is built, so
    wrap a generator whose weights no longer change (after changing them, wrap it again).
    """

    def __init__(self, generator: torch.nn.Module, layout: str = "auto", precision: str = "native",
                 backend: str = "torch", exported_file: Optional[Union[str, Path]] = None,
                 providers: Optional[Sequence[str]] = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
        self.generator = generator.eval().requires_grad_(False)
        self.device = next(generator.parameters()).device
        self.backend = backend
        self.precision = resolve_precision(precision, generator, self.device, backend=backend)
        if backend == "torch":
            if exported_file is not None:
                raise ValueError("exported_file is for the onnx and tensorrt backends; the torch backend renders "
                                 "the generator itself")
            self.layout = resolve_layout(layout, generator, self.device)
            self._synthesis: Callable[..., torch.Tensor] = self._torch_synthesis()
        else:
            self.layout = EXPORTED_LAYOUT
            self._synthesis = self._exported_synthesis(exported_file, providers)
        self.z_dim: int = generator.z_dim
        self.c_dim: int = generator.c_dim
        self.w_dim: int = generator.w_dim
        self.num_ws: int = generator.num_ws
        self.img_resolution: int = generator.img_resolution
        self.init_kwargs: Dict[str, Any] = generator.init_kwargs
        self.architecture: str = generator.architecture      # "stylegan2" or "stylegan3"
        self.has_noise: bool = generator.has_noise            # StyleGAN3 has no noise inputs

    def describe(self) -> str:
        """What renders, for logs and status: e.g. "torch, cpu-fast layout, bf16"."""
        if self.backend == "torch":
            return f"torch, {self.layout} layout, {self.precision}"
        return f"{self.backend} ({self._synthesis.describe()}), {self.precision}"

    def mapping(self, z: torch.Tensor, c: Optional[torch.Tensor] = None, truncation_psi: float = 1.0,
                truncation_cutoff: Optional[int] = None) -> torch.Tensor:
        """ws [N, num_ws, w_dim] for z [N, z_dim] (as ``Generator.mapping``)."""
        with torch.inference_mode():
            return self.generator.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const",
                  transform: Optional[torch.Tensor] = None) -> torch.Tensor:
        """float32 images [N, C, R, R] in about [-1, 1] for ws [N, num_ws, w_dim].

        ``transform`` (StyleGAN3 only): the input transform for this call, [3, 3] or [N, 3, 3]
        (``stylegan2.stylegan3.rotate_translate``); StyleGAN2 has none and refuses one.
        """
        with torch.inference_mode():
            if transform is None:
                return self._synthesis(ws, noise_mode=noise_mode)
            if self.architecture != "stylegan3":
                raise ValueError("only StyleGAN3 generators take an input transform (rotation, translation)")
            return self._synthesis(ws, noise_mode=noise_mode, transform=transform)

    def __call__(self, z: torch.Tensor, c: Optional[torch.Tensor] = None, truncation_psi: float = 1.0,
                 truncation_cutoff: Optional[int] = None, noise_mode: str = "const") -> torch.Tensor:
        return self.synthesis(self.mapping(z, c, truncation_psi, truncation_cutoff), noise_mode=noise_mode)

    def _torch_synthesis(self) -> Callable[..., torch.Tensor]:
        if self.layout == "cpu-fast":
            if self.precision not in ("fp32", "bf16"):
                raise ValueError(f"the cpu-fast layout renders fp32 or bf16, not {self.precision}")
            return CpuSynthesis(self.generator.synthesis, DTYPES[self.precision])
        return ReferenceSynthesis(self.generator.synthesis, self.precision)

    def _exported_synthesis(self, exported_file: Optional[Union[str, Path]],
                            providers: Optional[Sequence[str]]) -> Callable[..., torch.Tensor]:
        if self.generator.architecture != "stylegan2":
            raise ValueError(f"the {self.backend} backend renders StyleGAN2 networks; this generator is "
                             f"{self.generator.architecture}: use the torch backend")
        if exported_file is None:
            raise ValueError(f"the {self.backend} backend needs exported_file: the "
                             f"{'ONNX file' if self.backend == 'onnx' else 'TensorRT engine'} to run")
        if self.backend == "onnx":
            return OnnxSynthesis(exported_file, self.device, providers)
        return TensorRTSynthesis(exported_file, self.device)
