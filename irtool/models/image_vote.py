"""Image-level decision of the degradation detector: its crops' probabilities plus an enlargement test.

The detector (:mod:`irtool.detect`) classifies up to 64 native-resolution crops of a photo. Averaging their
probabilities treats every crop alike, but photos are not alike everywhere: a clean photo with a shallow depth of
field has blurred crops in its background, while a blurred one has *no* sharp crop; haze grows with depth, so a
light haze shows only in the far crops. :class:`ImageVote` reads how the crops' probabilities are *distributed*
(per type: the log of the mean and the 0/10/50/90/100 % quantiles across crops), together with the least-squares
enlargement test of :func:`~irtool.degrade.enlargement.enlargement_residuals` (blur and enlarged low-resolution
images were the crops' main confusion), and maps that summary linearly to one answer. It is fitted on the
training photos after the crop network (``irtool train --task detect --fit-vote``, :mod:`irtool.train.vote`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from irtool.degrade.enlargement import ENLARGEMENT_SCALES, enlargement_residuals

__all__ = ["ImageVote", "image_summary", "summary_size"]

#: Quantiles of each type's probability across an image's crops.
QUANTILES = (0.0, 0.1, 0.5, 0.9, 1.0)
_EPS = 1e-4


def summary_size(num_types: int) -> int:
    return num_types * (1 + len(QUANTILES)) + len(ENLARGEMENT_SCALES) + 1


def image_summary(crop_probs: Tensor, image: Tensor) -> Tensor:
    """The vote's input for one image: ``crop_probs`` ``[N, T]`` (its crops' type probabilities) and the image
    ``[C, H, W]`` in [0, 1] -> ``[summary_size(T)]`` on the CPU."""
    probs = crop_probs.detach().float().cpu()
    mean = probs.mean(dim=0).clamp_min(_EPS).log()
    quantiles = torch.quantile(probs, torch.tensor(QUANTILES), dim=0)
    # The enlargement test as its shape (each factor's residual above the lowest) and its level (the lowest): an
    # enlargement is "one factor at rounding noise, the others far above", a blur "all low, rising smoothly". A
    # linear vote on the raw residuals could not tell them apart (cross-validated on the training photos, blur <->
    # low-resolution confusions 71 -> 22 of 370 samples with this form).
    residuals = enlargement_residuals(image)
    lowest = residuals.min()
    return torch.cat([mean, quantiles.reshape(-1), residuals - lowest, lowest[None]])


class ImageVote(nn.Module):
    """``forward(summaries [B, F]) -> type logits [B, T]``: a linear map on standardised image summaries."""

    def __init__(self, num_types: int, *, size: int | None = None) -> None:
        """``size``: the summary's length, :func:`summary_size` unless a study fits it on other summaries."""
        super().__init__()
        size = summary_size(num_types) if size is None else size
        self.num_types = num_types
        # Standardisation measured on the fitting set (buffers: saved and loaded with the weights).
        self.register_buffer("summary_mean", torch.zeros(size))
        self.register_buffer("summary_std", torch.ones(size))
        self.linear = nn.Linear(size, num_types)

    def forward(self, summaries: Tensor) -> Tensor:
        return self.linear((summaries - self.summary_mean) / self.summary_std)

    def decide(self, summary: Tensor) -> Tensor:
        """Type probabilities ``[T]`` from one image's summary (:func:`image_summary`)."""
        return torch.softmax(self(summary.to(self.summary_mean.device)[None]), dim=-1)[0]
