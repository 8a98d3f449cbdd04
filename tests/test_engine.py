"""Behaviour of irtool.engine: tiled == whole, seam-free blending, GIV once per image, OOM retry, devices.

Small networks are defined here (a conv net, a GIV-modulated conv net, an x2 pixel-shuffle net);
the registered lite presets are exercised at the end.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from irtool.engine import (
    EngineOutOfMemoryError,
    InferenceEngine,
    axis_windows,
    is_out_of_memory,
    plan_axis,
    resolve_precision,
    select_device,
)
from irtool.engine.tiling import TILE_GRID, window_sum
from irtool.errors import InvalidArgumentError, IrtoolError
from irtool.models.registry import Preset

CPU = torch.device("cpu")


def make_preset(model: nn.Module, *, scale: int = 1, size_multiple: int = 1, has_giv: bool = False,
                in_channels: int = 3, **fields: object) -> Preset:
    contract: dict[str, object] = {"min_input_side": size_multiple, "supports_fp16": True, "supports_bf16": True,
                                   **fields}
    return Preset(name=f"test_{type(model).__name__.lower()}", network=type(model), family="test", kwargs={},
                  description="test", tasks=("test",), recipe="lite", scale=scale, size_multiple=size_multiple,
                  has_giv=has_giv, in_channels=in_channels, **contract)  # type: ignore[arg-type]


def random_image(channels: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(channels, height, width, generator=torch.Generator().manual_seed(seed))


class ConvNet(nn.Module):
    """Translation-equivariant, receptive-field radius 3 (three 3x3 convs, zero padding)."""

    def __init__(self, *, channels: int = 3, width: int = 8) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, channels, 3, padding=1))
        self.seen_shapes: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen_shapes.append(tuple(x.shape))
        return x + 0.5 * self.body(x)


class Identity(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Conv2d(3, 4, 1)  # gives the memory heuristic a width, like real models

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()


class GivConvNet(nn.Module):
    """Conv features modulated per channel by a vector from a global pool of the whole input."""

    def __init__(self, *, width: int = 8, giv_dim: int = 6) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.head = nn.Conv2d(3, width, 3, padding=1)
        self.classifier = nn.Sequential(nn.Conv2d(3, giv_dim, 3, padding=1, stride=2), nn.ReLU(),
                                        nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.hyper = nn.Linear(giv_dim, width)
        self.tail = nn.Conv2d(width, 3, 3, padding=1)
        self.giv_calls = 0
        self.giv_input_shapes: list[tuple[int, ...]] = []

    def giv(self, x: torch.Tensor) -> torch.Tensor:
        self.giv_calls += 1
        self.giv_input_shapes.append(tuple(x.shape))
        return self.classifier(x)

    def forward(self, x: torch.Tensor, *, giv: torch.Tensor | None = None) -> torch.Tensor:
        if giv is None:
            giv = self.giv(x)
        modulation = 1 + torch.tanh(self.hyper(giv))[:, :, None, None]
        return x + 0.3 * self.tail(torch.relu(self.head(x)) * modulation)


class PixelShuffleX2(nn.Module):
    """x2 SR: receptive radius 2 input pixels."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 12, 3, padding=1))
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        upscaled = nn.functional.interpolate(x, scale_factor=2, mode="nearest")
        return upscaled + 0.3 * self.shuffle(self.body(x))


class OutOfMemoryAbove(ConvNet):
    """Raises an allocator-style error for tiles whose side exceeds ``limit``."""

    def __init__(self, *, limit: int, message: str) -> None:
        super().__init__()
        self.limit = limit
        self.message = message
        self.failures = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if max(x.shape[-2:]) > self.limit:
            self.failures += 1
            raise RuntimeError(self.message)
        return super().forward(x)


def whole(model: nn.Module, image: torch.Tensor, *, multiple: int = 1) -> torch.Tensor:
    """The model on the whole image, mirror-padded to ``multiple`` first as every zoo model does."""
    from irtool.models.layers import pad_to_multiple

    h, w = image.shape[-2:]
    padded = pad_to_multiple(image.unsqueeze(0), multiple)
    with torch.inference_mode():
        out = model(padded)[0]
    scale = out.shape[-1] // padded.shape[-1]
    return out[:, :h * scale, :w * scale].clamp(0, 1)


# --------------------------------------------------------------------------- tiling geometry
@pytest.mark.parametrize("length", [1, 37, 64, 65, 127, 200, 333, 1000])
@pytest.mark.parametrize(("tile", "overlap", "multiple"), [(64, 32, 1), (64, 16, 8), (96, 32, 16), (128, 0, 4),
                                                           (48, 40, 1)])
def test_plan_axis_covers_image_aligned_and_inside(length: int, tile: int, overlap: int, multiple: int) -> None:
    plan = plan_axis(length, tile=tile, overlap=overlap, multiple=multiple)
    if length <= tile:
        assert plan.starts == (0,) and plan.extent == length
        return
    assert plan.extent == tile
    assert plan.starts[0] == 0 and plan.starts[-1] + tile == length  # last tile shifted inward, never past the edge
    assert all(0 <= s <= length - tile for s in plan.starts)
    assert all(s % multiple == 0 for s in plan.starts[:-1])  # interior tiles on the model's grid
    for index in range(1, plan.count):
        assert plan.overlap_before(index) >= min(overlap, tile // 2)
    for scale in (1, 2, 4):
        windows = axis_windows(plan, scale=scale)
        total = window_sum(plan, windows, scale=scale)
        assert total.min() > 0
        # Image borders keep full weight: border tiles never fade at the image edge.
        assert windows[0][0] == 1 and windows[-1][-1] == 1


def test_window_is_partition_of_unity_and_drops_tile_edges() -> None:
    plan = plan_axis(64 * 5 - 32 * 4, tile=64, overlap=32)  # stride exactly tile - overlap
    windows = axis_windows(plan)
    assert torch.allclose(window_sum(plan, windows), torch.ones(plan.length), atol=1e-6)
    inner = windows[1]
    assert inner[:8].abs().max() == 0 and inner[-8:].abs().max() == 0  # context band: edge outputs discarded
    assert inner[8] > 0 and inner[32] == 1  # ramp starts at the band, never exactly 0 inside it


# --------------------------------------------------------------------------- tiled == whole
@pytest.mark.parametrize(("height", "width", "tile"), [(97, 131, 48), (131, 97, 64), (75, 203, 40), (50, 50, 64)])
def test_tiled_equals_whole_for_translation_equivariant_net(height: int, width: int, tile: int) -> None:
    model = ConvNet()
    image = random_image(3, height, width)
    engine = InferenceEngine(model, make_preset(model), device="cpu", tile=tile, overlap=16)
    tiled = engine.run(image)
    assert tiled.shape == image.shape
    assert torch.allclose(tiled, whole(model, image), atol=1e-5)
    rows, cols = (len(plan_axis(side, tile=tile, overlap=16).starts) for side in (height, width))
    expected_tiles = rows * cols
    assert engine.last_run is not None and engine.last_run.tiles == expected_tiles


def test_tiled_equals_whole_for_x2_pixel_shuffle_sr() -> None:
    model = PixelShuffleX2()
    image = random_image(3, 83, 117, seed=1)
    engine = InferenceEngine(model, make_preset(model, scale=2), device="cpu", tile=40, overlap=16)
    tiled = engine.run(image)
    assert tiled.shape == (3, 166, 234)
    assert torch.allclose(tiled, whole(model, image), atol=1e-5)


@pytest.mark.parametrize(("height", "width", "tile", "overlap", "multiple"),
                         [(101, 77, 32, 16, 1), (256, 190, 64, 32, 8), (67, 300, 48, 8, 16), (40, 40, 64, 32, 1)])
def test_identity_model_is_reproduced_exactly(height: int, width: int, tile: int, overlap: int, multiple: int) -> None:
    model = Identity()
    image = random_image(3, height, width, seed=2)
    engine = InferenceEngine(model, make_preset(model, size_multiple=multiple), device="cpu", tile=tile,
                             overlap=overlap)
    assert (engine.run(image) - image).abs().max() <= 1e-6


def test_tile_batch_gives_same_result_and_bounded_batches() -> None:
    model = ConvNet()
    image = random_image(3, 150, 170, seed=3)
    reference = InferenceEngine(model, make_preset(model), device="cpu", tile=48, overlap=16).run(image)
    model.seen_shapes.clear()
    batched = InferenceEngine(model, make_preset(model), device="cpu", tile=48, overlap=16, tile_batch=3).run(image)
    assert torch.allclose(batched, reference, atol=1e-6)
    assert max(shape[0] for shape in model.seen_shapes) == 3


def test_model_never_sees_more_than_one_tile() -> None:
    """Peak device memory is bounded by the tile: the model only ever receives inputs no larger than a tile, all of
    one shape (fitted to the image on each axis, a multiple of the model's size multiple)."""
    model = ConvNet()
    engine = InferenceEngine(model, make_preset(model, size_multiple=8), device="cpu", tile=64, overlap=16)
    engine.run(random_image(3, 300, 211, seed=4))
    shapes = set(model.seen_shapes)
    assert len(shapes) == 1
    (batch, channels, height, width), = shapes
    assert (batch, channels) == (1, 3) and height <= 64 and width <= 64 and height % 8 == 0 and width % 8 == 0


def test_auto_tile_runs_small_image_whole() -> None:
    model = ConvNet()
    image = random_image(3, 60, 70)
    engine = InferenceEngine(model, make_preset(model), device="cpu")
    out = engine.run(image)
    assert model.seen_shapes == [(1, 3, 60, 70)]
    assert engine.last_run is not None and engine.last_run.tile is None and engine.last_run.tiles == 1
    assert torch.equal(out, whole(model, image))


def test_auto_tile_follows_memory_estimate() -> None:
    model = ConvNet()
    # A huge stated cost per pixel forces tiling even on a big-memory host; the tile then shrinks to the minimum.
    preset = make_preset(model, size_multiple=16, bytes_per_pixel=10**12)
    engine = InferenceEngine(model, preset, device="cpu", overlap=16)
    image = random_image(3, 150, 140)
    out = engine.run(image)
    assert engine.last_run is not None and engine.last_run.tile == engine.min_tile == 64
    assert {shape[-2:] for shape in model.seen_shapes} == {(64, 64)}
    assert torch.allclose(out, whole(model, image, multiple=16), atol=1e-5)


@pytest.mark.parametrize(("multiple", "grid"), [(8, 8), (64, 16)])
def test_every_tile_starts_on_the_tile_grid(multiple: int, grid: int) -> None:
    # JPEG's 8x8 blocks (16x16 with 4:2:0 chroma) must sit in every tile where they sit in the image: the last row
    # and column of tiles too. A coarser model grid (Hi-IR's 64 px regions) is not kept: it would cost tiles.
    starts: list[tuple[int, int]] = []

    class Recorder(ConvNet):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for tile in x:  # each tile's top-left pixel value encodes its position (see the image below)
                starts.append((int(round(float(tile[0, 0, 0]) * 1000)), int(round(float(tile[1, 0, 0]) * 1000))))
            return super().forward(x)

    model = Recorder()
    height, width = 150, 203
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    image = torch.stack([ys / 1000, xs / 1000, torch.zeros(height, width)]).float()
    tile = max(64, multiple)
    out = InferenceEngine(model, make_preset(model, size_multiple=multiple), device="cpu", tile=tile,
                          overlap=16).run(image)
    assert out.shape == image.shape
    assert len(starts) >= 4 and all(y % grid == 0 and x % grid == 0 for y, x in starts)
    assert max(y for y, _ in starts) + tile >= height and max(x for _, x in starts) + tile >= width
    columns = sorted({x for _, x in starts})
    assert all(later - earlier <= tile - 16 for earlier, later in zip(columns, columns[1:]))  # overlap >= 16


def test_tiles_spread_evenly_with_fewer_tiles_than_a_coarse_grid() -> None:
    # A 4000 x 3000 photo (rows padded to 3008) in 384 px tiles: on Hi-IR's 64 px grid the stride would be 320 px.
    for length, fewer in ((3008, 9), (4000, 12)):
        plan = plan_axis(length, tile=384, overlap=32, multiple=TILE_GRID)
        coarse = plan_axis(length, tile=384, overlap=32, multiple=64)
        assert plan.count == fewer < coarse.count
        overlaps = [plan.overlap_before(index) for index in range(1, plan.count)]
        assert min(overlaps) >= 32 and all(start % TILE_GRID == 0 for start in plan.starts)
        # The slack is shared out: no overlap is wider than the narrowest by more than the last step's remainder.
        assert max(overlaps[:-1]) - min(overlaps[:-1]) == 0


@pytest.mark.parametrize("length", [130, 700, 1000, 3016, 4016])
@pytest.mark.parametrize(("tile", "fit"), [(768, 64), (384, 64), (256, 16)])
def test_fitted_tiles_are_as_many_and_no_larger_than_that_count_needs(length: int, tile: int, fit: int) -> None:
    """``fit`` shrinks the tiles of an axis to the smallest multiple of ``fit`` that needs no more of them than
    ``tile`` does: a 4000 x 3000 photo (padded to 4016 x 3016) in 768 px tiles is 6 x 5 tiles of 704 x 640."""
    capped = plan_axis(length, tile=tile, overlap=32, multiple=TILE_GRID)
    fitted = plan_axis(length, tile=tile, overlap=32, multiple=TILE_GRID, fit=fit)
    assert fitted.count == capped.count and fitted.extent <= capped.extent
    if fitted.count > 1:
        assert fitted.extent % fit == 0
        assert fitted.starts[0] == 0 and fitted.starts[-1] + fitted.extent == length
        assert min(fitted.overlap_before(index) for index in range(1, fitted.count)) >= 32
        assert plan_axis(length, tile=fitted.extent - fit, overlap=32, multiple=TILE_GRID).count > fitted.count
        assert window_sum(fitted, axis_windows(fitted)).min() > 0
    if tile == 768 and length in (4016, 3016):
        assert (fitted.count, fitted.extent) == ((6, 704) if length == 4016 else (5, 640))


class BareEdgeNet(Identity):
    """Identity, except that the last 8 rows and columns of whatever it is given come out black: a network that
    restores a bare bottom or right border badly, as the lite Hi-IR U-shape does (trained on crops its forward
    padded there)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        out[..., -8:, :] = 0
        out[..., :, -8:] = 0
        return out


@pytest.mark.parametrize(("height", "width", "tile"), [(128, 192, None), (128, 192, 64), (100, 150, 64)])
def test_edge_margin_keeps_a_bare_edge_out_of_the_image(height: int, width: int, tile: int | None) -> None:
    # Sides that are multiples of the model's grid are the worst case: neither the engine's padding to the grid
    # nor the model's own would put anything beyond the border.
    model = BareEdgeNet()
    image = random_image(3, height, width, seed=8)
    bare = InferenceEngine(model, make_preset(model, size_multiple=64), device="cpu", tile=tile,
                           overlap=32).run(image)
    if tile is None or height % 64 == 0:
        assert bare[:, -1].abs().max() == 0  # without a margin the last row is the model's bad edge
    framed = InferenceEngine(model, make_preset(model, size_multiple=64, edge_margin=16), device="cpu", tile=tile,
                             overlap=32).run(image)
    assert (framed - image).abs().max() <= 1e-6  # blending weights sum to 1 up to float rounding


def test_progress_reports_every_tile() -> None:
    model = ConvNet()
    calls: list[tuple[int, int]] = []
    engine = InferenceEngine(model, make_preset(model), device="cpu", tile=32, overlap=8, tile_batch=2)
    engine.run(random_image(3, 70, 90), progress=lambda done, total: calls.append((done, total)))
    total = calls[0][1]
    assert calls[0] == (0, total) and calls[-1] == (total, total) and total == 3 * 4
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


# --------------------------------------------------------------------------- GIV
def test_giv_is_computed_once_per_image_and_tiles_agree_with_whole() -> None:
    model = GivConvNet()
    image = random_image(3, 512, 512, seed=5)
    engine = InferenceEngine(model, make_preset(model, has_giv=True), device="cpu", tile=128, overlap=32)
    tiled = engine.run(image)
    assert engine.last_run is not None and engine.last_run.tiles > 1
    assert model.giv_calls == 1
    assert model.giv_input_shapes == [(1, 3, 512, 512)]  # on the whole image, not a tile
    reference = whole(model, image)
    mad = (tiled - reference).abs().mean().item()
    assert mad < 1 / 255
    # Same GIV everywhere + receptive radius 2 <= overlap // 4, so tiling is in fact exact here.
    assert torch.allclose(tiled, reference, atol=1e-5)
    model.giv_calls = 0
    engine.run(image)
    assert model.giv_calls == 1


def test_giv_of_a_huge_image_averages_native_resolution_crops() -> None:
    """Downscaling would average the noise away; the GIV sees 4 native crops spread over the image."""
    model = GivConvNet()
    engine = InferenceEngine(model, make_preset(model, has_giv=True), device="cpu", tile=96, giv_max_side=64)
    image = random_image(3, 200, 150, seed=6)
    vector = engine.giv(image)
    # Crops are max(64, giv_max_side // 2) px: never smaller than 64 so the classifier sees enough context.
    assert model.giv_input_shapes[-4:] == [(1, 3, 64, 64)] * 4
    corners = [image[:, t : t + 64, x : x + 64] for t in (0, 136) for x in (0, 86)]
    with torch.inference_mode():
        expected = torch.stack([model.giv(c.unsqueeze(0)) for c in corners]).mean(dim=0)
    assert torch.allclose(vector, expected, atol=1e-6)
    assert vector.shape == (1, 6) and vector.dtype == torch.float32 and vector.device == CPU
    small = random_image(3, 40, 50, seed=7)
    with torch.inference_mode():
        assert torch.allclose(engine.giv(small), model.giv(small.unsqueeze(0)))


def test_giv_on_model_without_giv_is_an_invalid_argument() -> None:
    model = ConvNet()
    with pytest.raises(InvalidArgumentError):
        InferenceEngine(model, make_preset(model), device="cpu").giv(random_image(3, 8, 8))


# --------------------------------------------------------------------------- out of memory
@pytest.mark.parametrize("message", ["CUDA out of memory. Tried to allocate 2.00 GiB",
                                     "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"])
def test_out_of_memory_halves_the_tile_until_it_fits(message: str) -> None:
    model = OutOfMemoryAbove(limit=70, message=message)
    image = random_image(3, 230, 190, seed=8)
    engine = InferenceEngine(model, make_preset(model), device="cpu", tile=256, overlap=16)
    out = engine.run(image)
    assert engine.last_run is not None
    assert engine.last_run.tile == 64 and engine.last_run.out_of_memory_retries == 2  # 256 (whole) -> 115 -> 64
    assert all(max(shape[-2:]) <= 70 for shape in model.seen_shapes)
    assert torch.allclose(out, whole(ConvNet(), image), atol=1e-5)
    # The lowered tile is remembered: the next image does not hit the error again.
    failures = model.failures
    engine.run(random_image(3, 230, 190, seed=9))
    assert model.failures == failures


class GivOutOfMemoryAbove(GivConvNet):
    def forward(self, x: torch.Tensor, *, giv: torch.Tensor | None = None) -> torch.Tensor:
        if max(x.shape[-2:]) > 100:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return super().forward(x, giv=giv)


def test_giv_is_kept_across_out_of_memory_retries() -> None:
    model = GivOutOfMemoryAbove()
    image = random_image(3, 180, 160, seed=10)
    engine = InferenceEngine(model, make_preset(model, has_giv=True), device="cpu", overlap=16)
    out = engine.run(image)  # auto: whole image first, then tiles after the error
    assert engine.last_run is not None and engine.last_run.out_of_memory_retries == 1
    assert model.giv_calls == 1 and model.giv_input_shapes == [(1, 3, 180, 160)]
    assert torch.allclose(out, whole(GivConvNet(), image), atol=1e-5)


def test_out_of_memory_at_minimum_tile_raises_clear_error() -> None:
    model = OutOfMemoryAbove(limit=10, message="CUDA out of memory. Tried to allocate 20.00 MiB")
    engine = InferenceEngine(model, make_preset(model), device="cpu", tile=128, overlap=16)
    with pytest.raises(EngineOutOfMemoryError, match="out of memory on cpu even with 64px tiles") as caught:
        engine.run(random_image(3, 150, 150))
    assert isinstance(caught.value, IrtoolError) and caught.value.exit_code == 1


def test_other_runtime_errors_are_not_retried() -> None:
    model = OutOfMemoryAbove(limit=10, message="Given groups=1, weight of size [8, 3, 3, 3], expected input")
    engine = InferenceEngine(model, make_preset(model), device="cpu", tile=128)
    with pytest.raises(RuntimeError, match="Given groups=1"):
        engine.run(random_image(3, 150, 150))
    assert model.failures == 1


def test_is_out_of_memory_recognises_allocator_errors() -> None:
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


# --------------------------------------------------------------------------- devices, precision, I/O contract
def test_unavailable_cuda_is_a_clear_invalid_argument() -> None:
    spec = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"
    with pytest.raises(InvalidArgumentError, match="not available|does not exist") as caught:
        select_device(spec)
    assert caught.value.exit_code == 2
    with pytest.raises(InvalidArgumentError, match="unknown device"):
        select_device("gpu0")
    assert select_device("cpu") == CPU
    assert select_device(" CPU ") == CPU
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert select_device("auto") == CPU
        with pytest.raises(InvalidArgumentError, match="mps"):
            select_device("mps")
    model = ConvNet()
    with pytest.raises(InvalidArgumentError):
        InferenceEngine(model, make_preset(model), device=spec)


def test_precision_policy_on_cpu() -> None:
    assert resolve_precision("auto", CPU).name == "fp32"
    assert resolve_precision("BF16", CPU).dtype == torch.bfloat16
    with pytest.raises(InvalidArgumentError, match="unknown precision"):
        resolve_precision("fp64", CPU)


def test_precision_follows_the_presets_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    import irtool.engine.precision as precision

    model = ConvNet()
    both, no_fp16 = make_preset(model), make_preset(model, supports_fp16=False)
    neither = make_preset(model, supports_fp16=False, supports_bf16=False)
    with pytest.raises(InvalidArgumentError, match="does not support precision 'fp16'; use bf16 or fp32") as caught:
        resolve_precision("fp16", CPU, preset=no_fp16)
    assert caught.value.argument == "precision"
    with pytest.raises(InvalidArgumentError, match="use fp32"):
        InferenceEngine(model, neither, device="cpu", precision="bf16")
    assert resolve_precision("bf16", CPU, preset=no_fp16).name == "bf16"
    # auto on a GPU (capability and bf16 support faked): fp16 where claimed, else bf16 where claimed and there.
    gpu = torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: (8, 0))
    monkeypatch.setattr(precision, "_cuda_supports_bf16", lambda device: True)
    assert [resolve_precision("auto", gpu, preset=p).name for p in (both, no_fp16, neither)] == ["fp16", "bf16", "fp32"]
    monkeypatch.setattr(precision, "_cuda_supports_bf16", lambda device: False)
    assert resolve_precision("auto", gpu, preset=no_fp16).name == "fp32"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: (6, 1))
    assert resolve_precision("auto", gpu, preset=both).name == "fp32"


def test_smallest_tile_is_at_least_the_networks_minimum_side() -> None:
    model = ConvNet()
    assert InferenceEngine(model, make_preset(model, size_multiple=32, min_input_side=96), device="cpu").min_tile == 96
    assert InferenceEngine(model, make_preset(model, size_multiple=24), device="cpu").min_tile == 72


def test_bf16_autocast_runs_close_to_fp32() -> None:
    model = ConvNet()
    image = random_image(3, 64, 80)
    out = InferenceEngine(model, make_preset(model), device="cpu", precision="bf16", tile=48, overlap=16).run(image)
    assert out.dtype == torch.float32
    assert (out - whole(model, image)).abs().mean() < 1e-2


class NaNInHalf(ConvNet):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        return y * float("nan") if self.body[0](x).dtype != torch.float32 else y


def test_non_finite_half_precision_falls_back_to_fp32() -> None:
    model = NaNInHalf()
    image = random_image(3, 50, 60)
    engine = InferenceEngine(model, make_preset(model), device="cpu", precision="bf16")
    out = engine.run(image)
    assert engine.precision == "fp32" and torch.isfinite(out).all()
    assert torch.allclose(out, whole(model, image), atol=1e-6)


class Overshoot(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 3.0 - 1.0


def test_output_is_clamped_float32_on_cpu() -> None:
    model = Overshoot()
    image = random_image(3, 90, 70).to(torch.float64)
    out = InferenceEngine(model, make_preset(model), device="cpu", tile=32, overlap=8).run(image)
    assert out.dtype == torch.float32 and out.device == CPU
    assert out.min() == 0 and out.max() == 1
    expected = (image.float() * 3 - 1).clamp(0, 1)
    assert torch.allclose(out, expected, atol=1e-6)


def test_channel_mismatch_and_bad_input_are_invalid_arguments() -> None:
    model = ConvNet()
    engine = InferenceEngine(model, make_preset(model), device="cpu")
    with pytest.raises(InvalidArgumentError, match="expects RGB input .3 channels., got 1"):
        engine.run(random_image(1, 16, 16))
    gray = ConvNet(channels=1)
    with pytest.raises(InvalidArgumentError, match="grayscale"):
        InferenceEngine(gray, make_preset(gray, in_channels=1), device="cpu").run(random_image(3, 16, 16))
    with pytest.raises(InvalidArgumentError, match="float"):
        engine.run(torch.zeros(3, 8, 8, dtype=torch.uint8))
    with pytest.raises(InvalidArgumentError, match=r"\[C, H, W\]"):
        engine.run(torch.zeros(1, 3, 8, 8))
    with pytest.raises(InvalidArgumentError):
        InferenceEngine(model, make_preset(model), device="cpu", tile=0)


def test_wrong_scale_in_preset_is_reported() -> None:
    model = PixelShuffleX2()
    with pytest.raises(IrtoolError, match="scale 1"):
        InferenceEngine(model, make_preset(model, scale=1), device="cpu").run(random_image(3, 20, 20))


def test_engine_runs_under_inference_mode() -> None:
    seen: list[bool] = []

    class Probe(ConvNet):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(torch.is_inference_mode_enabled())
            return super().forward(x)

    model = Probe()
    InferenceEngine(model, make_preset(model), device="cpu", tile=32, overlap=8).run(random_image(3, 50, 50))
    assert seen and all(seen)


# --------------------------------------------------------------------------- registered lite presets
def _lite_presets() -> list[str]:
    from irtool.models import get_preset, preset_names

    return [name for name in preset_names() if get_preset(name).lite and not get_preset(name).whole_image]


def test_whole_image_preset_is_never_tiled_and_runs_as_its_module() -> None:
    """A network that decides from the whole image (bilateral grid) gets it whole even when tiles are asked for: the
    result is then the module's own output on the whole image, whatever the tile."""
    from irtool.models import build, get_preset

    preset = get_preset("bilateral_grid_lite")
    assert preset.whole_image
    torch.manual_seed(0)
    model = build(preset.name)
    with torch.no_grad():  # a non-identity grid, so tiling would show
        model.to_grid.weight.normal_(0, 0.05)
    image = smooth_image(3, 300, 420, seed=3)
    with torch.inference_mode():
        expected = model(image.unsqueeze(0))[0].clamp(0, 1)
    for tile in (None, 64, 256):
        engine = InferenceEngine(model, preset, device="cpu", tile=tile)
        out = engine.run(image)
        assert engine.last_run is not None and engine.last_run.tiles == 1 and engine.last_run.tile is None
        torch.testing.assert_close(out, expected)
    assert (expected - image).abs().mean() > 1 / 255  # the weights above do change the image


def test_whole_image_preset_out_of_memory_is_a_clear_error() -> None:
    from irtool.engine import EngineOutOfMemoryError
    from irtool.models import build, get_preset

    preset = get_preset("bilateral_grid_lite")

    class OutOfMemory(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = build(preset.name)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    engine = InferenceEngine(OutOfMemory(), preset, device="cpu")
    with pytest.raises(EngineOutOfMemoryError, match="cannot be tiled"):
        engine.run(torch.rand(3, 64, 64))


def smooth_image(channels: int, height: int, width: int, seed: int) -> torch.Tensor:
    """Blurred noise: photo-like local correlation, unlike i.i.d. noise."""
    noise = random_image(channels, height, width, seed=seed).unsqueeze(0)
    return nn.functional.avg_pool2d(noise, 9, stride=1, padding=4, count_include_pad=False)[0]


def test_lite_presets_needed_here_are_registered() -> None:
    assert {"res_hair_lite", "restormer_lite", "hi_ir_sr2_lite"} <= set(_lite_presets())


def _tiled_lite_presets() -> list[str]:
    from irtool.models import get_preset

    return [name for name in _lite_presets() if not get_preset(name).strips]


@pytest.mark.parametrize("name", _tiled_lite_presets())
def test_lite_preset_tiled_close_to_whole(name: str, count_giv_calls: Callable[[object], list[int]]) -> None:
    """Random weights (seed 0): 128 px tiles on a 512 px image (GIV models) or 256 px (others; 64 px
    tiles on 128 px for SR) vs one whole-image pass: MAD < 1/255, and the GIV is computed once.

    Hi-IR's window attention and the HAIR classifier see a whole tile, so tiling is not exact for these
    models; the shared GIV, the context band and the blending keep the difference small. Measured here (run
    with -s): 0.14-0.41/255 across the lite presets. Restormer-style presets run in row strips instead
    (tests/test_strips.py).
    """
    from irtool.models import build, get_preset

    preset = get_preset(name)
    torch.manual_seed(0)
    model = build(name)
    # The brief's setting (512 px, 128 px tiles) for GIV models; SR presets are costlier per input
    # pixel (and Hi-IR pads to 64), so they use a smaller image to keep this file fast.
    side, tile = (128, 64) if preset.scale > 1 else ((512, 128) if preset.has_giv else (256, 128))
    image = smooth_image(preset.in_channels, side, side, seed=11)
    reference = InferenceEngine(model, preset, device="cpu", tile=side).run(image)
    engine = InferenceEngine(model, preset, device="cpu", tile=tile, overlap=32)
    giv_calls = count_giv_calls(model) if preset.has_giv else [0]
    tiled = engine.run(image)
    assert tiled.shape == (preset.in_channels, side * preset.scale, side * preset.scale)
    per_axis = plan_axis(side, tile=tile, overlap=32, multiple=min(preset.size_multiple, TILE_GRID)).count
    assert per_axis > 1 and engine.last_run is not None and engine.last_run.tiles == per_axis**2
    if preset.has_giv:
        assert giv_calls[0] == 1
    mad = (tiled - reference).abs().mean().item()
    print(f"{name}: {engine.last_run.tiles} tiles, MAD tiled vs whole {mad * 255:.3f}/255")
    assert mad < 1 / 255, f"{name}: MAD {mad * 255:.3f}/255"


def test_memory_estimate_and_budget_to_tile() -> None:
    from irtool.engine.memory import (
        CPU_BYTES_PER_PIXEL_PER_CHANNEL,
        SR_BYTES_PER_OUTPUT_PIXEL,
        heuristic_bytes_per_pixel,
        tile_side_for_budget,
    )

    model = ConvNet(width=8)  # first conv: 3 -> 8 channels
    expected = 8 * CPU_BYTES_PER_PIXEL_PER_CHANNEL + 4 * SR_BYTES_PER_OUTPUT_PIXEL
    assert heuristic_bytes_per_pixel(model, scale=2) == expected
    engine = InferenceEngine(model, make_preset(model), device="cpu")
    assert engine.bytes_per_pixel == heuristic_bytes_per_pixel(model, scale=1)
    assert InferenceEngine(model, make_preset(model, bytes_per_pixel=123), device="cpu").bytes_per_pixel == 123
    # 1000 B/px and room for 300x300 px -> 288 (aligned down to 16); two tiles per batch -> 208; floor at the minimum.
    assert tile_side_for_budget(300 * 300 * 1000, bytes_per_pixel=1000, tile_batch=1, multiple=16, minimum=64) == 288
    assert tile_side_for_budget(300 * 300 * 1000, bytes_per_pixel=1000, tile_batch=2, multiple=16, minimum=64) == 208
    assert tile_side_for_budget(10, bytes_per_pixel=1000, tile_batch=1, multiple=16, minimum=64) == 64


def test_precomputed_giv_is_reused() -> None:
    model = GivConvNet()
    image = random_image(3, 100, 90, seed=12)
    engine = InferenceEngine(model, make_preset(model, has_giv=True), device="cpu", tile=64, overlap=16)
    vector = engine.giv(image)
    out = engine.run(image, giv=vector)
    assert model.giv_calls == 1  # the detection call only
    model.giv_calls = 0
    assert torch.allclose(out, engine.run(image), atol=1e-6) and model.giv_calls == 1
    plain = ConvNet()
    with pytest.raises(InvalidArgumentError, match="no GIV"):
        InferenceEngine(plain, make_preset(plain), device="cpu").run(image, giv=vector)


class NaNGivInHalf(GivConvNet):
    def giv(self, x: torch.Tensor) -> torch.Tensor:
        vector = super().giv(x)
        return vector * float("nan") if torch.is_autocast_enabled("cpu") else vector


def test_non_finite_half_precision_giv_falls_back_to_fp32() -> None:
    model = NaNGivInHalf()
    engine = InferenceEngine(model, make_preset(model, has_giv=True), device="cpu", precision="bf16")
    assert torch.isfinite(engine.giv(random_image(3, 40, 40))).all() and engine.precision == "fp32"


def test_retained_host_memory_keeps_a_freed_buffer_for_the_next_tile():
    # The irtool command keeps freed host memory in the process (irtool.engine.host): a freed multi-MiB tensor,
    # the size of one tile's activations, must stay in malloc's free lists instead of going back to the kernel,
    # so the next tile does not fault its pages in again.
    import ctypes
    import ctypes.util
    import sys

    from irtool.engine.host import retain_freed_host_memory

    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's mallopt is Linux-only")
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("not glibc >= 2.33: no mallinfo2 to read the free lists with")

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                          "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc.mallinfo2.restype = MallInfo2
    assert retain_freed_host_memory()
    size = 16 * 2**20
    mapped_before = libc.mallinfo2().hblkhd
    buffer = torch.ones(size, dtype=torch.uint8)  # touched, as activations are
    held = libc.mallinfo2()
    assert held.hblkhd - mapped_before < size  # from the heap, not a private mapping...
    del buffer
    freed = libc.mallinfo2()
    assert freed.arena == held.arena and freed.fordblks >= size  # ...and kept, free, in the process


# --------------------------------------------------------------------------- torch.compile (opt-in)
def test_compiled_engine_matches_eager_tile_for_tile() -> None:
    # --compile must not change what a user gets: the same tiles through Inductor's kernels, GIV passed as a
    # keyword as HAIR's decoder takes it.
    model = GivConvNet()
    image = random_image(3, 100, 90, seed=7)
    preset = make_preset(model, has_giv=True)
    eager = InferenceEngine(model, preset, device="cpu", tile=48, overlap=16).run(image)
    engine = InferenceEngine(model, preset, device="cpu", tile=48, overlap=16, compile=True)
    compiled = engine.run(image)
    assert engine.compile_failure is None
    assert engine.last_run is not None and engine.last_run.compiled and engine.last_run.tiles > 1
    assert (compiled - eager).abs().max() <= 1e-5


def test_compiled_tiles_keep_one_graph_when_the_last_batch_is_short(monkeypatch: pytest.MonkeyPatch) -> None:
    # Batches of 3 tiles over 4 tiles: the short last batch is filled with copies of its last tile, so a compiled
    # run traces one graph (each new batch size would cost another compile), and the copies' outputs are dropped.
    from torch._dynamo.testing import CompileCounter

    from irtool.engine import CompiledForward
    from irtool.engine import engine as engine_module

    counter = CompileCounter()
    monkeypatch.setattr(engine_module, "CompiledForward", lambda model: CompiledForward(model, backend=counter))
    torch._dynamo.reset()
    torch.manual_seed(0)  # a module without Python side effects in forward (ConvNet's shape log adds guards)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1))
    image = random_image(3, 80, 80, seed=9)
    preset = make_preset(model)
    eager = InferenceEngine(model, preset, device="cpu", tile=48, overlap=16, tile_batch=3).run(image)
    engine = InferenceEngine(model, preset, device="cpu", tile=48, overlap=16, tile_batch=3, compile=True)
    compiled = engine.run(image)
    assert engine.last_run is not None and engine.last_run.tiles == 4 and engine.last_run.compiled
    assert counter.frame_count == 1
    assert torch.allclose(compiled, eager, atol=1e-6)


def test_compile_failure_falls_back_to_eager_and_says_why() -> None:
    from irtool.engine import CompiledForward

    def no_compiler(graph, example_inputs):  # a backend that fails as one without a C++ compiler does
        raise RuntimeError("no C++ compiler found")

    model = ConvNet()
    image = random_image(3, 32, 32, seed=8).unsqueeze(0)
    forward = CompiledForward(model, backend=no_compiler)
    with torch.inference_mode():
        out = forward(image)
        assert torch.equal(out, model(image))
    assert not forward.active
    assert forward.failure is not None and "no C++ compiler found" in forward.failure
