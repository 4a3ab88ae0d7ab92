"""Which number format the synthesis network renders in, and what "auto" means on a device.

- ``"native"``: as the network was built to run: NVIDIA's networks run their top resolutions in fp16 on
  CUDA (``num_fp16_res``), everything else is fp32. What rendering did before precisions could be chosen.
- ``"fp32"``: every layer in float32 (the reference for the quality of the others).
- ``"fp16"``: NVIDIA's mixed precision on CUDA (the network's fp16 resolutions in float16). CUDA only: a
  CPU has no fast fp16 convolutions.
- ``"bf16"``: bfloat16 activations and convolutions with fp32 accumulation: on CPUs with AVX512-BF16 or
  AMX, about twice the convolution throughput of fp32 (PyTorch 2 and later); on CUDA, GPUs of compute
  capability 8.0 and up.
- ``"auto"``: the fastest that keeps the image: fp16 on CUDA for networks that have fp16 resolutions,
  bf16 on CPUs with native bf16 instructions for StyleGAN2 (StyleGAN3 runs slower in bf16 there), fp32
  otherwise.
"""
from __future__ import annotations

import re
from typing import FrozenSet, Optional

import torch

from ..hardware import cpu_flags

PRECISIONS = ("native", "auto", "fp32", "fp16", "bf16")
# PyTorch 1.13's CPU bf16 transposed convolution fails (it checks the weight as a plain convolution's), so bf16
# on the CPU needs PyTorch 2.
CPU_BF16_MIN_TORCH = (2, 0)
TORCH_VERSION = tuple(int(part) for part in re.findall(r"\d+", torch.__version__)[:2])
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")   # /proc/cpuinfo flags of native bf16 dot products


def cpu_has_native_bf16(flags: Optional[FrozenSet[str]] = None) -> bool:
    """Whether the CPU computes bf16 dot products natively (AVX512-BF16 or AMX), where bf16 is fast."""
    flags = cpu_flags() if flags is None else flags
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def torch_has_cpu_bf16() -> bool:
    """Whether this PyTorch renders bf16 on the CPU (2.0 and later)."""
    return TORCH_VERSION >= CPU_BF16_MIN_TORCH


def autocast_precision(device: torch.device, flags: Optional[FrozenSet[str]] = None,
                       architecture: str = "stylegan2") -> str:
    """The precision to train or optimise a generator of ``architecture`` in under autocast (projection):
    "bf16" for StyleGAN2 on CPUs that compute it natively (with torch 2), else "fp32" (on CUDA the network's
    own fp16 layers already apply; StyleGAN3 runs slower in bf16 on the CPU, see ``resolve_precision``)."""
    fast = (device.type == "cpu" and architecture == "stylegan2" and cpu_has_native_bf16(flags)
            and torch_has_cpu_bf16())
    return "bf16" if fast else "fp32"


def cuda_has_bf16(device: torch.device) -> bool:
    """Whether a CUDA device runs bf16 natively (compute capability 8.0 and up: Ampere, Jetson Orin)."""
    return device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8


def has_fp16_layers(generator: torch.nn.Module) -> bool:
    """Whether the synthesis network has layers NVIDIA runs in fp16 on CUDA (``num_fp16_res`` > 0)."""
    return any(getattr(module, "use_fp16", False) for module in generator.synthesis.modules())


def resolve_precision(precision: str, generator: torch.nn.Module, device: torch.device,
                      flags: Optional[FrozenSet[str]] = None, backend: str = "torch") -> str:
    """The concrete precision ("fp32", "fp16" or "bf16") that ``precision`` means for ``generator`` on
    ``device`` with ``backend`` ("torch", "onnx", "tensorrt"); ``flags`` are the CPU's (default: this
    machine's). The onnx backend renders fp32 (its graph's). A precision that cannot run there is a
    ValueError that says why and what to use instead."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    on_cuda = device.type == "cuda"
    if backend == "onnx":
        if precision not in ("native", "auto", "fp32"):
            raise ValueError(f"the onnx backend renders fp32 (the exported graph's), not {precision}; for fp16 use "
                             f"the tensorrt backend")
        return "fp32"
    if backend == "tensorrt" and precision == "bf16":
        raise ValueError("a TensorRT engine renders fp32 or fp16 (chosen when it is built), not bf16")
    if precision == "native":
        return "fp16" if on_cuda and has_fp16_layers(generator) else "fp32"
    if precision == "auto":
        if on_cuda:
            return "fp16" if has_fp16_layers(generator) else "fp32"
        # StyleGAN3 spends its time in depthwise filter convolutions, which oneDNN runs slower in bf16 than
        # in fp32 (bench_generator.py: 1.8x the time for config T, 3.3x for R): only StyleGAN2 gains.
        bf16 = (backend == "torch" and generator.architecture == "stylegan2" and cpu_has_native_bf16(flags)
                and torch_has_cpu_bf16())
        return "bf16" if bf16 else "fp32"
    if precision == "fp16":
        if not on_cuda:
            raise ValueError("fp16 renders on CUDA only (a CPU has no fast fp16 convolutions); on the CPU use "
                             "bf16 (fast where the CPU has AVX512-BF16 or AMX) or fp32")
        if not has_fp16_layers(generator):
            raise ValueError("this generator has no fp16 resolutions (num_fp16_res = 0, as in rosinality's "
                             "models, which have no conv_clamp to keep fp16 from overflowing): use fp32")
    if precision == "bf16" and not on_cuda and not torch_has_cpu_bf16():
        raise ValueError(f"bf16 on the CPU needs PyTorch 2.0 or newer (this is {torch.__version__}, whose bf16 "
                         f"transposed convolution fails): use fp32")
    if precision == "bf16" and on_cuda and not cuda_has_bf16(device):
        raise ValueError(f"{torch.cuda.get_device_name(device)} has no native bf16 (compute capability 8.0 "
                         f"and up has it): use fp16 or fp32")
    return precision
