"""Which torch device StyleCam computes on: "auto", "cpu", "cuda" or "cuda:N", checked against this machine."""
from __future__ import annotations

import torch


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
                          "(install a CUDA build of torch, or use --device cpu)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        which = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
        raise DeviceError(f"device {name!r} was asked for, but this machine has {count} CUDA "
                          f"device{'' if count == 1 else 's'} ({which}); pick one of those, or use --device cuda")
    return device
