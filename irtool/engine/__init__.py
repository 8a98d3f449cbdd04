"""Inference engine: tensor in, tensor out.

Tiling with seam-free blending (:mod:`.tiling`), device and precision policy (:mod:`.device`,
:mod:`.precision`), memory-based tile size and out-of-memory retry (:mod:`.memory`), and the
:class:`InferenceEngine` that ties them together (:mod:`.engine`). Imports torch only.
"""

from __future__ import annotations

from .device import available_memory_bytes, select_device
from .engine import MIN_TILE, EngineOutOfMemoryError, GivModel, InferenceEngine, ProgressCallback, RunInfo
from .memory import is_out_of_memory
from .precision import PRECISION_CHOICES, Precision, resolve_precision
from .tiling import AxisTiles, axis_windows, giv_crops, grid_crops, plan_axis

__all__ = [
    "MIN_TILE",
    "PRECISION_CHOICES",
    "AxisTiles",
    "EngineOutOfMemoryError",
    "GivModel",
    "InferenceEngine",
    "Precision",
    "ProgressCallback",
    "RunInfo",
    "available_memory_bytes",
    "axis_windows",
    "giv_crops",
    "grid_crops",
    "is_out_of_memory",
    "plan_axis",
    "resolve_precision",
    "select_device",
]
