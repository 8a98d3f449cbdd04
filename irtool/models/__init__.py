"""Pure ``nn.Module`` architectures and the preset registry.

This package imports torch only (no PIL, rich or huggingface_hub): the engine, training
and tests build networks through :func:`build` and never touch files from here.
"""

from __future__ import annotations

from functools import lru_cache

import torch

# One import per architecture family; each module registers its presets.
from . import bilateral_grid, hi_ir, res_hair, restormer  # noqa: E402,F401  (registration side effects)
from .registry import (
    RECIPES,
    Preset,
    RecipeName,
    build,
    count_parameters,
    families,
    family_preset,
    get_preset,
    preset_names,
    register_preset,
)

__all__ = [
    "RECIPES",
    "Preset",
    "RecipeName",
    "build",
    "count_parameters",
    "families",
    "family_preset",
    "get_preset",
    "preset_names",
    "presets",
    "register_preset",
    "parameter_count",
]


@lru_cache(maxsize=None)
def parameter_count(name: str) -> int:
    """Parameters of preset ``name``, counted on the meta device (no memory, no init cost)."""
    with torch.device("meta"):
        return count_parameters(build(name))


def presets() -> dict[str, tuple[str, int]]:
    """Preset name -> (description, parameter count)."""
    return {name: (get_preset(name).description, parameter_count(name)) for name in preset_names()}
