"""Memory estimate -> tile size, and recognising out-of-memory errors.

The estimate is one number per (model, device): peak bytes of working memory per *input* pixel.

* A preset can state it: :attr:`Preset.bytes_per_pixel <irtool.models.registry.Preset.bytes_per_pixel>`.
* CUDA: measured by :func:`calibrate_bytes_per_pixel`, which runs one ``CALIBRATION_SIDE``-pixel
  tile and reads ``torch.cuda.max_memory_allocated`` (so it includes attention matrices, padding
  copies and the upscaled output of SR models).
* CPU/MPS: a documented heuristic, since there is no peak-allocation counter for host memory.
  Working memory scales with the width of the full-resolution features, i.e. the output channels
  of the model's first convolution (``dim`` for Restormer/Res-HAIR and Hi-IR):
  ``CPU_BYTES_PER_PIXEL_PER_CHANNEL * width + SR_BYTES_PER_OUTPUT_PIXEL * scale**2`` (the second
  term covers an SR upsampler's features at output resolution). The constant is the largest
  peak-RSS growth of whole-image fp32 inference measured in a fresh process, rounded up:
  restormer_lite (C=16) 173-212, restormer (C=48) 227, hi_ir_unet (C=64) 83, hi_ir_b_sr2/sr4
  (C=192) 61/52 bytes per input pixel per channel. So it is tight for Restormer/Res-HAIR and about
  4x conservative for Hi-IR.

The tile side is then ``sqrt(budget / (bytes_per_pixel * tile_batch))`` aligned down to the
preset's size multiple, where the budget is a fraction of what is free now.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

__all__ = [
    "CALIBRATION_SIDE",
    "CPU_BYTES_PER_PIXEL_PER_CHANNEL",
    "MEMORY_BUDGET_FRACTION",
    "SR_BYTES_PER_OUTPUT_PIXEL",
    "calibrate_bytes_per_pixel",
    "heuristic_bytes_per_pixel",
    "is_out_of_memory",
    "tile_side_for_budget",
]

CALIBRATION_SIDE = 128
#: Bytes of peak host memory per input pixel per full-resolution feature channel (fp32).
CPU_BYTES_PER_PIXEL_PER_CHANNEL = 256
#: 64 float32 channels, twice (conv + pixel shuffle), per output pixel.
SR_BYTES_PER_OUTPUT_PIXEL = 512
#: Share of the currently free memory one image may use: less on the host, which the OS, the
#: image decoder and other processes share; on a GPU the weights are already resident.
MEMORY_BUDGET_FRACTION: dict[str, float] = {"cuda": 0.8, "cpu": 0.5, "mps": 0.5}
#: Safety factor over a measured CUDA peak (allocator fragmentation, slightly superlinear ops).
CUDA_SAFETY = 1.25
#: Width assumed when a model has no Conv2d (unusual; keeps the estimate finite).
_FALLBACK_WIDTH = 64

_OOM_MARKERS = ("out of memory", "can't allocate memory", "cannot allocate memory")


def is_out_of_memory(error: BaseException) -> bool:
    """True for CUDA/MPS/CPU allocation failures that a smaller tile can avoid."""
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    if isinstance(error, (RuntimeError, MemoryError)):
        message = str(error).lower()
        return isinstance(error, MemoryError) or any(marker in message for marker in _OOM_MARKERS)
    return False


def _full_resolution_width(model: nn.Module) -> int:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return int(module.out_channels)
    return _FALLBACK_WIDTH


def heuristic_bytes_per_pixel(model: nn.Module, *, scale: int) -> int:
    """Host-memory estimate per input pixel (see the module docstring)."""
    return CPU_BYTES_PER_PIXEL_PER_CHANNEL * _full_resolution_width(model) + SR_BYTES_PER_OUTPUT_PIXEL * scale**2


def calibrate_bytes_per_pixel(
    run_tile: Callable[[torch.Tensor], torch.Tensor],
    *,
    channels: int,
    side: int,
    device: torch.device,
) -> int:
    """CUDA only: run one ``side`` x ``side`` tile and return peak allocated bytes per pixel."""
    if device.type != "cuda":
        raise ValueError("peak-memory calibration needs a CUDA device")
    torch.cuda.synchronize(device)
    baseline = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    probe = torch.rand(1, channels, side, side, generator=torch.Generator().manual_seed(0))
    output = run_tile(probe)
    del output
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - baseline
    return max(1, math.ceil(CUDA_SAFETY * peak / (side * side)))


def tile_side_for_budget(budget_bytes: int, *, bytes_per_pixel: int, tile_batch: int, multiple: int,
                         minimum: int) -> int:
    """Largest aligned square tile whose batch fits in ``budget_bytes`` (never below ``minimum``)."""
    side = int(math.sqrt(max(budget_bytes, 0) / (bytes_per_pixel * tile_batch)))
    return max(minimum, (side // multiple) * multiple)
