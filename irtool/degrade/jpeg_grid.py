"""How hard was an image JPEG-compressed? Its quantiser steps, read back from the decoded pixels.

JPEG divides each 8 x 8 block's DCT coefficients by a quantiser step and rounds them, so after decoding, the DCT of
every block on the same 8 x 8 grid is again a multiple of those steps, up to the decoder's rounding to 8-bit levels
(Fan and de Queiroz, "Identification of bitmap compression history: JPEG detection and quantizer estimation",
2003). A photo never compressed shows no such periodicity. Read from the pixels, it works alike for a ``.jpg`` file, a
PNG saved from a JPEG, a crop that moved the grid and any encoder (libjpeg in Pillow or OpenCV, a camera's own
tables). A step is found as the largest one whose multiples the coefficients sit on (its divisors fit too; its
multiples do not). Read as the quality of the IJG tables that libjpeg scales (the "quality" of Pillow, OpenCV,
ImageMagick), the steps say how visible the damage is: a quality-95 photo from a camera carries none that a
restorer trained on quality 10-60 should remove (``irtool.restore``: "copy (fine JPEG)").

Errors lean one way: where the evidence is weak (few textured blocks, a step of 2 in rounding noise) the search finds
no grid (None) or a coarser step, not a finer one than the image was quantised with (``scripts/jpeg_grid_check.py``
counts the exceptions; below quality 7 a DC step beyond the largest tested reads as its largest divisor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["JpegGrid", "find_jpeg_grid", "ijg_step"]

#: The luma coefficients read, (row, column) of the 8 x 8 DCT, with their steps in the IJG table at quality 50
#: (ITU-T T.81 Annex K, Table K.1): DC and the two lowest AC frequencies, the ones a photo's blocks carry.
IJG_LUMA_BASE = {(0, 0): 16, (0, 1): 11, (1, 0): 12}
#: Candidate steps (a quality-5 DC step is 160; coarser ones are off the scale of photos people restore).
_STEPS = np.arange(2, 129)
#: At most this many textured blocks are read (spread over the image's centre): the cost stays flat with size.
MAX_BLOCKS = 1024
#: Side of the central region searched (pixels): bounds the luma conversion on a large photo.
_REGION = 1024
#: A block counts as textured above this luma spread (levels): a flat block's DC is 8 times one rounded level, so
#: its rounding error is 8 times a textured block's and hides a fine step.
_TEXTURE_STD = 1.0
#: Fewest blocks (and, per step, values) the periodicity is read from.
_MIN_BLOCKS = 64
_MIN_VALUES = 32
#: A step is tested only where the values it reads spread over this many of its periods (standard deviation in
#: steps): values bunched within one period line up for any step, which is concentration, not quantisation.
_MIN_SPREAD = 0.5
#: Periodicity (the mean resultant length of the values' phases, 1 for exact multiples) from which a step counts, at
#: least this many times the chance level of n values (1 / sqrt(n)).
_MIN_PERIODICITY = 0.15
_CHANCE_FACTOR = 5.0
#: How far the steps between rows at one phase must stand above the mean for that phase to be taken as the grid's.
_BLOCK_EDGE_RATIO = 1.25
#: Periodicity (in units of the least that counts) from which a step is taken for quantisation.
_FIT = 2.5


@dataclass(frozen=True)
class JpegGrid:
    """The JPEG compression found in an image's pixels."""

    #: (row, column) where the 8 x 8 blocks start, in [0, 8).
    offset: tuple[int, int]
    #: Luma quantiser steps of :data:`IJG_LUMA_BASE`'s coefficients, in that order (1: finer than can be read).
    steps: tuple[int, ...]
    #: The highest IJG quality whose table is at least as coarse as every step read (1-100).
    quality: int


def ijg_step(base: int, quality: int) -> int:
    """The quantiser step libjpeg writes for a table entry ``base`` (its value at quality 50) at ``quality``
    (1-100, ``jpeg_quality_scaling`` with baseline clamping)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return int(min(max((base * scale + 50) // 100, 1), 255))


def _dct_matrix() -> np.ndarray:
    k = np.arange(8)
    matrix = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / 16) * 0.5
    matrix[0] /= np.sqrt(2.0)
    return matrix  # orthonormal, as JPEG's forward DCT is


_DCT = _dct_matrix()


def _periodicity(values: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """``[len(steps)]``: how far above chance ``values`` sit on multiples of each step: the mean resultant length of
    their phases over the values farther than half a step from 0 (those at 0 fit every step), divided by the
    least that counts for that many values (:data:`_MIN_PERIODICITY`, or :data:`_CHANCE_FACTOR` times chance,
    ``1 / sqrt(n)``); 1 or more fits. NaN where too few values are left or they spread over too few periods."""
    magnitude = np.abs(values)[None, :]
    use = magnitude > steps[:, None] / 2.0
    count = use.sum(axis=1)
    safe = np.maximum(count, 1)
    mean = (values[None, :] * use).sum(axis=1) / safe
    spread = np.sqrt(np.maximum((values[None, :] ** 2 * use).sum(axis=1) / safe - mean**2, 0.0))
    phases = np.exp(2j * np.pi * values[None, :] / steps[:, None]) * use
    least = np.maximum(_MIN_PERIODICITY, _CHANCE_FACTOR / np.sqrt(safe))
    result = np.abs(phases.sum(axis=1)) / safe / least
    result[(count < _MIN_VALUES) | (spread < _MIN_SPREAD * steps)] = np.nan
    return result


def _quantiser_step(values: np.ndarray) -> tuple[int, float]:
    """The quantiser step ``values`` sit on, with its periodicity (:func:`_periodicity`); (1, 0.0) if none shows.

    The true step and its divisors fit; so, partly, do steps just beside a coarse one (values at one or two of its
    multiples nearly fit a step a few percent off), and so do long steps where a scene's histogram bunches (a sky's
    blocks), though far more weakly than quantisation: a step counts from :data:`_FIT` times the least periodicity
    that counts, and the largest step that fits at least half as well as the best is taken, so a misreading is a
    coarser step, never a finer one."""
    periodicity = np.nan_to_num(_periodicity(values, _STEPS))
    best = float(periodicity.max())
    if best < _FIT:
        return 1, best
    return int(_STEPS[np.nonzero(periodicity >= 0.5 * best)[0].max()]), best


def _luma_levels(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """BT.601 luma (JPEG's own) in 8-bit levels of the central :data:`_REGION` (plus 7 px for the grid's phase), and
    where some channel is clipped at black or white (a clipped sample is no longer the decoder's value)."""
    height, width = pixels.shape[:2]
    top, left = max(0, (height - _REGION - 7) // 2), max(0, (width - _REGION - 7) // 2)
    region = np.asarray(pixels[top:top + _REGION + 7, left:left + _REGION + 7], dtype=np.float64) * 255.0
    if region.ndim == 2:
        region = region[..., None]
    colour = region[..., :3] if region.shape[2] >= 3 else region[..., :1]
    luma = np.asarray(colour @ np.array([0.299, 0.587, 0.114]) if colour.shape[2] == 3 else colour[..., 0])
    clipped = np.asarray(((colour <= 0.5) | (colour >= 254.5)).any(axis=2))
    # The grid's phase is read relative to the region: shift it back to the image's origin.
    return luma, clipped, (int(top % 8), int(left % 8))


def _textured_blocks(luma: np.ndarray, clipped: np.ndarray, row: int, col: int) -> np.ndarray:
    """``[n, 8, 8]``: up to :data:`MAX_BLOCKS` textured, unclipped blocks of the grid starting at (row, col)."""
    luma, clipped = luma[row:, col:], clipped[row:, col:]
    rows, cols = luma.shape[0] // 8, luma.shape[1] // 8
    blocks = luma[:rows * 8, :cols * 8].reshape(rows, 8, cols, 8).swapaxes(1, 2).reshape(-1, 64)
    touched = clipped[:rows * 8, :cols * 8].reshape(rows, 8, cols, 8).swapaxes(1, 2).reshape(-1, 64).any(axis=1)
    keep = np.nonzero(~touched & (blocks.std(axis=1) > _TEXTURE_STD))[0]
    if len(keep) > MAX_BLOCKS:
        keep = keep[np.linspace(0, len(keep) - 1, MAX_BLOCKS).astype(int)]
    return blocks[keep].reshape(-1, 8, 8)


def _phases(luma: np.ndarray) -> range | tuple[int]:
    """The grid phases along axis 0 worth reading: the one whose steps between rows stand
    :data:`_BLOCK_EDGE_RATIO` times above the mean step (a JPEG's block edges, sharp where it was coarse), else all
    eight (a fine JPEG's edges do not show; its phase is found by the DC's periodicity alone)."""
    steps = np.abs(np.diff(luma, axis=0)).mean(axis=1)  # steps[i]: between rows i and i + 1
    per_phase = np.array([steps[(phase - 1) % 8::8].mean() for phase in range(8)])
    strongest = int(per_phase.argmax())
    return (strongest,) if per_phase[strongest] >= _BLOCK_EDGE_RATIO * per_phase.mean() else range(8)


def find_jpeg_grid(pixels: np.ndarray) -> JpegGrid | None:
    """The JPEG quantisation ``pixels`` (float HxW or HxWxC in [0, 1], decoded at 8 bits) went through, or None
    where no 8 x 8 grid of quantised coefficients shows (never compressed, resized since, or too little texture)."""
    if pixels.ndim not in (2, 3) or min(pixels.shape[:2]) < 8 * 8 + 7:
        return None
    luma, clipped, (phase_row, phase_col) = _luma_levels(pixels)
    best: tuple[float, int, int, np.ndarray] | None = None
    # The grid's phase: the DC coefficients (block sums) sit on multiples of a step best on the true one. A coarse
    # JPEG's blocks are mostly flat, and a wrong phase's blocks straddle two flat ones, whose sums line up on a finer
    # step (e.g. 10 for a DC step of 80): there the block edges, sharp at the true phase, pin it first.
    columns = _phases(luma.T)  # read once, not once per row phase
    for row in _phases(luma):
        for col in columns:
            blocks = _textured_blocks(luma, clipped, row, col)
            if len(blocks) < _MIN_BLOCKS:
                continue
            score = _quantiser_step(blocks.sum(axis=(1, 2)) / 8.0 - 1024.0)[1]
            if best is None or score > best[0]:
                best = (score, row, col, blocks)
    if best is None or best[0] < _FIT:
        return None
    _, row, col, blocks = best
    coefficients = np.einsum("ij,njk,lk->nil", _DCT, blocks - 128.0, _DCT)
    steps = tuple(_quantiser_step(coefficients[:, u, v])[0] for (u, v) in IJG_LUMA_BASE)
    bases = tuple(IJG_LUMA_BASE.values())
    quality = next((q for q in range(100, 0, -1) if all(ijg_step(b, q) >= s for b, s in zip(bases, steps))), 1)
    return JpegGrid(offset=((row + phase_row) % 8, (col + phase_col) % 8), steps=steps, quality=quality)
