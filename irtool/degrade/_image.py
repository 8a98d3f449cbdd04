"""Shared checks and small filters for the degradation functions (numpy only)."""

from __future__ import annotations

import numpy as np

from irtool.errors import UsageError


def as_float_image(img: np.ndarray, *, name: str = "img") -> np.ndarray:
    """Validate an HW/HWC float image and return a float64 working copy (the caller's array is never touched)."""
    if img.ndim not in (2, 3):
        raise UsageError(f"{name} must be an HW or HWC array, got shape {img.shape}")
    if not np.issubdtype(img.dtype, np.floating):
        raise UsageError(f"{name} must be a float image in [0, 1] (irtool convention), got dtype {img.dtype}")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise UsageError(f"{name} is empty: shape {img.shape}")
    return img.astype(np.float64)


def finish(img: np.ndarray, *, clip: bool = True) -> np.ndarray:
    """Working float64 image -> the irtool convention (float32, clipped to [0, 1] unless asked not to)."""
    if clip:
        img = np.clip(img, 0.0, 1.0)
    return img.astype(np.float32)


def correlate_reflect(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """2-D correlation of every channel with ``kernel`` (odd sides), borders mirrored without edge repetition.

    The 'reflect' border (OpenCV's default BORDER_REFLECT_101) is what BasicSR's blur degradations use, so
    blurred training data matches theirs near the edges. Only non-zero taps are visited: motion-blur kernels
    are thin lines, so this is a handful of vectorised multiply-adds instead of k*k.
    """
    kh, kw = kernel.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise UsageError(f"kernel sides must be odd, got {kernel.shape}")
    ry, rx = kh // 2, kw // 2
    pad = [(ry, ry), (rx, rx)] + [(0, 0)] * (img.ndim - 2)
    padded = np.pad(img, pad, mode="reflect")
    h, w = img.shape[:2]
    out = np.zeros_like(img, dtype=np.float64)
    for dy, dx in zip(*np.nonzero(kernel)):
        out += kernel[dy, dx] * padded[dy : dy + h, dx : dx + w]
    return out


def correlate_separable_reflect(img: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Apply the same odd-length 1-D kernel along rows then columns, with reflect borders."""
    radius = taps.size // 2
    out = img
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect")
        length = out.shape[axis]
        acc = np.zeros_like(out, dtype=np.float64)
        for offset, weight in enumerate(taps):
            window = (slice(None),) * axis + (slice(offset, offset + length),)
            acc += weight * padded[window]
        out = acc
    return out


def correlate_fft_reflect(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """As :func:`correlate_reflect`, through the FFT: for dense kernels (a defocus disk, a shake trajectory) whose
    many taps would each cost a pass over the image."""
    kh, kw = kernel.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise UsageError(f"kernel sides must be odd, got {kernel.shape}")
    ry, rx = kh // 2, kw // 2
    h, w = img.shape[:2]
    if ry >= h or rx >= w:  # reflect padding needs the image to be larger than the kernel's radius
        return correlate_reflect(img, kernel)
    pad = [(ry, ry), (rx, rx)] + [(0, 0)] * (img.ndim - 2)
    padded = np.pad(img, pad, mode="reflect")
    shape = (padded.shape[0], padded.shape[1])
    # Correlation = convolution with the flipped kernel; the valid part starts at the kernel's far corner.
    spectrum = np.fft.rfft2(kernel[::-1, ::-1], s=shape)
    if img.ndim == 3:
        spectrum = spectrum[:, :, None]
    full = np.fft.irfft2(np.fft.rfft2(padded, axes=(0, 1)) * spectrum, s=shape, axes=(0, 1))
    return full[kh - 1 : kh - 1 + h, kw - 1 : kw - 1 + w]
