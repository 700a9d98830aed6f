"""Data-parallel training on torch.distributed: the same entry point runs alone or under
``torchrun`` (gloo on CPU, nccl on CUDA).

Under torchrun each process takes ``batch_size / world_size`` samples of every global batch
(a DistributedSampler over the epoch's shuffled order), the encoder + regressor is wrapped in
DistributedDataParallel, and the losses are normalised by counts summed over all processes,
so that the averaged gradient is the one of the global batch. The critic is not wrapped:
DistributedDataParallel does not support the double backward of the gradient penalty, so its
gradients are averaged by an explicit all-reduce. BatchNorm statistics are per process on
the CPU (SyncBatchNorm is CUDA-only) and synchronised on CUDA.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistributedContext:
    """world_size processes, this one's rank (global) and local_rank (on its machine)."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(use_cuda: bool) -> DistributedContext:
    """Join the process group that torchrun describes in the environment (nothing to do alone)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistributedContext()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistributedContext(
        world_size=world_size, rank=dist.get_rank(), local_rank=int(os.environ.get("LOCAL_RANK", "0"))
    )


def global_sum(value: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """Sum of a (detached) tensor over all processes."""
    value = value.detach().clone()
    if context.enabled:
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def average_gradients(module: nn.Module, context: DistributedContext) -> None:
    """Average the parameters' gradients over all processes (for modules not wrapped in DDP)."""
    if not context.enabled:
        return
    for parameter in module.parameters():
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)
            parameter.grad /= context.world_size


def average_logs(logs: dict[str, float], context: DistributedContext, device: torch.device) -> dict[str, float]:
    """Per-process loss values averaged over all processes (the global batch's values)."""
    if not context.enabled or not logs:
        return logs
    values = (
        global_sum(torch.tensor(list(logs.values()), dtype=torch.float64, device=device), context) / context.world_size
    )
    return dict(zip(logs, values.tolist(), strict=True))
