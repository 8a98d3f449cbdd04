"""Degradation auto-detection for ``irtool restore --auto``.

A :class:`~irtool.models.giv_detector.GIVDetector` (Res-HAIR's GIV path fine-tuned with a type/severity
head, ``irtool train --task detect``) names the degradation type and a severity in [0, 1].

It reads the image at native resolution (a downscaled copy would average noise, JPEG blocks and blur
away) as a grid of up to :data:`DETECT_MAX_CROPS` crops of :data:`DETECT_CROP` px spread evenly over the
image and classifies each crop. Crops of the training patch size show the head GIVs like those it was
trained on, the grid covers the whole photo (haze and low light are global, rain or blur may be local), and
on the CPU a batch of small crops is several times faster than one whole-image pass of the same pixel count.

One decision per image: a detector with an :class:`~irtool.models.image_vote.ImageVote` (``irtool train --task
detect --fit-vote``) decides from how the crops' probabilities are distributed plus an enlargement test
(:func:`image_summary`); one without decides by the crops' mean probability. README "Detection" has the measured
accuracy of both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from irtool.degradations import CLEAN, DEGRADATIONS, LEGACY_DETECTOR_TYPES, detector_types
from irtool.errors import InvalidArgumentError, UsageError

if TYPE_CHECKING:
    from irtool.models.giv_detector import GIVDetector

#: Side of the native-resolution crops the detector reads (images smaller than this are read whole): the
#: lite detect recipe's training patch size.
DETECT_CROP = 96
#: At most this many crops per image (an 8 x 8 grid): bounded cost for any photo size.
DETECT_MAX_CROPS = 64
#: Crops per forward pass.
DETECT_BATCH = 16
#: Crops start at multiples of this (from the image origin): JPEG's 8 x 8 blocks and the 2-, 3- and 4-pixel
#: periods of an image enlarged x2/x3/x4 then fall where they fell in the training patches, which were
#: degraded after cropping. The network's stride-8 encoder sees them in the same phase.
DETECT_ALIGN = 24
#: Quantiles of each type's probability across an image's crops, in the vote's summary.
SUMMARY_QUANTILES = (0.0, 0.1, 0.5, 0.9, 1.0)
_SUMMARY_EPS = 1e-4
#: The whole-scene statistics at the end of the vote's summary (:func:`scene_statistics`), in order.
SCENE_STATISTICS = ("luma_mean", "luma_p01", "luma_p50", "luma_p99", "luma_std", "dark_channel_p50",
                    "dark_channel_p90", "saturation_mean")
#: Scene statistics are read from a copy of the image averaged down to at most this side (they are global).
SCENE_SIDE = 256
#: Window of the dark channel's minimum filter on that copy (He et al. use 15 px on full-size photos).
DARK_CHANNEL_WINDOW = 7
#: Median dark channel below which an image shows no veil, whatever the detector says (haze lifts every channel
#: by the airlight it adds): just below the lowest of visibly hazed training windows (0.257 at severity >= 0.25,
#: every registered haze generator; ``scripts/pixel_tests.py``).
VEIL_DARK_CHANNEL_MIN = 0.25
#: Largest difference between an image's channels (8-bit levels, on its scene copy) at which it counts as gray
#: (:func:`is_gray`): a gray photo saved as RGB, through JPEG's chroma rounding too, differs by a level at most.
GRAY_CHANNEL_SPREAD = 2.0
#: Detector haze severity from which ``--auto`` dehazes a gray photo it calls hazy: without colour, haze (a
#: contrast pulled towards the airlight) looks like a scene's own low contrast, and on gray training windows the
#: detector calls a sixth of the clean ones hazy, rated 0.143-0.404, and 149 of 222 hazed ones, 0.363 at their median
#: (``scripts/pixel_tests.py --test haze-severity --gray --where-called haze --windows 6 --synthesis wide``): just
#: above every clean one, so a gray photo keeps only the heavier hazes' correction. Fixed before any held-out run.
GRAY_HAZE_SEVERITY_MIN = 0.41
#: Detector blur severity from which ``--auto`` deblurs a gray photo it calls blurred: without colour a soft scene
#: looks like a light blur more often, and on gray training windows the detector calls 9 of 111 clean ones blurred,
#: rated 0.123-0.426, and 106 of 111 blurred ones, 0.505 at their median (``scripts/pixel_tests.py --test
#: blur-severity --gray --windows 3``): just above every clean one (docs/auto-history.md "A gray photo called
#: slightly blurred"). Fixed before any held-out run.
GRAY_BLUR_SEVERITY_MIN = 0.43
#: Side of the blocks :func:`noise_floor` measures, and the share of the flattest ones it reads.
NOISE_BLOCK = 16
NOISE_FLATTEST_SHARE = 0.1
#: Blocks whose mean luma is this close to black or white are skipped: clipping hides noise there.
NOISE_CLIP_MARGIN = 0.04
#: Noise floor (8-bit levels) from which ``--auto`` denoises an image the detector calls clean: the 98th percentile
#: of clean training windows (``scripts/pixel_tests.py --test noise``: 7.58; whole training photos read at most
#: 2.85 except the texture ``skimage-grass``, 7.97), fixed before any held-out image was measured. Texture without a
#: flat region reads like noise, so the threshold favours leaving noise over smoothing texture.
NOISE_FLOOR_MIN = 7.6
#: The noise test's second reading, for noise a JPEG has smoothed (:func:`removed_noise`, 8-bit levels): what the
#: noise route's model removes where it removes least. Half a level above the most it removes from any clean, JPEG,
#: blurred or hazy training window (``scripts/pixel_tests.py --test removed-noise``: 1.93, colour and gray), rounded up
#: to half a level; fixed before any held-out image was measured (docs/auto-history.md "Noise under a JPEG").
NOISE_REMOVED_MIN = 2.5
#: :func:`removed_noise` is read only on images whose noise floor is at least this (8-bit levels): below it the
#: flattest regions are smooth at the finest scale, which no noise-then-JPEG training window is (5.4 at the least,
#: ``scripts/pixel_tests.py --test noise --generator noise=gaussian-then-jpeg``), and running a restorer on every
#: clean photo would cost seconds.
NOISE_REMOVED_FLOOR_MIN = 2.0
#: :func:`removed_noise` reads the whole image up to this many pixels, else crops of :data:`NOISE_REMOVED_CROP` px on
#: an even grid of about as many pixels in all (about a second of a lite restorer on 2 CPU cores).
NOISE_REMOVED_SAMPLE_PIXELS = 2**19
NOISE_REMOVED_CROP = 256
#: Highlight level (:func:`highlight_level`) below which ``--auto`` brightens an image the detector calls clean or
#: blurred: just below the lowest training window of every type but low light (``scripts/pixel_tests.py --test
#: exposure``: clean windows 0.465 at the lowest, 0.518 at their 2nd percentile; blurred 0.440, enlarged 0.432;
#: low-light windows 0.244 median, 0.427 at their 90th percentile), fixed before any held-out image was measured.
HIGHLIGHT_LEVEL_MAX = 0.43
#: Black point (:func:`black_point`) from which the dim highlights test leaves an image as the detector called it:
#: darkening pushes the darkest pixels towards black, a scene dark by nature keeps its own. The 90th percentile of
#: darkened training windows with dim highlights (``scripts/pixel_tests.py --test black-point --where-dim
#: --darkest``: 0.008 median, 0.083 at the 98th percentile; the darkest windows of clean photos 0.047 median).
DIM_BLACK_POINT_MAX = 0.044
#: Detector severity below which a degradation is slight: issue #17 draws the line of visible damage at 0.25. A
#: low-light call rated below it on a scene whose blacks sit at or above :data:`DIM_BLACK_POINT_MAX` is left as it
#: is (``irtool.restore``): on training photos 1 of the 27 darkened windows the detector calls low light has both
#: (``scripts/pixel_tests.py --test slight-black-point --where-called low-light --windows 3``; README "Detection").
#: A haze call on a colour photo rated below it is left as it is too: a pale scene looks like a light veil
#: (docs/auto-history.md "A haze call the detector rates slight"); and so is a blur call: a soft scene looks like a
#: light blur, and the blurs the detector rates slight gain little from deblurring ("A blur call the detector rates
#: slight").
SLIGHT_SEVERITY = 0.25
#: Side of the blocks :func:`edge_sharpness` measures, the contrast (8-bit levels) a block needs to count, and the
#: share of the sharpest counted blocks it reads per direction.
SHARPNESS_BLOCK = 16
SHARPNESS_MIN_CONTRAST = 32.0
SHARPNESS_SHARPEST_SHARE = 0.1
#: Edge sharpness (:func:`edge_sharpness`) from which ``--auto`` leaves an image the detector calls blurred as it is:
#: just above the sharpest blurred training window (``scripts/pixel_tests.py --test sharpness``, every registered
#: blur generator at severity 0.25-1: 0.331 at the 98th percentile, 0.347 at the most; clean windows 0.266 at their
#: 2nd percentile, 0.601 median), fixed before any held-out image was measured.
EDGE_SHARPNESS_MIN = 0.35
#: Streak coherence (:func:`streak_coherence`) below which ``--auto`` takes an image the detector calls rainy for one
#: without rain streaks: just below the least coherent visibly rainy training window (``scripts/pixel_tests.py --test
#: streaks``, both registered rain generators at severity 0.25-1: 0.156 at the least, 0.305 at the 2nd percentile;
#: noisy windows 0.057 median), fixed before any held-out image was measured. Such an image goes to the noise route.
STREAK_COHERENCE_MIN = 0.15
#: :func:`tone_gaps`: the levels a histogram is read over. Shadows: 0-63; highlights: 128-255.
TONE_SHADOWS_END, TONE_HIGHLIGHTS_START = 64, 128
#: :func:`tone_gaps`: a level counts as populated where its 9-level neighbourhood holds this many pixels a level
#: (an empty level there is a gap, not the sparse tail of the histogram), and a channel is read only with this
#: many populated levels in both its shadows and its highlights.
TONE_MIN_EXPECTED, TONE_MIN_LEVELS = 4.0, 16
#: :func:`tone_gaps` from which ``--auto`` takes an image called clean or blurred for one darkened by a tone curve
#: (docs/auto-history.md "Gaps in the highlights"): just above the highest training window of any type but low light
#: (``scripts/pixel_tests.py --test tone-gaps``: JPEG 0.400 at one window, blurred 0.176, clean 0.048; the own
#: ``curve`` darkening 0.300 at the least, 0.523 median), fixed before any held-out image was measured.
TONE_GAPS_MIN = 0.42


def summary_size(num_types: int, *, scene: bool = True) -> int:
    """Length of :func:`image_summary` for a detector of ``num_types`` types (``scene=False``: as votes fitted
    before the scene statistics read it, which :meth:`Detector.detect` still serves)."""
    from irtool.degrade.enlargement import ENLARGEMENT_SCALES

    return (num_types * (1 + len(SUMMARY_QUANTILES)) + len(ENLARGEMENT_SCALES) + 1
            + (len(SCENE_STATISTICS) if scene else 0))


def _luma(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma ``[H, W]`` of ``[C, H, W]`` (a gray image is its own luma)."""
    return x[0] if x.shape[0] == 1 else 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]


def _scene_copy(image: torch.Tensor) -> torch.Tensor:
    """``image`` ``[C, H, W]`` as three channels averaged down to at most :data:`SCENE_SIDE` a side."""
    import torch.nn.functional as F

    x = image.detach().float().cpu()
    x = x.expand(3, -1, -1) if x.shape[0] == 1 else x[:3]
    h, w = x.shape[1:]
    if max(h, w) > SCENE_SIDE:
        size = (max(1, round(h * SCENE_SIDE / max(h, w))), max(1, round(w * SCENE_SIDE / max(h, w))))
        x = F.adaptive_avg_pool2d(x[None], size)[0]
    return x


def scene_statistics(image: torch.Tensor) -> torch.Tensor:
    """:data:`SCENE_STATISTICS` of ``image`` ``[C, H, W]`` in [0, 1]: how bright the scene is and where its
    brightness sits (under-exposure darkens the highlights too, unlike a night scene with lights), its contrast,
    and its dark channel and saturation (haze lifts the darkest channel of every region and washes colour out:
    He, Sun and Tang's dark channel prior). Global physical cues that do not depend on how a degradation was
    synthesised; the crops, 96 px each, cannot see them."""
    import torch.nn.functional as F

    x = _scene_copy(image)
    luma = _luma(x)
    low, mid, high = torch.quantile(luma.reshape(-1), torch.tensor([0.01, 0.5, 0.99])).tolist()
    darkest = x.min(dim=0).values
    window = min(DARK_CHANNEL_WINDOW, *darkest.shape) | 1  # odd, and no larger than the image
    dark = -F.max_pool2d(-darkest[None, None], window, stride=1, padding=window // 2)[0, 0]
    dark50, dark90 = torch.quantile(dark.reshape(-1), torch.tensor([0.5, 0.9])).tolist()
    brightest = x.max(dim=0).values
    saturation = ((brightest - darkest) / brightest.clamp_min(1e-3)).mean()
    return torch.tensor([float(luma.mean()), low, mid, high, float(luma.std()) if luma.numel() > 1 else 0.0,
                         dark50, dark90, float(saturation)])


def median_dark_channel(image: torch.Tensor) -> float:
    """The median of ``image``'s dark channel (``[C, H, W]`` in [0, 1]), as :func:`scene_statistics` measures it."""
    return float(scene_statistics(image)[SCENE_STATISTICS.index("dark_channel_p50")])


def shows_veil(image: torch.Tensor) -> bool:
    """Whether ``image`` ``[C, H, W]`` in [0, 1] can be hazy at all: its :func:`median_dark_channel` reaches
    :data:`VEIL_DARK_CHANNEL_MIN`. Haze adds airlight to every channel of every region, so an image whose
    regions mostly hold a near-black pixel in some channel has no veil to remove, whatever the crops looked like."""
    return median_dark_channel(image) >= VEIL_DARK_CHANNEL_MIN


def is_gray(image: torch.Tensor) -> bool:
    """Whether ``image`` (``[C, H, W]`` in [0, 1]) holds no colour: one channel, or channels that differ by at most
    :data:`GRAY_CHANNEL_SPREAD` levels everywhere on its scene copy (averaging down also evens out JPEG's chroma
    rounding, so a gray photo saved as an RGB JPEG still counts; a toned print does not)."""
    if image.shape[0] == 1:
        return True
    x = _scene_copy(image)
    return float((x.max(dim=0).values - x.min(dim=0).values).max()) * 255.0 <= GRAY_CHANNEL_SPREAD


def highlight_level(image: torch.Tensor) -> float:
    """How bright the brightest part of ``image`` (``[C, H, W]`` in [0, 1]) is: the 99th percentile of its luma,
    as :func:`scene_statistics` measures it. Under-exposure (a shorter exposure, a darkening curve or a brightness
    cut) dims the highlights with everything else; most scenes that are dark by nature still have lights or bright
    patches near white."""
    return float(torch.quantile(_luma(_scene_copy(image)).reshape(-1), 0.99))


def black_point(image: torch.Tensor) -> float:
    """Where the darkest part of ``image`` (``[C, H, W]`` in [0, 1]) sits: the 1st percentile of its luma, as
    :func:`scene_statistics` measures it. A darkening (exposure, gain, gamma, a brightness cut) pushes it towards
    black with everything else; a scene exposed dark on purpose keeps the black point its light gave it."""
    return float(scene_statistics(image)[SCENE_STATISTICS.index("luma_p01")])


def tone_gaps(image: torch.Tensor) -> float:
    """The share of empty 8-bit levels among the populated highlight levels of ``image`` (``[C, H, W]`` in [0, 1])
    where its shadows hold fewer gaps than half that share, the least over its channels; 0 where the highlights are
    no gappier than that, NaN where no channel has enough populated levels in both to read.

    A tone curve applied to a photo already stored in 8 bits leaves a fingerprint in its histogram (Stamm and Liu,
    "Forensic detection of image manipulation using statistical intrinsic fingerprints", 2010): where the curve is
    steeper than 1, neighbouring input levels land more than one level apart and the levels between them stay
    empty; where it is flatter, levels merge. A darkening curve that keeps white white (a gamma above 1) is steep
    at the top and flat at the bottom: gaps among the highlights, dense shadows. A camera applies its tone curve
    before it rounds to 8 bits, so a photo straight from it has no such gaps, however dark its scene; a contrast
    stretch leaves gaps in the shadows too, and noise or a JPEG saved after the curve fills them.
    """
    import torch.nn.functional as F

    levels = torch.round(image.detach().float().cpu().clamp(0, 1) * 255).to(torch.int64)
    shares: list[float] = []
    for channel in levels.reshape(levels.shape[0], -1):
        counts = torch.bincount(channel, minlength=256).double()
        expected = F.avg_pool1d(counts[None, None], 9, stride=1, padding=4, count_include_pad=False)[0, 0]
        populated = expected >= TONE_MIN_EXPECTED
        empty = (counts == 0) & populated
        shadows, highlights = populated[:TONE_SHADOWS_END], populated[TONE_HIGHLIGHTS_START:]
        if int(shadows.sum()) < TONE_MIN_LEVELS or int(highlights.sum()) < TONE_MIN_LEVELS:
            continue
        top = float(empty[TONE_HIGHLIGHTS_START:].sum()) / float(highlights.sum())
        bottom = float(empty[:TONE_SHADOWS_END].sum()) / float(shadows.sum())
        shares.append(top if bottom < top / 2 else 0.0)
    return min(shares) if shares else math.nan


def edge_sharpness(image: torch.Tensor) -> float:
    """How sharp the sharpest edges of ``image`` (``[C, H, W]`` in [0, 1]) are in every direction, in [0, 1].

    Per 16 px block of the luma with a contrast of at least :data:`SHARPNESS_MIN_CONTRAST` levels, the steepest
    step between neighbouring pixels in one direction as a share of the block's range: a step edge crosses its
    whole range between two pixels (about 1), blur spreads it over the blur's width (a disk of radius 5: about
    0.13). Read at the sharpest tenth of the blocks for each of the four directions (across columns, rows and both
    diagonals), and the least of the four is returned: motion blur leaves edges along its path sharp but softens
    every step along it, which one of the four directions always follows within 22.5 degrees. Soft regions, bokeh
    and smooth shading do not lower it while some edge of the photo is sharp. 0 without a block of that contrast."""
    luma = _luma(image.detach().float().cpu()) * 255.0
    h, w = luma.shape
    rows, cols = (h - 1) // SHARPNESS_BLOCK, (w - 1) // SHARPNESS_BLOCK
    if rows < 1 or cols < 1:
        return 0.0
    span = luma[:rows * SHARPNESS_BLOCK + 1, :cols * SHARPNESS_BLOCK + 1]

    def per_block(x: torch.Tensor, reduce: str) -> torch.Tensor:
        blocks = x[:rows * SHARPNESS_BLOCK, :cols * SHARPNESS_BLOCK].reshape(rows, SHARPNESS_BLOCK, cols,
                                                                            SHARPNESS_BLOCK)
        return blocks.amax(dim=(1, 3)) if reduce == "max" else blocks.amin(dim=(1, 3))

    contrast = per_block(span, "max") - per_block(span, "min")
    counted = contrast >= SHARPNESS_MIN_CONTRAST
    if not bool(counted.any()):
        return 0.0
    n = SHARPNESS_BLOCK * rows, SHARPNESS_BLOCK * cols
    base = span[:n[0], :n[1]]
    right, down, down_right = span[:n[0], 1:n[1] + 1], span[1:n[0] + 1, :n[1]], span[1:n[0] + 1, 1:n[1] + 1]
    sharpest = []
    for step in (right - base, down - base, down_right - base, down - right):  # the last: the other diagonal
        share = per_block(step.abs(), "max")[counted] / contrast[counted]
        sharpest.append(float(torch.quantile(share, 1.0 - SHARPNESS_SHARPEST_SHARE)))
    return min(sharpest)


def streak_coherence(image: torch.Tensor) -> float:
    """How much of the fine detail of ``image`` (``[C, H, W]`` in [0, 1]) runs in one common direction, in [0, 1].

    Rain falls in parallel streaks (drops blurred along their common path by the exposure: Garg and Nayar, "Vision
    and Rain", 2007), so in a rainy photo the luma gradients of the streaks' edges all point across that path; noise
    has no direction. Measured as the coherence of the structure tensor summed over the whole image (Bigün and
    Granlund 1987): ``|sum (gx + i gy)^2| / sum |g|^2`` with central differences at native resolution, 1 for
    gradients that all share one axis, near 0 for noise. Edges of the scene count too, so it is a test for the
    absence of streaks (noise drowns the scene's own directions), not for their presence. 0 for a flat image."""
    luma = _luma(image.detach().float().cpu())
    if min(luma.shape) < 3:
        return 0.0
    gx = luma[1:-1, 2:] - luma[1:-1, :-2]
    gy = luma[2:, 1:-1] - luma[:-2, 1:-1]
    xx, yy, xy = float(gx.square().sum()), float(gy.square().sum()), float((gx * gy).sum())
    energy = xx + yy
    return math.hypot(xx - yy, 2.0 * xy) / energy if energy > 0 else 0.0


def noise_floor(image: torch.Tensor) -> float:
    """The noise standard deviation, in 8-bit levels, of the flattest tenth of ``image`` (``[C, H, W]`` in [0, 1]).

    Immerkaer's estimator ("Fast noise variance estimation", 1996): the mean absolute response of a 3x3 mask
    that cancels every plane and every linear ramp, times ``sqrt(pi / 2) / 6``, is sigma for Gaussian noise.
    Measured per 16 px block of the luma and read at the blocks' 10th percentile: texture and edges raise a
    block's reading, noise raises every block's, so the flattest blocks read the noise and not the scene.
    Blocks near black or white (clipped) are skipped. 0 for an image with no such block.
    """
    luma = _luma(image.detach().float().cpu())
    return _flattest_noise(luma, luma)


class NoiseRemoval(NamedTuple):
    """What a denoiser removes from an image (:func:`removed_noise`)."""

    #: The luma RMS of its change per block, in 8-bit levels, at the blocks' :data:`NOISE_FLATTEST_SHARE` quantile.
    level: float
    #: The median over blocks of that change's RMS over the block's own fine detail (:func:`block_fine_detail`):
    #: near 1 where it takes most of what varies (noise on a plain region), low where it takes a little of much
    #: (a scene's texture softened).
    share: float


def removed_noise(image: torch.Tensor, denoise: Callable[[np.ndarray], np.ndarray]) -> NoiseRemoval:
    """What ``denoise`` (a restorer, float HxWxC in [0, 1] to the same) removes from ``image`` (``[C, H, W]`` in
    [0, 1]), per :data:`NOISE_BLOCK` px block of the luma: where it removes least (``level``) and against each block's
    fine detail (``share``). Noise is in every block and a denoiser removes it from each; a scene's texture it keeps,
    so a clean image reads a level near 0. A JPEG of a noisy photo keeps the noise's coarser grain and drops the
    finest, which :func:`noise_floor` reads, so this is how noise under a JPEG shows. A frame filled with fine
    texture has no plain block, and a denoiser that softens it a little everywhere reads a level too. The share is a
    measurement (``scripts/pixel_tests.py --test removed-share``) that ``--auto`` does not act on: on training windows
    it did not part that texture from noise under a JPEG (docs/auto-history.md "Texture is not noise"). Read on the
    whole image up to :data:`NOISE_REMOVED_SAMPLE_PIXELS`, else on
    :data:`NOISE_REMOVED_CROP` px crops on an even grid (8 px aligned, keeping a JPEG's block grid); 0 and 0 for an
    image with no whole block."""
    from irtool.engine import grid_crops

    x = image.detach().float().cpu()
    height, width = x.shape[1:]
    crops = (x[None] if height * width <= NOISE_REMOVED_SAMPLE_PIXELS else
             grid_crops(x, NOISE_REMOVED_CROP, NOISE_REMOVED_SAMPLE_PIXELS // NOISE_REMOVED_CROP**2, align=8))
    changes, shares = [], []
    for crop in crops:
        before = crop.permute(1, 2, 0).numpy()
        after = torch.from_numpy(np.ascontiguousarray(denoise(before), dtype=np.float32)).permute(2, 0, 1)
        blocks = _noise_blocks(_luma(crop - after) * 255.0)
        if blocks.numel():
            change = blocks.square().mean(dim=(1, 3)).sqrt().flatten()
            changes.append(change)
            shares.append(change / block_fine_detail(_luma(crop) * 255.0).flatten().clamp_min(_FINE_DETAIL_EPS))
    if not changes:
        return NoiseRemoval(0.0, 0.0)
    return NoiseRemoval(float(torch.quantile(torch.cat(changes), NOISE_FLATTEST_SHARE)),
                        float(torch.cat(shares).median()))


#: :func:`block_fine_detail`'s local mean: a 5 x 5 box, so a block's shading and gradients are not counted as detail.
_FINE_DETAIL_BOX = 5
#: A block with no fine detail at all (flat, or clipped) divides by this many levels instead of 0.
_FINE_DETAIL_EPS = 0.1


def block_fine_detail(plane: torch.Tensor) -> torch.Tensor:
    """The fine detail of ``plane`` ``[H, W]`` per :data:`NOISE_BLOCK` px block (``[rows, cols]``, in the plane's
    units): the RMS of the plane about its local mean over a 5 x 5 box (edge pixels repeated). Noise and texture
    raise it; shading and smooth gradients do not."""
    padded = torch.nn.functional.pad(plane[None, None], (2, 2, 2, 2), mode="replicate")
    local = torch.nn.functional.avg_pool2d(padded, _FINE_DETAIL_BOX, stride=1)[0, 0]
    return _noise_blocks(plane - local).square().mean(dim=(1, 3)).sqrt()


def chroma_noise_floor(image: torch.Tensor) -> float:
    """:func:`noise_floor` of the colour-difference planes (BT.601 Cb and Cr, in 8-bit levels; the larger of the
    two): the colour noise of phones and high ISO, which leaves the luma nearly clean. 0 for a gray image. A
    measurement (``scripts/pixel_tests.py --test chroma-noise``); ``--auto`` does not act on it (README "Colour noise
    under other calls": not shipped)."""
    x = image.detach().float().cpu()
    if x.shape[0] < 3:
        return 0.0
    luma = _luma(x)
    # BT.601 scaling, so a level of Cb or Cr spans what a level of luma does.
    return max(_flattest_noise(0.564 * (x[2] - luma), luma), _flattest_noise(0.713 * (x[0] - luma), luma))


def _flattest_noise(plane: torch.Tensor, luma: torch.Tensor) -> float:
    """Immerkaer's noise sigma (8-bit levels) of ``plane`` ``[H, W]`` (on the [0, 1] scale) in the flattest
    :data:`NOISE_FLATTEST_SHARE` of its :data:`NOISE_BLOCK` px blocks, skipping blocks whose mean ``luma`` is
    clipped; 0 when no block is left."""
    h, w = plane.shape
    if (h - 2) // NOISE_BLOCK < 1 or (w - 2) // NOISE_BLOCK < 1:
        return 0.0
    # The mask is [1, -2, 1] across rows times [1, -2, 1] down columns: applied as two second differences, which
    # on a CPU is over ten times faster than a one-channel 3x3 convolution of a 12 MP photo (0.4 s against 6 s).
    levels = plane * 255.0
    across = levels[:, :-2] - 2.0 * levels[:, 1:-1] + levels[:, 2:]
    response = (across[:-2] - 2.0 * across[1:-1] + across[2:]).abs_()
    sigma = _noise_blocks(response).mean(dim=(1, 3)) * (math.pi / 2) ** 0.5 / 6.0
    level = _noise_blocks(luma[1:-1, 1:-1]).mean(dim=(1, 3))  # the luma under each response block
    usable = sigma[(level > NOISE_CLIP_MARGIN) & (level < 1 - NOISE_CLIP_MARGIN)]
    if usable.numel() == 0:
        return 0.0
    return float(torch.quantile(usable, NOISE_FLATTEST_SHARE))


def _noise_blocks(plane: torch.Tensor) -> torch.Tensor:
    """``plane`` ``[H, W]`` as its whole :data:`NOISE_BLOCK` px blocks, ``[rows, NOISE_BLOCK, cols, NOISE_BLOCK]``
    (a partial last row or column of blocks is left out; no element when no whole block fits)."""
    rows, cols = plane.shape[0] // NOISE_BLOCK, plane.shape[1] // NOISE_BLOCK
    return plane[:rows * NOISE_BLOCK, :cols * NOISE_BLOCK].reshape(rows, NOISE_BLOCK, cols, NOISE_BLOCK)


def image_summary(crop_probs: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """What the image-level vote reads for one image: ``crop_probs`` ``[N, T]`` (its crops' type probabilities)
    and the image ``[C, H, W]`` in [0, 1] -> ``[summary_size(T)]`` on the CPU.

    Per type, the log of the mean and the :data:`SUMMARY_QUANTILES` of its probability across crops (how the
    crops are *distributed*), then the least-squares enlargement test of
    :func:`~irtool.degrade.enlargement.enlargement_residuals` (blur and enlarged low-resolution images were the
    crops' main confusion), then the :func:`scene_statistics` (last, so a vote fitted before them reads the
    summary's start).
    """
    from irtool.degrade.enlargement import enlargement_residuals

    probs = crop_probs.detach().float().cpu()
    mean = probs.mean(dim=0).clamp_min(_SUMMARY_EPS).log()
    quantiles = torch.quantile(probs, torch.tensor(SUMMARY_QUANTILES), dim=0)
    # The enlargement test as its shape (each factor's residual above the lowest) and its level (the lowest): an
    # enlargement is "one factor at rounding noise, the others far above", a blur "all low, rising smoothly". A
    # linear vote on the raw residuals could not tell them apart (cross-validated on the training photos, blur <->
    # low-resolution confusions 71 -> 22 of 370 samples with this form).
    residuals = enlargement_residuals(image)
    lowest = residuals.min()
    return torch.cat([mean, quantiles.reshape(-1), residuals - lowest, lowest[None], scene_statistics(image)])


@dataclass(frozen=True)
class Detection:
    type: str
    severity: float
    #: How often a call like this is right: the vote's calibrated confidence (its map per called type, where it
    #: has one), else the probability of the call.
    confidence: float
    #: The vote's (or the crops' mean) probability of every type; the call is the largest.
    probabilities: Mapping[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"type": self.type, "severity": round(self.severity, 4), "confidence": round(self.confidence, 4)}


def check_detector_types(types: Sequence[str], *, num_types: int, name: str) -> tuple[str, ...]:
    """``types`` as a tuple, after checking that they are ``num_types`` distinct known labels (clean or a
    registered degradation): a detector's outputs are read by these names, never by position in the registry."""
    types = tuple(types)
    if len(types) != num_types:
        raise UsageError(f"detector {name!r} predicts {num_types} types but lists {len(types)}: {', '.join(types)}")
    unknown = [t for t in types if t != CLEAN and t not in DEGRADATIONS]
    if unknown or len(set(types)) != len(types):
        raise UsageError(f"detector {name!r} lists types irtool does not know or lists one twice: {', '.join(types)} "
                         f"(known: {', '.join(detector_types())})")
    if CLEAN not in types:
        raise UsageError(f"detector {name!r} has no {CLEAN!r} type")
    return types


def types_from_metadata(meta: Mapping[str, str]) -> tuple[str, ...]:
    """The labels a detector file was trained with: its ``types`` metadata (a JSON list), or, for a file that
    predates that field, the labels of the first shipped detector."""
    raw = meta.get("types")
    if not raw:
        return LEGACY_DETECTOR_TYPES
    try:
        types = json.loads(raw)
    except json.JSONDecodeError:
        types = None
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise UsageError(f"a detector's 'types' metadata must be a JSON list of names, got {raw!r}")
    return tuple(types)


class Detector:
    def __init__(self, model: GIVDetector, *, types: Sequence[str] | None = None,
                 device: str | torch.device = "cpu", crop: int = DETECT_CROP, max_crops: int = DETECT_MAX_CROPS,
                 name: str = "detector"):
        """``model``: a :class:`~irtool.models.giv_detector.GIVDetector` whose outputs are ``types`` (default: the
        labels a detector trained now learns, :func:`irtool.degradations.detector_types`)."""
        from irtool.engine import select_device

        self.types = check_detector_types(detector_types() if types is None else types,
                                          num_types=model.head.num_types, name=name)
        self.name = name
        self.device = device if isinstance(device, torch.device) else select_device(device)
        self.model = model.eval().to(self.device)
        self.crop = crop
        self.max_crops = max_crops

    @torch.inference_mode()
    def summary(self, image: torch.Tensor) -> torch.Tensor:
        """What the image-level vote reads (:func:`image_summary`), from the crops' probabilities without any vote
        (``image``: CHW float in [0, 1], RGB or gray)."""
        image = self._rgb(image)
        logits, _ = self._read_crops(image)
        return image_summary(torch.softmax(logits.float(), dim=-1), image)

    @torch.inference_mode()
    def detect(self, image: torch.Tensor) -> Detection:
        """``image``: CHW float in [0, 1], RGB (a gray image is repeated to three channels)."""
        image = self._rgb(image)
        logits, severity = self._read_crops(image)
        return self._decide(logits, severity, image)

    @staticmethod
    def _rgb(image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 3:
            raise UsageError(f"expected a [C, H, W] image, got {tuple(image.shape)}")
        return image.expand(3, -1, -1) if image.shape[0] == 1 else image

    def _read_crops(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from irtool.engine import grid_crops

        crops = grid_crops(image, self.crop, self.max_crops, align=DETECT_ALIGN)
        givs = torch.cat([self.model.giv(batch.to(self.device)).float() for batch in crops.split(DETECT_BATCH)])
        return self.model.head(givs)

    @torch.inference_mode()
    def classify(self, givs: torch.Tensor) -> Detection:
        """One detection from the GIVs ``[N, giv_dim]`` of an image's crops alone: the vote also reads the image,
        so here the crops' mean probabilities decide."""
        logits, severity = self.model.head(givs.to(self.device))
        return self._decide(logits, severity, None)

    def _decide(self, logits: torch.Tensor, severity: torch.Tensor, image: torch.Tensor | None) -> Detection:
        # The type: the model's image-level vote if it has one, else the crops' mean probabilities; the severity:
        # the crops' severities weighted by their probability of that type.
        crop_probs = torch.softmax(logits.float(), dim=-1).cpu()
        vote = getattr(self.model, "vote", None)
        if vote is not None and image is not None:
            summary = image_summary(crop_probs, image)
            if vote.summary_mean.numel() == summary_size(len(self.types), scene=False):
                summary = summary[: vote.summary_mean.numel()]  # a vote fitted before the scene statistics
            probs = vote.decide(summary).cpu()
        else:
            probs = crop_probs.mean(dim=0)
        idx = int(probs.argmax())
        kind = self.types[idx]
        sev = 0.0 if kind == CLEAN else _severity_of(crop_probs, severity, idx)
        # The confidence shown: the vote's map for this type of call where it has one, else the probability.
        confidence = vote.confidence(probs, idx) if vote is not None and image is not None else float(probs[idx])
        return Detection(kind, sev, confidence, {t: float(p) for t, p in zip(self.types, probs)})

    @torch.inference_mode()
    def severity_as(self, image: torch.Tensor, kind: str) -> float:
        """The severity the detector would report for ``image`` were it called ``kind``, whatever it is called: the
        crops' severities weighted by their probability of ``kind`` (``scripts/pixel_tests.py`` measures it)."""
        logits, severity = self._read_crops(self._rgb(image))
        return _severity_of(torch.softmax(logits.float(), dim=-1).cpu(), severity, self.types.index(kind))


def _severity_of(crop_probs: torch.Tensor, severity: torch.Tensor, index: int) -> float:
    """An image's severity for type ``index``: its crops' severities weighted by their probability of that type."""
    weights = crop_probs[:, index]
    severities = severity.float().reshape(-1).cpu().clamp(0, 1)
    return float((weights * severities).sum() / weights.sum().clamp_min(1e-12))


def load_detector(zoo, name: str | None = None) -> Detector:
    """The detector entry ``name`` (kind "detector"), by default the one weights.toml's ``detector = ...`` names."""
    from irtool.weights import entry_path

    entry = zoo.detector_entry() if name is None else zoo.catalog.get(name)
    if entry.kind != "detector":
        raise UsageError(f"{entry.name!r} is a {entry.kind}, not a degradation detector")
    model, meta = read_detector(entry_path(entry), entry.preset, source=entry.name)
    return Detector(model, types=types_from_metadata(meta), device=zoo.settings.device, name=entry.name)


def load_detector_file(zoo, path: str | Path, preset: str | None = None) -> Detector:
    """A detector from a local checkpoint, e.g. the ``final.safetensors`` of ``irtool train --task detect``."""
    model, meta = read_detector(path, preset)
    return Detector(model, types=types_from_metadata(meta), device=zoo.settings.device, name=Path(path).stem)


def read_detector(path, preset: str | None = None, *, source: str | None = None):
    """(a :class:`~irtool.models.giv_detector.GIVDetector` with the weights of ``path`` loaded strictly, the file's
    metadata). The file's head size, number of types and, if it has one, its crop vote are taken from its
    tensors; ``preset`` defaults to the one the file's metadata names (``irtool train`` writes it). The labels are
    :func:`types_from_metadata`, checked against the head's size."""
    from irtool.models.giv_detector import build_giv_detector
    from irtool.weights.checkpoints import load_into, read_checkpoint

    sd, meta = read_checkpoint(path)
    if not any(k.startswith("head.") for k in sd):
        raise UsageError(f"{source or path} holds no detector head (head.*): is it a restorer?")
    preset = preset or meta.get("preset")
    if not preset:
        raise InvalidArgumentError(f"{source or path} does not name its preset: give one", argument="preset_name")
    num_types = int(sd["head.type_logits.weight"].shape[0]) if "head.type_logits.weight" in sd else 0
    check_detector_types(types_from_metadata(meta), num_types=num_types, name=source or str(path))
    vote_size = int(sd["vote.linear.weight"].shape[1]) if "vote.linear.weight" in sd else None
    model = build_giv_detector(preset, num_types=num_types, hidden=int(meta.get("hidden", 0)) or _infer_hidden(sd),
                               vote_size=vote_size)
    if model.vote is not None and "vote.call_scale" in sd:  # a vote with a confidence map per called type
        model.vote.calibrate_calls(torch.ones(num_types), torch.zeros(num_types))
    load_into(model, sd, source=source or str(path))
    return model, dict(meta)


def _infer_hidden(sd: Mapping[str, torch.Tensor]) -> int:
    # GIVHead's trunk is LayerNorm(giv_dim) -> Linear(giv_dim, hidden).
    return int(sd["head.trunk.1.weight"].shape[0])
