"""One training step, as NVIDIA's training_loop.py takes it, and the state a snapshot keeps.

A step runs the phases Gmain, Greg (every G_reg_interval steps), Dmain, Dreg (every D_reg_interval
steps); each phase accumulates its gradients over rounds of `batch_gpu` images, averages them over the
processes, replaces NaN/inf, and takes an Adam step. With lazy regularisation Adam's learning rate is
multiplied by c = interval / (interval + 1) and its betas raised to the power c (NVIDIA's correction for
the extra regularisation steps); the regularisation losses are weighted by the interval. Then G_ema
moves towards G (half-life ema_kimg, ramped up over the first images), and ADA adjusts p.

Gradients are the mean over the whole batch however it is split into rounds and processes (NVIDIA sums
its rounds, which Adam, invariant to the gradient's scale, barely notices). Every random draw is seeded
from (seed, step, phase, round): the latents of the whole batch come from one seeded draw, each round
re-seeds torch's generators before its loss (noise, style mixing, augmentation), and the data order is
a function of the step (dataset.StepSampler). So a resumed run repeats exactly what an uninterrupted
one does, and a batch split over several processes gets the same random numbers as in one process.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..loaders import native
from . import distributed
from .ada import AdaptiveAugment
from .config import TrainingConfig
from .dcgan import DCGANLoss
from .errors import TrainingError
from .loss import StyleGAN2Loss
from .snapshot import network_entry

# Buffers that training changes (running averages); every other buffer is constant.
RUNNING_STATISTICS = ("w_avg", "running_mean", "running_var")
LATENTS, ROUNDS = 0, 1     # Streams of random numbers derived from (seed, step).


@dataclass
class Phase:
    name: str                       # Gmain, Greg, Gboth, Dmain, Dreg or Dboth.
    module: torch.nn.Module         # The network this phase trains.
    opt: torch.optim.Optimizer
    interval: int                   # Runs on steps that are multiples of this.


def make_phases(G: torch.nn.Module, D: torch.nn.Module, config: TrainingConfig) -> List[Phase]:
    phases = []
    for name, module, lr, reg_interval in (("G", G, config.glr, config.G_reg_interval),
                                           ("D", D, config.dlr, config.D_reg_interval)):
        parameters = list(module.parameters())
        if reg_interval is None:
            opt = torch.optim.Adam(parameters, lr=lr, betas=config.betas, eps=config.eps)
            phases.append(Phase(name + "both", module, opt, 1))
        else:
            ratio = reg_interval / (reg_interval + 1)
            opt = torch.optim.Adam(parameters, lr=lr * ratio, betas=tuple(beta ** ratio for beta in config.betas),
                                   eps=config.eps)
            phases += [Phase(name + "main", module, opt, 1), Phase(name + "reg", module, opt, reg_interval)]
    return phases


def _on_cpu(value: Any) -> Any:
    """A copy of nested dicts and lists with every tensor on the CPU (snapshots load on any machine)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {key: _on_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_on_cpu(item) for item in value)
    return value


def derived_seed(*numbers: int) -> int:
    return int(np.random.SeedSequence([int(number) for number in numbers]).generate_state(1)[0])


class Trainer:
    """G, D, G_ema, their optimisers, the loss and ADA state, and the step that advances them."""

    def __init__(self, config: TrainingConfig, G: torch.nn.Module, D: torch.nn.Module,
                 group: distributed.ProcessGroup, augment_pipe: Optional[torch.nn.Module] = None,
                 G_ema: Optional[torch.nn.Module] = None, labels: Optional[torch.Tensor] = None):
        self.config = config
        self.group = group
        device = group.device
        self.per_process = config.batch // group.world_size
        self.batch_gpu = config.batch_gpu or self.per_process
        if config.batch % group.world_size or self.per_process % self.batch_gpu:
            raise TrainingError(f"batch {config.batch} does not split into {group.world_size} processes x rounds of "
                                f"batch_gpu {self.batch_gpu}")
        self.rounds = self.per_process // self.batch_gpu
        self._check_minibatch_std(D)
        self.G = G.train().requires_grad_(False).to(device)
        self.D = D.train().requires_grad_(False).to(device)
        self.G_ema = (G_ema if G_ema is not None else copy.deepcopy(G)).eval().requires_grad_(False).to(device)
        for module in (self.G, self.D, self.G_ema):
            group.broadcast_(list(module.parameters()) + list(module.buffers()))
        self.augment_pipe = augment_pipe.train().requires_grad_(False).to(device) if augment_pipe is not None else None
        if config.augment == "ada" and self.augment_pipe is not None:
            self.augment_pipe.p.copy_(torch.as_tensor(config.augment_p))
        self.ada = None
        if config.ada_target is not None:
            if self.augment_pipe is None:
                raise TrainingError("adaptive augmentation (ada_target) needs an augmentation pipeline")
            self.ada = AdaptiveAugment(self.augment_pipe, config.ada_target, config.ada_interval, config.ada_kimg,
                                       config.batch)
        if config.arch == "dcgan":
            self.loss = DCGANLoss(self.G, self.D, self.augment_pipe)
        else:
            self.loss = StyleGAN2Loss(self.G, self.D, self.augment_pipe, style_mixing_prob=config.style_mixing_prob,
                                      r1_gamma=config.r1_gamma, pl_batch_shrink=config.pl_batch_shrink,
                                      pl_decay=config.pl_decay, pl_weight=config.pl_weight)
        self.phases = make_phases(self.G, self.D, config)
        self.labels = labels
        self.step = 0
        self.cur_nimg = 0

    def _check_minibatch_std(self, D: torch.nn.Module) -> None:
        mbstd = getattr(getattr(D, "b4", None), "mbstd", None)
        if mbstd is not None and mbstd.group_size is not None:
            group = min(mbstd.group_size, self.batch_gpu)
            if self.batch_gpu % group:
                raise TrainingError(f"batch_gpu {self.batch_gpu} is not a multiple of the discriminator's "
                                    f"minibatch-std group {group}; choose a batch that is")

    @property
    def augment_p(self) -> float:
        p = getattr(self.augment_pipe, "p", None)
        return float(p) if isinstance(p, torch.Tensor) else 0.0

    def latents(self, step: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """This process's (gen_z [phases, per_process, z_dim], gen_c [phases, per_process, c_dim]) of a step,
        sliced from one seeded draw for the whole batch."""
        generator = torch.Generator().manual_seed(derived_seed(self.config.seed, step, LATENTS))
        shape = [len(self.phases), self.config.batch]
        z = torch.randn(shape + [self.G.z_dim], generator=generator)
        if self.labels is not None and self.labels.shape[1] > 0:
            c = self.labels[torch.randint(len(self.labels), shape, generator=generator)]
        else:
            c = torch.zeros(shape + [0])
        mine = slice(self.group.rank * self.per_process, (self.group.rank + 1) * self.per_process)
        return z[:, mine].to(self.group.device), c[:, mine].to(self.group.device)

    def train_step(self, real_img: torch.Tensor, real_c: torch.Tensor) -> Dict[str, float]:
        """One step on this process's slice of the batch (uint8 images); returns the step's mean losses."""
        device = self.group.device
        real = (real_img.to(device).to(torch.float32) / 127.5 - 1).split(self.batch_gpu)
        real_c = real_c.to(device).split(self.batch_gpu)
        gen_z, gen_c = self.latents(self.step)
        sums: Dict[str, List[torch.Tensor]] = {}
        for phase_index, phase in enumerate(self.phases):
            if self.step % phase.interval:
                continue
            phase.opt.zero_grad(set_to_none=True)
            phase.module.requires_grad_(True)
            for r, (z, c) in enumerate(zip(gen_z[phase_index].split(self.batch_gpu),
                                           gen_c[phase_index].split(self.batch_gpu))):
                torch.manual_seed(derived_seed(self.config.seed, self.step, ROUNDS, phase_index,
                                               self.group.rank * self.rounds + r))
                out = self.loss.accumulate_gradients(phase.name, real[r], real_c[r], z, c,
                                                     gain=phase.interval / self.rounds)
                self._record(out, sums)
            phase.module.requires_grad_(False)
            grads = distributed.gradients(phase.module)
            self.group.average_(grads)
            for grad in grads:
                torch.nan_to_num(grad, nan=0, posinf=1e5, neginf=-1e5, out=grad)
            phase.opt.step()
        self.group.average_(self._running_statistics())
        self._update_ema()
        self.cur_nimg += self.config.batch
        if self.ada is not None:
            self.ada.update(self.step, self.group.all_reduce_sum)
        self.step += 1
        return {name: torch.stack(values).mean().item() for name, values in sums.items()}

    def _record(self, out: Dict[str, torch.Tensor], sums: Dict[str, List[torch.Tensor]]) -> None:
        losses = {"G_loss": out.get("loss_Gmain"), "G_reg": out.get("loss_Gpl"), "D_reg": out.get("loss_Dr1")}
        if "loss_Dgen" in out:
            losses["D_loss"] = out["loss_Dgen"].mean() + out["loss_Dreal"].mean()
        for name, value in losses.items():
            if value is not None:
                sums.setdefault(name, []).append(value.float().mean())
        if self.ada is not None and "real_logits" in out:
            self.ada.accumulate(out["real_logits"])

    def _running_statistics(self) -> List[torch.Tensor]:
        tensors = [buffer for module in (self.G, self.D) for name, buffer in module.named_buffers()
                   if name.endswith(RUNNING_STATISTICS)]
        return tensors + ([self.loss.pl_mean] if isinstance(self.loss, StyleGAN2Loss) else [])

    @torch.no_grad()
    def _update_ema(self) -> None:
        ema_nimg = self.config.ema_kimg * 1000
        if self.config.ema_rampup is not None:
            ema_nimg = min(ema_nimg, self.cur_nimg * self.config.ema_rampup)
        beta = 0.5 ** (self.config.batch / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.copy_(p.lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    # ------------------------------------------------------------------------------------------------
    # Snapshots.

    def _optimizers(self) -> Dict[str, torch.optim.Optimizer]:
        return {phase.name[0]: phase.opt for phase in self.phases}

    def state(self, meta: Dict[str, Any]) -> Dict[str, Any]:
        """The snapshot's content (see snapshot.py); `meta` is plain data stored with it."""
        if self.config.arch == "stylegan2":
            g_ema = native.payload(self.G_ema, {"training_kimg": self.cur_nimg / 1000, **meta})
        else:
            g_ema = {"format": "stylecam-dcgan", **network_entry(self.G_ema)}
        augment = None
        if self.ada is not None:
            augment = self.ada.state_dict()
        elif isinstance(getattr(self.augment_pipe, "p", None), torch.Tensor):
            augment = {"p": self.augment_pipe.p.detach().cpu().clone()}
        return {"arch": self.config.arch, "config": self.config.to_dict(),
                "progress": {"step": self.step, "cur_nimg": self.cur_nimg},
                "G": network_entry(self.G), "D": network_entry(self.D), "G_ema": g_ema,
                "optimizers": {name: _on_cpu(opt.state_dict()) for name, opt in self._optimizers().items()},
                "loss": self.loss.state_dict(), "augment": augment, "meta": meta}

    def load_state(self, content: Dict[str, Any]) -> None:
        """Continue from a snapshot's optimiser, loss, augmentation and progress state (networks come with
        the constructor)."""
        try:
            for name, opt in self._optimizers().items():
                opt.load_state_dict(content["optimizers"][name])
            self.loss.load_state_dict(content["loss"])
            augment = content["augment"]
            if self.ada is not None:
                self.ada.load_state_dict(augment)
            elif augment is not None and self.augment_pipe is not None:
                self.augment_pipe.p.copy_(augment["p"])
            self.step, self.cur_nimg = int(content["progress"]["step"]), int(content["progress"]["cur_nimg"])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise TrainingError(f"the snapshot's training state does not fit its networks: {error}") from None
