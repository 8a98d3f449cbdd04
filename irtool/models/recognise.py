"""Which registered preset a state dict was saved from, told by its tensor names and shapes alone.

An official checkpoint names no preset (the HAIR ``.ckpt``, Restormer's ``.pth`` files), so ``--weights FILE`` needs
no ``--arch`` when exactly one preset builds a network with the same tensors: Restormer's bias-free LayerNorm (the
denoising files) has no LayerNorm biases, its with-bias one (deraining, deblurring) has them, so the two presets
are told apart by their keys. The presets are built on the meta device (no memory, no initialisation), once per
process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping

import torch

from .registry import Preset, build, get_preset, preset_names

__all__ = ["preset_signature", "recognise_preset"]

Signature = frozenset[tuple[str, tuple[int, ...]]]


def _signature_of(state_dict: Mapping[str, torch.Tensor]) -> Signature:
    return frozenset((key, tuple(value.shape)) for key, value in state_dict.items())


@lru_cache(maxsize=None)
def preset_signature(name: str) -> Signature:
    """The tensor names and shapes of preset ``name``'s network (built once, on the meta device)."""
    with torch.device("meta"):
        return _signature_of(build(name).state_dict())


def recognise_preset(state_dict: Mapping[str, torch.Tensor]) -> Preset | None:
    """The registered preset whose network has exactly these tensor names and shapes, or None.

    Registered presets never share a signature (``tests/test_routes.py`` checks it), so the answer is unique.
    """
    wanted = _signature_of(state_dict)
    for name in preset_names():
        if preset_signature(name) == wanted:
            return get_preset(name)
    return None
