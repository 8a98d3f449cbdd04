"""PSNR, SSIM and MAE with the restoration field's conventions, numerically equal to BasicSR's
``calculate_psnr`` / ``calculate_ssim`` (``basicsr/metrics/psnr_ssim.py``), numpy only.

Conventions (the ones SR/denoising papers report, incl. HAIR/Hi-IR tables computed with BasicSR-style code):

* values are compared as float64 on the 0-255 scale;
* ``crop_border`` pixels are removed from every edge first (SR papers use ``crop_border = scale``);
* ``y_channel=True`` compares the Y of MATLAB's ``rgb2ycbcr`` (BT.601, studio range 16-235):
  ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` for R, G, B in [0, 1]; one-channel images are left as they are;
* SSIM is Wang et al.'s (IEEE TIP 2004) with an 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255,
  evaluated only where the window fits ('valid'), per channel, then averaged over channels.

How inputs are read (``dtype`` decides, never the values, so a dark float image is not mistaken for 0-255):
uint8 -> 0..255 as is; uint16 -> divided by 257 (65535 -> 255); float -> assumed in [0, 1] and multiplied by
255, *not* clipped or rounded (callers wanting the "save as PNG then score" protocol quantize first with
``irtool.degrade.to_uint8``). The two images may have different dtypes (e.g. uint8 ground truth vs a float
model output).
"""

from __future__ import annotations

import math

import numpy as np

from irtool.errors import UsageError

__all__ = ["aligned_psnr", "mae", "psnr", "rgb_to_y", "ssim", "to_255"]

# MATLAB rgb2ycbcr, Y row, for R, G, B in [0, 1] -> Y in [16, 235].
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64)
_Y_OFFSET = 16.0

_SSIM_K1, _SSIM_K2, _SSIM_PEAK = 0.01, 0.03, 255.0
_SSIM_WINDOW, _SSIM_SIGMA = 11, 1.5


def to_255(img: np.ndarray) -> np.ndarray:
    """An image as float64 on the 0-255 scale, by the dtype rule in the module docstring (always a copy)."""
    if img.dtype == np.uint8:
        return img.astype(np.float64)
    if img.dtype == np.uint16:
        return img.astype(np.float64) / 257.0
    if np.issubdtype(img.dtype, np.floating):
        return img.astype(np.float64) * 255.0
    raise UsageError(f"metrics accept uint8, uint16 or float images, got dtype {img.dtype}")


def _y_from_255(img255: np.ndarray) -> np.ndarray:
    """HWx3 RGB on 0-255 -> HW Y on 0-255 (16..235)."""
    return img255 @ (_Y_WEIGHTS / 255.0) + _Y_OFFSET


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """Y (luma) of an RGB HWx3 image by MATLAB's BT.601 ``rgb2ycbcr``, in the input's own range and type.

    uint8 in -> uint8 Y in 16..235 (rounded, as MATLAB); float in [0, 1] -> float Y in [16/255, 235/255]
    (float64 for float64 input, else float32).
    """
    if img.ndim != 3 or img.shape[2] != 3:
        raise UsageError(f"rgb_to_y expects an HWx3 RGB image, got shape {img.shape}")
    y255 = _y_from_255(to_255(img))
    if img.dtype == np.uint8:
        return np.clip(np.rint(y255), 0, 255).astype(np.uint8)
    if img.dtype == np.uint16:
        return np.clip(np.rint(y255 * 257.0), 0, 65535).astype(np.uint16)
    out_dtype = np.float64 if img.dtype == np.float64 else np.float32
    return (y255 / 255.0).astype(out_dtype)


def _prepare_pair(a: np.ndarray, b: np.ndarray, *, crop_border: int, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Both images as HWC float64 on 0-255, cropped, optionally reduced to Y (mirrors BasicSR's order)."""
    if a.shape != b.shape:
        raise UsageError(f"images must have the same shape, got {a.shape} and {b.shape}")
    if a.ndim not in (2, 3):
        raise UsageError(f"metrics expect HW or HWC images, got shape {a.shape}")
    if crop_border < 0:
        raise UsageError(f"crop_border must be >= 0, got {crop_border}")
    h, w = a.shape[:2]
    if 2 * crop_border >= min(h, w):
        raise UsageError(f"crop_border {crop_border} leaves nothing of a {h}x{w} image")
    pair = []
    for img in (a, b):
        x = to_255(img)
        if x.ndim == 2:
            x = x[:, :, None]
        if crop_border:
            x = x[crop_border:-crop_border, crop_border:-crop_border]
        if y_channel and x.shape[2] == 3:
            x = _y_from_255(x)[:, :, None]
        pair.append(x)
    return pair[0], pair[1]


def psnr(a: np.ndarray, b: np.ndarray, *, crop_border: int = 0, y_channel: bool = False) -> float:
    """Peak signal-to-noise ratio in dB, peak 255, over all pixels and channels; ``inf`` for identical images."""
    x, y = _prepare_pair(a, b, crop_border=crop_border, y_channel=y_channel)
    mse = float(np.mean((x - y) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(255.0 * 255.0 / mse)


def aligned_psnr(a: np.ndarray, reference: np.ndarray, *, max_shift: int = 8) -> tuple[float, tuple[int, int]]:
    """PSNR of ``a`` against ``reference`` at the integer shift (within ``max_shift`` px each way) that suits ``a``
    best, and that shift ``(dy, dx)``: ``a[y + dy, x + dx]`` is compared with ``reference[y, x]``, both without a
    ``max_shift`` border.

    Blur kernels need not be centred (a motion kernel whose path starts at the exposure's first instant moves the
    whole image), so a blurred photo can be the original displaced by a few pixels, which no restorer can know or
    undo; plain PSNR then punishes sharpening the right content at the displaced place. Deblurring benchmarks score
    at the best shift for this reason (Levin et al., CVPR 2009; Köhler et al., ECCV 2012). The sum of squared
    differences for every shift comes from one FFT cross-correlation per channel and a summed-area table.
    """
    x, ref = _prepare_pair(a, reference, crop_border=0, y_channel=False)
    h, w, _ = x.shape
    r = max_shift
    if r < 0 or 2 * r >= min(h, w):
        raise UsageError(f"max_shift {max_shift} leaves nothing of a {h}x{w} image")
    core = ref[r:h - r, r:w - r]
    ch, cw = core.shape[:2]
    cross = np.zeros((2 * r + 1, 2 * r + 1))
    for c in range(x.shape[2]):
        spectrum = np.fft.rfft2(x[:, :, c]) * np.conj(np.fft.rfft2(core[:, :, c], s=(h, w)))
        cross += np.fft.irfft2(spectrum, s=(h, w))[: 2 * r + 1, : 2 * r + 1]
    table = np.pad((x * x).sum(axis=2).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    window = table[ch:, cw:] - table[:-ch, cw:] - table[ch:, :-cw] + table[:-ch, :-cw]
    ssd = window[: 2 * r + 1, : 2 * r + 1] - 2.0 * cross + float((core * core).sum())
    dy, dx = np.unravel_index(int(np.argmin(ssd)), ssd.shape)
    shift = (int(dy) - r, int(dx) - r)
    # The minimum is recomputed directly: the FFT's rounding must not turn an exact match into a finite PSNR.
    mse = float(np.mean((x[r + shift[0]:r + shift[0] + ch, r + shift[1]:r + shift[1] + cw] - core) ** 2))
    return (math.inf if mse == 0.0 else 10.0 * math.log10(255.0 * 255.0 / mse)), shift


def _gaussian_window_1d() -> np.ndarray:
    # Same taps as OpenCV's getGaussianKernel(11, 1.5): exp(-(i - 5)^2 / (2 sigma^2)), normalised to sum 1.
    offsets = np.arange(_SSIM_WINDOW, dtype=np.float64) - (_SSIM_WINDOW - 1) / 2.0
    taps = np.exp(-(offsets**2) / (2.0 * _SSIM_SIGMA**2))
    return taps / taps.sum()


def _filter_valid(stack: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation over axes 1 and 2 of a (maps, H, W, C) stack.

    The 11x11 Gaussian is the outer product of two 1-D Gaussians, so two passes of 11 multiply-adds replace 121,
    all in numpy; 'valid' means no border handling is needed at all.
    """
    n = taps.size
    out_h = stack.shape[1] - n + 1
    rows = np.zeros((stack.shape[0], out_h) + stack.shape[2:], dtype=np.float64)
    for k, weight in enumerate(taps):
        rows += weight * stack[:, k : k + out_h]
    out_w = stack.shape[2] - n + 1
    out = np.zeros(rows.shape[:2] + (out_w,) + rows.shape[3:], dtype=np.float64)
    for k, weight in enumerate(taps):
        out += weight * rows[:, :, k : k + out_w]
    return out


def _ssim_per_channel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean SSIM of each channel of two HWC float64 images on 0-255."""
    c1 = (_SSIM_K1 * _SSIM_PEAK) ** 2
    c2 = (_SSIM_K2 * _SSIM_PEAK) ** 2
    stats = _filter_valid(np.stack([x, y, x * x, y * y, x * y]), _gaussian_window_1d())
    mu_x, mu_y, ex2, ey2, exy = stats
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x, var_y, cov = ex2 - mu_xx, ey2 - mu_yy, exy - mu_xy
    ssim_map = ((2.0 * mu_xy + c1) * (2.0 * cov + c2)) / ((mu_xx + mu_yy + c1) * (var_x + var_y + c2))
    return ssim_map.mean(axis=(0, 1))


def ssim(a: np.ndarray, b: np.ndarray, *, crop_border: int = 0, y_channel: bool = False) -> float:
    """Structural similarity (MATLAB/Wang variant as in BasicSR), averaged over channels; 1.0 when identical."""
    x, y = _prepare_pair(a, b, crop_border=crop_border, y_channel=y_channel)
    if min(x.shape[:2]) < _SSIM_WINDOW:
        raise UsageError(
            f"SSIM needs at least {_SSIM_WINDOW}x{_SSIM_WINDOW} pixels after cropping, got {x.shape[0]}x{x.shape[1]}"
        )
    return float(np.mean(_ssim_per_channel(x, y)))


def mae(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute error on the [0, 1] scale (as reported for DPDD defocus deblurring), all pixels/channels."""
    if a.shape != b.shape:
        raise UsageError(f"images must have the same shape, got {a.shape} and {b.shape}")
    return float(np.mean(np.abs(to_255(a) - to_255(b)))) / 255.0
