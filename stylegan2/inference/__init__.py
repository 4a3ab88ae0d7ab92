"""Rendering with a generator whose weights no longer change, in the fastest layout the device offers.

Training and projection need gradients and run the generator's own layers (NVIDIA's layout). An app
that only renders wraps its generator once: ``InferenceGenerator(G)`` maps and renders without autograd
in the layout chosen for the device (``layout="auto"``) or the one asked for:

- ``"cpu-fast"``: on the CPU, `cpu_synthesis.CpuSynthesis` (Winograd convolutions, packed weights, one
  output pass; the same function as NVIDIA's layout to about 2e-5 of the image range);
- ``"reference"``: the generator's own layers, with the top resolutions in fp16 on CUDA as NVIDIA's
  networks do.
"""
from .generator import LAYOUTS, InferenceGenerator, resolve_layout

__all__ = ["InferenceGenerator", "LAYOUTS", "resolve_layout"]
