"""Restormer-style networks run in row strips (irtool.models.strips) give their one-pass result.

Their attention sums over every pixel, so tiles would each attend differently; the engine runs them in strips of
rows with the whole image's attention statistics instead. These tests hold the strips to the module's own
whole-image forward (to float summation order), on odd sizes and strips of a few rows, and check that the engine
uses strips for these presets, tiles for the others, and tiles when the feature maps do not fit.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from irtool.engine import InferenceEngine
from irtool.models import build, get_preset, preset_names
from irtool.models.layers import ChannelLayerNorm, pixel_map, pixel_matrix
from irtool.models.strips import RowStrips, count_blocks

STRIP_PRESETS = ["restormer_lite", "res_hair_lite"]


def _random_model(name: str) -> nn.Module:
    """Random weights with temperatures away from 1, so the attention is far from uniform."""
    torch.manual_seed(0)
    model = build(name).eval()
    with torch.no_grad():
        for parameter_name, parameter in model.named_parameters():
            if parameter_name.endswith("temperature"):
                parameter.uniform_(0.5, 3.0)
    return model


def _photo_like(height: int, width: int, seed: int) -> torch.Tensor:
    noise = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(seed))
    return nn.functional.avg_pool2d(noise, 7, stride=1, padding=3, count_include_pad=False)


def test_the_strip_presets_are_the_restormer_style_ones() -> None:
    strip_presets = {name for name in preset_names() if get_preset(name).strips}
    assert set(STRIP_PRESETS) <= strip_presets
    assert all(get_preset(name).family in ("restormer", "res_hair") for name in strip_presets)
    assert not get_preset("hi_ir_unet_lite").strips


@pytest.mark.parametrize("name", STRIP_PRESETS)
@pytest.mark.parametrize("strip_pixels", [150, 1000, 100_000])
def test_strips_equal_the_whole_image_forward(name: str, strip_pixels: int) -> None:
    """70 x 90 (padded to 72 x 96): 150 px strips are 2 rows at level 1, so every block runs in dozens of strips,
    including a last short one; 100k px is one strip."""
    model = _random_model(name)
    image = _photo_like(70, 90, seed=1)
    with torch.inference_mode():
        whole = model(image)
        strips = model.forward_in_strips(image, strips=RowStrips(strip_pixels))
    assert strips.shape == whole.shape == image.shape
    assert (whole - image).abs().mean() > 0.01  # the network does change the image
    torch.testing.assert_close(strips, whole, atol=2e-6, rtol=0)


@pytest.mark.parametrize("layernorm_type", ["WithBias", "BiasFree"])
def test_the_pixel_matrix_norm_is_the_channel_norm(layernorm_type: str) -> None:
    """One image on a CPU runs as pixel matrices (rows: pixels); the norm of those rows is the channel norm."""
    torch.manual_seed(5)
    norm = ChannelLayerNorm(dim=24, layernorm_type=layernorm_type)
    with torch.no_grad():
        for parameter in norm.parameters():
            parameter.normal_()
    x = torch.randn(1, 24, 7, 9) * 3 + 1
    with torch.inference_mode():
        by_rows = pixel_map(norm.pixels(pixel_matrix(x)), 7, 9)
        torch.testing.assert_close(by_rows, norm(x), atol=2e-6, rtol=0)


def test_strips_of_one_image_run_under_bf16_autocast_close_to_float32() -> None:
    """The engine's opt-in bf16 on a CPU: the pixel-matrix strips under autocast (their residuals added outside the
    bf16 products) stay near the float32 one-pass result."""
    model = _random_model("res_hair_lite")
    image = _photo_like(40, 56, seed=8)
    with torch.inference_mode():
        whole = model(image)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            in_bf16 = model.forward_in_strips(image, strips=RowStrips(300)).float()
    assert (in_bf16 - whole).abs().max() <= 0.05 * max(1.0, float(whole.abs().max()))
    assert (in_bf16 - whole).abs().mean() > 0  # it did run in bf16


def test_strips_take_a_given_giv_and_a_batch_of_images() -> None:
    model = _random_model("res_hair_lite")
    images = torch.cat([_photo_like(40, 56, seed=2), _photo_like(40, 56, seed=3)])
    with torch.inference_mode():
        givs = model.giv(images)
        for giv in (givs, givs[:1]):  # one vector per image, or one for the whole batch
            whole = model(images, giv=giv)
            torch.testing.assert_close(model.forward_in_strips(images, giv, strips=RowStrips(200)), whole,
                                       atol=2e-6, rtol=0)


def test_strips_report_progress_per_block() -> None:
    model = _random_model("restormer_lite")
    calls: list[tuple[int, int]] = []
    with torch.inference_mode():
        blocks = count_blocks(model)
        model.forward_in_strips(_photo_like(32, 32, seed=4), strips=RowStrips(
            300, progress=lambda done, total: calls.append((done, total)), blocks=blocks))
    assert blocks == 1 + 1 + 1 + 2 + 1 + 1 + 1 + 1  # encoder 1/1/1, latent 2, decoder 1/1/1, refinement 1
    assert calls == [(done, blocks) for done in range(1, blocks + 1)]


def test_a_byte_cap_makes_strips_thinner_and_changes_nothing() -> None:
    """The CPU caps a strip's widest tensor (below the heap's mmap threshold): strips get fewer rows, the result
    stays the one-pass result."""
    model = _random_model("res_hair_lite")
    image = _photo_like(64, 96, seed=7)
    loose, capped = RowStrips(10_000), RowStrips(10_000, max_strip_bytes=4 * 56 * 96 * 4)  # 4 rows of 56 channels
    with torch.inference_mode():
        whole = model(image)
        torch.testing.assert_close(model.forward_in_strips(image.clone(), strips=loose), whole, atol=2e-6, rtol=0)
        torch.testing.assert_close(model.forward_in_strips(image.clone(), strips=capped), whole, atol=2e-6, rtol=0)
    assert loose.first_block_strips == 1 and capped.first_block_strips == 16  # 64 rows in strips of 4


def test_only_local_modules_are_split_into_rows() -> None:
    runner = RowStrips(100)
    with pytest.raises(TypeError, match="not a local module"):
        runner.local(nn.Conv2d(3, 3, kernel_size=5, padding=2), torch.rand(1, 3, 8, 8))


@pytest.mark.parametrize("name", STRIP_PRESETS)
def test_engine_runs_strip_presets_in_strips_not_tiles(name: str) -> None:
    """Asked for 64 px tiles on 150 x 200, the engine gives the module's one-pass output, with the GIV of the
    whole image for HAIR models."""
    preset = get_preset(name)
    model = _random_model(name)
    image = _photo_like(150, 200, seed=5)[0]
    engine = InferenceEngine(model, preset, device="cpu", tile=64)
    out = engine.run(image)
    assert engine.last_run is not None and engine.last_run.strips and engine.last_run.tiles > 1
    with torch.inference_mode():
        batch = image[None]
        expected = (model(batch, giv=engine.giv(image)) if preset.has_giv else model(batch))[0].clamp(0, 1)
    torch.testing.assert_close(out, expected, atol=2e-6, rtol=0)


@pytest.mark.parametrize("name", STRIP_PRESETS)
def test_engine_runs_a_small_image_in_strips_on_a_cpu(name: str) -> None:
    """An image small enough for one pass still runs in strips on a CPU (faster there: cache-sized pieces), with
    the one-pass result."""
    preset = get_preset(name)
    model = _random_model(name)
    image = _photo_like(70, 90, seed=9)[0]
    engine = InferenceEngine(model, preset, device="cpu")
    out = engine.run(image)
    assert engine.last_run is not None and engine.last_run.strips and engine.last_run.tile is None
    with torch.inference_mode():
        expected = model(image[None])[0].clamp(0, 1)
    torch.testing.assert_close(out, expected, atol=2e-6, rtol=0)


def test_engine_encodes_a_hair_image_once_in_strips(count_giv_calls: Callable[[object], list[int]]) -> None:
    """The whole image's GIV comes from the strips' own encoding: the separate GIV pass (the whole encoder again)
    runs only for an image larger than ``giv_max_side``, whose GIV is the mean over crops."""
    preset = get_preset("res_hair_lite")
    model = _random_model("res_hair_lite")
    image = _photo_like(150, 200, seed=7)[0]
    with torch.inference_mode():
        expected = model(image[None], giv=model.giv(image[None]))[0].clamp(0, 1)
    giv_calls = count_giv_calls(model)
    out = InferenceEngine(model, preset, device="cpu", tile=64).run(image)
    assert giv_calls[0] == 0
    torch.testing.assert_close(out, expected, atol=2e-6, rtol=0)
    small_giv = InferenceEngine(model, preset, device="cpu", tile=64, giv_max_side=128)
    crops_out = small_giv.run(image)
    assert giv_calls[0] == 4  # a 2 x 2 grid of crops
    assert small_giv.last_run is not None and small_giv.last_run.strips
    assert (crops_out - out).abs().max() > 0  # a different GIV, so a different (still valid) restoration


def test_engine_tiles_a_strip_preset_whose_feature_maps_do_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a memory budget below the full-resolution feature maps the engine falls back to tiles, whose attention
    statistics are each tile's own: the output then differs from one pass (what strips exist to avoid)."""
    import irtool.engine.engine as engine_module

    preset = get_preset("restormer_lite")
    model = _random_model("restormer_lite")
    image = _photo_like(150, 200, seed=6)[0]
    with torch.inference_mode():
        expected = model(image[None])[0].clamp(0, 1)
    monkeypatch.setattr(engine_module, "available_memory_bytes", lambda device: 150 * 200 * 100)
    engine = InferenceEngine(model, preset, device="cpu", tile=64, overlap=16)
    out = engine.run(image)
    assert engine.last_run is not None and not engine.last_run.strips and engine.last_run.tiles > 1
    assert (out - expected).abs().max() > 1e-3


def test_a_tile_of_a_strip_preset_runs_through_the_strips_runner_with_the_module_result(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A photo too large for strips is tiled; on a CPU each tile still goes through the strips runner (its faster
    pixel-matrix blocks), with the module's own result for that tile."""
    model = _random_model("res_hair_lite")
    engine = InferenceEngine(model, get_preset("res_hair_lite"), device="cpu")
    tile = _photo_like(64, 96, seed=9)
    blocks: list[int] = []
    run_block = RowStrips.block
    monkeypatch.setattr(RowStrips, "block", lambda self, *args: blocks.append(1) or run_block(self, *args))
    with torch.inference_mode():
        giv = model.giv(tile)
        out = engine._forward(tile, giv)
        expected = model(tile, giv=giv)
    assert len(blocks) == count_blocks(model)
    torch.testing.assert_close(out, expected, atol=2e-6, rtol=0)
