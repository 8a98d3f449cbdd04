"""Precision policy: which dtype inference runs in, and the autocast context for it.

The rule for ``"auto"`` (kept deliberately simple):

* CPU and MPS: fp32. Half precision on CPU is slower than fp32 for these convolution/attention
  mixes and "slow_conv2d_cpu not implemented for Half" was a classic Real-ESRGAN failure.
* CUDA: fp16 on GPUs with compute capability >= 7.0 (tensor cores), fp32 on older ones, for a
  preset with ``supports_fp16``. A preset without it (a network whose activations overflow
  fp16, as spandrel reports for Restormer's channel attention with some weights) gets bf16
  where the GPU has it and the preset ``supports_bf16``, else fp32; never fp16.

An explicit ``fp16`` or ``bf16`` for a preset that does not support it is refused.

Half precision is always autocast (weights stay fp32), so the same module serves every policy,
and the engine re-runs a batch in fp32 if a half-precision result is not finite.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

import torch

from irtool.errors import InvalidArgumentError

if TYPE_CHECKING:
    from irtool.models.registry import Preset

__all__ = ["PRECISION_CHOICES", "Precision", "PrecisionName", "resolve_precision"]

PrecisionName = Literal["fp32", "fp16", "bf16"]
PRECISION_CHOICES: tuple[str, ...] = ("auto", "fp32", "fp16", "bf16")

_DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class Precision:
    """A resolved precision on one device; ``autocast()`` is a no-op context for fp32."""

    name: PrecisionName
    device_type: str

    @property
    def dtype(self) -> torch.dtype:
        return _DTYPES[self.name]

    @property
    def is_reduced(self) -> bool:
        return self.name != "fp32"

    def autocast(self) -> AbstractContextManager[object]:
        if not self.is_reduced:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)


def _cuda_supports_bf16(device: torch.device) -> bool:
    with torch.cuda.device(device):
        return bool(torch.cuda.is_bf16_supported())


def _supports(preset: Preset | None, name: PrecisionName) -> bool:
    if preset is None or name == "fp32":
        return True
    return preset.supports_fp16 if name == "fp16" else preset.supports_bf16


def _auto_cuda_precision(device: torch.device, preset: Preset | None) -> PrecisionName:
    if _supports(preset, "fp16"):
        major, _minor = torch.cuda.get_device_capability(device)
        return "fp16" if major >= 7 else "fp32"
    if _supports(preset, "bf16") and _cuda_supports_bf16(device):
        return "bf16"
    return "fp32"


def resolve_precision(spec: str, device: torch.device, *, preset: Preset | None = None) -> Precision:
    """Resolve ``"auto" | "fp32" | "fp16" | "bf16"`` for ``device`` (see the module docstring)."""
    normalized = spec.strip().lower()
    if normalized not in PRECISION_CHOICES:
        raise InvalidArgumentError(f"unknown precision {spec!r}; expected one of {', '.join(PRECISION_CHOICES)}",
                                   argument="precision")
    if normalized == "auto":
        name: PrecisionName = _auto_cuda_precision(device, preset) if device.type == "cuda" else "fp32"
        return Precision(name=name, device_type=device.type)
    chosen = cast(PrecisionName, normalized)  # one of PRECISION_CHOICES other than "auto"
    if preset is not None and not _supports(preset, chosen):
        usable = [n for n in ("fp16", "bf16", "fp32") if _supports(preset, n)]
        raise InvalidArgumentError(f"preset {preset.name!r} does not support precision {normalized!r}; "
                                   f"use {' or '.join(usable)}", argument="precision")
    if normalized == "bf16" and device.type == "cuda" and not _cuda_supports_bf16(device):
        raise InvalidArgumentError(f"precision 'bf16' is not supported by {torch.cuda.get_device_name(device)}; "
                                   "use fp16 or fp32", argument="precision")
    return Precision(name=chosen, device_type=device.type)
