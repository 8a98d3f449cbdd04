"""Tests for irtool.metrics: values computed by hand on tiny arrays, and agreement with BasicSR's
calculate_psnr / calculate_ssim (fixture made by tests/data/metrics_make_basicsr_fixture.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from irtool.errors import UsageError
from irtool.metrics import mae, psnr, rgb_to_y, ssim, to_255

DATA = Path(__file__).parent / "data"
FIXTURE_PAIRS = ["color_a", "color_b", "color_c", "gray2d", "gray3d"]


@pytest.mark.parametrize("name", FIXTURE_PAIRS)
def test_psnr_and_ssim_equal_basicsr(name: str) -> None:
    fixture = np.load(DATA / "metrics_basicsr.npz")
    ref, dist = fixture[f"{name}_ref"], fixture[f"{name}_dist"]
    for crop_border, y_channel, expected_psnr, expected_ssim in fixture[f"{name}_expected"]:
        options = {"crop_border": int(crop_border), "y_channel": bool(y_channel)}
        assert psnr(ref, dist, **options) == pytest.approx(expected_psnr, abs=1e-4), options
        assert ssim(ref, dist, **options) == pytest.approx(expected_ssim, abs=1e-5), options


def test_float_images_in_unit_range_score_like_their_uint8_version() -> None:
    fixture = np.load(DATA / "metrics_basicsr.npz")
    ref, dist = fixture["color_b_ref"], fixture["color_b_dist"]
    ref_f, dist_f = ref.astype(np.float32) / 255, dist.astype(np.float64) / 255
    for y_channel in (False, True):
        assert psnr(ref_f, dist_f, y_channel=y_channel) == pytest.approx(psnr(ref, dist, y_channel=y_channel), abs=1e-4)
        assert ssim(ref_f, dist, y_channel=y_channel) == pytest.approx(ssim(ref, dist, y_channel=y_channel), abs=1e-6)
    np.testing.assert_allclose(to_255(np.array([0.0, 1.0])), [0.0, 255.0])
    np.testing.assert_allclose(to_255(np.array([0, 65535], np.uint16)), [0.0, 255.0])


def test_psnr_of_a_constant_offset_is_computed_by_hand() -> None:
    a = np.full((6, 5, 3), 100, np.uint8)
    b = np.full((6, 5, 3), 110, np.uint8)
    # MSE = 10^2 = 100 -> 10 log10(255^2 / 100) = 28.1308036... dB
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 100), abs=1e-12)
    assert psnr(a, b) == pytest.approx(28.13080360867909, abs=1e-9)
    assert mae(a, b) == pytest.approx(10 / 255, abs=1e-15)


def test_identical_images_give_infinite_psnr_ssim_one_and_zero_mae() -> None:
    img = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    assert psnr(img, img) == math.inf
    assert psnr(img, img, y_channel=True, crop_border=2) == math.inf
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-12)
    assert mae(img, img) == 0.0


def test_y_channel_uses_matlab_bt601_studio_range() -> None:
    red = np.zeros((1, 1, 3), np.uint8)
    red[..., 0] = 255
    white = np.full((1, 1, 3), 255, np.uint8)
    black = np.zeros((1, 1, 3), np.uint8)
    # Y = 16 + 65.481 R + 128.553 G + 24.966 B, RGB in [0, 1]
    assert rgb_to_y(red)[0, 0] == 81  # 81.481 rounded
    assert rgb_to_y(white)[0, 0] == 235 and rgb_to_y(black)[0, 0] == 16
    assert rgb_to_y(red.astype(np.float32) / 255)[0, 0] == pytest.approx(81.481 / 255, abs=1e-6)
    assert rgb_to_y(red.astype(np.float64) / 255).dtype == np.float64
    # Y PSNR of pure red vs black: the only difference is 65.481 on the Y axis.
    red_img, black_img = np.broadcast_to(red, (4, 4, 3)), np.broadcast_to(black, (4, 4, 3))
    assert psnr(red_img, black_img, y_channel=True) == pytest.approx(20 * math.log10(255 / 65.481), abs=1e-9)
    # RGB PSNR of the same pair: one channel of three differs by 255.
    assert psnr(red_img, black_img) == pytest.approx(10 * math.log10(3), abs=1e-9)
    with pytest.raises(UsageError):
        rgb_to_y(np.zeros((4, 4), np.uint8))


def test_ssim_of_constant_images_is_the_luminance_term() -> None:
    # With no variance, SSIM reduces to (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1), C1 = (0.01 * 255)^2.
    a = np.full((12, 13), 100, np.uint8)
    b = np.full((12, 13), 110, np.uint8)
    c1 = (0.01 * 255) ** 2
    assert ssim(a, b) == pytest.approx((2 * 100 * 110 + c1) / (100**2 + 110**2 + c1), abs=1e-12)


def test_ssim_averages_channels_and_crop_border_removes_edges() -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (20, 20, 3)).astype(np.uint8)
    b = a.copy()
    b[..., 0] = rng.integers(0, 256, (20, 20))
    assert ssim(a, b) == pytest.approx((ssim(a[..., 0], b[..., 0]) + 2.0) / 3.0, abs=1e-12)
    # A difference confined to a 3-pixel frame disappears with crop_border=3.
    c = a.copy()
    c[:3] = 0
    c[:, -3:] = 0
    assert psnr(a, c) < 30 and psnr(a, c, crop_border=3) == math.inf
    assert ssim(a, c, crop_border=3) == pytest.approx(1.0, abs=1e-12)


def test_metrics_leave_inputs_untouched() -> None:
    a = np.random.default_rng(1).random((16, 16, 3)).astype(np.float32)
    b = np.clip(a + 0.1, 0, 1)
    a0, b0 = a.copy(), b.copy()
    psnr(a, b, y_channel=True, crop_border=1)
    ssim(a, b, y_channel=True)
    rgb_to_y(a)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


def test_metrics_reject_mismatched_or_too_small_inputs() -> None:
    a = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(UsageError):
        psnr(a, np.zeros((16, 15, 3), np.uint8))
    with pytest.raises(UsageError):
        ssim(a, a, crop_border=3)  # 10x10 left: smaller than the 11x11 window
    with pytest.raises(UsageError):
        psnr(a, a, crop_border=8)
    with pytest.raises(UsageError):
        psnr(a.astype(np.int32), a.astype(np.int32))


def test_aligned_psnr_finds_the_displacement_a_decentred_blur_causes() -> None:
    """A blurred copy displaced by (3, -2) px scores at that shift exactly as the plain PSNR of the realigned crop,
    and higher than unaligned; an exact displaced copy is a perfect match."""
    from irtool.metrics import aligned_psnr

    rng = np.random.default_rng(0)
    reference = rng.random((64, 80, 3)).astype(np.float32)
    moved = np.roll(reference, (3, -2), axis=(0, 1))
    assert aligned_psnr(moved, reference) == (math.inf, (3, -2))
    noisy = np.clip(moved + rng.normal(0, 0.05, moved.shape), 0, 1).astype(np.float32)
    value, shift = aligned_psnr(noisy, reference, max_shift=8)
    assert shift == (3, -2)
    assert value == pytest.approx(psnr(noisy[11:59, 6:70], reference[8:56, 8:72]), abs=1e-9)
    assert value > psnr(noisy, reference) + 10
    with pytest.raises(UsageError, match="leaves nothing"):
        aligned_psnr(reference[:10, :10], reference[:10, :10], max_shift=5)
