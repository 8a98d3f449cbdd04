"""Tiled, memory-bounded inference for any registered preset: tensor in, tensor out.

The engine depends on no architecture (it shares only the networks' padding,
:func:`~irtool.models.layers.pad_to_multiple`, and the row-strip runner of :mod:`irtool.models.strips`). It relies on
the :class:`~irtool.models.registry.Preset` descriptor (``scale``, ``size_multiple``, ``min_input_side``,
``in_channels``, ``has_giv``, ``bytes_per_pixel``, ``supports_fp16``/``supports_bf16``, ``strips``) and on these
call shapes:
``model(x)``, or for HAIR models (HAIR paper, Sec. 3: one Global Information Vector V_g drives
every HyperTrans block) ``model.giv(x) -> [B, D]`` and ``model(x, giv=...)``.

Because V_g is a *global* descriptor of the degradation, computing it per tile would let each
tile pick different dynamic weights and show seams; the engine computes it once per image on the
whole image (for an image whose longer side exceeds ``giv_max_side``: the mean over a 2 x 2 grid of
native-resolution crops, since a downscale would average the degradation away) and passes that one
vector to every tile.

A network whose attention sums over its whole input (``preset.strips``: Restormer, Res-HAIR) is not tiled, since
each tile would attend with its own statistics: it runs ``forward_in_strips`` on the whole image, which gives the
one-pass result while holding only a strip of each block's wide intermediate tensors, whenever its full-resolution
feature maps fit the memory budget (tiles otherwise, and after an out-of-memory error).

Memory: the input image and the output canvas stay on the CPU in float32; only one batch of
tiles lives on the device at a time, so peak device memory depends on the tile, not the image (in row strips it
is the whole image's feature maps, checked against the budget first).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

import torch
from torch import nn

from irtool.errors import InvalidArgumentError, IrtoolError
from irtool.models.layers import pad_to_multiple
from irtool.models.strips import RowStrips, count_blocks

from .compiled import CompiledForward
from .device import available_memory_bytes, release_cached_memory, select_device
from .memory import (
    CALIBRATION_SIDE,
    MEMORY_BUDGET_FRACTION,
    calibrate_bytes_per_pixel,
    heuristic_bytes_per_pixel,
    is_out_of_memory,
    tile_side_for_budget,
)
from .precision import Precision, resolve_precision
from .tiling import TILE_GRID, align_down, axis_windows, giv_crops, plan_axis, window_sum

if TYPE_CHECKING:
    from irtool.models.registry import Preset

__all__ = ["MIN_TILE", "EngineOutOfMemoryError", "GivModel", "InferenceEngine", "ProgressCallback", "RunInfo",
           "StripModel"]

#: Smallest tile the out-of-memory retry goes down to (at least the preset's ``min_input_side``, below which the
#: network pads anyway; rounded up to its size multiple).
MIN_TILE = 64
#: Smallest GIV input side the out-of-memory retry goes down to.
MIN_GIV_SIDE = 128
#: Largest strip tensor of a ``preset.strips`` network on a CPU: under the 32 MiB mmap threshold the command sets
#: (:mod:`.host`), so each strip's temporaries come from freed heap memory instead of fresh pages.
CPU_MAX_STRIP_BYTES = 24 * 2**20
#: Upper bound for an automatic ``tile_batch`` on CUDA.
MAX_AUTO_TILE_BATCH = 16

ProgressCallback = Callable[[int, int], None]


@runtime_checkable
class GivModel(Protocol):
    """What the engine needs from a HAIR-style model (``preset.has_giv``).

    ``giv(x)`` maps ``[B, C, H, W]`` to ``[B, D]``; ``model(x, giv=v)`` must accept a ``[1, D]``
    vector shared by every image of the batch (the engine's tiles all come from one photo).
    """

    def giv(self, x: torch.Tensor) -> torch.Tensor: ...

    def __call__(self, x: torch.Tensor, *, giv: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class StripModel(Protocol):
    """What the engine needs from a network whose attention spans the whole input (``preset.strips``):
    ``forward_in_strips`` (:mod:`irtool.models.strips`) and its peak memory per input pixel."""

    strip_bytes_per_pixel: int

    def forward_in_strips(self, x: torch.Tensor, *args: torch.Tensor, strips: RowStrips) -> torch.Tensor: ...


class EngineOutOfMemoryError(IrtoolError):
    """Even the smallest tile does not fit; this input fails (exit code 1), the batch goes on."""


class _NonFiniteHalfPrecision(Exception):
    """Internal: a half-precision result had inf/NaN; the image is redone in fp32."""


@dataclass(frozen=True)
class RunInfo:
    """How the last :meth:`InferenceEngine.run` was carried out (for logs and reports)."""

    #: Tile side in input pixels, or None when the whole image went through in one piece.
    tile: int | None
    tiles: int
    precision: str
    out_of_memory_retries: int
    #: Whether the tiles went through the ``torch.compile`` graph (False when not asked for, or it failed).
    compiled: bool = False
    #: The whole image went through in row strips with whole-image attention (``preset.strips``): the one-pass
    #: result; ``tiles`` is then the number of strips at full resolution.
    strips: bool = False


class InferenceEngine:
    """Run ``model`` over images of any size with overlap-blended tiles.

    ``tile=None`` picks whole-image inference when the memory estimate allows, else the largest
    tile that fits; an int forces that tile side (aligned down to ``preset.size_multiple``). A
    ``preset.whole_image`` network always runs on the whole image (its output depends on all of it).
    ``overlap`` is the minimum number of input pixels neighbouring tiles share (see
    :mod:`irtool.engine.tiling` for the blending window). ``tile_batch=None`` means 1 on CPU/MPS
    and as many tiles as fit the memory budget (<= 16) on CUDA. ``compile=True`` runs the tiles through
    ``torch.compile`` (:mod:`.compiled`; the eager module where that fails, :attr:`compile_failure` says why).

    The model is moved to ``device`` and put in eval mode.
    """

    def __init__(
        self,
        model: nn.Module,
        preset: Preset,
        *,
        device: torch.device | str = "auto",
        precision: str = "auto",
        tile: int | None = None,
        overlap: int = 32,
        tile_batch: int | None = None,
        giv_max_side: int = 1024,
        compile: bool = False,
    ) -> None:
        if tile is not None and tile < 1:
            raise InvalidArgumentError(f"tile must be a positive number of pixels, got {tile}", argument="tile")
        if overlap < 0:
            raise InvalidArgumentError(f"overlap must be >= 0, got {overlap}", argument="overlap")
        if tile_batch is not None and tile_batch < 1:
            raise InvalidArgumentError(f"tile_batch must be >= 1, got {tile_batch}", argument="tile_batch")
        if giv_max_side < 1:
            raise InvalidArgumentError(f"giv_max_side must be >= 1, got {giv_max_side}", argument="giv_max_side")
        if preset.has_giv and not isinstance(model, GivModel):
            raise TypeError(f"preset {preset.name!r} has has_giv=True but {type(model).__name__} has no giv() method")
        if preset.strips and not isinstance(model, StripModel):
            raise TypeError(f"preset {preset.name!r} has strips=True but {type(model).__name__} has no "
                            "forward_in_strips() method")
        self.device = device if isinstance(device, torch.device) else select_device(device)
        self.preset = preset
        self._precision: Precision = resolve_precision(precision, self.device, preset=preset)
        self.overlap = overlap
        self.giv_max_side = giv_max_side
        self._multiple = max(1, preset.size_multiple)
        self._tile_grid = min(self._multiple, TILE_GRID)
        self.min_tile = math.ceil(max(MIN_TILE, preset.min_input_side) / self._multiple) * self._multiple
        self._requested_tile = None if tile is None else align_down(tile, self._multiple)
        self._requested_tile_batch = tile_batch
        # Lowered after an out-of-memory error and kept for the following images.
        self._tile_cap: int | None = None
        self._bytes_per_pixel: int | None = None
        self.last_run: RunInfo | None = None

        self._channels_last = self.device.type == "cuda"
        model = model.to(self.device).eval()
        if self._channels_last:
            # Module.to accepts memory_format at runtime; the stubs of torch < 2.14 omit it.
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload, unused-ignore]
        self.model = model
        # Only the per-tile forward is compiled: the GIV pass runs once per image, on another shape.
        self._compiled = CompiledForward(model) if compile else None

    # ------------------------------------------------------------------ public
    @property
    def compile_failure(self) -> str | None:
        """Why ``compile=True`` fell back to the eager module (None: not asked for, or compiling worked)."""
        return None if self._compiled is None else self._compiled.failure

    @property
    def precision(self) -> str:
        """Effective precision name (becomes ``fp32`` after a non-finite half-precision result)."""
        return self._precision.name

    @property
    def bytes_per_pixel(self) -> int:
        """Estimated peak working memory per input pixel (see :mod:`irtool.engine.memory`)."""
        if self._bytes_per_pixel is None:
            if self.preset.bytes_per_pixel is not None:
                self._bytes_per_pixel = self.preset.bytes_per_pixel
            elif self.device.type == "cuda":
                with torch.inference_mode():
                    self._bytes_per_pixel = calibrate_bytes_per_pixel(
                        self._calibration_tile,
                        channels=self.preset.in_channels,
                        side=align_down(CALIBRATION_SIDE, self._multiple),
                        device=self.device,
                    )
            else:
                self._bytes_per_pixel = heuristic_bytes_per_pixel(self.model, scale=self.preset.scale)
        return self._bytes_per_pixel

    def giv(self, image: torch.Tensor) -> torch.Tensor:
        """The model's Global Information Vector for ``image`` ([C,H,W] in [0,1]): float32 [1, D] on CPU."""
        if not self.preset.has_giv:
            raise InvalidArgumentError(f"preset {self.preset.name!r} has no GIV head")
        image = self._checked(image)
        with torch.inference_mode():
            return self._giv_on_device(image).float().cpu()

    def run(
        self,
        image: torch.Tensor,
        *,
        progress: ProgressCallback | None = None,
        giv: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Restore ``image`` ([C,H,W] float in [0,1]); returns [C, H*scale, W*scale] float32 on CPU in [0,1].

        ``progress(done, total)`` is called with the number of tiles finished; after an
        out-of-memory retry it starts again from 0 with the new total. ``giv`` lets a caller that
        already called :meth:`giv` on this image (auto-detection) pass it instead of recomputing it.
        """
        image = self._checked(image)
        retries = 0
        if giv is not None:
            if not self.preset.has_giv:
                raise InvalidArgumentError(f"preset {self.preset.name!r} has no GIV head; do not pass giv")
            giv = giv.detach().to(self.device, dtype=torch.float32)
            if giv.ndim == 1:
                giv = giv.unsqueeze(0)
        with torch.inference_mode():
            tile = self._initial_tile(image)
            # Restormer-style networks run in strips whenever their feature maps fit: the one-pass result, and on
            # a CPU faster than one pass even where one pass would do (cache-sized pieces; README "Speed and
            # memory": res_hair at 256 px 4.3 against 5.8 s).
            strips = (tile is not None or self.device.type == "cpu") and self._strips_fit(image)
            while True:
                try:
                    # Once per image, and kept across out-of-memory retries of the tiles. Strips over an image
                    # whose GIV is that of the whole image compute it on their way (from the level-4 encoding
                    # they make anyway): a separate pass would run the encoder twice (res_hair: 1.2 s more per
                    # 256 px image).
                    if self.preset.has_giv and giv is None and not (strips and self._giv_is_whole_image(image)):
                        giv = self._giv_on_device(image)
                    if strips:
                        output, tiles = self._run_strips(image, giv, tile or self.preset.cpu_tile, progress)
                    else:
                        output, tiles = self._run_tiles(image, giv, tile, progress)
                except _NonFiniteHalfPrecision:
                    self._precision = Precision(name="fp32", device_type=self.device.type)
                    giv = None  # recomputed in fp32 as well
                    continue
                except Exception as error:
                    if not is_out_of_memory(error):
                        raise
                    message = str(error).splitlines()[0] if str(error) else type(error).__name__
                else:
                    compiled = not strips and self._compiled is not None and self._compiled.active
                    self.last_run = RunInfo(tile=tile, tiles=tiles, precision=self.precision,
                                            out_of_memory_retries=retries, compiled=compiled, strips=strips)
                    return output
                # Outside the except block, so the failed batch's tensors are already released.
                release_cached_memory(self.device)
                if strips:  # the full-resolution feature maps did not fit after all: tiles hold less
                    strips = False
                    continue
                tile = self._smaller_tile(tile, image, message)
                retries += 1

    # ----------------------------------------------------------------- helpers
    def _checked(self, image: torch.Tensor) -> torch.Tensor:
        if not isinstance(image, torch.Tensor) or image.ndim != 3:
            shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise InvalidArgumentError(f"expected an image tensor [C, H, W], got {shape}")
        if not image.is_floating_point():
            raise InvalidArgumentError(f"expected a float image in [0, 1], got dtype {image.dtype}")
        channels = image.shape[0]
        if channels != self.preset.in_channels:
            kind = {1: "grayscale", 3: "RGB"}.get(self.preset.in_channels, f"{self.preset.in_channels}-channel")
            raise InvalidArgumentError(f"preset {self.preset.name!r} expects {kind} input "
                                       f"({self.preset.in_channels} channels), got {channels} channels; "
                                       "convert the image first")
        if image.shape[1] < 1 or image.shape[2] < 1:
            raise InvalidArgumentError(f"empty image {tuple(image.shape)}")
        return image.detach().to(device="cpu", dtype=torch.float32)

    def _tile_batch(self, tile: int | None) -> int:
        if self._requested_tile_batch is not None:
            return self._requested_tile_batch
        if self.device.type != "cuda" or tile is None:
            return 1
        budget = MEMORY_BUDGET_FRACTION["cuda"] * available_memory_bytes(self.device)
        return int(min(MAX_AUTO_TILE_BATCH, max(1, budget // (tile * tile * self.bytes_per_pixel))))

    def _initial_tile(self, image: torch.Tensor) -> int | None:
        """Tile side for this image, or None for whole-image inference."""
        _, height, width = image.shape
        if self.preset.whole_image:  # tiles would each decide their own global correction (seams)
            return None
        if self._requested_tile is not None:
            tile = self._requested_tile
        else:
            budget = int(MEMORY_BUDGET_FRACTION.get(self.device.type, 0.5) * available_memory_bytes(self.device))
            # On a CPU large planes are slower per pixel (cache misses, depthwise kernels): measured with
            # scripts/bench_restore.py, res_hair_lite on 2 MP took 9.1 s in 256 px tiles and 38.9 s whole.
            cpu_cap = self.preset.cpu_tile if self.device.type == "cpu" else None
            fits = height * width * self.bytes_per_pixel <= budget
            if fits and self._tile_cap is None and (cpu_cap is None or max(height, width) <= cpu_cap * 2):
                return None
            tile = tile_side_for_budget(budget, bytes_per_pixel=self.bytes_per_pixel,
                                        tile_batch=self._requested_tile_batch or 1,
                                        multiple=self._multiple, minimum=self.min_tile)
            if cpu_cap is not None:
                tile = min(tile, max(self.min_tile, align_down(cpu_cap, self._multiple)))
        if self._tile_cap is not None:
            tile = min(tile, self._tile_cap)
        return tile

    def _strips_fit(self, image: torch.Tensor) -> bool:
        """Run a ``preset.strips`` network in row strips (its one-pass result) when its full-resolution feature
        maps fit the memory budget; tiles (each with its own attention statistics) otherwise."""
        if not self.preset.strips:
            return False
        padded_pixels = math.prod(-(-side // self._multiple) * self._multiple for side in image.shape[1:])
        needed = padded_pixels * cast(StripModel, self.model).strip_bytes_per_pixel
        return needed <= MEMORY_BUDGET_FRACTION.get(self.device.type, 0.5) * available_memory_bytes(self.device)

    def _run_strips(self, image: torch.Tensor, giv: torch.Tensor | None, tile: int,
                    progress: ProgressCallback | None) -> tuple[torch.Tensor, int]:
        # A strip holds as many pixels as a tile.
        strips = self._row_strips(tile * tile, progress=progress, blocks=count_blocks(self.model))
        x = self._to_device(image[None])
        with self._precision.autocast():
            out = self._forward_in_strips(x, giv, strips)
        if self._precision.is_reduced and not bool(torch.isfinite(out).all()):
            raise _NonFiniteHalfPrecision
        return out[0].to(device="cpu", dtype=torch.float32).clamp_(0.0, 1.0), strips.first_block_strips

    def _row_strips(self, strip_pixels: int, *, progress: ProgressCallback | None = None,
                    blocks: int = 0) -> RowStrips:
        """A strips runner; on a CPU a strip's widest tensor also stays below the heap's mmap threshold
        (engine.host), so strips reuse freed memory instead of faulting fresh pages in."""
        return RowStrips(strip_pixels, max_strip_bytes=CPU_MAX_STRIP_BYTES if self.device.type == "cpu" else None,
                         progress=progress, blocks=blocks)

    def _forward_in_strips(self, x: torch.Tensor, giv: torch.Tensor | None, strips: RowStrips) -> torch.Tensor:
        model = cast(StripModel, self.model)  # checked in __init__
        return model.forward_in_strips(x, strips=strips) if giv is None else model.forward_in_strips(
            x, giv, strips=strips)

    def _smaller_tile(self, tile: int | None, image: torch.Tensor, message: str) -> int:
        if self.preset.whole_image:
            raise EngineOutOfMemoryError(
                f"out of memory on {self.device} running {self.preset.name!r} on the whole image ({message}); it "
                "decides from the whole image and cannot be tiled: free memory or use another device")
        current = tile if tile is not None else max(image.shape[1:])
        # A tile larger than the image behaves like the image size: halve from what actually ran.
        current = min(current, max(image.shape[1:]))
        if current <= self.min_tile:
            raise EngineOutOfMemoryError(
                f"out of memory on {self.device} even with {current}px tiles ({message}); "
                f"free memory, lower tile_batch, or use a smaller model or precision fp16/bf16")
        smaller = max(self.min_tile, align_down(current // 2, self._multiple))
        self._tile_cap = smaller
        return smaller

    def _giv_is_whole_image(self, image: torch.Tensor) -> bool:
        """Whether :meth:`giv` reads ``image`` whole (not the mean over crops of a large one)."""
        return max(image.shape[1:]) <= self.giv_max_side

    def _giv_on_device(self, image: torch.Tensor) -> torch.Tensor:
        model = cast(GivModel, self.model)  # only called for preset.has_giv, checked in __init__
        max_side = self.giv_max_side
        while True:
            try:
                givs = []
                for crop in giv_crops(image, max_side, min_side=MIN_GIV_SIDE):
                    with self._precision.autocast():
                        givs.append(model.giv(self._to_device(crop)).float())
                giv = torch.stack(givs).mean(dim=0)
                if self._precision.is_reduced and not bool(torch.isfinite(giv).all()):
                    self._precision = Precision(name="fp32", device_type=self.device.type)
                    continue
                return giv
            except Exception as error:
                if not is_out_of_memory(error) or max_side <= MIN_GIV_SIDE:
                    raise
            release_cached_memory(self.device)
            max_side = max(MIN_GIV_SIDE, min(max_side, max(image.shape[1:])) // 2)

    def _to_device(self, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.to(self.device, non_blocking=True)
        if self._channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch

    def _forward(self, batch: torch.Tensor, giv: torch.Tensor | None) -> torch.Tensor:
        x = self._to_device(batch)
        forward = self.model if self._compiled is None else self._compiled
        with self._precision.autocast():
            if self._compiled is None and self.preset.strips and x.device.type == "cpu" and x.shape[0] == 1:
                # One tile of a Restormer-style network through the strips runner (the same maths): on a CPU its
                # blocks then run as pixel matrices, the faster layout there (irtool.models.strips).
                out = self._forward_in_strips(x, giv, self._row_strips(x.shape[2] * x.shape[3]))
            elif giv is None:
                out = forward(x)
            else:
                # [1, D] shared by the batch: HAIR then generates one weight set for all tiles.
                out = forward(x, giv=giv)
        if self._precision.is_reduced and not bool(torch.isfinite(out).all()):
            raise _NonFiniteHalfPrecision
        return out.to(device="cpu", dtype=torch.float32)

    def _calibration_tile(self, probe: torch.Tensor) -> torch.Tensor:
        x = self._to_device(probe)
        with self._precision.autocast():
            if self.preset.has_giv:
                giv_model = cast(GivModel, self.model)  # checked in __init__
                return giv_model(x, giv=giv_model.giv(x))
            return self.model(x)

    def _run_tiles(
        self,
        image: torch.Tensor,
        giv: torch.Tensor | None,
        tile: int | None,
        progress: ProgressCallback | None,
    ) -> tuple[torch.Tensor, int]:
        _, height, width = image.shape
        scale = self.preset.scale
        margin = self.preset.edge_margin
        if margin or (tile is not None and tile < max(height, width)):
            # Mirror-pad bottom/right: to the model's size multiple when tiling, as one pass pads, so every tile
            # (the last ones too) starts on the tile grid, JPEG's blocks where they sit in the image; and by the
            # preset's edge margin, so no tile ends at a bare bottom or right border (registry.EDGE_MARGIN).
            image = pad_to_multiple(image, self._tile_grid if margin else self._multiple, margin=margin)
        padded_height, padded_width = image.shape[1:]
        side = tile if tile is not None else max(padded_height, padded_width)
        # Tiles fitted to each axis (as many as ``side`` needs, each no larger than that count needs): 4000 x 3000
        # px in 768 px tiles is 6 x 5 tiles of 704 x 640, 1.12x the photo's pixels computed instead of 1.47x.
        rows = plan_axis(padded_height, tile=side, overlap=self.overlap, multiple=self._tile_grid, fit=self._multiple)
        cols = plan_axis(padded_width, tile=side, overlap=self.overlap, multiple=self._tile_grid, fit=self._multiple)
        row_windows = axis_windows(rows, scale=scale)
        col_windows = axis_windows(cols, scale=scale)
        positions = [(r, c) for r in range(rows.count) for c in range(cols.count)]
        total = len(positions)
        batch_size = self._tile_batch(tile)
        out_h, out_w = rows.extent * scale, cols.extent * scale
        canvas: torch.Tensor | None = None
        if progress is not None:
            progress(0, total)
        for first in range(0, total, batch_size):
            chunk = positions[first:first + batch_size]
            batch = torch.stack([
                image[:, rows.starts[r]:rows.starts[r] + rows.extent, cols.starts[c]:cols.starts[c] + cols.extent]
                for r, c in chunk
            ])
            # A compiled graph is specialised to its batch size: a short last batch would compile a second graph
            # (minutes), while repeating its last tile costs less than one batch.
            padding = batch_size - len(chunk) if self._compiled is not None else 0
            if padding:
                batch = torch.cat([batch, batch[-1:].expand(padding, -1, -1, -1)])
            out = self._forward(batch, giv)
            if padding and out.ndim == 4:
                out = out[:len(chunk)]
            if out.ndim != 4 or out.shape[0] != len(chunk) or tuple(out.shape[2:]) != (out_h, out_w):
                raise IrtoolError(
                    f"model for preset {self.preset.name!r} returned {tuple(out.shape)} for input "
                    f"{tuple(batch.shape)}; expected [{len(chunk)}, C, {out_h}, {out_w}] (scale {scale})")
            if canvas is None:
                canvas = torch.zeros(out.shape[1], padded_height * scale, padded_width * scale, dtype=torch.float32)
            for index, (r, c) in enumerate(chunk):
                y0, x0 = rows.starts[r] * scale, cols.starts[c] * scale
                weight = row_windows[r][:, None] * col_windows[c][None, :]
                canvas[:, y0:y0 + out_h, x0:x0 + out_w].add_(out[index] * weight)
            del out, batch
            if progress is not None:
                progress(min(first + batch_size, total), total)
        assert canvas is not None
        norm = window_sum(rows, row_windows, scale=scale)[:, None] * window_sum(cols, col_windows, scale=scale)[None, :]
        return canvas.div_(norm).clamp_(0.0, 1.0)[:, :height * scale, :width * scale], total
