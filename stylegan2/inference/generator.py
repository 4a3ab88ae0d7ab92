"""`InferenceGenerator`: a generator frozen for rendering, in the layout chosen for its device."""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import torch

from ..networks import SynthesisNetwork
from .cpu_synthesis import CpuSynthesis

LAYOUTS = ("auto", "reference", "cpu-fast")


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


class InferenceGenerator:
    """Mapping and synthesis without autograd, in one layout chosen once.

    The generator is put in eval mode with gradients off; the layout reads its weights when it is
    built, so wrap a generator whose weights no longer change (after changing them, wrap it again).
    """

    def __init__(self, generator: torch.nn.Module, layout: str = "auto") -> None:
        self.generator = generator.eval().requires_grad_(False)
        self.device = next(generator.parameters()).device
        self.layout = resolve_layout(layout, generator, self.device)
        self._synthesis: Callable[..., torch.Tensor] = (
            CpuSynthesis(generator.synthesis) if self.layout == "cpu-fast" else generator.synthesis)
        self.z_dim: int = generator.z_dim
        self.c_dim: int = generator.c_dim
        self.w_dim: int = generator.w_dim
        self.num_ws: int = generator.num_ws
        self.img_resolution: int = generator.img_resolution
        self.init_kwargs: Dict[str, Any] = generator.init_kwargs
        self.architecture: str = generator.architecture      # "stylegan2" or "stylegan3"
        self.has_noise: bool = generator.has_noise            # StyleGAN3 has no noise inputs

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
