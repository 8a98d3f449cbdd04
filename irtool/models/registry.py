"""Explicit registry of architecture presets (timm's ``register_model``/``create_model`` idea).

Three nouns are kept apart (see the README):

* an *architecture family* (``res_hair``, ``hi_ir``, ``restormer``: what ``irtool train --arch`` names) is one
  or more ``nn.Module`` classes with keyword-only, typed constructors;
* a *preset* is a named, frozen set of constructor arguments for one of those classes, with everything the rest
  of irtool needs to know about the network it builds (this module);
* a *weights entry* (``weights.toml``) names one preset plus a file.

Adding an architecture means one new module under ``irtool/models`` that calls :func:`register_preset`, and
one import line in ``irtool/models/__init__.py``; ``tests/test_presets.py`` then checks every new preset's
metadata against the network it builds.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, Mapping, get_args

from torch import nn

from irtool.errors import InvalidArgumentError

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
    "register_preset",
]

#: Training recipes (``irtool.train.config.recipe``): the HAIR paper's, the Hi-IR paper's, the CPU one.
RecipeName = Literal["hair", "hi_ir", "lite"]
RECIPES: tuple[str, ...] = get_args(RecipeName)


@dataclass(frozen=True)
class Preset:
    """The whole contract of one buildable network (cf. spandrel's ``ModelDescriptor``).

    Every network a preset builds takes ``[B, in_channels, H, W]`` of any ``H x W``, pads it internally
    (bottom/right, :func:`irtool.models.layers.pad_to_multiple`) to a multiple of ``size_multiple`` of at
    least ``min_input_side``, and returns ``[B, in_channels, scale H, scale W]``. Its module carries the same
    ``in_channels``, ``scale``, ``size_multiple`` and ``min_input_side`` attributes (the preset test checks
    them); the engine and the zoo read them from here.
    """

    name: str
    #: The ``nn.Module`` class the preset builds.
    network: type[nn.Module]
    #: Architecture family name, shared by every preset of one paper's networks.
    family: str
    kwargs: Mapping[str, Any]
    description: str
    #: Restoration tasks the preset is meant for.
    tasks: tuple[str, ...]
    #: The training recipe ``irtool train`` uses for this preset unless told otherwise; None for a network read
    #: from another project's checkpoint (:mod:`irtool.models.foreign`), which irtool runs but does not train.
    recipe: RecipeName | None
    #: Spatial multiple the network pads its input to (the engine aligns tiles to it).
    size_multiple: int
    #: Smallest padded side the network accepts; smaller inputs are padded up to it.
    min_input_side: int
    #: Autocast to float16 / bfloat16 gives usable results (the engine's ``auto`` precision and explicit
    #: requests honour these).
    supports_fp16: bool
    supports_bf16: bool
    #: Output/input size ratio.
    scale: int = 1
    in_channels: int = 3
    #: Peak inference memory per input pixel in bytes, when known; None lets the engine estimate it
    #: (measured on CUDA, a width-based heuristic elsewhere: :mod:`irtool.engine.memory`).
    bytes_per_pixel: int | None = None
    #: Largest automatic tile side on the CPU, in input pixels (images up to twice this run whole; tiles are fitted
    #: below it to each axis, :func:`irtool.engine.tiling.plan_axis`): the cap measured fastest with the ``irtool``
    #: command's host allocator (``scripts/bench_restore.py --tile 256 384 512``). Larger planes can be slower per
    #: pixel on a CPU (cache and TLB misses of the window shuffles, depthwise kernels), smaller tiles recompute more
    #: overlap.
    cpu_tile: int = 256
    #: HAIR models expose ``giv(x)`` and ``forward(x, giv=...)``.
    has_giv: bool = False
    #: The network decides from the whole image (e.g. a thumbnail of it): tiles would each decide on their own and
    #: show seams, so the engine always gives it the whole image.
    whole_image: bool = False
    #: The network's attention sums over every pixel of its input (Restormer's MDTA), so a tile would see other
    #: statistics than the image; it offers ``forward_in_strips`` (:mod:`irtool.models.strips`), which the engine
    #: runs instead of tiles: the one-pass result in bounded memory.
    strips: bool = False
    #: Mirrored pixels the engine puts beyond the image's bottom and right borders (:data:`EDGE_MARGIN` for
    #: networks that need it, 0 for the rest).
    edge_margin: int = 0
    #: ``irtool train --arch FAMILY`` picks this preset for the tasks it lists, and the family's default
    #: at scale 1 for any task none of them lists.
    family_default: bool = False
    #: Warm-up iterations of the paper's schedule where they differ from the recipe's.
    warmup_iters: int | None = None
    paper_params: int | None = None

    @property
    def lite(self) -> bool:
        """Sized for CPU training and inference (trained with the ``lite`` recipe)."""
        return self.recipe == "lite"

    def build(self, **overrides: Any) -> nn.Module:
        return self.network(**{**self.kwargs, **overrides})


#: The engine's mirrored margin for networks trained on crops their forward pads at the bottom and right (the lite
#: recipe's 96 px patches padded to Hi-IR's 64 px multiple: their last 32 rows and columns never reach the loss).
#: They restore a bare bottom or right edge badly, about 12 px in: a 1024 x 768 photo's last 4 columns came out
#: of the lite denoiser at 28.6 dB, 32.3 dB with this margin (README "Speed and memory", scripts/edge_margin.py).
EDGE_MARGIN = 16

_PRESETS: dict[str, Preset] = {}


def register_preset(name: str, network: type[nn.Module], **fields: Any) -> Preset:
    """Register preset ``name`` building ``network``; ``fields`` are :class:`Preset` fields (others are rejected)."""
    if name in _PRESETS:
        raise ValueError(f"preset {name!r} is registered twice")
    kwargs = MappingProxyType(dict(fields.pop("kwargs", {})))
    preset = Preset(name=name, network=network, kwargs=kwargs, **fields)
    if preset.recipe not in RECIPES:
        raise ValueError(f"preset {name!r}: recipe {preset.recipe!r} is not one of {', '.join(RECIPES)}")
    if preset.size_multiple < 1 or preset.min_input_side < 1 or preset.scale < 1:
        raise ValueError(f"preset {name!r}: size_multiple, min_input_side and scale must be >= 1")
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


def families() -> list[str]:
    """Architecture family names, sorted."""
    return sorted({preset.family for preset in _PRESETS.values()})


def family_preset(family: str, task: str) -> Preset:
    """The paper preset of ``family`` for ``task``: the family default that lists ``task``, else its default
    at scale 1 (which then learns ``task`` at the input's size, as all-in-one models do)."""
    if family not in families():
        raise _unknown("architecture family", family, families(), argument="family")
    defaults = [p for p in _PRESETS.values() if p.family == family and p.family_default]
    for candidates in ([p for p in defaults if task in p.tasks], [p for p in defaults if p.scale == 1]):
        if candidates:
            return min(candidates, key=lambda p: p.name)
    raise InvalidArgumentError(f"architecture family {family!r} has no default preset for task {task!r}; "
                               f"its presets: {', '.join(p.name for p in _PRESETS.values() if p.family == family)}",
                               argument="family")


def build(name: str, **overrides: Any) -> nn.Module:
    """Build preset ``name``; ``overrides`` replace constructor arguments (a typo raises TypeError)."""
    return get_preset(name).build(**overrides)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
