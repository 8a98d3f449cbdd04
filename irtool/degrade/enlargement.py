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

from collections.abc import Callable, Iterable
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


# ------------------------------------------------------------------ enlargements by other kernels and factors

def _cubic(a: float):
    def kernel(x: np.ndarray) -> np.ndarray:
        x = np.abs(x)
        return np.where(x <= 1, (a + 2) * x**3 - (a + 3) * x**2 + 1,
                        np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0))
    return kernel


def _lanczos(lobes: int):
    def kernel(x: np.ndarray) -> np.ndarray:
        return np.where(np.abs(x) < lobes, np.sinc(x) * np.sinc(x / lobes), 0.0)
    return kernel


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - np.abs(x), 0.0, None)


#: The interpolation kernels photos are enlarged with, as (support radius, kernel): the bicubic of MATLAB and
#: Pillow (a = -0.5), OpenCV's bicubic (a = -0.75), bilinear, and the Lanczos windows of Pillow (3 lobes) and
#: OpenCV (4 lobes). They differ only in these weights; enlarging never widens them.
ENLARGEMENT_KERNELS = {
    "bicubic": (2, _cubic(-0.5)),
    "bicubic-0.75": (2, _cubic(-0.75)),
    "bilinear": (1, _triangle),
    "lanczos3": (3, _lanczos(3)),
    "lanczos4": (4, _lanczos(4)),
}
#: Enlargement factors :func:`find_enlargement` looks for (per axis, any small size in between).
FACTOR_RANGE = (1.4, 4.6)
#: Lines tested per axis (columns for the vertical axis, rows for the horizontal), and the two blocks of each line
#: the fit reads: one near each end, clear of the edges (where libraries pad differently). Far apart, they pin the
#: small size exactly (a size one sample off drifts by a whole sample between them); short, they keep each test's
#: cost independent of the photo's size.
_TEST_LINES = 24
#: Lines spread per axis from which the most detailed :data:`_TEST_LINES` are taken for a second look at sizes that
#: fit exactly but do not stand out (:func:`_find_axis`).
_DETAIL_POOL = 96
_TEST_BLOCK = 96
_EDGE_CLEARANCE = 24
#: log10 residual (units of 8-bit rounding noise) up to which a fit counts as exact: an enlargement rounded to
#: 8 bits by Pillow or OpenCV reads -0.6 to 0.1 at its own kernel and size; photos and softened images 0.5 to 3.
EXACT_RESIDUAL = float(np.log10(2.0))


def kernel_enlarge_matrix(small: int, large: int, kernel: str, rows: np.ndarray | None = None) -> np.ndarray:
    """``[large, small]``: enlargement of one axis from ``small`` to ``large`` samples with ``kernel`` (pixel
    centres aligned, as every library does: ``x = (i + 0.5) * small / large - 0.5``; taps beyond an edge read the
    edge sample; rows sum to 1). ``rows``: only these output samples (the search tests a few hundred of them per
    candidate size; the whole matrix of a 4000-pixel side is 64 MB)."""
    support, weight = ENLARGEMENT_KERNELS[kernel]
    outputs = np.arange(large) if rows is None else np.asarray(rows)
    centres = (outputs + 0.5) * (small / large) - 0.5
    first = np.floor(centres).astype(np.int64) - support + 1
    taps = first[:, None] + np.arange(2 * support)[None, :]
    weights = weight(centres[:, None] - taps)
    weights /= weights.sum(axis=1, keepdims=True)
    matrix = np.zeros((len(outputs), small))
    np.add.at(matrix, (np.repeat(np.arange(len(outputs)), 2 * support), np.clip(taps, 0, small - 1).ravel()),
              weights.ravel())
    return matrix


def _test_rows(large: int) -> np.ndarray:
    block = min(_TEST_BLOCK, max(1, (large - 2 * _EDGE_CLEARANCE) // 2))
    near, far = _EDGE_CLEARANCE, large - _EDGE_CLEARANCE - block
    return np.unique(np.concatenate([np.arange(near, near + block), np.arange(far, far + block)]))


def _fit_residual(lines: np.ndarray, small: int, kernel: str) -> float:
    """log10 of the mean-square residual (units of rounding noise) of the test rows of ``lines`` ``[large, n]``
    after the best fit by enlargements of ``small`` samples with ``kernel``. Only the small samples those rows
    read are unknowns, so a true enlargement fits to its rounding whatever the image size."""
    rows = _test_rows(lines.shape[0])
    enlarge = kernel_enlarge_matrix(small, lines.shape[0], kernel, rows)
    enlarge = enlarge[:, np.any(enlarge != 0, axis=0)]
    target = lines[rows]
    unknowns = enlarge.shape[1]
    if unknowns >= 0.8 * len(rows):  # too few equations per unknown: almost anything fits
        return _UNTESTED
    normal = enlarge.T @ enlarge + 1e-10 * np.eye(unknowns)
    residual = target - enlarge @ np.linalg.solve(normal, enlarge.T @ target)
    # Divided by the share of equations left over, the residual estimates the rounding noise's variance whatever
    # the number of unknowns, so sizes with more unknowns do not win by freedom alone.
    variance = np.mean(residual**2) / (1.0 - unknowns / len(rows))
    return float(np.log10(variance / _ROUNDING_VARIANCE + 1e-6))


#: A fit counts only if it stands out: at least this much (log10) below the fits of the sizes a few samples either
#: side with the same kernel (a size one sample off drifts by a whole sample between the two blocks, so it cannot
#: fit a true enlargement; smooth content, which any size fits, has no such dip).
MIN_DIP = 0.5
_NEIGHBOURS = (-3, -2, -1, 1, 2, 3)
#: Fits this close (log10) to the best count as equally good: the smallest size among them is taken (an
#: enlargement from n samples is also nearly one from 2n), then the first kernel listed.
_TIE = 0.15


def _exact_fits(fit: Callable[[int, str], float], candidates: Iterable[tuple[int, str]],
                sizes: range) -> list[tuple[float, int, str, float]]:
    """``(residual, size, kernel, dip)`` of each candidate whose fit is exact, with how far (log10) it lies below
    the median fit of the sizes a few samples either side with the same kernel (within ``sizes``)."""
    exact = []
    for small, kernel in candidates:
        residual = fit(small, kernel)
        if residual > EXACT_RESIDUAL:
            continue
        around = [fit(small + d, kernel) for d in _NEIGHBOURS if small + d in sizes]
        if around:
            exact.append((residual, small, kernel, float(np.median(around)) - residual))
    return exact


def _axis_fits(lines: np.ndarray, kernels: tuple[str, ...], detailed: np.ndarray | None,
               min_dip: float, min_factor: float | None = None) -> list[tuple[float, int, str, float]]:
    """The exact fits of ``lines`` (see :func:`_exact_fits`) that stand ``min_dip`` out; where none does and
    ``detailed`` lines are given, the sizes that fit exactly without standing out, and their neighbours, fitted
    again on those (smooth content: every size nearby fits the spread lines as well, only the true one the most
    detailed lines). Only sizes already exact are refitted, so an image that is no enlargement costs nothing more.
    ``min_factor``: only sizes that enlarge to ``lines`` by at least this factor are candidates."""
    exact = _spread_fits(lines, kernels, min_factor)
    standing = [fit for fit in exact if fit[3] >= min_dip]
    if standing or detailed is None:
        return standing
    return [fit for fit in _detailed_fits(detailed, exact) if fit[3] >= min_dip]


def _sizes(large: int) -> range:
    """The small sizes an axis of ``large`` samples can be enlarged from (:data:`FACTOR_RANGE`)."""
    low, high = FACTOR_RANGE
    return range(max(2, int(np.ceil(large / high))), int(large / low) + 1)


def _spread_fits(lines: np.ndarray, kernels: tuple[str, ...],
                 min_factor: float | None = None) -> list[tuple[float, int, str, float]]:
    """Every exact fit of ``lines`` at every size (enlarged by at least ``min_factor``, when given) and kernel
    (:func:`_exact_fits`); the neighbouring sizes an exact fit is compared with are fitted as they are needed."""
    sizes = _sizes(lines.shape[0])
    largest = sizes.stop - 1 if min_factor is None else int(lines.shape[0] / min_factor)
    fit = lru_cache(maxsize=None)(lambda small, kernel: _fit_residual(lines, small, kernel))
    return _exact_fits(fit, [(small, kernel) for small in sizes if small <= largest for kernel in kernels], sizes)


def _detailed_fits(detailed: np.ndarray, exact: list[tuple[float, int, str, float]]
                   ) -> list[tuple[float, int, str, float]]:
    """The sizes and kernels of ``exact`` fitted again on the ``detailed`` lines (:func:`_exact_fits`)."""
    refit = lru_cache(maxsize=None)(lambda small, kernel: _fit_residual(detailed, small, kernel))
    return _exact_fits(refit, [fit[1:3] for fit in exact], _sizes(detailed.shape[0]))


def _find_axis(lines: np.ndarray, kernels: tuple[str, ...], detailed: np.ndarray | None = None,
               min_dip: float = MIN_DIP, min_factor: float | None = None) -> tuple[int, str] | None:
    """The size and kernel that explain the lines exactly and stand out from their neighbours (:func:`_axis_fits`):
    the smallest size among the best such fits, then the first kernel of :data:`ENLARGEMENT_KERNELS` (along one
    axis the x2 bicubic and bilinear enlargements span nearly the same signals)."""
    exact = _axis_fits(lines, kernels, detailed, min_dip, min_factor)
    if not exact:
        return None
    best = min(fit[0] for fit in exact)
    order = {kernel: i for i, kernel in enumerate(ENLARGEMENT_KERNELS)}
    _, small, kernel, _ = min((fit for fit in exact if fit[0] <= best + _TIE), key=lambda fit: (fit[1], order[fit[2]]))
    return small, kernel


def _axis_lines(luma: np.ndarray, clipped: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two samples of test lines along axis 0 of ``luma`` ``[large, n]``: :data:`_TEST_LINES` spread evenly, and the
    :data:`_TEST_LINES` of :data:`_DETAIL_POOL` spread lines whose test rows change most from sample to sample.

    ``clipped`` (``[large, n]``, where a channel sits at black or white): lines with a clipped sample in their test
    rows are left out while enough others remain. An enlargement's overshoot beyond black or white is clipped by the
    library, and a clipped sample is no linear function of the small image, so such a line does not fit exactly."""
    rows = _test_rows(luma.shape[0])
    candidates = np.arange(luma.shape[1])
    if clipped is not None:
        unclipped = candidates[~clipped[rows].any(axis=0)]
        if len(unclipped) >= _TEST_LINES:
            candidates = unclipped
    count = len(candidates)
    spread = luma[:, candidates[np.linspace(0, count - 1, min(_TEST_LINES, count)).astype(int)]]
    pool = luma[:, candidates[np.unique(np.linspace(0, count - 1, min(_DETAIL_POOL, count)).astype(int))]]
    detail = np.sum(np.diff(pool[rows], axis=0) ** 2, axis=0)
    detailed = pool[:, np.sort(np.argsort(detail, kind="stable")[::-1][:_TEST_LINES])]
    return spread, detailed


def _searched_luma(image: np.ndarray) -> np.ndarray | None:
    """The float64 luma :func:`find_enlargement` tests, or None for an image too small to test."""
    luma = image if image.ndim == 2 else image[..., :3].mean(axis=2) if image.shape[2] >= 3 else image[..., 0]
    return None if min(luma.shape) < 4 * _EDGE_CLEARANCE else luma.astype(np.float64)


def _clipped(image: np.ndarray) -> np.ndarray:
    """``[H, W]``: where some channel of ``image`` (float in [0, 1], 8-bit levels) sits at black or white."""
    channels = image if image.ndim == 2 else image[..., :3]
    at_edge = np.asarray((channels <= 0.5 / 255.0) | (channels >= 1.0 - 0.5 / 255.0))
    return at_edge if at_edge.ndim == 2 else np.asarray(at_edge.any(axis=2))


def find_enlargement(image: np.ndarray, *, min_dip: float = MIN_DIP, min_factor: float | None = None,
                     skip_clipped: bool = False) -> tuple[int, int, str] | None:
    """``(small height, small width, kernel)`` when ``image`` (float HxW or HxWxC in [0, 1]) is an enlargement,
    rounded to 8 bits, of a smaller image by one of :data:`ENLARGEMENT_KERNELS` and a factor in
    :data:`FACTOR_RANGE` (not necessarily an integer, nor the same along both axes); else None.

    Each axis is tested on its own (an enlargement is separable: every column of an image enlarged vertically is
    an enlarged column), on a few lines, so the cost grows with the photo's side, not its area. Along one axis
    the x2 enlargements by bicubic and bilinear weights span the same signals; the first kernel listed is taken.
    ``skip_clipped``: test lines free of samples clipped at black or white where there are enough (a candidate,
    off by default until measured: README "Clipped lines"). ``min_factor``: only enlargements by at least this
    factor along both axes (``scripts/pixel_tests.py --test dip-routes``).
    """
    luma = _searched_luma(image)
    if luma is None:
        return None
    clipped = _clipped(image) if skip_clipped else None
    columns, detailed_columns = _axis_lines(luma, clipped)
    vertical = _find_axis(columns, tuple(ENLARGEMENT_KERNELS), detailed_columns, min_dip, min_factor)
    if vertical is None:
        return None
    rows, detailed_rows = _axis_lines(luma.T, None if clipped is None else clipped.T)
    horizontal = _find_axis(rows, (vertical[1],), detailed_rows, min_dip, min_factor)
    if horizontal is None:
        return None
    return vertical[0], horizontal[0], vertical[1]


#: An enlargement by at least this factor along both axes counts from :data:`LARGE_FACTOR_MIN_DIP` instead of
#: :data:`MIN_DIP` (:func:`find_large_enlargement`).
LARGE_FACTOR = 3.0
#: The dip such an enlargement needs. On small images a true x3 enlargement's fit stands out from its neighbouring
#: sizes less than :data:`MIN_DIP`; set on training windows of 96-256 px where no blurred or hazed window that
#: deblurring helps is found from :data:`LARGE_FACTOR` up (docs/auto-history.md "The same search under a rule priced
#: by gain").
LARGE_FACTOR_MIN_DIP = 0.45


def find_large_enlargement(image: np.ndarray) -> tuple[int, int, str] | None:
    """:func:`find_enlargement` of an enlargement by :data:`LARGE_FACTOR` or more whose fit stands out at least
    :data:`LARGE_FACTOR_MIN_DIP`: the search ``--auto`` runs again on an image called blurred in which the first found
    nothing (only the small sizes of such factors are fitted)."""
    return find_enlargement(image, min_dip=LARGE_FACTOR_MIN_DIP, min_factor=LARGE_FACTOR)


def enlargement_dip(image: np.ndarray) -> float:
    """How far (log10) the best exact fit of ``image`` stands below its neighbouring sizes: the largest
    ``min_dip`` at which an enlargement by some kernel stands out along both axes (:func:`find_enlargement` with
    any lower ``min_dip`` finds one, at some size). NaN when no size fits both axes exactly with one kernel, or the
    image is too small to test. A measurement for setting :data:`MIN_DIP` (``scripts/pixel_tests.py --test
    enlargement-dip``)."""
    luma = _searched_luma(image)
    if luma is None:
        return float("nan")
    per_axis: list[dict[str, float]] = []
    kernels = tuple(ENLARGEMENT_KERNELS)
    for lines in (luma, luma.T):
        spread, detailed = _axis_lines(lines)
        exact = _spread_fits(spread, kernels)
        dips: dict[str, float] = {}
        for fit in exact + _detailed_fits(detailed, exact):  # the search reads both where none stands out
            dips[fit[2]] = max(dips.get(fit[2], -np.inf), fit[3])
        per_axis.append(dips)
        kernels = tuple(dips)  # the other axis needs an exact fit with the same kernel
        if not kernels:
            return float("nan")
    return max(min(per_axis[0][kernel], per_axis[1][kernel]) for kernel in per_axis[1])


def recover_enlarged(image: np.ndarray, small_height: int, small_width: int, kernel: str) -> np.ndarray:
    """The ``small_height x small_width`` image whose enlargement with ``kernel`` is closest to ``image`` (least
    squares per axis): the original small image, up to rounding, when :func:`find_enlargement` found it.
    Returns float32, not clipped."""
    height, width = image.shape[:2]
    return _per_axis(np.linalg.pinv(kernel_enlarge_matrix(small_height, height, kernel)),
                     np.linalg.pinv(kernel_enlarge_matrix(small_width, width, kernel)), image)


def enlarge_with_kernel(image: np.ndarray, height: int, width: int, kernel: str) -> np.ndarray:
    """``image`` (float HxW or HxWxC) enlarged to ``height x width`` by one of :data:`ENLARGEMENT_KERNELS` along each
    axis, as the libraries whose enlargements :func:`find_enlargement` looks for interpolate
    (:func:`kernel_enlarge_matrix`; ``lanczos4`` is OpenCV's ``INTER_LANCZOS4``). Returns float32, not clipped: a
    library's 8-bit output clips and rounds, which the caller does."""
    return _per_axis(kernel_enlarge_matrix(image.shape[0], height, kernel),
                     kernel_enlarge_matrix(image.shape[1], width, kernel), image)


def _per_axis(rows: np.ndarray, cols: np.ndarray, image: np.ndarray) -> np.ndarray:
    """``rows`` ``[H', H]`` applied along axis 0 of ``image`` and ``cols`` ``[W', W]`` along axis 1, in float64."""
    out = np.tensordot(rows, image.astype(np.float64), axes=(1, 0))
    return np.moveaxis(np.tensordot(cols, out, axes=(1, 1)), 0, 1).astype(np.float32)
