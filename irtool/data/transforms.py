"""Optional steps in how :class:`~irtool.data.datasets.DegradedFolderDataset` makes a training patch.

A dataset takes a list of them (``transforms=[DegradeMargin(24), QuantizeInput()]``). Each exists because a
detector trained on plain synthetic patches learns what those patches have and real photos lack, instead of the
degradation; any training run may use them (``TrainConfig`` fields of the same names).

A patch is made in these steps, and a transform takes part through the hooks it overrides:

1. ``region(side)``: the side of the clean region that is degraded, for a target patch of ``side`` pixels;
2. ``source(side, rng)``: the side of the photo region cut for it (then shrunk to the region);
3. the crop's position and the flip/rotation are drawn;
4. ``clean(gt, rng)``: the clean region, before it is degraded;
5. the degradation;
6. ``degraded(lq, gt)``: the degraded input and its target.

The defaults leave the patch alone and draw nothing from the item's generator, and a transform that is switched
off draws nothing either, so a dataset without them gives the patches the same seeds always gave.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from irtool.data.images import random_tone
from irtool.degrade import quantize_uint8
from irtool.errors import UsageError

if TYPE_CHECKING:
    from irtool.data.datasets import DegradedFolderDataset

__all__ = [
    "DegradeMargin",
    "Downscale",
    "GrayPhotos",
    "PatchTransform",
    "QuantizeInput",
    "ToneJitter",
    "check_downscale_range",
    "check_probability",
    "luma",
]


def check_downscale_range(value: Sequence[float]) -> tuple[float, float]:
    """``(low, high)`` with ``0 < low <= high <= 1``, as a tuple of floats."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise UsageError(f"downscale must be two numbers (low, high), got {value!r}") from None
    if not 0.0 < low <= high <= 1.0:
        raise UsageError(f"downscale must satisfy 0 < low <= high <= 1, got ({low}, {high})")
    return low, high


def check_probability(name: str, value: float) -> float:
    """A fraction in [0, 1] (as float) or a one-line error naming ``name``."""
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"{name} must be a fraction in [0, 1], got {value}")
    return value


class PatchTransform:
    """One optional step in making a training patch; see the module docstring for the order of the hooks."""

    def check(self, dataset: DegradedFolderDataset) -> None:
        """Raise :class:`UsageError` if this transform cannot work with ``dataset``'s sizes or options."""

    def region(self, side: int) -> int:
        return side

    def source(self, side: int, rng: np.random.Generator) -> int:
        return side

    def clean(self, gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return gt

    def degraded(self, lq: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return lq, gt


class DegradeMargin(PatchTransform):
    """Degrade a region ``margin`` (target) pixels larger on every side and keep its centre.

    Then no patch shows where a synthetic degradation met the crop's border (a reflect-padded blur or rain kernel,
    a haze depth ramp squeezed into one patch). A photo degraded whole has no such borders, and a detector trained
    on patches with them learns the borders instead of the degradation. A multiple of 24 keeps JPEG's 8x8 blocks
    and the x2/x3/x4 sampling grids in the phase they have in a whole photo read in crops at 24-pixel offsets
    (``irtool.detect``).
    """

    def __init__(self, margin: int) -> None:
        if not isinstance(margin, int) or isinstance(margin, bool) or margin < 0:
            raise UsageError(f"degrade_margin must be an integer >= 0, got {margin!r}")
        self.margin = margin

    def check(self, dataset: DegradedFolderDataset) -> None:
        # The margin is cut from the target and, divided by the scale, from an SR input: it must divide evenly.
        sr_scales = dataset.mixture.sr_scales
        multiple = math.lcm(dataset.scale, *sr_scales) if dataset.sr_as_same_size else dataset.scale
        if self.margin % multiple:
            raise UsageError(f"degrade_margin={self.margin} must be a multiple of {multiple} here")

    def region(self, side: int) -> int:
        return side + 2 * self.margin

    def degraded(self, lq: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.margin:
            return lq, gt
        # The input is the region's size or 1/scale of it (SR); its margin is cut in proportion.
        lq_margin = self.margin * lq.shape[0] // gt.shape[0]
        lq = lq[lq_margin : lq.shape[0] - lq_margin, lq_margin : lq.shape[1] - lq_margin]
        gt = gt[self.margin : gt.shape[0] - self.margin, self.margin : gt.shape[1] - self.margin]
        return lq, gt


class Downscale(PatchTransform):
    """Shrink each patch from a photo region ``1 / f`` times larger, ``f`` uniform in ``(low, high)``.

    The shrinking is MATLAB bicubic with antialiasing, rounded to 8 bit like a stored photo. More content scales
    come from the same photos, so a detector learns the degradation rather than the photos; ``(1, 1)`` is off.
    """

    def __init__(self, low_high: Sequence[float]) -> None:
        self.low, self.high = check_downscale_range(low_high)

    def source(self, side: int, rng: np.random.Generator) -> int:
        if self.low >= 1.0:
            return side
        factor = float(rng.uniform(self.low, self.high))
        return max(side, round(side / factor))


class ToneJitter(PatchTransform):
    """With this probability a patch's clean photo is re-exposed and re-graded (:func:`random_tone`) before it is
    degraded, for every task alike: a detector then meets darker, greyer and more muted clean photos than the
    folder holds."""

    def __init__(self, probability: float) -> None:
        self.probability = check_probability("tone_jitter", probability)

    def clean(self, gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.probability and rng.random() < self.probability:
            return random_tone(gt, rng)
        return gt


class GrayPhotos(PatchTransform):
    """With this probability a patch's clean photo is made gray (its luma in all three channels), and its degraded
    input too (a gray photo's noise, rain and haze are gray): the detector then meets the black-and-white and
    monochrome-sensor photos people have, which a folder of colour photos never shows it."""

    def __init__(self, probability: float) -> None:
        self.probability = check_probability("gray_photos", probability)

    def clean(self, gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.probability and rng.random() < self.probability:
            return np.repeat(luma(gt), 3, axis=-1)
        return gt

    def degraded(self, lq: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.probability and _is_gray(gt) and not _is_gray(lq):
            return np.repeat(luma(lq), 3, axis=-1), gt
        return lq, gt


def _is_gray(img: np.ndarray) -> bool:
    return img.shape[-1] == 3 and np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 0], img[..., 2])


def luma(img: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an HxWx3 image, HxWx1, in its dtype (as Pillow converts RGB to L)."""
    return (img @ np.array([0.299, 0.587, 0.114], dtype=img.dtype))[..., None]


class QuantizeInput(PatchTransform):
    """Round the degraded input to 8-bit levels, as every degraded photo a user has is stored.

    Blur, rain, haze, low light and noise otherwise leave values between the levels that clean, JPEG and enlarged
    low-resolution inputs never have, and a detector learns that instead of the degradation (it then calls real
    8-bit blurred photos clean or low-resolution).
    """

    def check(self, dataset: DegradedFolderDataset) -> None:
        if dataset.unclipped_noise > 0:
            raise UsageError("unclipped_noise needs unrounded inputs: rounding to 8-bit levels clips the noise")

    def degraded(self, lq: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return quantize_uint8(lq), gt
