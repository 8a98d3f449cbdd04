"""torchrun / DDP helpers: one code path for 1 CPU process and N GPUs.

Under ``torchrun`` the environment carries RANK, WORLD_SIZE and LOCAL_RANK; we initialise the
process group with NCCL when each rank has a CUDA device, else gloo. Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_distributed(device: torch.device) -> DistInfo:
    if not launched_by_torchrun():
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
    if info.world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return info


def device_for_rank(spec: str, local_rank: int) -> torch.device:
    """``auto`` picks cuda:LOCAL_RANK under torchrun on a GPU box, else the usual policy."""
    if spec == "auto" and torch.cuda.is_available():
        return torch.device("cuda", local_rank if launched_by_torchrun() else torch.cuda.current_device())
    from irtool.engine import select_device

    dev = select_device(spec)
    if dev.type == "cuda" and dev.index is None and launched_by_torchrun():
        dev = torch.device("cuda", local_rank)
    return dev


def barrier(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(value: float, info: DistInfo, device: torch.device) -> float:
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / info.world_size


def all_reduce_min(value: int, info: DistInfo, device: torch.device) -> int:
    """The smallest of every rank's ``value`` (so all ranks take the same decision, e.g. one batch size)."""
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.int64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t.item())


def all_reduce_sum_count(total: float, count: int, info: DistInfo, device: torch.device) -> float:
    """Mean over all ranks' items (ranks may hold different numbers of validation images)."""
    if not info.enabled:
        return total / max(count, 1)
    t = torch.tensor([total, float(count)], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t[0].item()) / max(float(t[1].item()), 1.0)


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
