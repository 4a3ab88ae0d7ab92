"""The StyleGAN2 objective, phase by phase, as NVIDIA's `training.loss.StyleGAN2Loss` defines it.

- Gmain: non-saturating logistic loss of the generated images, softplus(-D(G(z))).
- Greg: path-length regularisation on a 1/pl_batch_shrink part of the batch: the length of the
  Jacobian-vector product of random image noise with respect to the ws, pulled towards its running
  mean `pl_mean` (updated with decay pl_decay; the update is not detached inside the penalty).
- Dmain: softplus(D(G(z))) + softplus(-D(x)) for real x.
- Dreg: R1, (r1_gamma / 2) * |dD(x)/dx|^2 on the real images.
- Gboth / Dboth: main and regularisation together (when lazy regularisation is off).

Every backward pass is of a mean over the batch times `gain` (the loop passes the regularisation
interval, which makes lazy regularisation as strong as regularising every step). The generator runs in
its training layout (unfused modulated convolutions) and, in train mode, tracks its w_avg from the main
z as NVIDIA's mapping network does; images go through the augmentation pipeline, if any, before D.
On CUDA the networks' num_fp16_res top resolutions run in fp16, as NVIDIA trains them.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

PHASES = ("Gmain", "Greg", "Gboth", "Dmain", "Dreg", "Dboth")


class StyleGAN2Loss:
    """Accumulates the gradients of one phase of the StyleGAN2 objective into G's or D's `.grad`."""

    def __init__(self,
        G: torch.nn.Module,                             # Generator (mapping + synthesis).
        D: torch.nn.Module,                             # Discriminator.
        augment_pipe: Optional[torch.nn.Module] = None, # Applied to every image D sees, None = none.
        style_mixing_prob: float = 0.9,                 # Probability of mixing two z's in a batch.
        r1_gamma: float = 10.0,                         # R1 weight.
        pl_batch_shrink: int = 2,                       # The path-length batch is batch // pl_batch_shrink.
        pl_decay: float = 0.01,                         # Decay of the path-length running mean.
        pl_weight: float = 2.0,                         # Path-length weight, 0 = off.
        noise_mode: str = "random",                     # The generator's per-pixel noise while training.
        fp16_on_cpu: bool = False,                      # Run the fp16 blocks in fp16 on the CPU too (tests).
    ):
        self.G = G
        self.D = D
        self.augment_pipe = augment_pipe
        self.style_mixing_prob = style_mixing_prob
        self.r1_gamma = r1_gamma
        self.pl_batch_shrink = pl_batch_shrink
        self.pl_decay = pl_decay
        self.pl_weight = pl_weight
        self.noise_mode = noise_mode
        self.fp16_on_cpu = fp16_on_cpu
        self.pl_mean = torch.zeros([], device=next(G.parameters()).device)

    def state_dict(self) -> Dict[str, torch.Tensor]:
        return {"pl_mean": self.pl_mean.detach().cpu().clone()}

    def load_state_dict(self, state: Dict[str, torch.Tensor]) -> None:
        self.pl_mean.copy_(state["pl_mean"])

    def run_G(self, z: torch.Tensor, c: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(images, ws): the mapping (with style mixing) and the synthesis in its training layout."""
        mapping = self.G.mapping
        ws = mapping(z, c)
        if mapping.training and mapping.w_avg_beta is not None:
            with torch.no_grad():
                mapping.w_avg.copy_(ws[:, 0].mean(dim=0).lerp(mapping.w_avg, mapping.w_avg_beta))
        if self.style_mixing_prob > 0 and torch.rand([]).item() < self.style_mixing_prob:
            cutoff = int(torch.randint(1, ws.shape[1], []))
            ws[:, cutoff:] = mapping(torch.randn_like(z), c)[:, cutoff:]
        img = self.G.synthesis(ws, noise_mode=self.noise_mode, fused_modconv=False, fp16_on_cpu=self.fp16_on_cpu)
        return img, ws

    def run_D(self, img: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if self.augment_pipe is not None:
            img = self.augment_pipe(img)
        return self.D(img, c, fp16_on_cpu=self.fp16_on_cpu)

    def accumulate_gradients(self, phase: str, real_img: torch.Tensor, real_c: torch.Tensor, gen_z: torch.Tensor,
                             gen_c: torch.Tensor, gain: float = 1.0, pl_noise: Optional[torch.Tensor] = None,
                             ) -> Dict[str, torch.Tensor]:
        """Add the gradients of `phase` (one of PHASES) to the parameters that require grad.

        `pl_noise` is the N(0, 1) image noise of the path-length regulariser, drawn when None. Returns
        the tensors the phase computed (detached), under NVIDIA's names: gen_img, gen_ws, gen_logits,
        loss_Gmain, pl_noise, pl_grads, pl_lengths, pl_mean, pl_penalty, loss_Gpl, loss_Dgen,
        real_logits, loss_Dreal, r1_grads, r1_penalty, loss_Dr1.
        """
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        do_Gmain = phase in ("Gmain", "Gboth")
        do_Dmain = phase in ("Dmain", "Dboth")
        do_Gpl = phase in ("Greg", "Gboth") and self.pl_weight != 0
        do_Dr1 = phase in ("Dreg", "Dboth") and self.r1_gamma != 0
        out: Dict[str, torch.Tensor] = {}

        if do_Gmain:
            gen_img, gen_ws = self.run_G(gen_z, gen_c)
            gen_logits = self.run_D(gen_img, gen_c)
            loss_Gmain = F.softplus(-gen_logits)                    # -log(sigmoid(gen_logits))
            loss_Gmain.mean().mul(gain).backward()
            out.update(gen_img=gen_img, gen_ws=gen_ws, gen_logits=gen_logits, loss_Gmain=loss_Gmain)

        if do_Gpl:
            batch_size = gen_z.shape[0] // self.pl_batch_shrink
            gen_img, gen_ws = self.run_G(gen_z[:batch_size], gen_c[:batch_size])
            noise = torch.randn_like(gen_img) if pl_noise is None else pl_noise.to(gen_img)
            noise = noise / math.sqrt(gen_img.shape[2] * gen_img.shape[3])
            pl_grads, = torch.autograd.grad(outputs=[(gen_img * noise).sum()], inputs=[gen_ws], create_graph=True)
            pl_lengths = pl_grads.square().sum(2).mean(1).sqrt()
            pl_mean = self.pl_mean.lerp(pl_lengths.mean(), self.pl_decay)
            self.pl_mean.copy_(pl_mean.detach())
            pl_penalty = (pl_lengths - pl_mean).square()
            loss_Gpl = pl_penalty * self.pl_weight
            (gen_img[:, 0, 0, 0] * 0 + loss_Gpl).mean().mul(gain).backward()
            out.update(gen_img=gen_img, gen_ws=gen_ws, pl_noise=noise, pl_grads=pl_grads, pl_lengths=pl_lengths,
                       pl_mean=pl_mean, pl_penalty=pl_penalty, loss_Gpl=loss_Gpl)

        if do_Dmain:
            gen_img, gen_ws = self.run_G(gen_z, gen_c)
            gen_logits = self.run_D(gen_img.detach(), gen_c)
            loss_Dgen = F.softplus(gen_logits)                      # -log(1 - sigmoid(gen_logits))
            loss_Dgen.mean().mul(gain).backward()
            out.update(gen_img=gen_img, gen_ws=gen_ws, gen_logits=gen_logits, loss_Dgen=loss_Dgen)

        if do_Dmain or do_Dr1:
            real_img_tmp = real_img.detach().requires_grad_(do_Dr1)
            real_logits = self.run_D(real_img_tmp, real_c)
            loss = real_logits * 0
            out.update(real_logits=real_logits)
            if do_Dmain:
                loss_Dreal = F.softplus(-real_logits)               # -log(sigmoid(real_logits))
                loss = loss + loss_Dreal
                out.update(loss_Dreal=loss_Dreal)
            if do_Dr1:
                r1_grads, = torch.autograd.grad(outputs=[real_logits.sum()], inputs=[real_img_tmp], create_graph=True)
                r1_penalty = r1_grads.square().sum([1, 2, 3])
                loss_Dr1 = r1_penalty * (self.r1_gamma / 2)
                loss = loss + loss_Dr1.unsqueeze(1)
                out.update(r1_grads=r1_grads, r1_penalty=r1_penalty, loss_Dr1=loss_Dr1)
            loss.mean().mul(gain).backward()

        return {name: tensor.detach() for name, tensor in out.items()}
