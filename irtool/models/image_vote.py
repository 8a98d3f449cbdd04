"""Image-level decision of the degradation detector: a linear map on a summary of one image.

The detector (:mod:`irtool.detect`) classifies up to 64 native-resolution crops of a photo. Averaging their
probabilities treats every crop alike, but photos are not alike everywhere: a clean photo with a shallow depth of
field has blurred crops in its background, while a blurred one has *no* sharp crop; haze grows with depth, so a
light haze shows only in the far crops. :class:`ImageVote` reads a fixed-length summary of how the crops'
probabilities are distributed, plus an enlargement test (:func:`irtool.detect.image_summary` makes it; the
summary needs image processing, so it lives there, and this module imports torch only), and maps it linearly to
one answer. It is fitted on the training photos after the crop network (``irtool train --task detect
--fit-vote``, :mod:`irtool.train.vote`).
"""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

__all__ = ["ImageVote", "call_confidence"]


class ImageVote(nn.Module):
    """``forward(summaries [B, size]) -> type logits [B, num_types]``: a linear map on standardised summaries."""

    # Buffers registered in __init__ (nn.Module's __getattr__ would type them as Tensor | Module).
    summary_mean: Tensor
    summary_std: Tensor

    def __init__(self, num_types: int, *, size: int) -> None:
        """``size``: the summary's length (:func:`irtool.detect.summary_size` for the detector's own summaries)."""
        super().__init__()
        self.num_types = num_types
        # Standardisation measured on the fitting set (buffers: saved and loaded with the weights).
        self.register_buffer("summary_mean", torch.zeros(size))
        self.register_buffer("summary_std", torch.ones(size))
        self.linear = nn.Linear(size, num_types)

    def forward(self, summaries: Tensor) -> Tensor:
        return self.linear((summaries - self.summary_mean) / self.summary_std)

    def decide(self, summary: Tensor) -> Tensor:
        """Type probabilities ``[num_types]`` from one image's summary."""
        return torch.softmax(self(summary.to(self.summary_mean.device)[None]), dim=-1)[0]

    def calibrate_calls(self, scale: Tensor, shift: Tensor) -> None:
        """Give each called type its own confidence map (:func:`call_confidence`; buffers, saved with the vote):
        ``scale``, ``shift`` ``[num_types]``. A vote without them shows its probability of the call."""
        self.register_buffer("call_scale", scale.detach().float().reshape(self.num_types).clone())
        self.register_buffer("call_shift", shift.detach().float().reshape(self.num_types).clone())

    def clear_call_maps(self) -> None:
        """Show the probability of the call again (no map per called type)."""
        self._buffers.pop("call_scale", None)
        self._buffers.pop("call_shift", None)

    @property
    def calls_calibrated(self) -> bool:
        return "call_scale" in self._buffers

    def confidence(self, probs: Tensor, index: int) -> float:
        """The confidence shown for calling type ``index`` from the probabilities ``probs`` (:meth:`decide`)."""
        p = probs[index]
        if not self.calls_calibrated:
            return float(p)
        scale, shift = cast(Tensor, self._buffers["call_scale"]), cast(Tensor, self._buffers["call_shift"])
        return float(call_confidence(p, scale[index].to(p.device), shift[index].to(p.device)))


def call_confidence(p: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
    """``sigmoid(scale * logit(p) + shift)`` elementwise, in float64: a call's probability ``p`` mapped to how often
    calls of its type are right (Platt scaling per called type). Monotone in ``p`` for a positive ``scale``, so no
    call changes; a single temperature cannot do this when one type is called right more often than its probability
    says (a noise call) and another less (a blur call that was fog)."""
    z = torch.logit(p.double().clamp(1e-6, 1 - 1e-6))
    return torch.sigmoid(scale.double() * z + shift.double())
