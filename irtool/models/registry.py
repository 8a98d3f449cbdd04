"""Explicit registry of architecture presets (timm's ``register_model``/``create_model`` idea).

Three nouns are kept apart (see the README):

* an *architecture family* is an ``nn.Module`` class with a keyword-only, typed constructor;
* a *preset* is a named, frozen set of constructor arguments for one family (this module);
* a *weights entry* (``weights.toml``) names one preset plus a file.

Adding an architecture means one new module under ``irtool/models`` that calls
:func:`register_preset`, and one import line in ``irtool/models/__init__.py``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from torch import nn

from irtool.errors import InvalidArgumentError

__all__ = ["Preset", "register_preset", "get_preset", "preset_names", "build", "count_parameters"]


@dataclass(frozen=True)
class Preset:
    """A typed description of one buildable network (cf. spandrel's ``ModelDescriptor``).

    ``scale`` is the output/input size ratio, ``size_multiple`` the spatial multiple the
    network needs internally (models pad and crop themselves; the engine uses it to align
    tiles), ``tasks`` the restoration tasks the preset is meant for.
    """

    name: str
    family: type[nn.Module]
    kwargs: Mapping[str, Any]
    description: str
    tasks: tuple[str, ...]
    scale: int = 1
    in_channels: int = 3
    size_multiple: int = 1
    lite: bool = False
    #: HAIR models expose ``giv(x)`` and ``forward(x, giv=...)``.
    has_giv: bool = False
    #: Training patch size the paper (or the lite recipe) uses for this preset.
    patch_size: int = 128
    paper_params: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def build(self, **overrides: Any) -> nn.Module:
        return self.family(**{**self.kwargs, **overrides})


_PRESETS: dict[str, Preset] = {}


def register_preset(
    name: str,
    family: type[nn.Module],
    *,
    description: str,
    tasks: tuple[str, ...],
    **fields: Any,
) -> Preset:
    """Register preset ``name``; keyword arguments not in :class:`Preset` are rejected."""
    kwargs = MappingProxyType(dict(fields.pop("kwargs", {})))
    if name in _PRESETS:
        raise ValueError(f"preset {name!r} is registered twice")
    preset = Preset(name=name, family=family, kwargs=kwargs, description=description, tasks=tasks, **fields)
    _PRESETS[name] = preset
    return preset


def preset_names() -> list[str]:
    return sorted(_PRESETS)


def _unknown(kind: str, name: str, known: list[str], *, argument: str | None = None) -> InvalidArgumentError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(known)}"
    return InvalidArgumentError(f"unknown {kind} {name!r}{hint}", argument=argument)


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name raises :class:`~irtool.errors.InvalidArgumentError`
    naming the closest registered ones."""
    try:
        return _PRESETS[name]
    except KeyError:
        raise _unknown("preset", name, preset_names()) from None


def build(name: str, **overrides: Any) -> nn.Module:
    """Build preset ``name``; ``overrides`` replace constructor arguments (a typo raises TypeError)."""
    return get_preset(name).build(**overrides)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
