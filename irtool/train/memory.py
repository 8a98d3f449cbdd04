"""Will a training run fit in memory? Estimated before the first step, so a run too big for the machine stops
with one line saying what fits instead of growing until the kernel kills it.

The estimate: ``fixed + ACTIVATION_SAFETY * activations_per_pixel * batch * padded patch pixels``.

* ``activations_per_pixel`` is measured once per run by :func:`activation_bytes_per_pixel`: one forward pass of a
  copy of the model, in training mode, at batch 1 on a small patch, counting the bytes of every tensor autograd
  saves for the backward pass (``torch.autograd.graph.saved_tensors_hooks``). It is exact, deterministic and the
  same on every device (under autocast it counts the half-precision tensors AMP saves), and costs one small
  forward pass. Restoration networks are convolutions and windowed or channel attention, so the saved bytes grow
  linearly with the pixels (the networks pad their input to ``size_multiple``, and padded pixels are counted).
* ``ACTIVATION_SAFETY`` covers what the saved tensors leave out: the gradients of the activations during the
  backward pass, temporaries, the allocator. Measured as the peak RSS growth of two training steps in a fresh
  CPU process over the saved bytes (fp32, 1 thread): restormer_lite 1.73-2.06, res_hair_lite 1.44-1.59,
  hi_ir_unet_lite 1.45-1.55, hi_ir_unet 1.29-1.40, hi_ir_sr2_lite 1.72; with the fixed terms below every
  estimate was 5-30 % above the measured peak.
* ``fixed``: weights, gradients, the two AdamW moments, the float32 EMA copy and the copy validation keeps of the
  live weights (``FIXED_COPIES`` times the parameter bytes), plus ``OVERHEAD_BYTES``.

The budget is ``memory_limit`` when given, else ``BUDGET_FRACTION`` of what the device has free now (CPU:
``MemAvailable``; CUDA: ``torch.cuda.mem_get_info``), shared by the ranks of a CPU run under torchrun.
"""

from __future__ import annotations

import copy
import math
import os
import re
from dataclasses import dataclass

import torch
from torch import nn

from irtool.errors import InvalidArgumentError

__all__ = [
    "ACTIVATION_SAFETY",
    "MemoryEstimate",
    "TrainingMemoryError",
    "activation_bytes_per_pixel",
    "check_fits",
    "estimate_training_memory",
    "format_bytes",
    "memory_budget",
    "out_of_memory_error",
    "parse_memory_size",
]

#: Peak training memory over the bytes autograd saves in the forward pass (measured: see the module docstring).
ACTIVATION_SAFETY = 1.75
#: Parameter-sized tensors a run holds: weights, gradients, AdamW's two moments, the EMA, validation's copy.
FIXED_COPIES = 6
#: The allocator, autograd's graph and the batch tensors (the smallest runs measured grew by 30-50 MB).
OVERHEAD_BYTES = 64 * 2**20
#: Share of the free memory a run plans to use when no limit is given: the OS and other processes need some.
BUDGET_FRACTION = 0.9
#: The side of the probe patch (padded to the preset's multiple): large enough that the per-pixel bytes have
#: settled (res_hair: 249 kB per pixel at 32 px, 184 kB at 64), small enough to cost seconds on a CPU even for the
#: paper-size presets (9-18 s for hi_ir_unet, res_hair, restormer, hi_ir_b_sr2 on a busy 2-core machine), less
#: than one of their training steps at the recipes' batch sizes.
PROBE_SIDE = 64

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?)(?:I?B)?\s*", re.IGNORECASE)


def parse_memory_size(text: str) -> int:
    """Bytes in ``text``: a number with a unit, ``512MB``, ``2GB``, ``1.5G``, ``2GiB`` (binary: GB = 2**30 bytes)."""
    match = _SIZE.fullmatch(text)
    if not match or not re.search(r"[A-Za-z]", text):
        raise InvalidArgumentError(f"memory_limit must be a size with a unit, such as 2GB or 512MB, not {text!r}",
                                   argument="memory_limit")
    size = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if size <= 0:
        raise InvalidArgumentError(f"memory_limit must be positive, not {text!r}", argument="memory_limit")
    return size


def format_bytes(size: float) -> str:
    """``12.3 GB`` / ``456 MB``: the binary units :func:`parse_memory_size` reads."""
    return f"{size / 2**30:.1f} GB" if size >= 2**30 else f"{size / 2**20:.0f} MB"


def padded_side(side: int, *, multiple: int, minimum: int) -> int:
    """The side a network works on for an input of ``side`` pixels (it pads to its multiple, at least minimum)."""
    return max(minimum, math.ceil(side / multiple) * multiple)


def activation_bytes_per_pixel(model: nn.Module, *, channels: int, side: int, device: torch.device,
                               amp_dtype: torch.dtype | None = None) -> float:
    """Bytes autograd saves for the backward pass per input pixel of one sample, from one forward pass of a copy
    of ``model`` in training mode on a ``side`` x ``side`` patch (see the module docstring).

    The copy keeps ``model``'s buffers (e.g. batch-norm statistics) untouched, and torch's random state is
    restored afterwards, so a run with the probe trains exactly as one without it."""
    probe = copy.deepcopy(model).train()
    weights = {p.untyped_storage().data_ptr() for p in probe.parameters()}
    saved: dict[int, int] = {}
    # The saved tensors live here until the pass ends (so no two share an address), and autograd holds their
    # index: a graph holding a tensor that is its own node's output is a reference cycle through C++, which
    # Python's collector cannot free, and would keep the whole probe alive.
    kept: list[torch.Tensor] = []

    def pack(tensor: torch.Tensor) -> int:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:  # parameters are counted in the fixed part
            saved[storage.data_ptr()] = max(saved.get(storage.data_ptr(), 0), storage.nbytes())
        kept.append(tensor)
        return len(kept) - 1

    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.enable_grad():
        x = torch.rand(1, channels, side, side, device=device)
        with torch.autograd.graph.saved_tensors_hooks(pack, kept.__getitem__), \
                torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            out = probe(x)
        del out, x, probe
        kept.clear()
    return sum(saved.values()) / (side * side)


@dataclass(frozen=True)
class MemoryEstimate:
    """Training memory of one preset as a function of batch size and patch side (see the module docstring)."""

    fixed_bytes: int
    bytes_per_pixel: float
    multiple: int
    minimum: int

    def need(self, batch_size: int, patch_size: int) -> int:
        side = padded_side(patch_size, multiple=self.multiple, minimum=self.minimum)
        return int(self.fixed_bytes + ACTIVATION_SAFETY * self.bytes_per_pixel * batch_size * side * side)

    def largest_batch(self, patch_size: int, budget: int) -> int:
        """The largest batch size whose run fits ``budget`` at ``patch_size`` (0: not even one sample)."""
        side = padded_side(patch_size, multiple=self.multiple, minimum=self.minimum)
        per_sample = ACTIVATION_SAFETY * self.bytes_per_pixel * side * side
        return max(0, int((budget - self.fixed_bytes) // max(per_sample, 1.0)))

    def largest_patch(self, budget: int, *, step: int) -> int:
        """The largest patch side (a multiple of ``step``) one sample of which fits ``budget`` (0: none)."""
        side = 0
        while side < 4096 and self.need(1, side + step) <= budget:  # bounded whatever the estimate
            side += step
        return side


def estimate_training_memory(model: nn.Module, *, channels: int, patch_size: int, multiple: int, minimum: int,
                             device: torch.device, amp_dtype: torch.dtype | None = None) -> MemoryEstimate:
    """Measure ``model`` (see :func:`activation_bytes_per_pixel`) and return its :class:`MemoryEstimate`."""
    # Probe at the training patch when it is small, so small runs are measured exactly.
    side = padded_side(min(patch_size, PROBE_SIDE), multiple=multiple, minimum=minimum)
    per_pixel = activation_bytes_per_pixel(model, channels=channels, side=side, device=device, amp_dtype=amp_dtype)
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    return MemoryEstimate(FIXED_COPIES * params + OVERHEAD_BYTES, per_pixel, multiple, minimum)


def memory_budget(device: torch.device, limit: str) -> tuple[int, str]:
    """(bytes a run may use, where that number comes from) for ``limit`` (``memory_limit``; "" = free memory)."""
    if limit:
        return parse_memory_size(limit), "the memory limit"
    from irtool.engine import available_memory_bytes

    free = available_memory_bytes(device)
    where = "free on the GPU" if device.type == "cuda" else "available"
    if device.type != "cuda":
        # The ranks of a CPU run under torchrun share the machine's memory.
        free //= max(1, int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
    return int(BUDGET_FRACTION * free), where


Fix = dict[str, object]


class TrainingMemoryError(InvalidArgumentError):
    """A run does not fit in memory; ``fixes`` are changes of arguments that would fit, best first.

    The message names arguments (``batch_size 4``); :meth:`advice` words the fixes with other names for them (the
    CLI's options)."""

    def __init__(self, summary: str, fixes: list[Fix], *, verb: str = "fits") -> None:
        self.summary, self.fixes, self.verb = summary, fixes, verb
        super().__init__(self.advice({}), argument="batch_size")

    def advice(self, names: dict[str, str]) -> str:
        if not self.fixes:
            return self.summary
        ways = " or ".join(" ".join(f"{names.get(arg, arg)} {value}" for arg, value in fix.items())
                           for fix in self.fixes)
        return f"{self.summary}: {ways} {self.verb}"


def lighter_presets(preset_name: str, task: str) -> list[str]:
    """Lite presets of ``preset_name``'s family for ``task`` at its scale (none when it is lite already)."""
    from irtool.models import get_preset, preset_names

    preset = get_preset(preset_name)
    if preset.lite:
        return []
    found = []
    for name in preset_names():
        other = get_preset(name)
        if other.family == preset.family and other.lite and other.scale == preset.scale and (
                task in other.tasks or task == "detect" or "all" in other.tasks):
            found.append(name)
    return found


def check_fits(estimate: MemoryEstimate, *, batch_size: int, patch_size: int, budget: int, where: str,
               preset: str, task: str, lower_batch: bool) -> tuple[int, str | None]:
    """(the batch size to train with, a note when it was lowered); raises :class:`TrainingMemoryError` when the
    run cannot fit (``lower_batch``: the batch size may be lowered to fit, rather than refused)."""
    need = estimate.need(batch_size, patch_size)
    if need <= budget:
        return batch_size, None
    fits = min(batch_size, estimate.largest_batch(patch_size, budget))
    wanted = (f"training {preset} at batch size {batch_size} with {patch_size} px patches needs about "
              f"{format_bytes(need)} and {format_bytes(budget)} is {where}")
    if lower_batch and fits >= 1:
        return fits, f"{wanted}: training at batch size {fits} (about {format_bytes(estimate.need(fits, patch_size))})"
    fixes: list[Fix] = []
    if fits >= 1:
        fixes.append({"batch_size": fits})
    else:
        patch = estimate.largest_patch(budget, step=max(8, estimate.multiple))
        if patch:
            fixes.append({"batch_size": 1, "patch_size": patch} if batch_size > 1 else {"patch_size": patch})
    fixes += [{"preset": name} for name in lighter_presets(preset, task)]
    raise TrainingMemoryError(wanted, fixes)


def out_of_memory_error(device: torch.device, *, iteration: int, batch_size: int, patch_size: int,
                        saved: bool) -> TrainingMemoryError:
    """The error a real out-of-memory during training ends with (CUDA): what to run instead."""
    checkpoint = "; a checkpoint was saved" if saved else ""
    summary = (f"out of memory on {device} at iteration {iteration} with batch size {batch_size} and {patch_size} px "
               f"patches{checkpoint}")
    fix: Fix = {"batch_size": batch_size // 2} if batch_size > 1 else {"patch_size": max(8, patch_size // 2)}
    if saved:
        fix["resume"] = "auto"
    return TrainingMemoryError(summary, [fix], verb="should fit")
