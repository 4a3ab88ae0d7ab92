"""What the machine offers the engine: the torch device to run on ("auto", "cpu", "cuda", "cuda:N", checked
against this machine), the processor's name and instruction-set flags, and a device's name.

Benchmarks report these with their figures, and the choice of precision asks them (bf16 pays on CPUs with
AVX512-BF16 or AMX).
"""
from __future__ import annotations

import platform
from pathlib import Path
from typing import FrozenSet

import torch

CPUINFO = Path("/proc/cpuinfo")


class DeviceError(ValueError):
    """A device that cannot work here (e.g. "cuda" without CUDA); says what to do instead."""


def resolve_device(name: str) -> torch.device:
    """"auto" -> cuda if available else cpu; "cuda" without CUDA, or a cuda:N this machine lacks, is a clear
    error (the CLI shows it as one line, where torch would fail later with a traceback)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise DeviceError(f"unsupported device {name!r}: use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} was asked for, but this PyTorch has no usable CUDA "
                          "(install a CUDA build of torch, or run on the cpu device)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        which = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
        raise DeviceError(f"device {name!r} was asked for, but this machine has {count} CUDA "
                          f"device{'' if count == 1 else 's'} ({which}); pick one of those, or cuda")
    return device


def cpu_name() -> str:
    """The processor's model name (Linux), else what the platform module knows."""
    for line in _cpuinfo_lines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_flags() -> FrozenSet[str]:
    """The instruction-set flags the kernel reports for the first processor (Linux; empty elsewhere)."""
    for line in _cpuinfo_lines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def device_name(device: torch.device) -> str:
    """A GPU's name, or the CPU's."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()


def _cpuinfo_lines():
    try:
        return CPUINFO.read_text().splitlines()
    except OSError:
        return []
