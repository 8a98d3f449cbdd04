"""The generator functions the degradation registry (:mod:`irtool.degradations`) names, one small function each.

Contract: ``generator(img, params, *, rng, options) -> (degraded image, drawn parameters)``. ``params`` are the
entry's severity ramps evaluated at the chosen severity; a generator draws whatever else it needs (an angle, an
airlight) from ``rng`` and returns those draws so they are recorded with the image. Images are float32 HW/HWC in
[0, 1]; the input is never modified. The physics lives in :mod:`irtool.degrade.synth`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from irtool.degrade import synth

__all__ = [
    "DegradeOptions",
    "bicubic_downscale",
    "depth_haze",
    "gamma_darken",
    "gaussian_blur",
    "gaussian_noise",
    "jpeg_420",
    "linear_motion_blur",
    "rain_streaks",
]

Params = Mapping[str, float]
Drawn = dict[str, float]


@dataclass(frozen=True)
class DegradeOptions:
    """Settings of one call that are not severity: each generator reads the ones that concern it."""

    #: Noise generators: clip to [0, 1] as a stored photo is (False: as colour-denoising benchmarks add noise).
    clip_noise: bool = True
    #: ``(top, left, full_height, full_width)``: the image is that window of a larger photo (haze takes the
    #: photo's depth there).
    window: tuple[int, int, int, int] | None = None


def gaussian_noise(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                   options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    return synth.add_gaussian_noise(img, sigma=params["sigma"], rng=rng, clip=options.clip_noise), {}


def jpeg_420(img: np.ndarray, params: Params, *, rng: np.random.Generator,
             options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    return synth.jpeg_compress(img, quality=int(params["quality"])), {}


def gaussian_blur(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                  options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    return synth.gaussian_blur(img, sigma=params["sigma"]), {}


def linear_motion_blur(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                       options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    angle = float(rng.uniform(0.0, 180.0))
    return synth.motion_blur(img, length=params["length"], angle_deg=angle), {"angle_deg": angle}


def rain_streaks(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                 options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    angle = float(rng.uniform(60.0, 120.0))
    out = synth.add_rain(img, density=params["density"], length=params["length"], angle_deg=angle, rng=rng)
    return out, {"angle_deg": angle}


def depth_haze(img: np.ndarray, params: Params, *, rng: np.random.Generator,
               options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    airlight = float(rng.uniform(0.7, 1.0))
    out = synth.add_haze(img, beta=params["beta"], airlight=airlight, rng=rng, window=options.window)
    return out, {"airlight": airlight}


def gamma_darken(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                 options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    out = synth.darken(img, gamma=params["gamma"], scale=params["scale"], noise_sigma=params["noise_sigma"], rng=rng)
    return out, {}


def bicubic_downscale(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                      options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    return synth.downscale(img, scale=int(params["scale"])), {}
