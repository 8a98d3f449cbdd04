"""Degradation detector: Res-HAIR's GIV path (encoder + classifier) with a :class:`GIVHead` on top.

HAIR (sec. 3.1) computes its Global Information Vector from the encoder's deepest features with a
small classifier, and shows the vector separates degradation types. A head on the *frozen* GIV of
our lite all-in-one model did not separate them well enough (the restorer's GIV only has to steer
its own decoder, 28 numbers for six tasks), so the detector is its own network: a copy of the
restorer's GIV path, initialised from the restorer's weights and fine-tuned together with the head
(``irtool train --task detect``). The restorer keeps computing its own GIV for restoration.

Submodules keep the restorer's attribute names, so restorer weights load into the GIV path as they are
(:meth:`GIVDetector.load_restorer_weights`).
"""

from __future__ import annotations

from typing import Mapping, cast

import torch
from torch import Tensor, nn

from irtool.errors import InvalidArgumentError
from irtool.models.giv_head import GIVHead, build_giv_head
from irtool.models.image_vote import ImageVote
from irtool.models.layers import pad_to_multiple

__all__ = ["GIV_PATH_MODULES", "GIVDetector", "build_giv_detector"]

#: The Res-HAIR submodules its GIV depends on (``ResHAIR.giv``): patch embedding, encoder, classifier.
GIV_PATH_MODULES = ("patch_embed", "encoder_level1", "down1_2", "encoder_level2", "down2_3", "encoder_level3",
                    "down3_4", "feature")


class GIVDetector(nn.Module):
    """``forward(images [B,3,H,W] in [0,1]) -> (type logits [B, T], severity [B, 1])``; ``giv(images)`` too."""

    # The GIV path, the restorer's submodules set by name in __init__ (GIV_PATH_MODULES).
    patch_embed: nn.Module
    encoder_level1: nn.Module
    down1_2: nn.Module
    encoder_level2: nn.Module
    down2_3: nn.Module
    encoder_level3: nn.Module
    down3_4: nn.Module
    feature: nn.Module

    def __init__(self, *, restorer: str = "res_hair_lite", num_types: int, hidden: int = 64,
                 vote_size: int | None = None) -> None:
        """``num_types``: the labels the head predicts; ``vote_size``: the length of the image summaries an
        :class:`ImageVote` reads (:func:`irtool.detect.summary_size`), or None for a detector without a vote."""
        super().__init__()
        from irtool.models import get_preset

        preset = get_preset(restorer)
        if not preset.has_giv:
            raise InvalidArgumentError(f"a detector needs a preset with a GIV (has_giv), not {restorer!r}",
                                       argument="restorer")
        full = preset.build()
        self.restorer = restorer
        self.in_channels = preset.in_channels
        self.giv_dim = cast(int, full.giv_dim)  # a GIV network's (has_giv) plain int attribute, not a submodule
        self.min_input_side = preset.min_input_side
        self.size_multiple = preset.size_multiple
        for name in GIV_PATH_MODULES:
            setattr(self, name, getattr(full, name))
        self.head: GIVHead = build_giv_head(self.giv_dim, num_types=num_types, hidden=hidden)
        # The image-level decision (fitted after the crop network; None: the mean of the crops' probabilities).
        self.vote: ImageVote | None = None if vote_size is None else ImageVote(self.head.num_types, size=vote_size)

    def giv(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise InvalidArgumentError(f"expected a [B, {self.in_channels}, H, W] tensor, got {tuple(x.shape)}")
        x = pad_to_multiple(x, self.size_multiple, min_size=self.min_input_side)
        x = self.encoder_level1(self.patch_embed(x))
        x = self.encoder_level2(self.down1_2(x))
        x = self.encoder_level3(self.down2_3(x))
        return self.feature(self.down3_4(x))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.head(self.giv(x))

    def load_restorer_weights(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Initialise the GIV path from a trained restorer's state dict (the decoder's tensors are ignored)."""
        own = {k: v for k, v in state_dict.items() if k.split(".", 1)[0] in GIV_PATH_MODULES}
        expected = {k: v.shape for k, v in self.state_dict().items() if not k.startswith("head.")}
        wrong = sorted(k for k, shape in expected.items() if k not in own or own[k].shape != shape)
        if wrong or len(own) != len(expected):
            first = wrong[0] if wrong else sorted(own.keys() - expected.keys())[0]
            raise InvalidArgumentError(f"restorer weights do not fit the GIV-path tensors of {self.restorer} "
                             f"({len(wrong)} missing or misshapen, first: {first})")
        self.load_state_dict(own, strict=False)


def build_giv_detector(restorer: str = "res_hair_lite", *, num_types: int | None = None, hidden: int = 64,
                       vote_size: int | None = None) -> GIVDetector:
    """A :class:`GIVDetector` on the GIV path of the Res-HAIR preset ``restorer`` (with an :class:`ImageVote` on
    summaries of ``vote_size`` numbers, if given), predicting ``num_types`` labels (default: as many as
    :func:`irtool.degradations.detector_types`)."""
    if num_types is None:
        from irtool.degradations import detector_types

        num_types = len(detector_types())
    return GIVDetector(restorer=restorer, num_types=num_types, hidden=hidden, vote_size=vote_size)
