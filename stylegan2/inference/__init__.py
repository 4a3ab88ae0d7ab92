"""Rendering with a generator whose weights no longer change, in the fastest form the device offers.

Training and projection need gradients and run the generator's own layers (NVIDIA's layout). An app
that only renders wraps its generator once: ``InferenceGenerator(G)`` maps and renders without autograd,
with three choices made once:

- the layout (torch backend): ``"cpu-fast"`` on the CPU, `cpu_synthesis.CpuSynthesis` (Winograd
  convolutions, packed weights, one output pass; the same function as NVIDIA's layout to about 2e-5 of
  the image range), or ``"reference"``, the generator's own layers; ``"auto"`` picks;
- the precision (`precision`): fp32, fp16 (NVIDIA's mixed precision on CUDA), bf16 (CPUs with
  AVX512-BF16 or AMX, Ampere GPUs), ``"native"`` (as the network runs by itself) or ``"auto"``;
- the backend: ``"torch"``, ``"onnx"`` (onnxruntime on a graph from `export.export_onnx`) or
  ``"tensorrt"`` (an engine built from that graph with trtexec, `tensorrt_backend`).

`quality` measures how far a rendering is from fp32 PyTorch (PSNR, largest difference).
"""
from .generator import BACKENDS, LAYOUTS, InferenceGenerator, ReferenceSynthesis, resolve_layout
from .onnx_backend import BackendUnavailable
from .precision import PRECISIONS, resolve_precision

__all__ = ["BACKENDS", "BackendUnavailable", "InferenceGenerator", "LAYOUTS", "PRECISIONS", "ReferenceSynthesis",
           "resolve_layout", "resolve_precision"]
