"""Training and validation data: image folders, on-the-fly degradation, paired folders and loader workers.

Imports numpy, torch, Pillow, ``irtool.degrade`` and ``irtool.io`` only. The training photos themselves
are produced by ``scripts/gather_photos.py`` (``runs/photos/train`` and ``runs/photos/val``).
"""

from irtool.data.datasets import DegradedFolderDataset, PairedFolderDataset, ValidationSet, match_pairs
from irtool.data.images import DEFAULT_CACHE_BYTES, ImageStore, list_images
from irtool.data.tasks import (
    CLEAN_TASK,
    KNOWN_TASKS,
    UNKNOWN_KIND,
    TaskMixture,
    kind_index,
    parse_task_mix,
    task_kind,
    task_scale,
)
from irtool.data.workers import seed_worker

__all__ = [
    "CLEAN_TASK",
    "DEFAULT_CACHE_BYTES",
    "KNOWN_TASKS",
    "UNKNOWN_KIND",
    "DegradedFolderDataset",
    "ImageStore",
    "PairedFolderDataset",
    "TaskMixture",
    "ValidationSet",
    "kind_index",
    "list_images",
    "match_pairs",
    "parse_task_mix",
    "seed_worker",
    "task_kind",
    "task_scale",
]
