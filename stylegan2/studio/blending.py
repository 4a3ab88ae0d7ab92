"""Model blending ("layer swapping"): one generator's low resolutions with another's high resolutions.

Two generators of the same architecture, one fine-tuned from the other (say cartoon faces from FFHQ),
share the meaning of their layers; taking the synthesis blocks below a resolution from BASE and those
from it on from OTHER gives the structure of the one with the textures of the other (Pinkney & Adler,
"Resolution Dependent GAN Interpolation", 2020: the "toonify" models). The mapping network and its
w_avg come whole from one side, so that the blended model's w (and its truncation) are that side's.

A smooth blend weighs each block instead of choosing it:

    weight of OTHER at a block of resolution r = sigmoid((log2(r) - log2(swap_res) + 1/2) / blend_width)

so the swap point lies halfway between the last block of BASE and the first of OTHER, a narrow width
tends to the hard swap, and a wider one spreads the change over more resolutions. Every tensor of a
block (its convolutions, style affines, biases, noise strengths and noise images, ToRGB) takes the
block's weight.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import torch

from ..files import file_sha256
from ..loaders import load, save
from ..networks import Generator

MAPPING_SIDES = ("base", "other")


class IncompatibleModels(ValueError):
    """Two generators whose layers do not correspond one to one, so they cannot be blended."""


def architecture_differences(base: torch.nn.Module, other: torch.nn.Module) -> List[str]:
    """What differs between two generators' architectures, in words; empty when they can be blended."""
    differences = []
    for what, attribute in (("resolution", "img_resolution"), ("image channels", "img_channels"),
                            ("z_dim", "z_dim"), ("w_dim", "w_dim"), ("c_dim", "c_dim")):
        a, b = getattr(base, attribute), getattr(other, attribute)
        if a != b:
            differences.append(f"{what} ({a} vs {b})")
    if base.mapping.num_layers != other.mapping.num_layers:
        differences.append(f"mapping depth ({base.mapping.num_layers} vs {other.mapping.num_layers} layers)")
    if base.img_resolution == other.img_resolution:
        widths = [f"{res} px: {width} vs {other.synthesis.channels[res]}"
                  for res, width in base.synthesis.channels.items() if other.synthesis.channels[res] != width]
        if widths:
            differences.append(f"channel widths ({'; '.join(widths)})")
    if not differences:
        base_state, other_state = base.state_dict(), other.state_dict()
        keys = sorted(set(base_state) ^ set(other_state))
        if keys:
            differences.append(f"layers ({len(keys)} tensors in one only, e.g. {', '.join(keys[:3])})")
        shapes = [f"{key} {list(tensor.shape)} vs {list(other_state[key].shape)}" for key, tensor in base_state.items()
                  if key in other_state and tensor.shape != other_state[key].shape]
        if shapes:
            differences.append(f"tensor shapes ({'; '.join(shapes[:3])}{' ...' if len(shapes) > 3 else ''})")
    return differences


def check_swap_resolution(G: torch.nn.Module, swap_res: int) -> None:
    """A swap resolution must be a block resolution above 4 px (BASE keeps at least the 4 px block)."""
    resolutions = G.synthesis.block_resolutions
    if swap_res not in resolutions[1:]:
        raise ValueError(f"the swap resolution must be one of {', '.join(map(str, resolutions[1:]))} for a "
                         f"{G.img_resolution} px model (blocks from it on come from OTHER), got {swap_res}")


def block_weights(G: torch.nn.Module, swap_res: int, blend_width: Optional[float] = None) -> Dict[int, float]:
    """{block resolution: weight of OTHER} (0 = all BASE, 1 = all OTHER); no width means a hard swap."""
    check_swap_resolution(G, swap_res)
    if blend_width is None:
        return {res: float(res >= swap_res) for res in G.synthesis.block_resolutions}
    if isinstance(blend_width, bool) or not isinstance(blend_width, (int, float)) or not blend_width > 0:
        raise ValueError(f"the blend width must be a positive number of octaves, got {blend_width!r}")
    position = {res: math.log2(res) - math.log2(swap_res) + 0.5 for res in G.synthesis.block_resolutions}
    return {res: 1 / (1 + math.exp(-offset / blend_width)) for res, offset in position.items()}


def blend_generators(base: torch.nn.Module, other: torch.nn.Module, swap_res: int,
                     blend_width: Optional[float] = None, mapping: str = "base") -> Generator:
    """A new generator: BASE's synthesis blocks below `swap_res` and OTHER's from it on (or a smooth
    weighting, see the module docstring), the mapping network and w_avg from the side `mapping` names.

    Raises IncompatibleModels saying what differs when the two do not have the same architecture.
    """
    if mapping not in MAPPING_SIDES:
        raise ValueError(f"mapping must be 'base' or 'other', got {mapping!r}")
    for side, G in (("base", base), ("other", other)):
        if G.architecture != "stylegan2":
            raise IncompatibleModels(f"blending swaps StyleGAN2's resolution blocks, and the {side} model is "
                                     f"{G.architecture}, which has none")
    differences = architecture_differences(base, other)
    if differences:
        raise IncompatibleModels(f"the models differ in {', '.join(differences)}; only models of one "
                                 f"architecture (one fine-tuned from the other) can be blended")
    weights = block_weights(base, swap_res, blend_width)
    mapping_state = (base if mapping == "base" else other).state_dict()
    other_state = other.state_dict()
    blended = {}
    for key, tensor in base.state_dict().items():
        if key.startswith("mapping."):
            blended[key] = mapping_state[key].clone()
            continue
        weight = weights[_block_resolution(key)]
        source = other_state[key].to(tensor.device, tensor.dtype)
        blended[key] = tensor.clone() if weight == 0 else source.clone() if weight == 1 else tensor.lerp(source, weight)
    init_kwargs = dict(base.init_kwargs)
    init_kwargs["mapping_kwargs"] = dict((base if mapping == "base" else other).init_kwargs["mapping_kwargs"])
    device = next(base.parameters()).device
    G = Generator(**init_kwargs).to(device)
    G.load_state_dict(blended)
    return G.eval().requires_grad_(False)


def blend_files(base: Union[str, Path], other: Union[str, Path], out: Union[str, Path], swap_res: int,
                blend_width: Optional[float] = None, mapping: str = "base") -> Dict[str, Any]:
    """Blend two weight files (any format `stylegan2.load` reads) and save the result
    in StyleCam's format at `out`; returns the provenance saved in its meta under "blend": each source's
    file name, format and sha256, and the settings. Load failures raise `WeightsFormatError`."""
    sources = {"base": load(base), "other": load(other)}
    G = blend_generators(sources["base"].generator, sources["other"].generator, swap_res, blend_width, mapping)
    provenance = {side: {"file": Path(loaded.meta["path"]).name, "format": loaded.meta["format"],
                         "sha256": file_sha256(Path(loaded.meta["path"]))}
                  for side, loaded in sources.items()}
    provenance.update(swap_res=swap_res, blend_width=blend_width, mapping=mapping,
                      other_weight_by_resolution={str(res): weight for res, weight
                                                  in block_weights(G, swap_res, blend_width).items()})
    save(G, out, {"blend": provenance})
    return provenance


def _block_resolution(key: str) -> int:
    """The resolution of the synthesis block a state-dict key belongs to: 'synthesis.b32.conv0.weight' -> 32."""
    parts = key.split(".")
    if len(parts) < 3 or parts[0] != "synthesis" or not parts[1].startswith("b") or not parts[1][1:].isdigit():
        raise ValueError(f"cannot tell which synthesis block the tensor {key!r} belongs to")
    return int(parts[1][1:])
