"""Adaptive discriminator augmentation (ADA): tune the augmentation probability p to D's overfitting.

The overfitting heuristic r_t = E[sign(D(real))] is gathered over `interval` steps; then p moves by
sign(r_t - target) * (batch * interval) / (kimg * 1000), so p can go from 0 to 1 in `kimg` thousand
images, and never below 0. This is stylegan2-ada-pytorch's rule (target 0.6, interval 4, 500 kimg;
100 kimg when fine-tuning). The pipeline itself is any module with a scalar `p` buffer.
"""
from __future__ import annotations

from typing import Callable, Dict

import torch

from .errors import TrainingError

AllReduce = Callable[[torch.Tensor], torch.Tensor]


class AdaptiveAugment:
    """Adjusts `pipe.p` every `interval` steps from the signs of D's logits on the real images."""

    def __init__(self, pipe: torch.nn.Module, target: float = 0.6, interval: int = 4, kimg: float = 500,
                 batch: int = 32):
        if not isinstance(getattr(pipe, "p", None), torch.Tensor):
            raise TrainingError(f"adaptive augmentation needs a pipeline with a 'p' buffer; "
                                f"{type(pipe).__name__} has none")
        self.pipe = pipe
        self.target = target
        self.interval = interval
        self.step_size = batch * interval / (kimg * 1000)
        self._signs = torch.zeros([2], dtype=torch.float64, device=pipe.p.device)   # sum of signs, count

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Count the signs of one batch of D's logits on real images (on their device: no synchronisation)."""
        signs = real_logits.detach().sign().to(self._signs)
        self._signs += torch.stack([signs.sum(), signs.new_tensor(float(signs.numel()))])

    def update(self, step: int, all_reduce: AllReduce) -> None:
        """After training step `step` (counted from 0): adjust p if an interval has ended.

        `all_reduce` sums a tensor over the processes, so every process moves p the same way.
        """
        if (step + 1) % self.interval:
            return
        total, count = all_reduce(self._signs.clone()).tolist()   # the one synchronisation per interval
        self._signs.zero_()
        if count == 0:
            return
        adjust = (1.0 if total / count > self.target else -1.0 if total / count < self.target else 0.0)
        with torch.no_grad():
            self.pipe.p.copy_((self.pipe.p + adjust * self.step_size).clamp(min=0))

    @property
    def p(self) -> float:
        return float(self.pipe.p)

    def state_dict(self) -> Dict[str, torch.Tensor]:
        return {"p": self.pipe.p.detach().cpu().clone(), "signs": self._signs.cpu().clone()}

    def load_state_dict(self, state: Dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            self.pipe.p.copy_(state["p"])
        self._signs.copy_(state["signs"])
