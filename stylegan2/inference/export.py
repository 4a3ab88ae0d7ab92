"""The StyleGAN2 synthesis network as a graph that exports to ONNX (and from there to TensorRT).

`ExportSynthesis` computes `networks.SynthesisNetwork`'s function (noise "const") in the layout ONNX and
TensorRT can take: NVIDIA's non-fused modulated convolution (scale the input by the styles, convolve with
the one shared weight, scale by the demodulation coefficients), never a grouped convolution with weights
made per sample. Everything derived from the weights (the filters, the constant noise, the squared
weight norms of demodulation) is a constant of the graph; the batch size is the graph's one free dimension.

Weights and styles are pre-normalised as NVIDIA does for fp16 (demodulation cancels the factors exactly),
so that a TensorRT engine built in fp16 cannot overflow in the modulation.
"""
from __future__ import annotations

import inspect
import math
import os
import warnings
from pathlib import Path
from typing import List, Optional, Union

import torch
import torch.nn.functional as F

from .. import ops
from ..layers import FullyConnectedLayer, SynthesisLayer, ToRGBLayer
from ..networks import SynthesisBlock, SynthesisNetwork

ONNX_OPSET = 13            # TensorRT 8.2 (JetPack 4.6, the original Nano) and onnxruntime read it.
EXPORT_VERSION = 1         # Part of the exported files' cache key: raise it when the graph changes.
INPUT_NAME = "ws"
OUTPUT_NAME = "image"


class ExportAffine(torch.nn.Module):
    """A style affine layer with its gains applied: styles = w @ W^T + b (times ``gain``)."""

    def __init__(self, layer: FullyConnectedLayer, gain: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("weight_t", (layer.weight.detach() * (layer.weight_gain * gain)).t().contiguous())
        self.register_buffer("bias", layer.bias.detach() * (layer.bias_gain * gain))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, w, self.weight_t)


class ExportLayer(torch.nn.Module):
    """`SynthesisLayer` with noise "const": non-fused modulated 3x3 conv (or its 2x upsampling form),
    constant noise, bias, activation with its gain, clamp."""

    def __init__(self, layer: SynthesisLayer) -> None:
        super().__init__()
        if not supports(layer):
            raise ValueError("only the released layer shapes export: 3x3 kernels, and a 4-tap filter for up=2")
        weight = layer.weight.detach()
        out_channels, in_channels, kernel, _ = weight.shape
        weight = weight * (1 / math.sqrt(in_channels * kernel * kernel)
                           / weight.abs().amax(dim=[1, 2, 3], keepdim=True))
        self.up = layer.up
        self.padding = kernel // 2
        self.activation = layer.activation
        self.act_gain = layer.act_gain
        self.conv_clamp = layer.conv_clamp
        self.affine = ExportAffine(layer.affine)
        self.register_buffer("squared_norms_t", weight.square().sum(dim=[2, 3]).t().contiguous())  # [C, O]
        self.register_buffer("weight", weight if layer.up == 1 else weight.transpose(0, 1).contiguous())
        self.register_buffer("bias", layer.bias.detach().view(1, -1, 1, 1))
        noise = layer.noise(1, "const", weight.device)
        self.register_buffer("noise", noise.view(1, 1, *noise.shape) if noise is not None else None)
        if layer.up == 2:
            taps = layer.resample_filter.shape[-1]
            lowpass = (layer.resample_filter * 4).flip([0, 1]).expand(out_channels, 1, taps, taps)
            self.register_buffer("lowpass", lowpass.contiguous())

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        styles = styles / styles.abs().amax(dim=1, keepdim=True)
        demodulation = torch.rsqrt(styles.square().matmul(self.squared_norms_t) + 1e-8)   # [N, O]
        x = x * styles.unsqueeze(2).unsqueeze(3)
        if self.up == 1:
            x = F.conv2d(x, self.weight, padding=self.padding)
        else:
            x = F.conv_transpose2d(x, self.weight, stride=2)
            x = F.conv2d(x, self.lowpass, padding=1, groups=self.lowpass.shape[0])
        x = x * demodulation.unsqueeze(2).unsqueeze(3)
        if self.noise is not None:
            x = x + self.noise
        x = ops.ACTIVATIONS[self.activation][0](x + self.bias) * self.act_gain
        return x.clamp(-self.conv_clamp, self.conv_clamp) if self.conv_clamp is not None else x


class ExportToRGB(torch.nn.Module):
    """`ToRGBLayer`: modulated 1x1 conv without demodulation, bias, clamp."""

    def __init__(self, layer: ToRGBLayer) -> None:
        super().__init__()
        self.conv_clamp = layer.conv_clamp
        self.affine = ExportAffine(layer.affine, gain=layer.weight_gain)
        self.register_buffer("weight", layer.weight.detach())
        self.register_buffer("bias", layer.bias.detach())

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x * self.affine(w).unsqueeze(2).unsqueeze(3), self.weight, self.bias)
        return x.clamp(-self.conv_clamp, self.conv_clamp) if self.conv_clamp is not None else x


class ExportBlock(torch.nn.Module):
    """`SynthesisBlock` ("skip" architecture): [upsampling conv0], conv1, ToRGB added to the upsampled image."""

    def __init__(self, block: SynthesisBlock) -> None:
        super().__init__()
        if block.architecture != "skip":
            raise ValueError(f"only the 'skip' synthesis architecture exports, not {block.architecture!r}")
        self.first = block.in_channels == 0
        if self.first:
            self.register_buffer("const", block.const.detach().unsqueeze(0))
        else:
            self.conv0 = ExportLayer(block.conv0)
        self.conv1 = ExportLayer(block.conv1)
        self.torgb = ExportToRGB(block.torgb)
        taps = block.resample_filter.shape[-1]
        if taps != 4:
            raise ValueError(f"only the released 4-tap resampling filter exports, not {taps} taps")
        # The image's 2x upsampling (ops.upsample2d) is a depthwise transposed convolution with the filter.
        self.register_buffer("upsample", (block.resample_filter * 4).expand(block.img_channels, 1, taps, taps)
                             .contiguous())

    def forward(self, x: Optional[torch.Tensor], img: Optional[torch.Tensor], ws: List[torch.Tensor]):
        if self.first:
            x = self.const.expand(ws[0].shape[0], -1, -1, -1)
        else:
            x = self.conv0(x, ws.pop(0))
        x = self.conv1(x, ws.pop(0))
        y = self.torgb(x, ws.pop(0))
        if img is not None:
            img = F.conv_transpose2d(img, self.upsample, stride=2, padding=1, groups=self.upsample.shape[0])
            y = img + y
        return x, y


class ExportSynthesis(torch.nn.Module):
    """`SynthesisNetwork` (StyleGAN2, noise "const") as an exportable graph: ws [N, num_ws, w_dim] -> float32
    images [N, C, R, R]."""

    def __init__(self, synthesis: SynthesisNetwork) -> None:
        super().__init__()
        if not isinstance(synthesis, SynthesisNetwork):
            raise ValueError(f"only StyleGAN2 synthesis networks export, not {type(synthesis).__name__}")
        self.num_ws = synthesis.num_ws
        self.w_dim = synthesis.w_dim
        blocks = [getattr(synthesis, f"b{res}") for res in synthesis.block_resolutions]
        self.blocks = torch.nn.ModuleList(ExportBlock(block) for block in blocks)
        # Which ws each block takes: its convolutions' and its ToRGB's (shared with the next block's first conv).
        self.block_w_indices = []
        w_idx = 0
        for block in blocks:
            self.block_w_indices.append(list(range(w_idx, w_idx + block.num_conv + block.num_torgb)))
            w_idx += block.num_conv

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        x = img = None
        for block, indices in zip(self.blocks, self.block_w_indices):
            x, img = block(x, img, [ws[:, i] for i in indices])
        return img


def supports(layer: SynthesisLayer) -> bool:
    """Whether a layer has the released shape that exports: 3x3 kernels, and a 4-tap filter for up=2."""
    return layer.weight.shape[-1] == 3 and (layer.up == 1 or layer.resample_filter.shape[-1] == 4)


def export_onnx(synthesis: SynthesisNetwork, path: Union[str, Path], batch_size: int = 1,
                opset: int = ONNX_OPSET) -> Path:
    """Write the synthesis network (noise "const") as an ONNX file with input "ws" [N, num_ws, w_dim] and
    output "image" [N, C, R, R], N free (``batch_size`` only traces it). Written beside ``path`` and then
    moved into place, so a failed export leaves no half file."""
    path = Path(path)
    module = ExportSynthesis(synthesis).eval()
    ws = torch.zeros(batch_size, module.num_ws, module.w_dim, device=_device(synthesis))
    options = dict(input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=opset,
                   dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}, do_constant_folding=True)
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        options["dynamo"] = False      # The TorchScript exporter: the one torch 1.13 and 2.x both have.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)   # torch 2.9+ deprecates the TorchScript exporter
            torch.onnx.export(module, (ws,), str(partial), **options)
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()
    return path


def _device(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device
