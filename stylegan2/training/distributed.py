"""Data-parallel training over several processes (`torchrun`): NCCL between GPUs, gloo between CPUs.

Every process holds a full replica of the networks and works on its own slice of each batch; after
each phase the gradients are averaged across processes before the optimiser step (one all-reduce of
all gradients, as NVIDIA's stylegan3 loop does), so the replicas stay identical. Without torchrun's
environment (RANK, WORLD_SIZE, ...) training runs in a single process and these are no-ops.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, List

import torch
import torch.distributed as dist

from ..hardware import resolve_device


@dataclass(frozen=True)
class ProcessGroup:
    """Where this process stands in the run: its rank among `world_size` processes and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The sum of `tensor` over all processes (a copy on the CPU comes back on the CPU)."""
        if not self.distributed:
            return tensor
        on_device = tensor.to(self.device)
        dist.all_reduce(on_device)
        return on_device.to(tensor.device)

    def average_(self, tensors: Iterable[torch.Tensor]) -> None:
        """Replace each tensor by its mean over all processes, in place, with one all-reduce."""
        tensors = list(tensors)
        if not self.distributed or not tensors:
            return
        flat = torch.cat([tensor.reshape(-1) for tensor in tensors])
        dist.all_reduce(flat)
        flat /= self.world_size
        for tensor, part in zip(tensors, flat.split([tensor.numel() for tensor in tensors])):
            tensor.copy_(part.reshape(tensor.shape))

    def broadcast_(self, tensors: Iterable[torch.Tensor]) -> None:
        """Give every process rank 0's values of these tensors."""
        if self.distributed:
            for tensor in tensors:
                dist.broadcast(tensor, src=0)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def start(device: str = "auto") -> ProcessGroup:
    """Join torchrun's process group if there is one (each process on its own GPU, cuda:LOCAL_RANK), else
    return a single-process group on `device` ('auto' = the first GPU if there is one, 'cpu', 'cuda[:N]')."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return ProcessGroup(0, 1, resolve_device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        resolved = torch.device("cuda", local_rank)
        torch.cuda.set_device(resolved)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if resolved.type == "cuda" else "gloo")
    return ProcessGroup(rank, world_size, resolved)


def stop(group: ProcessGroup) -> None:
    if group.distributed and dist.is_initialized():
        dist.destroy_process_group()


def gradients(module: torch.nn.Module) -> List[torch.Tensor]:
    """The gradients the module's parameters have (the same ones in every process: same code, same phase)."""
    return [parameter.grad for parameter in module.parameters() if parameter.grad is not None]
