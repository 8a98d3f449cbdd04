"""MATLAB-compatible bicubic ``imresize`` and the uint8 round trip used to make SR test data.

The super-resolution field makes its low-resolution images with MATLAB's ``imresize(img, 1/s, 'bicubic')``
(Set5/Set14/B100/Urban100/Manga109, DIV2K's LR_bicubic; Hi-IR appendix A.3 "synthesized by Matlab bicubic"), and
reports numbers on them; PIL's and OpenCV's bicubic resizes give different pixels (BasicSR #60, #186), so models
evaluated on those inputs lose several tenths of a dB. This module reproduces MATLAB's algorithm:

* Keys' cubic kernel with a = -0.5 and support [-2, 2];
* output size ``ceil(scale * input size)``; output pixel centre x (1-based) maps to input coordinate
  ``u = x / scale + 0.5 * (1 - 1 / scale)`` so pixel *areas* line up;
* when shrinking, antialiasing widens the kernel by ``1 / scale`` (``scale * h(scale * x)``, width ``4 / scale``);
* each output pixel's weights are normalised to sum to one;
* out-of-range taps are mirrored with edge repetition (``[1..n, n..1]`` repeated), i.e. half-sample symmetric;
* the two axes are resized one after the other (separable).

Implementation: for every axis a (taps x output length) weight table and an index table are built once, then the
image is resized with one vectorised gather-multiply-add per tap, accumulated in float64. This is exact to the
MATLAB formula and uses memory proportional to the output only, so it also works on large photographs.

One deliberate difference: ``ceil(scale * n)`` is evaluated with a 1e-9 tolerance, so a scale such as 0.1 on a
length of 30 gives 3 and not 4 because of floating-point error (MATLAB and BasicSR compute ``ceil`` bare).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from irtool.errors import UsageError

__all__ = ["imresize", "modcrop", "quantize_uint8", "to_float32", "to_uint8"]

# Support of Keys' cubic kernel: it is zero for |x| >= 2.
_CUBIC_SUPPORT = 4.0


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    absx = np.abs(x)
    absx2 = absx * absx
    absx3 = absx2 * absx
    near = (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1.0)
    far = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * ((absx > 1.0) & (absx <= 2.0))
    return near + far


def _axis_weights(
    *, in_length: int, out_length: int, scale: float, antialiasing: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Weights and 0-based input indices, both shaped (taps, out_length), for resizing one axis.

    Mirrors MATLAB's ``contributions``: output pixel ``x`` (1-based) reads input pixels
    ``floor(u - width / 2) + 0 .. ceil(width) + 1`` with weights ``h(u - index)``.
    """
    shrink_with_antialiasing = scale < 1.0 and antialiasing
    kernel_width = _CUBIC_SUPPORT / scale if shrink_with_antialiasing else _CUBIC_SUPPORT

    out_coords = np.arange(1, out_length + 1, dtype=np.float64)
    centres = out_coords / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(centres - kernel_width / 2.0)
    taps = math.ceil(kernel_width) + 2
    indices = left[None, :] + np.arange(taps, dtype=np.float64)[:, None]  # (taps, out), 1-based
    distance = centres[None, :] - indices
    if shrink_with_antialiasing:
        weights = scale * _cubic(distance * scale)
    else:
        weights = _cubic(distance)
    weights = weights / weights.sum(axis=0, keepdims=True)

    # MATLAB drops taps whose weight is zero for every output pixel (always the first and last here); keeping
    # them would change nothing for finite inputs but would spread NaN/inf from pixels MATLAB never reads.
    used_taps = np.any(weights != 0.0, axis=1)
    weights = weights[used_taps]
    indices = indices[used_taps].astype(np.int64)

    # Half-sample symmetric mirror: the sequence 1..n, n..1 repeated, as MATLAB does; valid for any overhang.
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices = mirror[np.mod(indices - 1, 2 * in_length)]
    return weights, indices


def _resize_axis(img: np.ndarray, *, axis: int, out_length: int, scale: float, antialiasing: bool) -> np.ndarray:
    in_length = img.shape[axis]
    weights, indices = _axis_weights(in_length=in_length, out_length=out_length, scale=scale, antialiasing=antialiasing)
    # Put the resized axis first and contiguous, so every gathered slice is one contiguous block.
    moved = np.ascontiguousarray(np.moveaxis(img, axis, 0))
    # Broadcast each tap's weights over the remaining axes.
    weight_shape = (out_length,) + (1,) * (moved.ndim - 1)
    out = np.zeros((out_length,) + moved.shape[1:], dtype=np.float64)
    scratch = np.empty_like(out)
    for tap_weights, tap_indices in zip(weights, indices):
        np.take(moved, tap_indices, axis=0, out=scratch)
        scratch *= tap_weights.reshape(weight_shape)
        out += scratch
    return np.moveaxis(out, 0, axis)


def _output_length(length: int, scale: float) -> int:
    scaled = length * scale
    nearest = round(scaled)
    if abs(scaled - nearest) < 1e-9:
        return max(nearest, 1)
    return max(math.ceil(scaled), 1)


def imresize(
    img: np.ndarray,
    scale: float | None = None,
    *,
    output_shape: Sequence[int] | None = None,
    antialiasing: bool = True,
) -> np.ndarray:
    """Resize ``img`` exactly as MATLAB's ``imresize(img, scale, 'bicubic')`` does.

    Args:
        img: HW or HWC array (any number of channels). Floating point inputs are resized as they are (no
            clipping, so bicubic overshoot survives, as in MATLAB on double images); uint8 inputs are rounded
            and clipped back to uint8, as MATLAB does for uint8 images.
        scale: one factor for both axes (0.5 halves the size). Give either ``scale`` or ``output_shape``.
        output_shape: target (height, width); each axis then uses its own factor ``out / in`` (MATLAB's
            ``imresize(img, [h w])``).
        antialiasing: widen the kernel when shrinking (MATLAB's default, True).

    Returns:
        A new array: float32 for float32/float16 inputs, float64 for float64, uint8 for uint8. The input is
        never modified.
    """
    if img.ndim not in (2, 3):
        raise UsageError(f"imresize expects an HW or HWC array, got shape {img.shape}")
    in_h, in_w = img.shape[:2]
    if in_h == 0 or in_w == 0:
        raise UsageError(f"imresize got an empty image of shape {img.shape}")
    if (scale is None) == (output_shape is None):
        raise UsageError("imresize needs exactly one of scale or output_shape")
    if scale is not None:
        if not (scale > 0 and math.isfinite(scale)):
            raise UsageError(f"imresize scale must be a positive finite number, got {scale}")
        scale_h = scale_w = float(scale)
        out_h, out_w = _output_length(in_h, scale_h), _output_length(in_w, scale_w)
    else:
        assert output_shape is not None
        if len(output_shape) != 2 or min(output_shape) < 1:
            raise UsageError(f"output_shape must be two positive integers (height, width), got {output_shape}")
        out_h, out_w = int(output_shape[0]), int(output_shape[1])
        scale_h, scale_w = out_h / in_h, out_w / in_w

    if img.dtype == np.uint8:
        out_dtype: type[np.generic] = np.uint8
    elif img.dtype == np.float64:
        out_dtype = np.float64
    elif np.issubdtype(img.dtype, np.floating):
        out_dtype = np.float32
    else:
        raise UsageError(f"imresize supports float and uint8 images, got dtype {img.dtype}")

    work = img.astype(np.float64)  # a copy: the caller's array is never touched
    # MATLAB resizes the axis with the smaller factor first; the result is the same up to rounding, and the
    # order keeps the intermediate image smallest.
    axes = [(0, out_h, scale_h), (1, out_w, scale_w)]
    if scale_w < scale_h:
        axes.reverse()
    for axis, out_length, axis_scale in axes:
        work = _resize_axis(work, axis=axis, out_length=out_length, scale=axis_scale, antialiasing=antialiasing)

    if out_dtype is np.uint8:
        return np.clip(np.rint(work), 0, 255).astype(np.uint8)
    return work.astype(out_dtype)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> uint8 by ``round(clip(img, 0, 1) * 255)`` (how LR/saved images are quantized)."""
    if img.dtype == np.uint8:
        return img.copy()
    if not np.issubdtype(img.dtype, np.floating):
        raise UsageError(f"to_uint8 expects a float image in [0, 1], got dtype {img.dtype}")
    return np.rint(np.clip(img.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


def to_float32(img: np.ndarray) -> np.ndarray:
    """uint8 image -> float32 in [0, 1]; float images are returned as a float32 copy."""
    if img.dtype == np.uint8:
        return img.astype(np.float32) / np.float32(255.0)
    if np.issubdtype(img.dtype, np.floating):
        return img.astype(np.float32, copy=True)
    raise UsageError(f"to_float32 expects a uint8 or float image, got dtype {img.dtype}")


def quantize_uint8(img: np.ndarray) -> np.ndarray:
    """Round trip through uint8 (clip, round, /255) as the field does after ``imresize``; returns float32."""
    return to_float32(to_uint8(img))


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so height and width are multiples of ``scale`` (the field's ``modcrop``)."""
    if scale < 1:
        raise UsageError(f"modcrop scale must be >= 1, got {scale}")
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale].copy()
