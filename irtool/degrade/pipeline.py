"""One entry point, ``degrade(img, kind, severity=..., rng=...)``: the degradation registry
(:mod:`irtool.degradations`) maps a severity in [0, 1] to a generator's parameters, and the generator makes the
image. ``degrade_for_task`` degrades an image as a restoration task expects its input.

Severity ranges (severity 0 -> 1, linear) of the registered generators:

=================  ============================================================================================
noise              sigma 5 -> 50 (0-255 scale), clipped to [0, 1] (unless ``clip_noise=False``)
jpeg               quality 60 -> 10 (Pillow, 4:2:0)
blur               Gaussian sigma 0.5 -> 4 px, or linear motion of length 3 -> 25 px at a random angle
                   (each with probability 1/2)
rain               streak seed density 0.002 -> 0.02, streak length 10 -> 30 px; wide pool also drawn drops,
                   0.0004 -> 0.003 per pixel at opacity 0.35 -> 0.8
haze               beta 0.3 -> 3 (depth normalised to [0, 1]), airlight A ~ U(0.7, 1.0)
low-light          gamma 1.5 -> 3.5, exposure scale 0.8 -> 0.25, noise sigma 2 -> 8; wide pool also plain
                   exposure, gamma without noise, a tone curve (gamma 1.4 -> 3.5, white kept) and a subtracted
                   brightness (offset 0.08 -> 0.45, shadows crushed), with noise or JPEG after some
low-resolution     scale 2 -> 4 (integer, rounded) unless given with ``scale=``; bicubic imresize + uint8
                   (wide pool: the small image by Pillow's kernels, ``shrunk``; same size only: shrunk and enlarged
                   back by photo tools' kernels, ``resampled``, or by any kernel the enlargement search knows,
                   ``interpolated``; factor 2 -> 4, or near it)
=================  ============================================================================================

Random draws happen in a fixed order, so a seed fixes everything: the severity (when ``None``), then the
generator (only for an entry with several), then the generator's own draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from irtool.degradations import DEGRADATIONS, TASKS, get_degradation, get_task
from irtool.degrade.generators import DegradeOptions
from irtool.degrade.imresize import imresize, quantize_uint8
from irtool.errors import UsageError

__all__ = [
    "DEGRADATION_KINDS",
    "TASK_DEGRADATIONS",
    "TASK_SCALES",
    "DegradationInfo",
    "degrade",
    "degrade_for_task",
]

#: Every degradation kind, in registry order.
DEGRADATION_KINDS: tuple[str, ...] = tuple(DEGRADATIONS)
#: Single task -> the degradation kind its inputs carry.
TASK_DEGRADATIONS: Mapping[str, str] = MappingProxyType({name: t.degradation for name, t in TASKS.items()})
#: SR task -> its factor.
TASK_SCALES: Mapping[str, int] = MappingProxyType({name: t.scale for name, t in TASKS.items() if t.scale != 1})

ParamValue = float | int | str


@dataclass(frozen=True)
class DegradationInfo:
    """What was done to an image: the kind, the severity in [0, 1], the generator and the parameters it used."""

    kind: str
    severity: float
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    generator: str = ""

    def __post_init__(self) -> None:
        # Freeze the parameters too, so a record cannot drift from the image it describes.
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def to_dict(self) -> dict[str, object]:
        """Plain, JSON-serialisable form for logs and eval reports."""
        return {"kind": self.kind, "severity": self.severity, "generator": self.generator,
                "params": dict(self.params)}


def degrade(
    img: np.ndarray,
    kind: str,
    *,
    severity: float | None = None,
    rng: np.random.Generator,
    scale: int | None = None,
    clip_noise: bool = True,
    window: tuple[int, int, int, int] | None = None,
    generator: str | None = None,
    synthesis: str = "default",
    same_size: bool = False,
) -> tuple[np.ndarray, DegradationInfo]:
    """Degrade a clean float image (HW/HWC in [0, 1]) and describe what was done.

    ``clip_noise=False`` leaves ``"noise"`` values outside [0, 1], as the SwinIR/Restormer colour-denoising
    benchmarks add it (a noisy photo on disk is clipped, the default); other kinds ignore it.
    ``window = (top, left, full_height, full_width)`` says the image is that window of a larger photo: haze then
    takes the photo's depth there (``synth.add_haze``); other kinds ignore it.
    ``generator`` picks one of the kind's generators by name; by default one is drawn by weight from the
    ``synthesis`` pool (``"default"``: the original generators; ``"wide"``: every registered one; ``"unseen"``:
    every one outside the default draw).

    ``scale`` is only for ``"low-resolution"`` (2, 3, 4, ...); the output is then smaller by that factor and
    the input's sides must be multiples of it. Every other kind keeps the shape. ``same_size=True`` asks for
    "low-resolution" as a photo people have: the input's size, enlarged back (MATLAB bicubic, 8-bit, unless the
    generator enlarges by its own kernels: :attr:`~irtool.degradations.Generator.enlarges`, drawn only then).
    Returns a new float32 image.
    """
    entry = get_degradation(kind)
    pool = entry.pool(synthesis, same_size=same_size)
    if scale is not None and entry.fixable != "scale":
        raise UsageError(f"scale= only applies to 'low-resolution', not {kind!r}")
    if scale is not None and (int(scale) != scale or scale < 1):
        raise UsageError(f"SR scale must be a positive integer, got {scale}")
    if severity is None:
        severity = float(rng.uniform(0.0, 1.0))
    elif not 0.0 <= severity <= 1.0:
        raise UsageError(f"severity must be in [0, 1], got {severity}")
    severity = float(severity)

    if generator is not None:
        chosen = entry.generator(generator)
        if chosen.enlarges and not same_size:
            raise UsageError(f"generator {generator!r} returns the input's size: pass same_size=True")
    elif len(pool) > 1:
        chosen = entry.choose_generator(float(rng.random()), synthesis=synthesis, same_size=same_size)
    else:
        chosen = pool[0]
    params: dict[str, ParamValue] = dict(chosen.parameters(severity))
    if entry.fixable is not None:
        ramp = chosen.ramp(entry.fixable)
        if scale is not None:
            params[entry.fixable] = int(scale)
        # Record the severity the parameter corresponds to, so the record stays consistent with the output.
        severity = ramp.severity_of(float(params[entry.fixable]))
    out, drawn = chosen.resolve()(img, params, rng=rng, options=DegradeOptions(clip_noise=clip_noise, window=window))
    if same_size and out.shape[:2] != img.shape[:2]:
        # As a low-resolution photo looks once enlarged to the target size (bicubic, then saved as 8-bit).
        out = quantize_uint8(imresize(out, output_shape=img.shape[:2]))
    return out, DegradationInfo(kind=kind, severity=severity, params={**params, **drawn}, generator=chosen.name)


def degrade_for_task(
    img: np.ndarray,
    task: str,
    *,
    rng: np.random.Generator,
    severity: float | None = None,
    clip_noise: bool = True,
    window: tuple[int, int, int, int] | None = None,
    synthesis: str = "default",
    same_size: bool = False,
    generator: str | None = None,
) -> tuple[np.ndarray, DegradationInfo]:
    """Degrade ``img`` as the restoration ``task`` expects its input (e.g. ``"sr4"`` -> x4 bicubic LR;
    ``same_size``: enlarged back to ``img``'s size, as the detector sees it; ``generator``: as :func:`degrade`)."""
    entry = get_task(task)
    return degrade(img, entry.degradation, severity=severity, rng=rng,
                   scale=entry.scale if entry.scale != 1 else None, clip_noise=clip_noise, window=window,
                   synthesis=synthesis, same_size=same_size, generator=generator)
