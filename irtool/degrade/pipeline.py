"""One entry point, ``degrade(img, kind, severity=..., rng=...)``, mapping a severity in [0, 1] to each kind's
physical parameters, plus the restoration-task -> degradation mapping used by data loaders and ``eval``.

Severity ranges (severity 0 -> 1, linear):

=================  ============================================================================================
noise              sigma 5 -> 50 (0-255 scale), clipped to [0, 1] (unless ``clip_noise=False``)
jpeg               quality 60 -> 10 (Pillow, 4:2:0)
blur               Gaussian sigma 0.5 -> 4 px, or linear motion of length 3 -> 25 px at a random angle
                   (each with probability 1/2)
rain               streak seed density 0.002 -> 0.02, streak length 10 -> 30 px
haze               beta 0.3 -> 3 (depth normalised to [0, 1]), airlight A ~ U(0.7, 1.0)
low-light          gamma 1.5 -> 3.5, exposure scale 0.8 -> 0.25, noise sigma 2 -> 8
low-resolution     scale 2 -> 4 (integer, rounded) unless given with ``scale=``; bicubic imresize + uint8
=================  ============================================================================================

A ``None`` severity is drawn uniformly from [0, 1] with ``rng`` (before any other draw, so a seed fixes both).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

from irtool.degrade import synth
from irtool.errors import UsageError

__all__ = [
    "DEGRADATION_KINDS",
    "TASK_DEGRADATIONS",
    "TASK_SCALES",
    "DegradationInfo",
    "DegradationKind",
    "degrade",
    "degrade_for_task",
]

DegradationKind = Literal["noise", "jpeg", "blur", "low-resolution", "rain", "haze", "low-light"]
DEGRADATION_KINDS: tuple[str, ...] = ("noise", "jpeg", "blur", "low-resolution", "rain", "haze", "low-light")

TASK_DEGRADATIONS: Mapping[str, str] = MappingProxyType(
    {
        "denoise": "noise",
        "jpeg": "jpeg",
        "deblur": "blur",
        "derain": "rain",
        "dehaze": "haze",
        "lowlight": "low-light",
        "sr2": "low-resolution",
        "sr3": "low-resolution",
        "sr4": "low-resolution",
    }
)
TASK_SCALES: Mapping[str, int] = MappingProxyType({"sr2": 2, "sr3": 3, "sr4": 4})

ParamValue = float | int | str


@dataclass(frozen=True)
class DegradationInfo:
    """What was done to an image: the kind, the severity in [0, 1] and the concrete parameters used."""

    kind: str
    severity: float
    params: Mapping[str, ParamValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Freeze the parameters too, so a record cannot drift from the image it describes.
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def to_dict(self) -> dict[str, object]:
        """Plain, JSON-serialisable form for logs and eval reports."""
        return {"kind": self.kind, "severity": self.severity, "params": dict(self.params)}


def _lerp(low: float, high: float, severity: float) -> float:
    return low + (high - low) * severity


def degrade(
    img: np.ndarray,
    kind: str,
    *,
    severity: float | None = None,
    rng: np.random.Generator,
    scale: int | None = None,
    clip_noise: bool = True,
    window: tuple[int, int, int, int] | None = None,
) -> tuple[np.ndarray, DegradationInfo]:
    """Degrade a clean float image (HW/HWC in [0, 1]) and describe what was done.

    ``clip_noise=False`` leaves ``"noise"`` values outside [0, 1], as the SwinIR/Restormer colour-denoising
    benchmarks add it (a noisy photo on disk is clipped, the default); other kinds ignore it.
    ``window = (top, left, full_height, full_width)`` says the image is that window of a larger photo: haze then
    takes the photo's depth there (``synth.add_haze``); other kinds ignore it.

    ``scale`` is only for ``"low-resolution"`` (2, 3, 4, ...); the output is then smaller by that factor and
    the input's sides must be multiples of it. Every other kind keeps the shape. Returns a new float32 image.
    """
    if kind not in DEGRADATION_KINDS:
        raise UsageError(f"unknown degradation {kind!r}; choose one of {', '.join(DEGRADATION_KINDS)}")
    if scale is not None and kind != "low-resolution":
        raise UsageError(f"scale= only applies to 'low-resolution', not {kind!r}")
    if severity is None:
        severity = float(rng.uniform(0.0, 1.0))
    elif not 0.0 <= severity <= 1.0:
        raise UsageError(f"severity must be in [0, 1], got {severity}")
    severity = float(severity)

    params: dict[str, ParamValue]
    if kind == "noise":
        sigma = _lerp(5.0, 50.0, severity)
        out = synth.add_gaussian_noise(img, sigma=sigma, rng=rng, clip=clip_noise)
        params = {"sigma": sigma}
    elif kind == "jpeg":
        quality = round(_lerp(60.0, 10.0, severity))
        out = synth.jpeg_compress(img, quality=quality)
        params = {"quality": quality}
    elif kind == "blur":
        if rng.random() < 0.5:
            blur_sigma = _lerp(0.5, 4.0, severity)
            out = synth.gaussian_blur(img, sigma=blur_sigma)
            params = {"blur_type": "gaussian", "sigma": blur_sigma}
        else:
            length = _lerp(3.0, 25.0, severity)
            angle = float(rng.uniform(0.0, 180.0))
            out = synth.motion_blur(img, length=length, angle_deg=angle)
            params = {"blur_type": "motion", "length": length, "angle_deg": angle}
    elif kind == "rain":
        density = _lerp(0.002, 0.02, severity)
        length = _lerp(10.0, 30.0, severity)
        angle = float(rng.uniform(60.0, 120.0))
        out = synth.add_rain(img, density=density, length=length, angle_deg=angle, rng=rng)
        params = {"density": density, "length": length, "angle_deg": angle}
    elif kind == "haze":
        beta = _lerp(0.3, 3.0, severity)
        airlight = float(rng.uniform(0.7, 1.0))
        out = synth.add_haze(img, beta=beta, airlight=airlight, rng=rng, window=window)
        params = {"beta": beta, "airlight": airlight}
    elif kind == "low-light":
        gamma = _lerp(1.5, 3.5, severity)
        exposure = _lerp(0.8, 0.25, severity)
        noise_sigma = _lerp(2.0, 8.0, severity)
        out = synth.darken(img, gamma=gamma, scale=exposure, noise_sigma=noise_sigma, rng=rng)
        params = {"gamma": gamma, "scale": exposure, "noise_sigma": noise_sigma}
    else:  # low-resolution
        if scale is None:
            scale = round(_lerp(2.0, 4.0, severity))
        if int(scale) != scale or scale < 1:
            raise UsageError(f"SR scale must be a positive integer, got {scale}")
        scale = int(scale)
        # Record the severity the scale corresponds to, so info stays consistent with the output.
        severity = min(max((scale - 2) / 2.0, 0.0), 1.0)
        out = synth.downscale(img, scale=scale)
        params = {"scale": scale}
    return out, DegradationInfo(kind=kind, severity=severity, params=params)


def degrade_for_task(
    img: np.ndarray,
    task: str,
    *,
    rng: np.random.Generator,
    severity: float | None = None,
    clip_noise: bool = True,
    window: tuple[int, int, int, int] | None = None,
) -> tuple[np.ndarray, DegradationInfo]:
    """Degrade ``img`` as the restoration ``task`` expects its input (e.g. ``"sr4"`` -> x4 bicubic LR)."""
    if task not in TASK_DEGRADATIONS:
        raise UsageError(f"unknown task {task!r}; choose one of {', '.join(TASK_DEGRADATIONS)}")
    return degrade(img, TASK_DEGRADATIONS[task], severity=severity, rng=rng, scale=TASK_SCALES.get(task),
                   clip_noise=clip_noise, window=window)
