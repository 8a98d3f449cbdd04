"""How irtool names the architectures it reads through spandrel (torch-free, so ``irtool download`` and the
weights catalogue can tell them apart without importing torch). The networks themselves: :mod:`irtool.models.foreign`.

Their preset name is ``spandrel:ARCH`` (``spandrel:SwinIR``), which a ``weights.toml`` entry may give as its
``preset`` to say which architecture its file must hold.
"""

from __future__ import annotations

import importlib.util

__all__ = ["FOREIGN_PREFIX", "INSTALL_HINT", "is_foreign", "spandrel_installed"]

#: Preset names of networks read by spandrel: ``spandrel:`` + spandrel's architecture id.
FOREIGN_PREFIX = "spandrel:"
INSTALL_HINT = 'pip install "irtool[spandrel]"'


def is_foreign(preset_name: str | None) -> bool:
    return bool(preset_name) and str(preset_name).startswith(FOREIGN_PREFIX)


def spandrel_installed() -> bool:
    """spandrel is installed (without importing it, which takes seconds: it imports torchvision)."""
    return importlib.util.find_spec("spandrel") is not None
