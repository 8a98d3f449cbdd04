"""Inference engine: tensor in, tensor out.

Tiling with seam-free blending (:mod:`.tiling`), device and precision policy (:mod:`.device`,
:mod:`.precision`), memory-based tile size and out-of-memory retry (:mod:`.memory`), the
:class:`InferenceEngine` that ties them together (:mod:`.engine`) and the process's host-memory policy
(:mod:`.host`, no torch). Names are loaded on first use (PEP 562), so that ``irtool.engine.host`` can be
set up by the command line before anything imports torch (``irtool --help`` stays quick).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compiled import CompiledForward
    from .device import available_memory_bytes, select_device
    from .engine import MIN_TILE, EngineOutOfMemoryError, GivModel, InferenceEngine, ProgressCallback, RunInfo
    from .memory import is_out_of_memory
    from .precision import PRECISION_CHOICES, Precision, resolve_precision
    from .tiling import AxisTiles, axis_windows, giv_crops, grid_crops, plan_axis

#: Public name -> the submodule that defines it.
_HOME = {
    "CompiledForward": "compiled",
    "available_memory_bytes": "device",
    "select_device": "device",
    "MIN_TILE": "engine",
    "EngineOutOfMemoryError": "engine",
    "GivModel": "engine",
    "InferenceEngine": "engine",
    "ProgressCallback": "engine",
    "RunInfo": "engine",
    "is_out_of_memory": "memory",
    "PRECISION_CHOICES": "precision",
    "Precision": "precision",
    "resolve_precision": "precision",
    "AxisTiles": "tiling",
    "axis_windows": "tiling",
    "giv_crops": "tiling",
    "grid_crops": "tiling",
    "plan_axis": "tiling",
}

__all__ = [
    "AxisTiles",
    "CompiledForward",
    "EngineOutOfMemoryError",
    "GivModel",
    "InferenceEngine",
    "MIN_TILE",
    "PRECISION_CHOICES",
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


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
