"""The generator functions the degradation registry (:mod:`irtool.degradations`) names, one small function each.

Contract: ``generator(img, params, *, rng, options) -> (degraded image, drawn parameters)``. ``params`` are the
entry's severity ramps evaluated at the chosen severity; a generator draws whatever else it needs (an angle, an
airlight) from ``rng`` and returns those draws so they are recorded with the image. Images are float32 HW/HWC in
[0, 1]; the input is never modified. The physics lives in :mod:`irtool.degrade.synth`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from irtool.degrade import synth
from irtool.degrade.imresize import quantize_uint8

__all__ = [
    "DegradeOptions",
    "bicubic_downscale",
    "chroma_noise",
    "correlated_noise",
    "dark_noise_then_jpeg",
    "defocus_blur",
    "depth_haze",
    "double_jpeg",
    "exposure_darken",
    "fractal_haze",
    "gamma_darken",
    "gamma_only_darken",
    "gaussian_blur",
    "gaussian_noise",
    "gaussian_noise_then_jpeg",
    "gradient_haze",
    "interpolated_enlargement",
    "jpeg_420",
    "jpeg_444",
    "linear_motion_blur",
    "lowered_brightness",
    "poisson_gaussian_darken",
    "poisson_gaussian_noise",
    "rain_streaks",
    "resampled_enlargement",
    "shake_blur",
    "shrunk_downscale",
    "veil_haze",
]

Params = Mapping[str, float]
Drawn = dict[str, float | int | str]


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


def drawn_rain(img: np.ndarray, params: Params, *, rng: np.random.Generator,
               options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    """Semi-opaque drops over a dimmed, softened scene (a wet, overcast day), for the wide pool."""
    angle = float(rng.uniform(70.0, 110.0))
    dim = float(rng.uniform(0.75, 0.95))
    soften = float(rng.uniform(0.0, 1.2))
    out = synth.add_drawn_rain(img, density=params["density"], opacity=params["opacity"], angle_deg=angle,
                               dim=dim, soften=soften, rng=rng)
    return out, {"angle_deg": angle, "dim": dim, "soften": soften}


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


def shrunk_downscale(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                     options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    """The small image a photo tool makes: shrunk by the integer factor with one of Pillow's antialiasing kernels
    (area, bilinear, bicubic, Lanczos), stored in 8 bits. Super-resolution trained on MATLAB's bicubic alone gains
    less on the others (docs/auto-history.md "Super-resolution of photo tools' small images")."""
    kernel = str(rng.choice(list(synth.RESAMPLING_KERNELS)))
    return synth.downscale(img, scale=int(params["scale"]), kernel=kernel), {"shrink_kernel": kernel}


def resampled_enlargement(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                          options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    """A photo as people have it after someone enlarged a smaller copy: shrunk and enlarged back to the input's
    size by photo tools' kernels (bilinear, bicubic, Lanczos, area), by the given factor or half the time a
    non-integer one near it (x0.8-1.25, at least 1.25), each step stored in 8 bits, a third of the time saved as
    JPEG afterwards. Returns the input's size (:attr:`~irtool.degradations.Generator.enlarges`)."""
    enlargers = {kernel: functools.partial(_pillow_enlarge, kernel=kernel)
                 for kernel in synth.RESAMPLING_KERNELS if kernel != "area"}  # box upsampling is nearest
    return _shrunk_and_enlarged(img, float(params["scale"]), rng, enlargers)


def interpolated_enlargement(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                             options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    """:func:`resampled_enlargement` enlarged back by any interpolation kernel the enlargement search knows
    (:data:`~irtool.degrade.enlargement.ENLARGEMENT_KERNELS`: MATLAB's and Pillow's bicubic, OpenCV's bicubic,
    bilinear, Pillow's 3-lobe and OpenCV's 4-lobe Lanczos), so training meets every enlargement ``--auto`` may be
    given that the search cannot pin down (docs/auto-history.md "Enlargements by every kernel the search knows")."""
    from irtool.degrade.enlargement import ENLARGEMENT_KERNELS, enlarge_with_kernel

    enlargers = {kernel: functools.partial(enlarge_with_kernel, kernel=kernel) for kernel in ENLARGEMENT_KERNELS}
    return _shrunk_and_enlarged(img, float(params["scale"]), rng, enlargers)


def _pillow_enlarge(small: np.ndarray, height: int, width: int, *, kernel: str) -> np.ndarray:
    return synth.resample(small, (height, width), kernel=kernel)


def _shrunk_and_enlarged(img: np.ndarray, factor: float, rng: np.random.Generator,
                         enlargers: Mapping[str, Callable[..., np.ndarray]]) -> tuple[np.ndarray, Drawn]:
    """Shrunk by ``factor`` (half the time a non-integer one near it) with one of Pillow's antialiasing kernels,
    enlarged back with one of ``enlargers`` (``(small, height, width) -> image``), each step in 8 bits, a third of
    the time then saved as JPEG."""
    height, width = img.shape[:2]
    if rng.random() < 0.5:
        factor = max(1.25, factor * float(rng.uniform(0.8, 1.25)))
    shrink = str(rng.choice(list(synth.RESAMPLING_KERNELS)))
    enlarge = str(rng.choice(list(enlargers)))
    small = quantize_uint8(synth.resample(img, (max(1, round(height / factor)), max(1, round(width / factor))),
                                          kernel=shrink))
    out = quantize_uint8(enlargers[enlarge](small, height, width))
    drawn: Drawn = {"factor": round(factor, 4), "shrink_kernel": shrink, "enlarge_kernel": enlarge}
    if rng.random() < 1 / 3:
        out, jpeg = _web_jpeg(out, rng)
        drawn.update(jpeg)
    return out, drawn


# --- generators outside the default draw (``synthesis="wide"``) ----------------------------------------------------


def _web_jpeg(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Drawn]:
    """The JPEG a phone or an upload adds after the fact: quality 70-95, either chroma subsampling."""
    quality = int(rng.integers(70, 96))
    subsampling = int(rng.choice([0, 2]))
    return synth.jpeg_compress(img, quality=quality, subsampling=subsampling), {
        "then_jpeg_quality": quality, "then_jpeg_subsampling": subsampling}


def _airlight(rng: np.random.Generator) -> tuple[float, float, float]:
    """A coloured airlight: gray to bluish or yellowish, brightness 0.7-1."""
    brightness = float(rng.uniform(0.7, 1.0))
    tint = rng.uniform(0.9, 1.05, 3)
    rgb = np.clip(brightness * tint / tint.max(), 0.0, 1.0)
    return float(rgb[0]), float(rgb[1]), float(rgb[2])


def poisson_gaussian_noise(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                           options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    out = synth.add_poisson_gaussian_noise(img, shot=params["shot"], read_sigma=params["read_sigma"], rng=rng,
                                           clip=options.clip_noise)
    return out, {}


def chroma_noise(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                 options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    out = synth.add_chroma_noise(img, luma_sigma=params["luma_sigma"], chroma_sigma=params["chroma_sigma"], rng=rng,
                                 clip=options.clip_noise)
    return out, {}


def correlated_noise(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                     options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    correlation = float(rng.uniform(0.5, 1.5))
    out = synth.add_correlated_noise(img, sigma=params["sigma"], correlation=correlation, rng=rng,
                                     clip=options.clip_noise)
    return out, {"correlation": correlation}


def gaussian_noise_then_jpeg(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                             options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    noisy = synth.add_gaussian_noise(img, sigma=params["sigma"], rng=rng, clip=True)
    return _web_jpeg(noisy, rng)


def jpeg_444(img: np.ndarray, params: Params, *, rng: np.random.Generator,
             options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    return synth.jpeg_compress(img, quality=int(params["quality"]), subsampling=0), {}


def double_jpeg(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    """Saved twice: a first, better JPEG (a camera's) recompressed at the severity's quality (a web upload)."""
    first = int(rng.integers(min(int(params["quality"]) + 10, 95), 96))
    once = synth.jpeg_compress(img, quality=first, subsampling=int(rng.choice([0, 2])))
    return synth.jpeg_compress(once, quality=int(params["quality"])), {"first_quality": first}


def defocus_blur(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                 options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    return synth.defocus_blur(img, radius=params["radius"]), {}


def shake_blur(img: np.ndarray, params: Params, *, rng: np.random.Generator,
               options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    return synth.kernel_blur(img, synth.shake_kernel(length=params["length"], rng=rng)), {}


def veil_haze(img: np.ndarray, params: Params, *, rng: np.random.Generator,
              options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    """A uniform veil (fog in front of a flat scene, a hazy lens): the same transmission everywhere."""
    airlight = _airlight(rng)
    out = synth.add_transmission_haze(img, transmission=params["transmission"], airlight=airlight)
    return out, {"airlight_r": airlight[0], "airlight_g": airlight[1], "airlight_b": airlight[2]}


def _depth_window(height: int, width: int, options: DegradeOptions) -> tuple[int, int, int, int]:
    return options.window if options.window is not None else (0, 0, height, width)


def gradient_haze(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                  options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    """Haze over a planar depth ramp in a random direction (mostly far at the top), coloured airlight."""
    height, width = img.shape[:2]
    top, left, full_h, full_w = _depth_window(height, width, options)
    angle = float(rng.uniform(-60.0, 60.0))  # 0: far at the top
    theta = np.radians(angle)
    rows = (np.arange(top, top + height) + 0.5)[:, None] / full_h
    cols = (np.arange(left, left + width) + 0.5)[None, :] / full_w
    depth = (1.0 - rows) * np.cos(theta) + (cols if angle > 0 else 1.0 - cols) * abs(np.sin(theta))
    depth = depth / (abs(np.cos(theta)) + abs(np.sin(theta)))
    airlight = _airlight(rng)
    out = synth.add_transmission_haze(img, transmission=np.exp(-params["beta"] * depth), airlight=airlight)
    return out, {"angle_deg": angle, "airlight_r": airlight[0], "airlight_g": airlight[1], "airlight_b": airlight[2]}


def fractal_haze(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                 options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    """Patchy fog: optical thickness from fractal noise over the whole photo, coloured airlight."""
    height, width = img.shape[:2]
    top, left, full_h, full_w = _depth_window(height, width, options)
    field = synth.fractal_field(full_h, full_w, rng=rng)[top : top + height, left : left + width]
    airlight = _airlight(rng)
    out = synth.add_transmission_haze(img, transmission=np.exp(-params["beta"] * field), airlight=airlight)
    return out, {"airlight_r": airlight[0], "airlight_g": airlight[1], "airlight_b": airlight[2]}


def scattering_fog(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                   options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    """Fog that also softens the scene: patchy fractal fog, and the scene behind it blurred by the light the fog
    scatters forward on its way (the atmospheric point-spread function: Narasimhan and Nayar, "Shedding light on the
    weather", 2003), as photos in mist and fog are soft as well as veiled. One blur over the whole photo, then
    :func:`fractal_haze` over it."""
    return fractal_haze(synth.gaussian_blur(img, sigma=params["sigma"]), params, rng=rng, options=options)


def exposure_darken(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                    options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    """Plain under-exposure: every value scaled down, no added noise (a dark photo from a good sensor)."""
    return synth.darken(img, gamma=1.0, scale=params["scale"], noise_sigma=0.0, rng=rng), {}


def gamma_only_darken(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                      options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    """``scale * img ** gamma``, no noise; a generator without a scale ramp is a plain tone curve (white stays
    white, midtones and shadows go down)."""
    scale = params.get("scale", 1.0)
    return synth.darken(img, gamma=params["gamma"], scale=scale, noise_sigma=0.0, rng=rng), {}


def lowered_brightness(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                       options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    return synth.lower_brightness(img, offset=params["offset"]), {}


def poisson_gaussian_darken(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                            options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    dark = synth.darken(img, gamma=params["gamma"], scale=params["scale"], noise_sigma=0.0, rng=rng)
    return synth.add_poisson_gaussian_noise(dark, shot=params["shot"], read_sigma=params["read_sigma"], rng=rng), {}


def dark_noise_then_jpeg(img: np.ndarray, params: Params, *, rng: np.random.Generator,
                         options: DegradeOptions) -> tuple[np.ndarray, Drawn]:
    dark = synth.darken(img, gamma=params["gamma"], scale=params["scale"], noise_sigma=params["noise_sigma"], rng=rng)
    return _web_jpeg(dark, rng)
