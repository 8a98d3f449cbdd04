"""Whole-image inference in row strips for networks whose attention spans the whole input.

Restormer's MDTA (section 3.1) attends across channels with scores summed over *every* pixel, so a tile sees
other statistics than the whole image and tiled output differs from one pass everywhere, not only at seams
(Res-HAIR's all-in-one lite model: 1.46/255 mean on a 2 MP photo). Those sums are the only non-local part of
the network: every other operation reads at most one pixel of context (3x3 convolutions) or none (LayerNorm,
1x1 convolutions, pixel (un)shuffle). So the network can run layer by layer over the whole image, each local
operation in strips of rows with one row of context above and below, and each attention in two sweeps: the
first adds up the strips' scores and norms (:func:`~irtool.models.layers.mdta_statistics`), the second applies
the attention they define. The result is the one-pass result up to float summation order, in memory that holds
the network's feature maps at full resolution but only a strip of each block's wider intermediate tensors.

On a CPU, one image's blocks run as pixel matrices (``[pixels, channels]``, the map in channels-last memory), in
which mkldnn's depthwise convolution and PyTorch's LayerNorm are several times faster than on NCHW planes
(``layers.pixel_matrix``); batches and GPUs keep NCHW.

A network's forward takes a *runner*: :data:`WHOLE_IMAGE` calls each piece on its whole input (the plain
forward), :class:`RowStrips` runs it as above. The network describes its wiring once; the runner decides the
order of computation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, cast

import torch
from torch import Tensor, nn

from .layers import (
    AttentionKernels,
    ChannelLayerNorm,
    Downsample,
    FeedForwardKernels,
    Upsample,
    gdfn,
    gdfn_pixels,
    mdta_mixing,
    mdta_output,
    mdta_output_pixels,
    mdta_qkv,
    mdta_qkv_pixels,
    mdta_statistics,
    mdta_statistics_pixels,
    pixel_matrix,
)

__all__ = [
    "WHOLE_IMAGE",
    "RestormerBlock",
    "RowStrips",
    "Runner",
    "StripProgress",
    "WholeImage",
    "count_blocks",
    "run_stage",
    "strip_bytes_per_pixel",
    "strip_rows",
]

StripProgress = Callable[[int, int], None]


class RestormerBlock(Protocol):
    """What a runner needs from a Restormer-style block (``TransformerBlock``, ``HyperTransformerBlock``)."""

    norm1: ChannelLayerNorm
    norm2: ChannelLayerNorm

    def kernels(self, weights: Tensor | None = None) -> tuple[AttentionKernels, FeedForwardKernels]: ...

    def __call__(self, x: Tensor, *args: Tensor) -> Tensor: ...


class Runner(Protocol):
    def local(self, module: nn.Module, x: Tensor) -> Tensor:
        """``module(x)`` for a module that reads at most one pixel of context (a convolution of kernel size 1 or 3,
        :class:`Downsample`, :class:`Upsample`)."""
        ...

    def block(self, block: RestormerBlock, x: Tensor, weights: Tensor | None = None) -> Tensor:
        """``block(x)`` (or ``block(x, weights)`` for generated weights); may overwrite ``x`` (:class:`RowStrips`
        does), so pass a map nothing reads afterwards."""
        ...


class WholeImage:
    """Every piece on its whole input: the plain forward."""

    def local(self, module: nn.Module, x: Tensor) -> Tensor:
        return module(x)

    def block(self, block: RestormerBlock, x: Tensor, weights: Tensor | None = None) -> Tensor:
        return block(x) if weights is None else block(x, weights)


WHOLE_IMAGE = WholeImage()


def _context_rows(module: nn.Module) -> tuple[nn.Conv2d, nn.Module | None]:
    """(the convolution, the pixel (un)shuffle after it or None) of a local module; refuses anything else."""
    if isinstance(module, (Downsample, Upsample)):
        conv, shuffle = module.body
        return cast(nn.Conv2d, conv), shuffle
    if isinstance(module, nn.Conv2d) and module.kernel_size in ((1, 1), (3, 3)) and module.stride == (1, 1):
        return module, None
    raise TypeError(f"{type(module).__name__} is not a local module RowStrips can split into rows")


class RowStrips:
    """Run a network's pieces in strips of whole rows (an even number of them): about ``strip_pixels`` pixels, and
    fewer where a strip's widest intermediate tensor would exceed ``max_strip_bytes`` (float32).

    ``progress(done, total)`` is called after each Restormer block with ``total`` = ``blocks``, the number of
    blocks the network runs (0: not reported). After a run, :attr:`first_block_strips` is how many strips the first
    block (at full resolution) was cut into.
    """

    def __init__(self, strip_pixels: int, *, max_strip_bytes: int | None = None, progress: StripProgress | None = None,
                 blocks: int = 0) -> None:
        if strip_pixels < 1:
            raise ValueError(f"strip_pixels must be >= 1, got {strip_pixels}")
        self.strip_pixels = strip_pixels
        self.max_strip_bytes = max_strip_bytes
        self._progress = progress
        self._blocks = blocks
        self._done = 0
        self.first_block_strips = 0
        self._values: Tensor | None = None

    def _strips(self, height: int, width: int, widest_channels: int) -> list[tuple[int, int]]:
        pixels = self.strip_pixels
        if self.max_strip_bytes is not None:
            pixels = min(pixels, self.max_strip_bytes // (4 * widest_channels))
        rows = strip_rows(pixels, width)
        return [(top, min(height, top + rows)) for top in range(0, height, rows)]

    @staticmethod
    def _with_context(x: Tensor, top: int, bottom: int) -> tuple[Tensor, int]:
        """Rows ``top-1 .. bottom`` of ``x`` where the image has them, and where row ``top`` sits in that slice."""
        first = max(0, top - 1)
        return x[:, :, first:min(x.shape[2], bottom + 1)], top - first

    def local(self, module: nn.Module, x: Tensor) -> Tensor:
        conv, shuffle = _context_rows(module)
        out: Tensor | None = None
        ratio = 1.0
        for top, bottom in self._strips(x.shape[2], x.shape[3], max(conv.in_channels, conv.out_channels)):
            piece, offset = self._with_context(x, top, bottom)
            # Zero padding at a strip's cut edge only touches the context rows, which are dropped.
            result = conv(piece)[:, :, offset:offset + bottom - top]
            if shuffle is not None:
                result = shuffle(result)
            if out is None:
                ratio = result.shape[2] / (bottom - top)
                out = torch.empty(*result.shape[:2], round(x.shape[2] * ratio), result.shape[3], dtype=result.dtype,
                                  device=result.device, memory_format=_layout(result))
            out[:, :, round(top * ratio):round(bottom * ratio)] = result
        assert out is not None
        return out

    def block(self, block: RestormerBlock, x: Tensor, weights: Tensor | None = None) -> Tensor:
        """The block's output, written over ``x``: one full-resolution map less per block (its memory, and on a
        CPU the page faults of a fresh allocation)."""
        if x.requires_grad:
            raise ValueError("RowStrips overwrites its input: run it under torch.no_grad() or inference_mode()")
        if x.device.type == "cpu" and x.shape[0] == 1:
            return self._block_pixels(block, x, weights)
        attention, feed_forward, strips = self._plan(block, x, weights)
        height, channels = x.shape[2], x.shape[1]
        # Sweep 1: the attention's whole-image sums, and the values (kept: recomputing them costs a 1x1 and a 3x3
        # convolution per strip).
        values = self._values_buffer(x)
        statistics: Tensor | None = None
        for top, bottom in strips:
            piece, offset = self._with_context(x, top, bottom)
            qkv = mdta_qkv(block.norm1(piece), attention)[:, :, offset:offset + bottom - top]
            summed = mdta_statistics(qkv, attention["num_heads"])
            statistics = summed if statistics is None else statistics + summed
            values[:, :, top:bottom] = qkv[:, 2 * channels:]
        assert statistics is not None
        mixing = mdta_mixing(statistics, attention)
        # Sweep 2: attention output and residual (per pixel), then the feed-forward (one row of context) on it,
        # written over x strip by strip; the row above a strip was overwritten by the strip before, so its input
        # is carried over.
        carried: Tensor | None = None
        for top, bottom in strips:
            first, last = max(0, top - 1), min(height, bottom + 1)
            piece = x[:, :, top:last] if carried is None else torch.cat([carried, x[:, :, top:last]], dim=2)
            attended = piece + mdta_output(mixing, values[:, :, first:last], attention.get("out_bias"))
            result = attended + gdfn(block.norm2(attended), feed_forward)
            carried = x[:, :, bottom - 1:bottom].clone()
            x[:, :, top:bottom] = result[:, :, top - first:top - first + bottom - top]
        return self._block_done(x)

    def _block_pixels(self, block: RestormerBlock, x: Tensor, weights: Tensor | None) -> Tensor:
        """:meth:`block` on one image on a CPU, as pixel matrices (``layers.pixel_matrix``): the same sweeps, on
        ``x`` in channels-last memory (converted once; the blocks after it, and the local modules between them,
        keep that layout). Strip ``top:bottom`` is matrix rows ``top * width:bottom * width``."""
        x = x.contiguous(memory_format=torch.channels_last)
        attention, feed_forward, strips = self._plan(block, x, weights)
        channels, height, width = x.shape[1:]
        buffer = self._values_buffer(x)
        pixels, values = pixel_matrix(x), pixel_matrix(buffer)
        # Views, not copies (both maps are channels-last): the sweeps write the block's output and values through them.
        assert pixels.data_ptr() == x.data_ptr() and values.data_ptr() == buffer.data_ptr()
        statistics: Tensor | None = None
        for top, bottom in strips:
            first, last = max(0, top - 1), min(height, bottom + 1)
            qkv = mdta_qkv_pixels(block.norm1.pixels(pixels[first * width:last * width]), last - first, attention)
            qkv = qkv[(top - first) * width:(bottom - first) * width]
            summed = mdta_statistics_pixels(qkv, attention["num_heads"])
            statistics = summed if statistics is None else statistics + summed
            values[top * width:bottom * width] = qkv[:, 2 * channels:]
        assert statistics is not None
        mixing = mdta_mixing(statistics, attention)
        # Sweep 2 writes each strip's last output row only after the next strip has read that row's input (its
        # context), so every strip reads its rows in place, without a copy of the strip with a carried row.
        pending: tuple[int, Tensor] | None = None
        for top, bottom in strips:
            first, last = max(0, top - 1), min(height, bottom + 1)
            piece = pixels[first * width:last * width]
            attended = mdta_output_pixels(mixing[0], values[first * width:last * width], piece,
                                          attention.get("out_bias"))
            result = gdfn_pixels(block.norm2.pixels(attended), last - first, feed_forward, attended)
            if pending is not None:
                pixels[pending[0] * width:(pending[0] + 1) * width] = pending[1]
            pixels[top * width:(bottom - 1) * width] = result[(top - first) * width:(bottom - 1 - first) * width]
            pending = (bottom - 1, result[(bottom - 1 - first) * width:(bottom - first) * width].clone())
        if pending is not None:
            pixels[pending[0] * width:(pending[0] + 1) * width] = pending[1]
        return self._block_done(x)

    def _plan(self, block: RestormerBlock, x: Tensor, weights: Tensor | None
              ) -> tuple[AttentionKernels, FeedForwardKernels, list[tuple[int, int]]]:
        """A block's kernels and the strips it runs in."""
        attention, feed_forward = block.kernels(weights)
        # The widest strip tensors: q, k and v (3C), and the feed-forward's doubled hidden layer.
        strips = self._strips(x.shape[2], x.shape[3], max(3 * x.shape[1], feed_forward["in_weight"].shape[-2]))
        if not self._done:
            self.first_block_strips = len(strips)
        return attention, feed_forward, strips

    def _block_done(self, x: Tensor) -> Tensor:
        self._done += 1
        if self._progress is not None and self._blocks:
            self._progress(min(self._done, self._blocks), self._blocks)
        return x

    def _values_buffer(self, x: Tensor) -> Tensor:
        """A full-resolution map for a block's values (in ``x``'s layout), reused by the next block of the same size
        and layout (it never leaves this runner, so reuse is safe)."""
        layout = _layout(x)
        if (self._values is None or self._values.shape != x.shape or self._values.dtype != x.dtype
                or _layout(self._values) != layout):
            self._values = None  # release the old one before allocating
            self._values = torch.empty_like(x, memory_format=layout)
        return self._values


def _layout(x: Tensor) -> torch.memory_format:
    """Channels-last for a map stored that way (and not also contiguous: one channel or one pixel), else NCHW."""
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


def strip_rows(strip_pixels: int, width: int) -> int:
    """Rows per strip: about ``strip_pixels`` pixels, an even number of rows (strips then start on even rows, so a
    :class:`Downsample`'s pixel-unshuffle sees whole 2x2 cells in every strip)."""
    return max(2, strip_pixels // max(1, width) // 2 * 2)


def strip_bytes_per_pixel(dim: int) -> int:
    """Peak host memory per input pixel of :class:`RowStrips` on a Restormer-style U-net of width ``dim``.

    About ten ``dim``-wide float32 maps at full resolution (level 1's decoder runs at ``2 dim``: its input, the
    values buffer, the skip and the concatenation, plus the smaller levels and the allocator's slack). Peak RSS
    growth on 1400 x 1400 with the command's host-memory setting: 554 B/px for ``res_hair_lite``, 497 for
    ``restormer_lite`` (``dim`` 14; this formula: 624).
    """
    return 40 * dim + 64


def run_stage(run: Runner, stage: nn.Sequential, x: Tensor) -> Tensor:
    """A stage of static Restormer blocks (``transformer_stage``) through ``run``."""
    for block in stage:
        x = run.block(cast(RestormerBlock, block), x)
    return x


def count_blocks(model: nn.Module) -> int:
    """How many Restormer-style blocks (modules with ``norm1``, ``norm2`` and ``kernels``) ``model`` runs."""
    return sum(1 for m in model.modules() if hasattr(m, "kernels") and hasattr(m, "norm1") and hasattr(m, "norm2"))
