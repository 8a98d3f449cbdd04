"""Tests for irtool.degrade: MATLAB imresize (hand-derived kernel values + BasicSR agreement) and every
synthetic degradation (range, dtype, shape, determinism, input untouched, severity ordering)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from irtool.degrade import (
    DEGRADATION_KINDS,
    TASK_DEGRADATIONS,
    DegradationInfo,
    add_gaussian_noise,
    degrade,
    degrade_for_task,
    downscale,
    gaussian_blur,
    imresize,
    jpeg_compress,
    modcrop,
    motion_blur,
    motion_blur_kernel,
    quantize_uint8,
    to_uint8,
)
from irtool.errors import InvalidArgumentError, UsageError
from irtool.metrics import psnr

DATA = Path(__file__).parent / "data"


def _clean_image(height: int = 48, width: int = 64, *, seed: int = 0) -> np.ndarray:
    """A smooth RGB test image with some texture (gradients plus a low-frequency pattern)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack(
        [
            0.5 + 0.4 * np.sin(xx / 7.0) * np.cos(yy / 5.0),
            0.2 + 0.6 * xx / width,
            0.8 - 0.6 * yy / height,
        ],
        axis=-1,
    )
    base += 0.03 * rng.standard_normal(base.shape)
    return np.clip(base, 0.0, 1.0).astype(np.float32)


# --- imresize: values derived by hand from MATLAB's algorithm ----------------------------------------------------
#
# Keys' cubic (a = -0.5): h(0.25) = 0.8671875, h(0.75) = 0.2265625, h(1.25) = -0.0703125, h(1.75) = -0.0234375.
#
# x2 down, antialiased: kernel 0.5 * h(d / 2), width 8; output x (1-based) is centred at u = 2x - 0.5 and reads
# inputs 2x-4 .. 2x+3 at distances 3.5 .. -3.5, i.e. weights [-3, -9, 29, 111, 111, 29, -9, -3] / 256 (sum 1).
# Out-of-range inputs mirror with edge repetition: index 0 -> 1, -1 -> 2, -2 -> 3, n+1 -> n, ...
#
# x2 up: width 4, u = x/2 + 0.25; even x = 2m reads inputs m-1..m+2 with [-9, 111, 29, -3] / 128, odd
# x = 2m+1 reads m-1..m+2 with [-3, 29, 111, -9] / 128.

DOWN2_IMPULSE = np.array([-9, 111, 29, -3]) / 256  # impulse at input 4 of 8
DOWN2_RAMP = np.array([371, 893, 1411, 1933]) / 256  # input 1..8; interior would be 1.5, 3.5, 5.5, 7.5
UP2_IMPULSE = np.zeros(16)
UP2_IMPULSE[3:11] = np.array([-3, -9, 29, 111, 111, 29, -9, -3]) / 128  # impulse at input 4 of 8
# Ramp 1..8 up x2: interior outputs are exactly u = x/2 + 0.25 (cubic reproduces lines); the ends are bent by
# the mirror: x=1 -> [2,1,1,2].[-3,29,111,-9]/128, x=2 -> [1,1,2,3].[-9,111,29,-3]/128, x=3 similarly;
# the right end is the mirror image (9 - value).
UP2_RAMP = np.arange(1, 17) / 2 + 0.25
UP2_RAMP[:3] = np.array([116, 151, 221]) / 128
UP2_RAMP[-3:] = 9 - UP2_RAMP[:3][::-1]


@pytest.mark.parametrize("axis", [0, 1])
def test_imresize_down2_impulse_and_ramp_match_hand_computed_weights(axis: int) -> None:
    impulse = np.zeros(8)
    impulse[3] = 1.0
    ramp = np.arange(1, 9, dtype=np.float64)
    for signal, expected in ((impulse, DOWN2_IMPULSE), (ramp, DOWN2_RAMP)):
        img = np.tile(signal[:, None], (1, 6))  # constant along the other axis
        if axis == 1:
            img = img.T
        out = imresize(img.astype(np.float64), 0.5)
        assert out.shape == ((4, 3) if axis == 0 else (3, 4))
        profile = out[:, 0] if axis == 0 else out[0, :]
        np.testing.assert_allclose(profile, expected, atol=1e-12)
        # Constant along the other axis stays constant (weights sum to one).
        constant_profile = profile[:, None] if axis == 0 else profile[None, :]
        np.testing.assert_allclose(out, np.broadcast_to(constant_profile, out.shape), atol=1e-12)


@pytest.mark.parametrize("axis", [0, 1])
def test_imresize_up2_impulse_and_ramp_match_hand_computed_weights(axis: int) -> None:
    impulse = np.zeros(8)
    impulse[3] = 1.0
    ramp = np.arange(1, 9, dtype=np.float64)
    for signal, expected in ((impulse, UP2_IMPULSE), (ramp, UP2_RAMP)):
        img = np.tile(signal[:, None], (1, 5))
        if axis == 1:
            img = img.T
        out = imresize(img, 2)
        profile = out[:, 0] if axis == 0 else out[0, :]
        np.testing.assert_allclose(profile, expected, atol=1e-12)


def test_imresize_scale_one_is_identity_and_output_shape_uses_per_axis_scales() -> None:
    img = np.random.default_rng(3).random((7, 9, 2))
    np.testing.assert_allclose(imresize(img, 1.0), img, atol=1e-12)
    out = imresize(img, output_shape=(14, 3))
    assert out.shape == (14, 3, 2)
    # Height x2 and width x1/3 are independent: equal to resizing one axis at a time.
    one_axis = imresize(imresize(img, output_shape=(14, 9)), output_shape=(14, 3))
    np.testing.assert_allclose(out, one_axis, atol=1e-12)


@pytest.mark.parametrize("name", ["color", "gray"])
@pytest.mark.parametrize(
    "tag,scale", [("d2", 1 / 2), ("d3", 1 / 3), ("d4", 1 / 4), ("u2", 2.0), ("u3", 3.0), ("u4", 4.0)]
)
def test_imresize_matches_basicsr(name: str, tag: str, scale: float) -> None:
    # Fixture made by tests/data/degrade_make_imresize_fixture.py (BasicSR's float32 imresize).
    fixture = np.load(DATA / "degrade_imresize_basicsr.npz")
    out = imresize(fixture[f"input_{name}"], scale)
    expected = fixture[f"{name}_{tag}"]
    assert out.dtype == np.float32
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=2e-6)


def test_imresize_uint8_rounds_like_matlab_and_keeps_input() -> None:
    img8 = (np.random.default_rng(5).random((12, 10, 3)) * 255).astype(np.uint8)
    before = img8.copy()
    out = imresize(img8, 0.5)
    assert out.dtype == np.uint8
    expected = np.clip(np.rint(imresize(img8.astype(np.float64), 0.5)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(img8, before)


def test_imresize_rejects_bad_arguments() -> None:
    img = np.zeros((4, 4), np.float32)
    with pytest.raises(UsageError):
        imresize(img)
    with pytest.raises(UsageError):
        imresize(img, 0.5, output_shape=(2, 2))
    with pytest.raises(UsageError):
        imresize(img, -1.0)
    with pytest.raises(UsageError):
        imresize(np.zeros((4, 4), np.int32), 0.5)


def test_uint8_round_trip_and_modcrop() -> None:
    img = np.array([[0.0, 0.49 / 255, 0.51 / 255, 1.2, -0.3, 0.2]], dtype=np.float32)
    np.testing.assert_array_equal(to_uint8(img), [[0, 0, 1, 255, 0, 51]])
    q = quantize_uint8(img)
    assert q.dtype == np.float32
    np.testing.assert_allclose(q * 255, np.round(q * 255), atol=1e-4)
    assert modcrop(np.zeros((13, 10, 3)), 4).shape == (12, 8, 3)


# --- degradations ------------------------------------------------------------------------------------------------


def _kwargs(kind: str) -> dict[str, int]:
    return {"scale": 2} if kind == "low-resolution" else {}


@pytest.mark.parametrize("kind", DEGRADATION_KINDS)
def test_degrade_contract_range_dtype_shape_determinism_and_input_untouched(kind: str) -> None:
    img = _clean_image()
    before = img.copy()
    out, info = degrade(img, kind, rng=np.random.default_rng(7), **_kwargs(kind))
    again, info_again = degrade(img, kind, rng=np.random.default_rng(7), **_kwargs(kind))
    other, _ = degrade(img, kind, rng=np.random.default_rng(8), **_kwargs(kind))
    np.testing.assert_array_equal(img, before)
    assert out.dtype == np.float32
    expected_shape = (24, 32, 3) if kind == "low-resolution" else img.shape
    assert out.shape == expected_shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(out, again)
    assert info == info_again
    assert isinstance(info, DegradationInfo) and info.kind == kind and 0.0 <= info.severity <= 1.0
    assert info.to_dict()["params"] == dict(info.params)
    if kind not in ("jpeg", "low-resolution"):  # those two are deterministic given the severity only
        assert not np.array_equal(out, other)
    assert psnr(out, img) < 60 if kind != "low-resolution" else True


@pytest.mark.parametrize("kind", ["noise", "jpeg", "blur", "rain", "haze", "low-light"])
def test_higher_severity_degrades_more(kind: str) -> None:
    img = _clean_image(64, 64)
    scores = [psnr(degrade(img, kind, severity=s, rng=np.random.default_rng(11))[0], img) for s in (0.0, 0.5, 1.0)]
    assert scores[0] > scores[1] > scores[2], scores


def test_gray_images_are_supported_and_stay_gray() -> None:
    gray = _clean_image()[:, :, 1]
    for kind in DEGRADATION_KINDS:
        out, _ = degrade(gray, kind, severity=0.5, rng=np.random.default_rng(1), **_kwargs(kind))
        assert out.ndim == 2


def test_noise_std_matches_sigma_on_the_255_scale() -> None:
    img = np.full((200, 200, 3), 0.5, np.float32)
    noisy = add_gaussian_noise(img, sigma=25.0, rng=np.random.default_rng(0), clip=False)
    assert abs(float(np.std(noisy - img)) * 255 - 25.0) < 0.3
    assert abs(float(np.mean(noisy - img)) * 255) < 0.3
    sampled = add_gaussian_noise(img, sigma=(10.0, 10.0), rng=np.random.default_rng(0), clip=False)
    assert abs(float(np.std(sampled - img)) * 255 - 10.0) < 0.15
    clipped = add_gaussian_noise(np.zeros((8, 8), np.float32), sigma=50.0, rng=np.random.default_rng(0))
    assert clipped.min() >= 0.0


def test_noise_info_records_the_sigma_used() -> None:
    _, info = degrade(_clean_image(), "noise", severity=0.5, rng=np.random.default_rng(0))
    assert info.params["sigma"] == pytest.approx(27.5)
    _, info = degrade(_clean_image(), "jpeg", severity=1.0, rng=np.random.default_rng(0))
    assert info.params["quality"] == 10


def test_jpeg_equals_pillow_encode_decode_with_420_subsampling() -> None:
    img = _clean_image()
    out = jpeg_compress(img, quality=20)
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(img), mode="RGB").save(buffer, format="JPEG", quality=20, subsampling=2)
    reference = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"), np.float32) / 255
    np.testing.assert_array_equal(out, reference)
    with Image.open(io.BytesIO(buffer.getvalue())) as probe:
        assert probe.layer[0][1:3] == (2, 2)  # luma sampled 2x2 relative to chroma: 4:2:0
    gray = jpeg_compress(img[:, :, 0], quality=20)
    assert gray.shape == img.shape[:2]


def test_jpeg_produces_8x8_block_artefacts() -> None:
    # A smooth ramp has equal steps everywhere; at low quality the steps across 8-pixel block edges dominate.
    ramp = np.tile(np.linspace(0.1, 0.9, 64, dtype=np.float32), (64, 1))
    out = jpeg_compress(np.stack([ramp, ramp[::-1, ::-1].T, ramp.T], axis=-1), quality=10)
    steps = np.abs(np.diff(out[:, :, 0].astype(np.float64), axis=1))  # step between column j and j+1
    across_blocks = steps[:, 7::8].mean()
    inside_blocks = np.delete(steps, np.s_[7::8], axis=1).mean()
    assert across_blocks > 2 * inside_blocks


def test_gaussian_blur_preserves_constants_and_mean_and_smooths() -> None:
    flat = np.full((20, 20, 3), 0.3, np.float32)
    np.testing.assert_allclose(gaussian_blur(flat, sigma=2.0), flat, atol=1e-6)
    img = _clean_image()
    blurred = gaussian_blur(img, sigma=2.0)
    assert abs(float(blurred.mean()) - float(img.mean())) < 5e-3
    assert np.abs(np.diff(blurred, axis=1)).mean() < np.abs(np.diff(img, axis=1)).mean()


def test_motion_blur_kernel_is_a_normalised_line_along_the_angle() -> None:
    horizontal = motion_blur_kernel(length=9, angle_deg=0.0)
    assert horizontal.shape == (9, 9)
    assert horizontal.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(horizontal[4], np.full(9, 1 / 9), atol=1e-12)  # all mass on the centre row
    vertical = motion_blur_kernel(length=9, angle_deg=90.0)
    np.testing.assert_allclose(vertical, horizontal.T, atol=1e-12)
    # Horizontal motion blur leaves a vertical-only image (constant along rows) unchanged.
    stripes = np.tile(np.linspace(0, 1, 16, dtype=np.float32)[:, None], (1, 16))
    np.testing.assert_allclose(motion_blur(stripes, length=9, angle_deg=0.0), stripes, atol=1e-6)


def test_downscale_is_imresize_then_uint8_and_requires_modcropped_input() -> None:
    img = _clean_image(48, 48)
    lr = downscale(img, scale=3)
    assert lr.shape == (16, 16, 3)
    np.testing.assert_array_equal(lr, quantize_uint8(imresize(img, 1 / 3)))
    with pytest.raises(UsageError):
        downscale(_clean_image(50, 48), scale=3)


def test_task_mapping_and_degrade_for_task() -> None:
    assert set(TASK_DEGRADATIONS.values()) <= set(DEGRADATION_KINDS)
    img = _clean_image(48, 48)
    for task, scale in (("sr2", 2), ("sr3", 3), ("sr4", 4)):
        lr, info = degrade_for_task(img, task, rng=np.random.default_rng(0))
        assert lr.shape == (48 // scale, 48 // scale, 3) and info.params["scale"] == scale
    _, info = degrade_for_task(img, "dehaze", rng=np.random.default_rng(0), severity=0.25)
    assert info.kind == "haze" and info.severity == 0.25
    with pytest.raises(InvalidArgumentError, match="unknown task"):
        degrade_for_task(img, "colorize", rng=np.random.default_rng(0))


def test_degrade_rejects_bad_arguments() -> None:
    img = _clean_image()
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidArgumentError, match="unknown degradation"):
        degrade(img, "snow", rng=rng)
    with pytest.raises(UsageError):
        degrade(img, "noise", severity=1.5, rng=rng)
    with pytest.raises(UsageError):
        degrade(img, "noise", rng=rng, scale=2)
    with pytest.raises(UsageError):
        degrade((img * 255).astype(np.uint8), "noise", rng=rng)


def test_degrade_and_metrics_do_not_import_torch() -> None:
    code = "import sys, irtool.degrade, irtool.metrics; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_restoration_task_has_a_degradation():
    from irtool.degradations import SINGLE_TASKS
    from irtool.degrade import TASK_DEGRADATIONS

    assert set(TASK_DEGRADATIONS) == set(SINGLE_TASKS)


def test_haze_on_a_window_matches_the_same_rows_of_the_whole_photo_hazed():
    # A training patch is a window of a photo: it must get the photo's depth there, not far-to-near in 64 rows.
    from irtool.degrade import add_haze

    gray = np.full((1024, 64, 3), 0.2, np.float32)
    whole = add_haze(gray, beta=3.0, airlight=1.0, rng=np.random.default_rng(0))
    window = add_haze(gray[256:320], beta=3.0, airlight=1.0, rng=np.random.default_rng(0), window=(256, 0, 1024, 64))
    alone = add_haze(gray[256:320], beta=3.0, airlight=1.0, rng=np.random.default_rng(0))
    np.testing.assert_allclose(window, whole[256:320], atol=1e-6)

    def spread(img: np.ndarray) -> float:
        return float(np.ptp(img.mean(axis=(1, 2))))

    assert spread(window) < 0.25 * spread(alone)
    with pytest.raises(UsageError, match="window"):
        add_haze(gray[:64], beta=1.0, rng=np.random.default_rng(0), window=(1000, 0, 1024, 64))


def test_the_enlargement_test_names_the_factor_of_a_bicubic_enlargement_and_not_a_blur():
    import torch
    from skimage import data, filters

    from irtool.degrade.enlargement import ENLARGEMENT_SCALES, enlargement_residuals

    photo = data.astronaut().astype(np.float32) / 255  # ships with scikit-image: no download

    def residuals(img):
        return enlargement_residuals(torch.from_numpy(np.ascontiguousarray(quantize_uint8(img).transpose(2, 0, 1))))

    assert residuals(photo).min() > 2.0  # a sharp photo keeps detail no enlargement has
    enlarged = {}
    for i, s in enumerate(ENLARGEMENT_SCALES):
        side = photo.shape[0] // s * s
        crop = photo[:side, :side]
        enlarged[s] = found = residuals(imresize(imresize(crop, 1 / s), output_shape=crop.shape[:2]))
        assert int(found.argmin()) == i and found[i] < 0.5, (s, found)  # its own factor: rounding noise only
    for sigma in (1.0, 2.0):
        found = residuals(filters.gaussian(photo, sigma=sigma, channel_axis=-1))
        assert found[0] < found[1] < found[2], (sigma, found)  # a blur leaves less at every larger factor
        # ... gradually: an x2 enlargement jumps from rounding noise at 2 to sharp-photo levels at 3.
        assert enlarged[2][1] - enlarged[2][0] > found[1] - found[0] + 1.0, (sigma, found)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_an_enlargement_gives_back_its_small_image_almost_exactly(scale):
    # What --auto needs for a "low-resolution" photo: the original small image, not a blurred bicubic downscale.
    from irtool.degrade import imresize, quantize_uint8
    from irtool.degrade.enlargement import recover_small

    rng = np.random.default_rng(scale)
    yy, xx = np.mgrid[0:24, 0:36]
    small = np.clip(0.5 + 0.3 * np.sin(xx / 2.0 + yy / 3.0)[:, :, None] + 0.1 * rng.random((24, 36, 3)), 0, 1)
    small = quantize_uint8(small.astype(np.float32))
    enlarged = quantize_uint8(imresize(small, float(scale)))
    before = enlarged.copy()
    recovered = recover_small(enlarged, scale)
    assert recovered.shape == small.shape and np.array_equal(enlarged, before)
    exact_error = float(np.abs(recovered - small).mean())
    bicubic_error = float(np.abs(imresize(enlarged, 1.0 / scale) - small).mean())
    assert exact_error < 0.5 / 255 and exact_error < bicubic_error / 4
    with pytest.raises(ValueError, match="multiples"):
        recover_small(enlarged[:-1], scale)


def _textured(h: int, w: int, seed: int) -> np.ndarray:
    """A uint8 image with detail at every scale (what an enlargement test needs to see)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 0.5 + 0.25 * np.sin(xx / 2.3 + yy / 3.1)[:, :, None] + 0.2 * (rng.random((h, w, 3)) - 0.5)
    return np.clip(base * 255, 0, 255).round().astype(np.uint8)


@pytest.mark.parametrize("resample, kernel", [("BILINEAR", "bilinear"), ("BICUBIC", "bicubic"),
                                              ("LANCZOS", "lanczos3")])
@pytest.mark.parametrize("small_size", [(96, 128), (70, 93)])  # x2.5, and x~3.44 by 3.43 (not integers)
def test_enlargements_by_pillow_kernels_and_any_factor_are_found_and_undone(resample, kernel, small_size):
    from PIL import Image

    from irtool.degrade.enlargement import find_enlargement, recover_enlarged

    small = _textured(*small_size, seed=1)
    big = np.asarray(Image.fromarray(small).resize((320, 240), getattr(Image.Resampling, resample)))
    found = find_enlargement(big.astype(np.float32) / 255)
    assert found is not None and found[:2] == small_size
    back = np.clip(recover_enlarged(big.astype(np.float32) / 255, *found), 0, 1) * 255
    # Interior pixels (the libraries pad edges differently) come back to within a level.
    assert float(np.abs(back - small)[6:-6, 6:-6].mean()) < 1.0


@pytest.mark.parametrize("resample", ["BICUBIC", "BILINEAR", "LANCZOS"])
def test_a_smooth_enlargement_with_detail_between_the_evenly_spread_lines_is_found(resample):
    """A plain wall or sky with one small detailed patch: every size fits the evenly spread lines, which miss the
    patch, so the true size stands out only on the most detailed lines."""
    from PIL import Image

    from irtool.degrade.enlargement import ENLARGEMENT_KERNELS, _axis_lines, _find_axis, find_enlargement

    yy, xx = np.mgrid[0:150, 0:200]
    small = np.repeat((0.3 + 0.4 * xx / 200 + 0.2 * yy / 150)[:, :, None], 3, axis=2)
    small[14:19, 18:25] += np.random.default_rng(0).normal(0.0, 0.2, (5, 7, 3))
    small8 = (np.clip(small, 0, 1) * 255).round().astype(np.uint8)
    big = np.asarray(Image.fromarray(small8).resize((400, 300), getattr(Image.Resampling, resample)))
    big = big.astype(np.float32) / 255
    spread, _ = _axis_lines(big.mean(axis=2).astype(np.float64))
    assert _find_axis(spread, tuple(ENLARGEMENT_KERNELS)) is None  # the patch lies between the spread columns
    found = find_enlargement(big)
    assert found is not None and found[:2] == (150, 200)


def test_photos_and_softened_photos_are_not_enlargements():
    from scipy.ndimage import gaussian_filter

    from irtool.degrade.enlargement import find_enlargement

    photo = _textured(240, 320, seed=2)
    assert find_enlargement(photo.astype(np.float32) / 255) is None
    # Saved as 8 bits, as a file is. (A blur of sigma 1 px or more leaves no detail above the cut-off of an
    # enlargement by 1.5, and then it is one as far as its pixels can tell; undoing it loses nothing either.)
    soft = np.round(gaussian_filter(photo.astype(np.float32), sigma=(0.8, 0.8, 0))) / 255
    assert find_enlargement(soft) is None


def test_the_enlargement_dip_is_the_evidence_the_search_needs():
    """``enlargement_dip`` says how far the best exact fit stands out: the search finds the enlargement at any
    ``min_dip`` up to it and nothing above it; an image no size fits exactly has none."""
    from PIL import Image

    from irtool.degrade.enlargement import MIN_DIP, enlargement_dip, find_enlargement

    small = _textured(100, 130, seed=4)
    big = np.asarray(Image.fromarray(small).resize((300, 240), Image.Resampling.LANCZOS)).astype(np.float32) / 255
    dip = enlargement_dip(big)
    assert dip >= MIN_DIP
    assert find_enlargement(big, min_dip=dip - 0.01) == find_enlargement(big) == (100, 130, "lanczos3")
    assert find_enlargement(big, min_dip=dip + 0.01) is None
    assert np.isnan(enlargement_dip(_textured(240, 320, seed=2).astype(np.float32) / 255))


def test_lines_clipped_at_white_can_be_left_out_of_the_enlargement_search():
    """A photo with blown highlights enlarged by Lanczos: the overshoot past white is clipped on every column that
    crosses the bright band, so fitting those columns leaves more than rounding; the columns clear of it fit."""
    from PIL import Image

    from irtool.degrade.enlargement import _axis_lines, _clipped, _test_rows

    small = _textured(100, 130, seed=5)
    small[12:28, :65] = 255  # a blown band across half the columns, inside the first block of test rows
    big = np.asarray(Image.fromarray(small).resize((390, 300), Image.Resampling.LANCZOS)).astype(np.float32) / 255
    clipped = _clipped(big)
    rows = _test_rows(big.shape[0])
    assert clipped[rows].any(axis=0).sum() > big.shape[1] // 3
    spread, _ = _axis_lines(big.mean(axis=2).astype(np.float64), clipped)
    kept = big.mean(axis=2)[:, ~clipped[rows].any(axis=0)]
    assert all(any(np.array_equal(line, column) for column in kept.T) for line in spread.T)


# ------------------------------------------------------------------ JPEG quantisation read from pixels


def _sample_photo() -> np.ndarray:
    root = Path(__file__).resolve().parents[1] / "irtool" / "assets" / "samples"
    with Image.open(root / "clean_picture1a.png") as photo:
        return np.asarray(photo.convert("RGB"))


def _jpeg(rgb: np.ndarray, quality: int, subsampling: int = 2) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality, subsampling=subsampling)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"))


@pytest.mark.parametrize(("quality", "subsampling", "shift"), [(30, 2, (0, 0)), (60, 0, (3, 5)), (80, 2, (0, 0)),
                                                              (90, 2, (5, 2))])
def test_find_jpeg_grid_reads_the_quality_a_photo_was_saved_at_wherever_the_grid_starts(quality, subsampling, shift):
    """A photo saved by Pillow at an IJG quality, then cropped off its 8 x 8 grid by ``shift``: the grid is found at
    the shifted phase, and the quality read is never finer than the truth (copying a visible JPEG is the error to
    avoid; it reads up to 2 above where neighbouring qualities share every step read, and a coarse step's broad peak
    may read a little coarser), on the side of FINEST_RESTORED_JPEG_QUALITY the truth is on."""
    from irtool.degrade.jpeg_grid import find_jpeg_grid
    from irtool.restore import FINEST_RESTORED_JPEG_QUALITY as finest

    row, col = shift
    decoded = _jpeg(_sample_photo(), quality, subsampling)[row:, col:]
    grid = find_jpeg_grid(decoded.astype(np.float32) / 255)
    assert grid is not None
    assert grid.offset == ((8 - row) % 8, (8 - col) % 8)
    assert grid.quality <= quality + 2
    assert (grid.quality > finest) == (quality > finest)
    assert grid.quality >= quality - 5


def test_find_jpeg_grid_finds_none_in_a_photo_never_compressed_or_too_small():
    from irtool.degrade.jpeg_grid import find_jpeg_grid, ijg_step

    photo = _sample_photo()
    assert find_jpeg_grid(photo.astype(np.float32) / 255) is None
    assert find_jpeg_grid(_jpeg(photo, 30)[:60, :60].astype(np.float32) / 255) is None  # fewer than 64 blocks
    # libjpeg's scaling of the quality-50 table (its DC step 16): quality 60 -> 13, 90 -> 3, 10 -> 80.
    assert [ijg_step(16, q) for q in (50, 60, 90, 10)] == [16, 13, 3, 80]



def test_the_search_for_large_factors_returns_none_below_its_factor():
    """``min_factor`` (the search ``scripts/pixel_tests.py --test dip-routes`` runs): a smooth x3 enlargement is
    found with it up to its own dip and not above; what it finds is never by a smaller factor."""
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    from irtool.degrade.enlargement import enlargement_dip, find_enlargement

    smooth = gaussian_filter(_textured(52, 84, seed=0).astype(np.float64), (1.5, 1.5, 0))
    small = np.clip(smooth, 0, 255).round().astype(np.uint8)
    x3 = np.asarray(Image.fromarray(small).resize((252, 156), Image.Resampling.LANCZOS)).astype(np.float32) / 255
    dip = enlargement_dip(x3)
    assert find_enlargement(x3, min_dip=dip - 0.01, min_factor=2.75) == (52, 84, "lanczos3")
    assert find_enlargement(x3, min_dip=dip + 0.01, min_factor=2.75) is None
    x2 = np.asarray(Image.fromarray(small).resize((168, 104), Image.Resampling.LANCZOS)).astype(np.float32) / 255
    assert find_enlargement(x2) == (52, 84, "lanczos3")
    # With no dip asked for, smooth content fits some larger factor too (why such a search needs a dip of its own),
    # but never one below the factor asked for.
    ghost = find_enlargement(x2, min_dip=0.0, min_factor=2.75)
    assert ghost is not None and min(104 / ghost[0], 168 / ghost[1]) >= 2.75


def test_a_large_enlargement_that_stands_out_a_little_is_found_by_the_second_search():
    """A smooth x3 enlargement of a small image stands out from its neighbouring sizes by less than ``MIN_DIP`` but
    by ``LARGE_FACTOR_MIN_DIP`` or more: ``--auto``'s second search takes it (docs/auto-history.md "The same search
    under a rule priced by gain")."""
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    from irtool.degrade.enlargement import (
        LARGE_FACTOR_MIN_DIP,
        MIN_DIP,
        enlargement_dip,
        find_enlargement,
        find_large_enlargement,
    )

    smooth = gaussian_filter(_textured(52, 84, seed=2).astype(np.float64), (1.5, 1.5, 0))
    small = np.clip(smooth, 0, 255).round().astype(np.uint8)
    x3 = np.asarray(Image.fromarray(small).resize((252, 156), Image.Resampling.LANCZOS)).astype(np.float32) / 255
    assert LARGE_FACTOR_MIN_DIP <= enlargement_dip(x3) < MIN_DIP
    assert find_enlargement(x3) is None
    assert find_large_enlargement(x3) == (52, 84, "lanczos3")
    x2 = np.asarray(Image.fromarray(small).resize((168, 104), Image.Resampling.LANCZOS)).astype(np.float32) / 255
    assert find_enlargement(x2) == (52, 84, "lanczos3")  # the first search finds an x2 enlargement ...
    assert find_large_enlargement(x2) is None  # ... which the second never takes for a x3 one
