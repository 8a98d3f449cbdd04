"""Tile placement and seam-free blending weights.

Tiles overlap; each tile's output is multiplied by a separable window and accumulated into a
CPU canvas, then divided by the summed window. Per axis, a tile's window is 1 in its interior
and, towards an edge shared with a neighbouring tile, falls in three bands spread over the
actual overlap ``ov`` with that neighbour:

* ``ov // 4`` pixels of pure context next to the tile edge (weight exactly 0): these outputs saw
  zero padding instead of real neighbours, so they are dropped rather than merely damped;
* a raised-cosine (Hann) ramp over the middle ``ov - 2 * (ov // 4)`` pixels, sampled at pixel
  centres so it is never 0 and the two neighbours' ramps sum to exactly 1;
* full weight beyond.

Edges that coincide with the image border keep weight 1, so border pixels never fade. Because
tiles form a product grid (row starts x column starts), the summed 2-D window is the outer
product of two 1-D sums, which is what the engine divides by. A network whose receptive-field
radius is at most ``overlap // 4`` therefore gives the same result tiled as whole (the tests
check this).

Tiles are at most ``tile`` pixels wide (a multiple of the preset's ``size_multiple``, so no tile is padded): the
engine takes as many per axis as ``tile`` needs and shrinks them to the smallest extent that needs no more
(``plan_axis(..., fit=)``), so an axis computes little more than its own length. Their starts sit on the model's
grid, at most :data:`TILE_GRID` px, evenly spread, and the last tile is shifted inward to end exactly at the image
border, so no tile reaches outside the image unless the image is smaller than a tile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["TILE_GRID", "AxisTiles", "align_down", "axis_windows", "plan_axis", "window_sum"]


#: Tile starts sit on the model's grid (``size_multiple``) but at most a 16 px one: JPEG's 8x8 blocks and 4:2:0
#: chroma's 16x16 macroblocks then sit in every tile where they sit in the image, as in training. A coarser grid
#: (64 px for Hi-IR's regions) buys nothing, since a tile is a whole valid input wherever it starts, and costs
#: pixels: 384 px tiles stepped by 320 px instead of 336-352 (130 tiles for a 4000 x 3000 photo instead of 108).
TILE_GRID = 16


def align_down(value: int, multiple: int) -> int:
    """Largest multiple of ``multiple`` <= ``value`` (but at least ``multiple``)."""
    return max(multiple, (value // multiple) * multiple)


@dataclass(frozen=True)
class AxisTiles:
    """Tile positions along one axis, in input pixels."""

    length: int
    #: Extent of every tile on this axis (== ``length`` when one tile covers the axis).
    extent: int
    starts: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.starts)

    def overlap_before(self, index: int) -> int:
        """Pixels tile ``index`` shares with tile ``index - 1`` (0 for the first tile)."""
        if index == 0:
            return 0
        return self.starts[index - 1] + self.extent - self.starts[index]

    def overlap_after(self, index: int) -> int:
        return self.overlap_before(index + 1) if index + 1 < self.count else 0


def plan_axis(length: int, *, tile: int, overlap: int, multiple: int = 1, fit: int | None = None) -> AxisTiles:
    """Place tiles of ``tile`` pixels with at least ``overlap`` pixels shared between neighbours.

    As few tiles as the overlap allows, spread evenly (every overlap at least ``overlap``, the slack shared out
    rather than left to the last pair); starts are multiples of ``multiple`` except the last, which ends at the
    border. ``fit``: then shrink the tiles, in steps of ``fit`` pixels (a multiple of it), to the smallest extent
    that needs no more of them: the count is set by ``tile``, the pixels computed by the axis, not the cap.
    """
    if length < 1 or tile < 1 or overlap < 0 or multiple < 1 or (fit is not None and fit < 1):
        raise ValueError(f"bad tiling request: length={length}, tile={tile}, overlap={overlap}, multiple={multiple}, "
                         f"fit={fit}")
    plan = _plan_axis(length, tile=tile, overlap=overlap, multiple=multiple)
    if fit is None or plan.count == 1:
        return plan
    # A few candidates at most: the count only grows as the extent shrinks, so stop at the first that adds a tile.
    extent = (tile - 1) // fit * fit
    while extent >= fit:
        smaller = _plan_axis(length, tile=extent, overlap=overlap, multiple=multiple)
        if smaller.count > plan.count:
            break
        plan, extent = smaller, extent - fit
    return plan


def _plan_axis(length: int, *, tile: int, overlap: int, multiple: int) -> AxisTiles:
    if length <= tile:
        return AxisTiles(length=length, extent=length, starts=(0,))
    overlap = min(overlap, tile // 2)
    longest = align_down(tile - overlap, multiple) if tile - overlap >= multiple else max(1, tile - overlap)
    span = length - tile
    steps = -(-span // longest)
    # The even step rounded up to the grid is still <= longest when that is a multiple of the grid, so no overlap
    # shrinks; a tile too small for the grid and the overlap keeps the even step.
    even = -(-span // steps)
    step = -(-even // multiple) * multiple if longest % multiple == 0 else even
    starts = tuple(sorted({min(index * step, span) for index in range(steps)} | {span}))
    return AxisTiles(length=length, extent=tile, starts=starts)


def _edge_ramp(overlap_px: int) -> torch.Tensor:
    """Weights rising from the tile edge inward over ``overlap_px`` pixels (context band, then Hann ramp)."""
    context = overlap_px // 4
    ramp_len = overlap_px - 2 * context
    position = torch.arange(ramp_len, dtype=torch.float64) + 0.5
    ramp = 0.5 - 0.5 * torch.cos(math.pi * position / ramp_len)
    return torch.cat([torch.zeros(context, dtype=torch.float64), ramp, torch.ones(context, dtype=torch.float64)])


def axis_windows(tiles: AxisTiles, *, scale: int = 1) -> list[torch.Tensor]:
    """One float32 window per tile, at output resolution (``extent * scale`` samples)."""
    size = tiles.extent * scale
    windows: list[torch.Tensor] = []
    for index in range(tiles.count):
        window = torch.ones(size, dtype=torch.float64)
        before = tiles.overlap_before(index) * scale
        after = tiles.overlap_after(index) * scale
        if before > 0:
            window[:before] *= _edge_ramp(before)
        if after > 0:
            window[size - after:] *= _edge_ramp(after).flip(0)
        windows.append(window.to(torch.float32))
    return windows


def window_sum(tiles: AxisTiles, windows: list[torch.Tensor], *, scale: int = 1) -> torch.Tensor:
    """Sum of the 1-D windows over the whole axis (output resolution); strictly positive."""
    total = torch.zeros(tiles.length * scale, dtype=torch.float32)
    size = tiles.extent * scale
    for start, window in zip(tiles.starts, windows):
        total[start * scale:start * scale + size] += window
    if not bool((total > 0).all()):
        # Unreachable for plans made by plan_axis (the first/last tiles hold weight 1 at the
        # borders and neighbouring context bands never meet); kept as a loud guard.
        raise RuntimeError(f"tile windows leave pixels uncovered: {tiles}")
    return total


def grid_crops(image: torch.Tensor, crop: int, max_crops: int, *, align: int = 1) -> torch.Tensor:
    """``[N, C, c, c]`` native-resolution crops of ``image`` ``[C, H, W]`` on an even grid (N <= max_crops).

    Per axis, as many crops as the side holds without gaps (capped so the grid has at most ``max_crops``),
    spread from border to border, each start rounded down to a multiple of ``align``. An image smaller than
    ``crop`` on a side is read whole on it.
    """
    _, height, width = image.shape
    ch, cw = min(crop, height), min(crop, width)
    per_axis = max(1, int(max_crops**0.5))
    rows = min(per_axis, -(-height // ch))
    cols = min(max(1, max_crops // rows), -(-width // cw))
    tops = sorted({int(t) // align * align for t in torch.linspace(0, height - ch, rows).tolist()})
    lefts = sorted({int(x) // align * align for x in torch.linspace(0, width - cw, cols).tolist()})
    return torch.stack([image[:, t : t + ch, x : x + cw] for t in tops for x in lefts])


def giv_crops(image: torch.Tensor, max_side: int, *, min_side: int = 128) -> list[torch.Tensor]:
    """``[1,C,h,w]`` inputs for a global descriptor (GIV) of ``image`` ``[C,H,W]``.

    The whole image when its longer side fits ``max_side``, else a 2 x 2 grid of native-resolution crops.
    The GIV must see the degradation at its native scale: downscaling a large photo averages its noise,
    JPEG blocks and blur away (a 4x reduction divides the noise sigma by ~4), so detection would call it
    clean. The GIV is a global average of features, so the mean over crops spread across the image
    approximates the whole-image vector at bounded cost (about ``max_side**2`` pixels in all).
    """
    if max(image.shape[1:]) <= max_side:
        return [image.unsqueeze(0)]
    return list(grid_crops(image, max(min_side // 2, max_side // 2), 4).split(1))
