"""Hi-IR networks (irtool.models.hi_ir): shapes for any size, lite budgets, padding, attention maths against a
naive per-window reference, batch independence and a tiny overfit (paper parameter counts and preset metadata:
tests/test_presets.py)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from irtool.errors import InvalidArgumentError
from irtool.models import build, get_preset, parameter_count
from irtool.models.hi_ir import HiIRAttention, HiIRColumnar, HiIRUNet

LITE_PRESETS = ["hi_ir_unet_lite", "hi_ir_sr2_lite", "hi_ir_sr3_lite", "hi_ir_sr4_lite"]


pytestmark = pytest.mark.usefixtures("one_thread")


def seeded_model(name: str, **overrides: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return build(name, **overrides).eval()


def image(channels: int, height: int, width: int, *, batch: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, channels, height, width, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", LITE_PRESETS)
def test_lite_presets_fit_the_cpu_budget(name: str) -> None:
    """<= 2 M parameters and <= ~100 kFLOPs per output pixel (attention counted via the math SDPA backend)."""
    preset = get_preset(name)
    assert parameter_count(name) <= 2_000_000
    side = preset.size_multiple  # every op is per pixel, so one padding-free multiple is representative
    model = seeded_model(name)
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(image(3, side, side))
    flops_per_output_pixel = counter.get_total_flops() / (side * preset.scale) ** 2
    assert flops_per_output_pixel <= 105_000


@pytest.mark.parametrize("name", LITE_PRESETS)
@pytest.mark.parametrize(("channels", "size"), [(3, (37, 53)), (1, (37, 53)), (3, (5, 7)), (1, (1, 1))])
def test_any_size_gray_or_color_gives_the_scaled_shape(name: str, channels: int, size: tuple[int, int]) -> None:
    model = seeded_model(name, in_channels=channels)
    scale = get_preset(name).scale
    with torch.inference_mode():
        out = model(image(channels, *size))
    assert out.shape == (1, channels, size[0] * scale, size[1] * scale)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["hi_ir_unet_lite", "hi_ir_sr2_lite", "hi_ir_sr3_lite"])
def test_internal_padding_is_reflect_then_crop(name: str) -> None:
    """The output for a 37x53 input equals the crop of the output for its reflect-padded 64x64 version."""
    model = seeded_model(name)
    scale = get_preset(name).scale
    x = image(3, 37, 53)
    padded = F.pad(x, (0, 64 - 53, 0, 64 - 37), mode="reflect")
    with torch.inference_mode():
        out = model(x)
        reference = model(padded)[..., : 37 * scale, : 53 * scale]
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["hi_ir_unet_lite", "hi_ir_sr4_lite"])
def test_batch_equals_one_image_at_a_time(name: str) -> None:
    model = seeded_model(name)
    batch = image(3, 40, 44, batch=3)
    with torch.inference_mode():
        together = model(batch)
        alone = torch.cat([model(batch[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["hi_ir_unet_lite", "hi_ir_sr2_lite"])
def test_cpu_inference_in_bands_of_rows_equals_the_whole_map_layer(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """CPU inference runs a Hi-IR layer whose map is large one band of rows at a time (the FFN's 3x3 convolution
    reading a row beyond each band); the network's output is the whole-map layers' (which training runs), with
    bands shorter than the map and a partial last band, for every layer here."""
    import irtool.models.hi_ir as hi_ir

    monkeypatch.setattr(hi_ir, "_LAYER_STRIP_MIN_BYTES", 0)
    monkeypatch.setattr(hi_ir, "_LAYER_STRIP_ROWS", 40)  # FFN bands of 40 rows: 64 = 40 + 24
    banded = []
    run_in_bands = hi_ir.HiIRLayer._forward_in_row_strips
    monkeypatch.setattr(hi_ir.HiIRLayer, "_forward_in_row_strips",
                        lambda layer, x: banded.append(x.shape) or run_in_bands(layer, x))
    model = seeded_model(name)
    x = image(3, 64, 96, seed=3)
    with torch.enable_grad():
        whole = model(x).detach()
    assert not banded
    with torch.inference_mode():
        in_bands = model(x)
    assert banded and any(shape[1] > 40 for shape in banded)
    torch.testing.assert_close(in_bands, whole, rtol=1e-5, atol=1e-5)


def naive_attention(qkv: torch.Tensor, heads: int) -> torch.Tensor:
    """Softmax attention over tokens (dim 0) of ``qkv`` = ``[L, C/2 + C/2 + C]``, head by head."""
    width = qkv.shape[-1] // 4
    q, k, v = qkv[:, :width], qkv[:, width : 2 * width], qkv[:, 2 * width :]
    outs = []
    for qh, kh, vh in zip(q.chunk(heads, -1), k.chunk(heads, -1), v.chunk(heads, -1)):
        outs.append(torch.softmax(qh @ kh.T / math.sqrt(qh.shape[-1]), dim=-1) @ vh)
    return torch.cat(outs, -1)


@pytest.mark.parametrize("heads", [1, 2])
@pytest.mark.parametrize("path", ["inference", "training"])
def test_attention_matches_a_naive_per_window_reference(path: str, heads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """L1 inside p x p windows, then L2 over the s x s positions spaced p apart inside each P x P region.

    The CPU path runs windows in chunks (of 3 here, so the last chunk is partial), with and without autograd; in
    inference its matmuls write into the result (one head) and the output projection too. The residual sum puts
    the tokens back in image order in the same pass, into a given tensor or a new one.
    """
    import irtool.models.hi_ir as hi_ir

    monkeypatch.setattr(hi_ir, "_CPU_ATTENTION_MAX_WINDOWS", 3)
    torch.manual_seed(0)
    p, s, dim, side = 4, 2, 16, 16
    attention = HiIRAttention(dim=dim, num_heads=heads, window_size=p, region_windows=s).eval()
    x = torch.randn(1, side, side, dim, requires_grad=path == "training")
    with torch.no_grad():
        expected = torch.empty(side, side, dim)
        qkv = attention.qkv_l1(x[0])
        for top in range(0, side, p):
            for left in range(0, side, p):
                window = qkv[top : top + p, left : left + p].reshape(p * p, -1)
                expected[top : top + p, left : left + p] = naive_attention(window, heads).view(p, p, dim)
        qkv = attention.qkv_l2(expected)
        region = p * s
        for top in range(0, side, region):
            for left in range(0, side, region):
                for dy in range(p):
                    for dx in range(p):
                        rows = slice(top + dy, top + region, p)
                        cols = slice(left + dx, left + region, p)
                        group = qkv[rows, cols].reshape(s * s, -1)
                        expected[rows, cols] = naive_attention(group, heads).view(s, s, dim)
        expected = attention.proj(expected)
    residual = torch.randn(1, side, side, dim)
    with torch.set_grad_enabled(x.requires_grad):
        actual = attention(x)[0]
        summed = attention(x, residual=residual)[0]
        into = torch.full_like(residual, float("nan"))
        if not x.requires_grad:
            assert attention(x, residual=residual, out=into) is into
    assert actual.requires_grad == summed.requires_grad == x.requires_grad
    torch.testing.assert_close(actual.detach(), expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(summed.detach(), residual[0] + expected, rtol=1e-4, atol=1e-5)
    if not x.requires_grad:
        torch.testing.assert_close(into[0], residual[0] + expected, rtol=1e-4, atol=1e-5)


def test_cpu_chunked_attention_equals_the_fused_kernel_path_with_gradients(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fused-kernel path (GPUs) and the CPU path, which projects chunk by chunk, compute the same values and
    the same gradients, for the input and for both projections."""
    import irtool.models.hi_ir as hi_ir

    monkeypatch.setattr(hi_ir, "_CPU_ATTENTION_MAX_WINDOWS", 5)
    torch.manual_seed(0)
    project_in, project_out = torch.nn.Linear(24, 2 * 32), torch.nn.Linear(32, 24)  # qk 16 + v 32, 2 heads
    tokens = torch.randn(12, 16, 24, requires_grad=True)  # 12 windows of 16 tokens
    upstream = torch.randn(12, 16, 24)
    parameters = [tokens, *project_in.parameters(), *project_out.parameters()]
    fused = project_out(hi_ir._attend_fused(project_in(tokens), 2, 16))
    chunked = hi_ir._attend_chunked(tokens, project_in, 2, 16, project_out)
    torch.testing.assert_close(chunked, fused, rtol=1e-5, atol=1e-6)
    for expected, actual in zip(torch.autograd.grad(fused, parameters, upstream),
                                torch.autograd.grad(chunked, parameters, upstream)):
        torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


def test_invalid_configurations_raise_invalid_argument_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="divisible"):
        HiIRColumnar(dim=20, num_heads=3)
    with pytest.raises(InvalidArgumentError, match="upscale"):
        HiIRColumnar(dim=16, num_heads=1, upscale=5)
    with pytest.raises(InvalidArgumentError, match="entries"):
        HiIRUNet(dim=16, depths=(1, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="channels|expected"):
        seeded_model("hi_ir_sr2_lite")(image(1, 8, 8))


def overfit(model: torch.nn.Module, lq: torch.Tensor, gt: torch.Tensor, steps: int = 30) -> tuple[float, float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    model.train()
    for _ in range(steps):
        loss = F.l1_loss(model(lq), gt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses[0], losses[-1]


def smooth_image(channels: int, side: int) -> torch.Tensor:
    coarse = torch.rand(1, channels, side // 8, side // 8, generator=torch.Generator().manual_seed(1))
    return F.interpolate(coarse, size=(side, side), mode="bicubic", align_corners=False).clamp(0, 1)


def test_tiny_unet_overfits_one_image() -> None:
    torch.manual_seed(0)
    model = HiIRUNet(dim=8, depths=(1, 1, 1, 1), decoder_depths=(1, 1, 1), num_heads=(1, 1, 1, 1),
                     window_sizes=(4, 4, 2, 2), region_windows=(2, 2, 2, 1))
    assert model.size_multiple == 16
    clean = smooth_image(3, 32)
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(2))
    first, last = overfit(model, noisy, clean)
    assert last < 0.6 * first


def test_tiny_columnar_overfits_one_image() -> None:
    torch.manual_seed(0)
    model = HiIRColumnar(upscale=2, dim=16, num_stages=1, stage_depth=2, num_heads=1, window_size=4,
                         region_windows=2, upsampler="pixelshuffle", upsampler_features=16)
    hr = smooth_image(3, 32)
    lr = F.interpolate(hr, scale_factor=0.5, mode="bilinear", antialias=True, align_corners=False)
    first, last = overfit(model, lr, hr)
    assert last < 0.6 * first
