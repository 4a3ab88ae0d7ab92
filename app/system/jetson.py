"""The Jetson's software release: L4T (Linux for Tegra) from /etc/nv_tegra_release, and the JetPack it
belongs to, which decides the Python, CUDA, PyTorch and OpenCV a board can have.

| L4T | JetPack | Ubuntu | Python | CUDA | boards |
|---|---|---|---|---|---|
| r32.7 | 4.6.x | 18.04 | 3.6 | 10.2 | the original Nano, TX1/TX2, Xavier (the last release for the Nano) |
| r35 | 5.x | 20.04 | 3.8 | 11.4 | Xavier, Orin |
| r36 | 6.x | 22.04 | 3.10 | 12.2-12.6 | Orin |
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

NV_TEGRA_RELEASE = Path("/etc/nv_tegra_release")
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")
JETPACKS = {32: "4.6", 35: "5", 36: "6"}     # L4T major release -> JetPack


@dataclass(frozen=True)
class L4tRelease:
    major: int          # 32, 35, 36
    revision: str       # "7.1" (r32.7.1), "2.1" (r35.2.1)
    board: str          # "t210ref" (the original Nano), ...

    def __str__(self) -> str:
        return f"L4T r{self.major}.{self.revision}"

    @property
    def jetpack(self) -> Optional[str]:
        """The JetPack line this release belongs to ("4.6", "5", "6"), None for one this table lacks."""
        return JETPACKS.get(self.major)


def parse_nv_tegra_release(text: str) -> Optional[L4tRelease]:
    """/etc/nv_tegra_release's first line, e.g. ``# R32 (release), REVISION: 7.1, GCID: ..., BOARD: t210ref``."""
    match = re.search(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    if not match:
        return None
    board = re.search(r"BOARD:\s*([\w-]+)", text)
    return L4tRelease(int(match.group(1)), match.group(2), board.group(1) if board else "")


def l4t_release(path: Path = NV_TEGRA_RELEASE) -> Optional[L4tRelease]:
    """This machine's L4T release; None where it is not a Jetson."""
    try:
        return parse_nv_tegra_release(path.read_text(errors="replace"))
    except OSError:
        return None


def board_model(path: Path = DEVICE_TREE_MODEL) -> Optional[str]:
    """The board's name from the device tree, e.g. "NVIDIA Jetson Nano Developer Kit"; None elsewhere."""
    try:
        return path.read_bytes().rstrip(b"\0").decode(errors="replace").strip() or None
    except OSError:
        return None
