"""Style mixing between faces: the coarse / middle / fine layer groups and the style-mixing matrix.

The groups are those of the StyleGAN paper (Karras et al. 2019, section 3.1): the styles of the 4-8 px
resolutions ("coarse": pose, face shape, glasses), of 16-32 px ("middle": features, hair style, eyes
open or closed) and of 64 px up ("fine": colours, micro-structure). They are found from each W+ index's
resolution (`latents.layer_resolutions`), so they fit a model of any resolution: 0:4, 4:8, 8:18 at
1024 px; 0:4, 4:8, 8:14 at 256 px; 0:4, 4:8, 8:10 at 64 px.
"""
from __future__ import annotations

from typing import Dict, Tuple, Union

import torch

from ..latents import layer_resolutions, mix, parse_layers

# Group name -> (lowest, highest) resolution whose styles it holds; None = no upper bound.
LAYER_GROUPS: Dict[str, Tuple[int, Union[int, None]]] = {"coarse": (4, 8), "middle": (16, 32), "fine": (64, None)}


def layer_group(G_or_num_ws: Union[torch.nn.Module, int], name: str) -> slice:
    """The W+ indices of the group `name` ("coarse", "middle" or "fine") for a model, as a slice."""
    if name not in LAYER_GROUPS:
        raise ValueError(f"unknown layer group {name!r}: expected one of {', '.join(LAYER_GROUPS)}")
    low, high = LAYER_GROUPS[name]
    resolutions = layer_resolutions(G_or_num_ws)
    indices = [i for i, res in enumerate(resolutions) if res >= low and (high is None or res <= high)]
    if not indices:
        raise ValueError(f"a {resolutions[-1]} px model has no {name} layers (those of "
                         f"{low}{'' if high is None else f'-{high}'} px{' and up' if high is None else ''}); "
                         f"give a range such as 0:{len(resolutions)} instead")
    return slice(indices[0], indices[-1] + 1)


def parse_layer_spec(spec: str, num_ws: int) -> slice:
    """A layer group name ("coarse", "middle", "fine") or a range "A:B" / "i", checked against num_ws."""
    text = str(spec).strip().lower()
    if text in LAYER_GROUPS:
        return layer_group(num_ws, text)
    try:
        return parse_layers(text, num_ws)
    except ValueError as error:
        raise ValueError(f"{error} (or a group: {', '.join(LAYER_GROUPS)})") from None


def mixing_matrix(row_ws: torch.Tensor, column_ws: torch.Tensor, layers: slice) -> torch.Tensor:
    """Latents [R, C, num_ws, w_dim]: cell (r, c) is row r's latent with the `layers` of column c's.

    As in NVIDIA's style-mixing figure, the rows give everything outside `layers` and the columns give
    the styles at `layers` (coarse: the column's pose and face shape on the row's face).
    """
    for name, ws in (("row_ws", row_ws), ("column_ws", column_ws)):
        if not isinstance(ws, torch.Tensor) or ws.ndim != 3:
            raise ValueError(f"{name} must be W+ latents [N, num_ws, w_dim], got {getattr(ws, 'shape', ws)}")
    rows, columns = row_ws.shape[0], column_ws.shape[0]
    cells = mix(row_ws.repeat_interleave(columns, dim=0), column_ws.repeat(rows, 1, 1), layers, strength=1.0)
    return cells.reshape(rows, columns, *row_ws.shape[1:])
