"""Is an image a bicubic enlargement? A least-squares test per integer factor.

An image enlarged x``s`` with MATLAB's bicubic ``imresize`` lies in the range of a linear map (the enlargement of
every possible small image), up to its 8-bit rounding. Projecting a window of the image onto that range (rows and
columns separately: the map is separable) leaves only the rounding noise for a true x``s`` enlargement, and the
image's detail above the small image's Nyquist frequency for anything else. A blurred photo has that detail
weakened but not in the enlargement's shape, so it leaves more, and leaves *less* at larger factors, while an
enlargement by 3 or 4 leaves more at factor 2 than at its own factor. The crops the detector network reads are too
small and its features too coarse to see this reliably: blur and enlargement were its main confusion.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

__all__ = ["ENLARGEMENT_SCALES", "enlargement_residuals", "recover_small"]

ENLARGEMENT_SCALES: tuple[int, ...] = (2, 3, 4)
#: Window side (a multiple of every scale) and windows per axis; windows start on multiples of 12 from the image
#: origin, where an enlarged image's pixel grid starts.
WINDOW = 240
GRID = 3
_ALIGN = 12
#: Rows and columns at a window's edge are left out of the residual: there the enlargement read pixels outside
#: the window.
MARGIN = 12
#: Variance of 8-bit rounding noise (uniform over one level): the residual's unit.
_ROUNDING_VARIANCE = (1.0 / 255.0) ** 2 / 12.0
#: What an image too small to test reads as (clearly not an enlargement).
_UNTESTED = 3.0


@lru_cache(maxsize=16)
def _enlarge_matrix(length: int, scale: int) -> np.ndarray:
    """``[length, length // scale]``: MATLAB-bicubic enlargement x``scale`` along one axis, as a matrix."""
    from irtool.degrade.imresize import _axis_weights

    small = length // scale
    weights, indices = _axis_weights(in_length=small, out_length=length, scale=float(scale), antialiasing=True)
    enlarge = np.zeros((length, small))
    for tap_weights, tap_indices in zip(weights, indices):
        np.add.at(enlarge, (np.arange(length), tap_indices), tap_weights)
    return enlarge


@lru_cache(maxsize=16)
def _range_projector(length: int, scale: int) -> torch.Tensor:
    """``[length, length]`` orthogonal projector onto the enlargements x``scale`` of length ``length // scale``."""
    enlarge = _enlarge_matrix(length, scale)
    return torch.from_numpy(enlarge @ np.linalg.pinv(enlarge))


@lru_cache(maxsize=8)
def _recovery_matrix(length: int, scale: int) -> np.ndarray:
    """``[length // scale, length]``: the least-squares inverse of :func:`_enlarge_matrix` (normal equations; the
    enlargement has full column rank, so this is exact for an enlarged signal)."""
    enlarge = _enlarge_matrix(length, scale)
    return np.linalg.solve(enlarge.T @ enlarge, enlarge.T)


def recover_small(image: np.ndarray, scale: int) -> np.ndarray:
    """The small image whose MATLAB-bicubic x``scale`` enlargement is closest to ``image`` (least squares, rows and
    columns separately): for an image that *is* such an enlargement, the original up to the enlargement's 8-bit
    rounding -- unlike a bicubic downscale, which blurs it once more.

    ``image``: float HxW or HxWxC whose sides are multiples of ``scale``. Returns float32, not clipped.
    """
    height, width = image.shape[:2]
    if height % scale or width % scale:
        raise ValueError(f"an image of {height}x{width} is not an x{scale} enlargement (sides must be multiples)")
    rows, cols = _recovery_matrix(height, scale), _recovery_matrix(width, scale)
    work = image.astype(np.float64)
    small = np.tensordot(rows, work, axes=(1, 0))  # [h, W, ...]
    small = np.moveaxis(np.tensordot(cols, small, axes=(1, 1)), 0, 1)  # [h, w, ...]
    return small.astype(np.float32)


def enlargement_residuals(image: torch.Tensor) -> torch.Tensor:
    """``[len(ENLARGEMENT_SCALES)]``: per factor, log10 of the median (over a grid of windows) mean-square residual
    of the image's luma after projection onto that factor's enlargements, in units of 8-bit rounding noise.

    ``image``: ``[3, H, W]`` (or ``[1, H, W]``) in [0, 1]. About -0.4 at the factor of a bicubic enlargement, 1 to 3
    for sharp photos.
    """
    height, width = image.shape[-2:]
    side = min(WINDOW, min(height, width) // _ALIGN * _ALIGN)
    if side < 4 * MARGIN:
        return torch.full((len(ENLARGEMENT_SCALES),), _UNTESTED)
    tops = sorted({int(t) // _ALIGN * _ALIGN for t in np.linspace(0, height - side, GRID)})
    lefts = sorted({int(x) // _ALIGN * _ALIGN for x in np.linspace(0, width - side, GRID)})
    # Only the windows are copied (as float64): a 12-megapixel photo is never converted whole.
    windows = torch.stack([image[:, t : t + side, x : x + side] for t in tops for x in lefts]).detach()
    windows = windows.to("cpu", torch.float64)
    if windows.shape[1] == 3:
        windows = 0.299 * windows[:, 0] + 0.587 * windows[:, 1] + 0.114 * windows[:, 2]
    else:
        windows = windows[:, 0]
    out = []
    for scale in ENLARGEMENT_SCALES:
        project = _range_projector(side, scale)
        residual = (windows - project @ windows @ project.T)[:, MARGIN:-MARGIN, MARGIN:-MARGIN]
        power = residual.square().mean(dim=(1, 2)).median()
        out.append(torch.log10(power / _ROUNDING_VARIANCE + 1e-6))
    return torch.stack(out).float()
