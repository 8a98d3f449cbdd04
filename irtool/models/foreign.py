"""Networks of other projects' architectures (SwinIR, HAT, NAFNet, Real-ESRGAN's RRDBNet, SCUNet, DAT, ...), read
from their official checkpoints by spandrel, an optional dependency (``pip install "irtool[spandrel]"``).

spandrel recognises an architecture and its hyper-parameters from a state dict and builds the network; this
module turns its description (``ImageModelDescriptor``: scale, channels, size requirements, tiling advice,
half-precision support) into irtool's :class:`~irtool.models.registry.Preset`, so the same
:class:`~irtool.engine.InferenceEngine` tiles, pads and runs it as any zoo network. irtool's own architectures
(Res-HAIR, Hi-IR, Restormer) never come here: :mod:`irtool.models.recognise` knows them first.

Such presets are not registered (``irtool models`` lists irtool's own), cannot be built without their weights, and
are not trained by irtool (``recipe`` None). Their name is ``spandrel:ARCH`` (``spandrel:SwinIR``), which a
``weights.toml`` entry may give as its ``preset`` to say which architecture its file must hold.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from irtool.degradations import RESTORE_TASKS
from irtool.errors import InvalidArgumentError
from irtool.foreign_names import FOREIGN_PREFIX, INSTALL_HINT

from .registry import Preset

__all__ = ["SpandrelNetwork", "load_foreign"]

#: spandrel's purposes irtool runs on whole photos (face models want aligned face crops; inpainting wants a mask).
_PURPOSES = ("SR", "Restoration")


class SpandrelNetwork(nn.Module):
    """A network spandrel built, with the module contract of irtool's networks: ``forward(x)`` takes
    ``[B, in_channels, H, W]`` in [0, 1] of any size and returns ``[B, in_channels, scale H, scale W]`` in [0, 1]
    (spandrel pads to the architecture's size requirements by reflection and crops back, and applies the
    architecture's own input/output conventions)."""

    def __init__(self, descriptor: Any) -> None:
        """``descriptor``: the ``spandrel.ImageModelDescriptor`` of the network (spandrel is optional, so untyped)."""
        super().__init__()
        #: The architecture's module (moved and switched to eval mode with this one: it is the same object).
        self.network = descriptor.model
        self._descriptor = descriptor
        self.in_channels = descriptor.input_channels
        self.scale = descriptor.scale
        self.size_multiple = descriptor.size_requirements.multiple_of
        self.min_input_side = max(1, descriptor.size_requirements.minimum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._descriptor(x)


def _spandrel() -> Any:
    """The spandrel module, or one clear line on why it cannot be used."""
    try:
        import spandrel
    except ModuleNotFoundError:
        return None
    except Exception as exc:  # e.g. a torchvision built for another torch: "operator torchvision::nms does not exist"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise InvalidArgumentError(
            f"spandrel is installed but does not import ({type(exc).__name__}: {first}); its torchvision must be the "
            f"build that matches torch {torch.__version__}") from None
    return spandrel


def load_foreign(state_dict: Mapping[str, torch.Tensor], *, source: str,
                 arch: str | None = None) -> tuple[Preset, nn.Module]:
    """(preset, module) for a state dict of an architecture spandrel knows, its weights loaded.

    ``arch`` (spandrel's architecture id, e.g. ``SwinIR``) is what the file must hold, when the caller knows it.
    Raises :class:`~irtool.errors.InvalidArgumentError` with one line when spandrel is missing, does not recognise
    the tensors, or recognises a network irtool does not run on photos.
    """
    spandrel = _spandrel()
    if spandrel is None and arch is not None:
        raise InvalidArgumentError(f"{source} holds a {arch} network, not one of irtool's architectures; reading it "
                                   f"needs spandrel: {INSTALL_HINT}")
    if spandrel is None:
        raise InvalidArgumentError(f"{source} is not one of irtool's architectures; reading other architectures "
                                   f"needs spandrel: {INSTALL_HINT}")
    try:
        descriptor = spandrel.ModelLoader(device="cpu").load_from_state_dict(dict(state_dict))
    except spandrel.UnsupportedModelError:
        example = next(iter(state_dict), "no tensors")
        raise InvalidArgumentError(
            f"{source}: neither irtool nor spandrel {spandrel.__version__} recognises this state dict "
            f"({len(state_dict)} tensors, e.g. {example!r}); if it is one of irtool's presets, give it",
            argument="preset_name") from None
    except Exception as exc:  # an architecture recognised by its keys whose shapes do not fit its constructor
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        reason = f"{type(exc).__name__}: {first}"
        raise InvalidArgumentError(f"{source}: spandrel could not build its network ({reason})") from None
    found = descriptor.architecture.id
    if arch is not None and found != arch:
        raise InvalidArgumentError(f"{source} holds a {found} network, not {arch}", argument="preset_name")
    purpose = descriptor.purpose
    if not isinstance(descriptor, spandrel.ImageModelDescriptor) or purpose not in _PURPOSES:
        raise InvalidArgumentError(f"{source} is a {found} network for {purpose}; irtool runs super-resolution and "
                                   "restoration networks on whole images")
    if descriptor.input_channels != descriptor.output_channels:
        raise InvalidArgumentError(f"{source}: {found} takes {descriptor.input_channels} channels and returns "
                                   f"{descriptor.output_channels}; irtool runs networks that return what they take")
    module = SpandrelNetwork(descriptor)
    sr_task = f"sr{descriptor.scale}"
    preset = Preset(
        name=f"{FOREIGN_PREFIX}{found}",
        network=SpandrelNetwork,
        family=found,
        kwargs={},
        description=f"{descriptor.architecture.name} ({', '.join(descriptor.tags) or 'untagged'}), read by spandrel "
                    f"{spandrel.__version__}",
        tasks=(sr_task,) if descriptor.scale > 1 and sr_task in RESTORE_TASKS else (),
        recipe=None,
        size_multiple=module.size_multiple,
        min_input_side=module.min_input_side,
        supports_fp16=bool(descriptor.supports_half),
        supports_bf16=bool(descriptor.supports_bfloat16),
        scale=descriptor.scale,
        in_channels=descriptor.input_channels,
        # spandrel's INTERNAL: the network tiles by itself and should see the whole image. DISCOURAGED (SwinIR,
        # SCUNet: attention beyond a tile) is still tiled, with the engine's overlap blending.
        whole_image=descriptor.tiling == spandrel.ModelTiling.INTERNAL,
    )
    return preset, module
