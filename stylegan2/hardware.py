"""What the machine offers the engine: the processor's name and instruction-set flags, and a device's name.

Benchmarks report these with their figures, and the choice of precision asks them (bf16 pays on CPUs with
AVX512-BF16 or AMX).
"""
from __future__ import annotations

import platform
from pathlib import Path
from typing import FrozenSet

import torch

CPUINFO = Path("/proc/cpuinfo")


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
