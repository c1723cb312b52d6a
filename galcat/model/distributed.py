"""Multi-GPU (or multi-process CPU) training under ``torchrun``: DDP, rank sharding, PML wrappers.

Launched as ``torchrun --nproc_per_node N -m galcat train ...``; torchrun sets WORLD_SIZE, RANK
and LOCAL_RANK. Every rank trains on its own equal-sized share of the fold's training rows and
runs the same validation, so early-stopping decisions agree without extra communication. Only
rank 0 writes files. Pair/triplet losses and miners see all ranks' embeddings through PML's
distributed wrappers (efficient=False: same gradients as one big batch, PML#302); proxy
parameters are averaged across ranks after backward (PML#710).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: torch.device, timeout: timedelta | None = None) -> DistInfo:
    """Join the process group when launched by torchrun (gloo on CPU, nccl on CUDA).

    ``timeout`` bounds every collective (torch's default, 30 minutes, when None); it is only used
    by the call that creates the group.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, **({"timeout": timeout} if timeout else {}))
    info = DistInfo(
        rank=dist.get_rank(), world=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", 0))
    )
    if device.type == "cuda":
        torch.cuda.set_device(info.local_rank)
    return info


def device_for(device: torch.device, info: DistInfo) -> torch.device:
    """One GPU per local rank."""
    if device.type == "cuda" and info.enabled:
        return torch.device("cuda", info.local_rank)
    return device


def shard(indices: np.ndarray, info: DistInfo, seed: int) -> np.ndarray:
    """This rank's share of ``indices`` (DistributedSampler-style), equal length on every rank.

    The same seeded permutation is drawn on every rank, so the shares are disjoint.
    """
    if not info.enabled:
        return np.asarray(indices)
    perm = np.random.default_rng(seed).permutation(np.asarray(indices))
    per_rank = len(perm) // info.world
    return np.sort(perm[info.rank :: info.world][:per_rank])


def wrap_model(
    model: nn.Module, info: DistInfo, device: torch.device, find_unused: bool = False
) -> nn.Module:
    """DDP around ``model``; ``find_unused`` when some parameters may get no gradient (a frozen trunk)."""
    if not info.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=find_unused)


def wrap_loss_and_miner(loss: nn.Module, miner: nn.Module | None, info: DistInfo):
    """PML's distributed wrappers so that mining and the loss see every rank's embeddings."""
    if not info.enabled:
        return loss, miner
    from pytorch_metric_learning.utils import distributed as pml_dist

    loss = pml_dist.DistributedLossWrapper(loss=loss, efficient=False)
    if miner is not None:
        miner = pml_dist.DistributedMinerWrapper(miner=miner, efficient=False)
    return loss, miner


def average_gradients(params, info: DistInfo) -> None:
    """All-reduce (mean) the gradients of parameters DDP does not manage (the proxies)."""
    if not info.enabled:
        return
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= info.world


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
