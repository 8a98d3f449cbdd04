"""Degradation synthesis (numpy + Pillow, no torch: data-loader workers import it).

``degrade(img, kind, severity=..., rng=...)`` is the entry point (the kinds and their severity ranges are
registered in :mod:`irtool.degradations`); ``imresize`` is MATLAB's bicubic resize, used
for super-resolution inputs. Images are float32 HW/HWC in [0, 1], RGB; inputs are never modified; randomness
comes only from an explicit ``numpy.random.Generator``.
"""

from irtool.degrade.generators import DegradeOptions
from irtool.degrade.imresize import imresize, modcrop, quantize_uint8, to_float32, to_uint8
from irtool.degrade.pipeline import (
    DEGRADATION_KINDS,
    TASK_DEGRADATIONS,
    TASK_SCALES,
    DegradationInfo,
    degrade,
    degrade_for_task,
)
from irtool.degrade.synth import (
    add_gaussian_noise,
    add_haze,
    add_rain,
    darken,
    downscale,
    gaussian_blur,
    gaussian_kernel_1d,
    jpeg_compress,
    motion_blur,
    motion_blur_kernel,
)

__all__ = [
    "DEGRADATION_KINDS",
    "TASK_DEGRADATIONS",
    "TASK_SCALES",
    "DegradationInfo",
    "DegradeOptions",
    "add_gaussian_noise",
    "add_haze",
    "add_rain",
    "darken",
    "degrade",
    "degrade_for_task",
    "downscale",
    "gaussian_blur",
    "gaussian_kernel_1d",
    "imresize",
    "jpeg_compress",
    "modcrop",
    "motion_blur",
    "motion_blur_kernel",
    "quantize_uint8",
    "to_float32",
    "to_uint8",
]
