"""DataLoader construction shared by training and evaluation.

The order of items is a function of (seed, epoch) only: a ``DistributedSampler`` is used even on one
process (one replica), so a resumed run can reproduce any epoch's order by calling :func:`set_loader_epoch`.
Items themselves are a function of (seed, epoch, index) (see ``irtool.data.datasets``), so the whole batch
stream does not depend on the number of workers.
"""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from irtool.errors import UsageError

__all__ = ["build_loader", "seed_worker", "set_loader_epoch"]


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed torch/numpy/random per worker from the loader's base seed.

    The datasets here draw only from their per-item generators; this covers any global-RNG use by other
    code running in the worker. One torch thread per worker: two workers on two cores must not each start
    a full-width thread pool.
    """
    seed = torch.initial_seed() % 2**32  # base_seed + worker_id, set by the DataLoader
    np.random.seed(seed)
    random.seed(seed)
    torch.set_num_threads(1)


def build_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    workers: int = 0,
    distributed: bool | None = None,
    seed: int = 0,
    shuffle: bool = True,
    drop_last: bool | None = None,
) -> DataLoader:
    """A DataLoader over ``dataset``.

    Args:
        batch_size: items per batch (per process when distributed).
        workers: loader processes (0 = load in the calling process); they are persistent.
        distributed: shard the data over ``torch.distributed`` ranks; ``None`` = when a process group is
            initialised. Validation usually runs on one rank: pass ``False`` there, since a sharded sampler
            pads the last shard with repeated items.
        seed: shuffling seed (also the workers' base seed).
        shuffle: random order (training) or file order (validation).
        drop_last: drop the incomplete last batch; ``None`` = ``shuffle`` (drop when training).
    """
    if batch_size < 1 or workers < 0:
        raise UsageError(f"batch_size must be >= 1 and workers >= 0, got {batch_size} and {workers}")
    initialised = dist.is_available() and dist.is_initialized()
    if distributed is None:
        distributed = initialised
    if distributed and not initialised:
        raise UsageError("distributed data loading needs torch.distributed to be initialised (run under torchrun)")
    num_replicas, rank = (dist.get_world_size(), dist.get_rank()) if distributed else (1, 0)
    drop_last = shuffle if drop_last is None else drop_last
    sampler = DistributedSampler(
        dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last
    )
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=torch.cuda.is_available(),
        drop_last=drop_last,
        worker_init_fn=seed_worker if workers > 0 else None,
        generator=generator,
    )


def set_loader_epoch(loader: DataLoader, epoch: int) -> None:
    """Start epoch ``epoch``: new order from the sampler and new crops/degradations from the dataset.

    Call before iterating the loader for that epoch.
    """
    sampler = loader.sampler
    if isinstance(sampler, DistributedSampler):
        sampler.set_epoch(epoch)
    set_epoch = getattr(loader.dataset, "set_epoch", None)
    if callable(set_epoch):
        set_epoch(epoch)
