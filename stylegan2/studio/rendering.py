"""Rendering many latents: in batches, with a callback per batch or per finished grid row.

Everything renders through a `stylegan2.inference.InferenceGenerator`, in the fastest layout the device
has: pass one (a live app already has one) or a generator, which is wrapped once per call. Callbacks are
how a caller shows work early (a progress bar, a grid that fills in row by row in the page); a callback
may raise to stop the rendering.
"""
from __future__ import annotations

from typing import Callable, Iterator, List, Optional, Tuple, Union

import torch

from ..inference import InferenceGenerator

BatchCallback = Callable[[int, torch.Tensor], None]    # (index of the batch's first latent, images [B, C, H, W])
RowCallback = Callable[[int, torch.Tensor], None]      # (row index, the row's images [columns, C, H, W])


Renderable = Union[torch.nn.Module, InferenceGenerator]


def as_renderer(G: Renderable) -> InferenceGenerator:
    """`G` itself if it is an InferenceGenerator, else `G` wrapped in one."""
    return G if isinstance(G, InferenceGenerator) else InferenceGenerator(G)


def iter_batches(G: Renderable, ws: torch.Tensor, batch_size: int = 8) -> Iterator[Tuple[int, torch.Tensor]]:
    """Yield (start, images [B, C, H, W] float32 on the CPU) for consecutive batches of `ws` [N, num_ws, w_dim].

    Only one batch of images is held at a time, so this suits thousands of latents written to files.
    """
    _check_ws(G, ws)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    renderer = as_renderer(G)
    for start in range(0, ws.shape[0], batch_size):
        images = renderer.synthesis(ws[start:start + batch_size].to(renderer.device), noise_mode="const")
        yield start, images.to("cpu", torch.float32)


def render(G: Renderable, ws: torch.Tensor, batch_size: int = 8,
           on_batch: Optional[BatchCallback] = None) -> torch.Tensor:
    """Images [N, C, H, W] (float32, about [-1, 1], CPU) of `ws` [N, num_ws, w_dim], `batch_size` at a time."""
    batches = []
    for start, images in iter_batches(G, ws, batch_size):
        if on_batch is not None:
            on_batch(start, images)
        batches.append(images)
    return torch.cat(batches)


def render_grid(G: Renderable, ws_grid: torch.Tensor, batch_size: int = 8,
                on_row: Optional[RowCallback] = None) -> torch.Tensor:
    """Images [rows, columns, C, H, W] of a grid of latents [rows, columns, num_ws, w_dim].

    The grid renders in reading order, `batch_size` latents at a time whatever the row length, and
    `on_row(row, images)` runs as soon as each row is complete: with batch 8 and rows of 4, the first
    two rows are shown after the first batch, while the rest still renders.
    """
    if ws_grid.ndim != 4:
        raise ValueError(f"expected a grid of latents [rows, columns, num_ws, w_dim], got {list(ws_grid.shape)}")
    rows, columns = ws_grid.shape[:2]
    finished: List[torch.Tensor] = []          # one [C, H, W] image per latent, in reading order
    shown = 0
    for _, images in iter_batches(as_renderer(G), ws_grid.reshape(rows * columns, *ws_grid.shape[2:]), batch_size):
        finished.extend(images.unbind(0))
        while shown < len(finished) // columns:
            if on_row is not None:
                on_row(shown, torch.stack(finished[shown * columns:(shown + 1) * columns]))
            shown += 1
    return torch.stack(finished).reshape(rows, columns, *finished[0].shape)


def _check_ws(G: Renderable, ws: torch.Tensor) -> None:
    expected = (G.num_ws, G.w_dim)
    if not isinstance(ws, torch.Tensor) or ws.ndim != 3 or tuple(ws.shape[1:]) != expected:
        shape = list(ws.shape) if isinstance(ws, torch.Tensor) else type(ws).__name__
        raise ValueError(f"expected latents [N, {expected[0]}, {expected[1]}] for this generator, got {shape}")
    if ws.shape[0] == 0:
        raise ValueError("there are no latents to render")
