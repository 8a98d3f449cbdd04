"""Set-up of DataLoader worker processes (training runs its loader with these)."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_worker"]


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
