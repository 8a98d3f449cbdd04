"""Synthetic degradations: noise, JPEG, blur, rain, haze, low light, SR downscaling (numpy + Pillow only).

These make the degraded inputs for the tasks the HAIR / Hi-IR papers train and evaluate on (HAIR section 4.1:
denoising sigma 15/25/50, deraining, dehazing, and the 5-degradation setting adding deblurring and low-light; Hi-IR
appendix A.3: SR inputs by MATLAB bicubic downsampling, AWGN sigma 15/25/50, JPEG quality 10-40; its section 5.2
trains one model on noise sigma 15-75 and quality 10-90 sampled online). Paired benchmark data (Rain100L, SOTS,
GoPro, LOL) are real captures; the rain, haze, blur and low-light models here are the usual physical approximations
for on-the-fly training data and smoke tests, not replicas of those datasets.

Conventions: float HWC/HW images in [0, 1], RGB; every function returns a new float32 array and never modifies
its input; randomness only through an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from irtool.degrade._image import (
    as_float_image,
    correlate_fft_reflect,
    correlate_reflect,
    correlate_separable_reflect,
    finish,
)
from irtool.degrade.imresize import imresize, quantize_uint8, to_uint8
from irtool.errors import UsageError

__all__ = [
    "add_chroma_noise",
    "add_correlated_noise",
    "add_drawn_rain",
    "add_gaussian_noise",
    "add_haze",
    "add_poisson_gaussian_noise",
    "add_rain",
    "add_transmission_haze",
    "darken",
    "defocus_blur",
    "defocus_kernel",
    "downscale",
    "fractal_field",
    "gaussian_blur",
    "gaussian_kernel_1d",
    "jpeg_compress",
    "kernel_blur",
    "motion_blur",
    "motion_blur_kernel",
    "shake_kernel",
]


def _pick(value: float | tuple[float, float], rng: np.random.Generator | None, *, name: str) -> float:
    """A fixed value, or one drawn uniformly from a (low, high) range with ``rng``."""
    if isinstance(value, tuple):
        low, high = value
        if low > high:
            raise UsageError(f"{name} range must be (low, high) with low <= high, got {value}")
        if rng is None:
            raise UsageError(f"{name} given as a range needs an rng to sample from")
        return float(rng.uniform(low, high))
    return float(value)


# --- noise -----------------------------------------------------------------------------------------------------


def add_gaussian_noise(
    img: np.ndarray,
    *,
    sigma: float | tuple[float, float],
    rng: np.random.Generator,
    clip: bool = True,
) -> np.ndarray:
    """Add white Gaussian noise with standard deviation ``sigma`` on the 0-255 scale (the field's sigma 15/25/50).

    ``sigma`` may be a (low, high) range, sampled uniformly once per image. ``clip=False`` keeps values outside
    [0, 1], as the SwinIR/Restormer color-denoising test protocol does; ``clip=True`` gives a valid image.
    """
    work = as_float_image(img)
    sigma_255 = _pick(sigma, rng, name="sigma")
    if sigma_255 < 0:
        raise UsageError(f"noise sigma must be >= 0, got {sigma_255}")
    noisy = work + rng.standard_normal(work.shape) * (sigma_255 / 255.0)
    return finish(noisy, clip=clip)


def add_poisson_gaussian_noise(
    img: np.ndarray, *, shot: float, read_sigma: float, rng: np.random.Generator, clip: bool = True
) -> np.ndarray:
    """Sensor noise as a camera makes it: signal-dependent shot noise plus constant read noise, ``x + n`` with
    ``var(n) = shot * x + (read_sigma / 255) ** 2`` (the heteroscedastic Poisson-Gaussian model of raw data; after
    a camera's tone curve it is still brighter-is-noisier). ``shot`` is in units of the [0, 1] signal."""
    work = as_float_image(img)
    if shot < 0 or read_sigma < 0:
        raise UsageError(f"noise levels must be >= 0, got shot={shot}, read_sigma={read_sigma}")
    std = np.sqrt(shot * np.clip(work, 0.0, 1.0) + (read_sigma / 255.0) ** 2)
    return finish(work + rng.standard_normal(work.shape) * std, clip=clip)


def add_chroma_noise(
    img: np.ndarray, *, luma_sigma: float, chroma_sigma: float, rng: np.random.Generator, clip: bool = True
) -> np.ndarray:
    """Noise drawn separately for luma and colour (BT.601 YCbCr), as phone pictures show it: blotchy colour noise
    stronger than the grain. Sigmas on the 0-255 scale; a gray image gets the luma part only."""
    work = as_float_image(img)
    if work.ndim == 2 or work.shape[2] == 1:
        return finish(work + rng.standard_normal(work.shape) * (luma_sigma / 255.0), clip=clip)
    noise = rng.standard_normal(work.shape[:2] + (3,)) * (np.array([luma_sigma, chroma_sigma, chroma_sigma]) / 255.0)
    # YCbCr offsets -> RGB offsets (the inverse BT.601 matrix, full range).
    to_rgb = np.array([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]])
    return finish(work + noise @ to_rgb.T, clip=clip)


def add_correlated_noise(
    img: np.ndarray, *, sigma: float, correlation: float, rng: np.random.Generator, clip: bool = True
) -> np.ndarray:
    """Spatially correlated Gaussian noise (demosaicing and denoising in a camera pipeline smear the grain over a
    few pixels): white noise blurred with a Gaussian of ``correlation`` px, rescaled to std ``sigma`` (0-255)."""
    work = as_float_image(img)
    white = rng.standard_normal(work.shape)
    if correlation > 0:
        taps = gaussian_kernel_1d(correlation)
        white = correlate_separable_reflect(white, taps) / float(np.sqrt(np.sum(np.outer(taps, taps) ** 2)))
    return finish(work + white * (sigma / 255.0), clip=clip)


# --- JPEG ------------------------------------------------------------------------------------------------------


def jpeg_compress(
    img: np.ndarray, *, quality: int | tuple[int, int], rng: np.random.Generator | None = None, subsampling: int = 2
) -> np.ndarray:
    """Encode and decode with Pillow's libjpeg at ``quality`` (1-95), 4:2:0 chroma subsampling (``subsampling``:
    Pillow's 2 = 4:2:0, 1 = 4:2:2, 0 = 4:4:4).

    The image is first quantized to 8 bits (JPEG codes 8-bit samples). Gray (HW or HWx1) stays one channel and
    is coded as a grayscale JPEG; three channels are coded as YCbCr 4:2:0. A (low, high) quality range is
    sampled as an integer with ``rng``.
    """
    work = as_float_image(img)
    if isinstance(quality, tuple):
        if rng is None:
            raise UsageError("a JPEG quality range needs an rng to sample from")
        q = int(rng.integers(quality[0], quality[1], endpoint=True))
    else:
        q = int(quality)
    if not 1 <= q <= 100:
        raise UsageError(f"JPEG quality must be in 1..100, got {q}")
    channels = 1 if work.ndim == 2 else work.shape[2]
    if channels not in (1, 3):
        raise UsageError(f"JPEG needs a gray or RGB image, got {channels} channels")
    pixels = to_uint8(work)
    if channels == 1:
        pil_img = Image.fromarray(pixels.reshape(work.shape[:2]), mode="L")
    else:
        pil_img = Image.fromarray(pixels, mode="RGB")
    buffer = io.BytesIO()
    # subsampling=2 is 4:2:0, the libjpeg/OpenCV default the JPEG-artefact benchmarks were made with.
    pil_img.save(buffer, format="JPEG", quality=q, subsampling=subsampling)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        out = np.asarray(decoded.convert("L" if channels == 1 else "RGB"), dtype=np.float32) / np.float32(255.0)
    return out.reshape(work.shape).astype(np.float32)


# --- blur ------------------------------------------------------------------------------------------------------


def gaussian_kernel_1d(sigma: float, *, radius: int | None = None) -> np.ndarray:
    """Normalised 1-D Gaussian taps; the default radius ``ceil(3 sigma)`` keeps >99.7% of the mass."""
    if sigma <= 0:
        raise UsageError(f"blur sigma must be > 0, got {sigma}")
    r = math.ceil(3.0 * sigma) if radius is None else radius
    x = np.arange(-r, r + 1, dtype=np.float64)
    taps = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return taps / taps.sum()


def gaussian_blur(img: np.ndarray, *, sigma: float) -> np.ndarray:
    """Isotropic Gaussian blur (separable), reflect borders."""
    work = as_float_image(img)
    return finish(correlate_separable_reflect(work, gaussian_kernel_1d(sigma)))


def motion_blur_kernel(*, length: float, angle_deg: float) -> np.ndarray:
    """A linear motion-blur kernel: a segment ``length`` pixels long and 1 pixel wide at ``angle_deg``
    (0 = horizontal, counter-clockwise), normalised to sum to one, odd side ``ceil(length)`` rounded up to odd.

    The segment is rasterised anti-aliased by 8x8 supersampling of each kernel pixel, so a horizontal length-9
    kernel is exactly nine taps of 1/9 and partial lengths give partial end taps.
    """
    if length < 1:
        raise UsageError(f"motion blur length must be >= 1 pixel, got {length}")
    side = math.ceil(length) | 1  # odd, so the segment is centred on a pixel
    supersample = 8
    # Sub-pixel sample positions relative to the kernel centre; rows grow downwards, so y is negated below.
    coords = (np.arange(side * supersample) + 0.5) / supersample - side / 2.0
    xs, ys = np.meshgrid(coords, coords)
    theta = math.radians(angle_deg)
    along = xs * math.cos(theta) - ys * math.sin(theta)
    across = xs * math.sin(theta) + ys * math.cos(theta)
    inside = (np.abs(along) <= length / 2.0) & (np.abs(across) <= 0.5)
    kernel = inside.reshape(side, supersample, side, supersample).mean(axis=(1, 3))
    return kernel / kernel.sum()


def motion_blur(img: np.ndarray, *, length: float, angle_deg: float) -> np.ndarray:
    """Blur along a straight line (camera shake approximated as linear motion), reflect borders."""
    work = as_float_image(img)
    return finish(correlate_reflect(work, motion_blur_kernel(length=length, angle_deg=angle_deg)))


def kernel_blur(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Blur with any normalised odd-sided kernel, reflect borders (FFT for dense kernels)."""
    work = as_float_image(img)
    dense = np.count_nonzero(kernel) > 64
    return finish((correlate_fft_reflect if dense else correlate_reflect)(work, kernel))


def defocus_kernel(radius: float) -> np.ndarray:
    """A uniform disk of ``radius`` px (an out-of-focus lens' point spread), anti-aliased by 8x8 supersampling."""
    if radius <= 0:
        raise UsageError(f"defocus radius must be > 0, got {radius}")
    side = 2 * math.ceil(radius) + 1
    supersample = 8
    coords = (np.arange(side * supersample) + 0.5) / supersample - side / 2.0
    xs, ys = np.meshgrid(coords, coords)
    inside = (xs * xs + ys * ys) <= radius * radius
    kernel = inside.reshape(side, supersample, side, supersample).mean(axis=(1, 3))
    return kernel / kernel.sum()


def defocus_blur(img: np.ndarray, *, radius: float) -> np.ndarray:
    """Out-of-focus blur: a disk point spread function of ``radius`` px."""
    return kernel_blur(img, defocus_kernel(radius))


def shake_kernel(*, length: float, rng: np.random.Generator, steps: int = 64) -> np.ndarray:
    """A camera-shake kernel: a random trajectory with inertia (Boracchi & Foi's model: velocity kept with
    momentum, random pushes, a pull back to the start), scaled to span about ``length`` px, rasterised with 8x8
    supersampling and normalised. Unlike a straight line it curves, doubles back and dwells."""
    if length < 1:
        raise UsageError(f"shake length must be >= 1 pixel, got {length}")
    position = np.zeros(2)
    velocity = rng.standard_normal(2)
    points = [position.copy()]
    for _ in range(steps - 1):
        velocity = 0.7 * velocity + 0.6 * rng.standard_normal(2) - 0.05 * position
        position = position + velocity
        points.append(position.copy())
    path = np.array(points)
    path -= path.mean(axis=0)
    extent = float(np.max(np.ptp(path, axis=0)))
    path *= length / max(extent, 1e-9)
    # Dense samples along the path, so every pixel it crosses gets its share of exposure time.
    fine = np.concatenate([np.linspace(a, b, 8, endpoint=False) for a, b in zip(path[:-1], path[1:])] + [path[-1:]])
    side = (math.ceil(float(np.max(np.abs(fine)))) * 2 + 3) | 1
    supersample = 8
    grid = np.zeros((side * supersample, side * supersample))
    idx = np.clip(np.floor((fine + side / 2.0) * supersample).astype(int), 0, side * supersample - 1)
    np.add.at(grid, (idx[:, 1], idx[:, 0]), 1.0)
    kernel = grid.reshape(side, supersample, side, supersample).sum(axis=(1, 3))
    return kernel / kernel.sum()


# --- rain ------------------------------------------------------------------------------------------------------


def add_rain(
    img: np.ndarray,
    *,
    density: float,
    rng: np.random.Generator,
    length: float = 15.0,
    angle_deg: float | None = None,
    brightness: float = 0.8,
) -> np.ndarray:
    """Synthetic rain: random thin slanted streaks, screen-blended onto the image.

    Streak seeds are random pixels (a fraction ``density`` of the image, e.g. 0.002-0.02) with random intensity;
    blurring them with a motion kernel along the fall direction turns each seed into a thin streak (the usual
    Rain100L-style synthesis). ``angle_deg`` is measured from the horizontal (90 = vertical); None draws a
    common slant in 60..120 degrees. The streak layer is gray and combined by screen blending
    ``1 - (1 - I)(1 - R)``, so streaks brighten and never darken the scene.
    """
    work = as_float_image(img)
    if not 0.0 <= density <= 1.0:
        raise UsageError(f"rain density must be in [0, 1], got {density}")
    h, w = work.shape[:2]
    slant = float(rng.uniform(60.0, 120.0)) if angle_deg is None else float(angle_deg)
    seeds = (rng.random((h, w)) < density) * rng.uniform(0.5, 1.0, size=(h, w))
    streaks = correlate_reflect(seeds, motion_blur_kernel(length=length, angle_deg=slant))
    # A streak's energy is spread over `length` pixels; rescale so its core is about `brightness`.
    layer = np.clip(streaks * length * brightness, 0.0, 1.0)
    if work.ndim == 3:
        layer = layer[:, :, None]
    return finish(1.0 - (1.0 - work) * (1.0 - layer))


def add_drawn_rain(
    img: np.ndarray,
    *,
    density: float,
    opacity: float,
    rng: np.random.Generator,
    angle_deg: float | None = None,
    dim: float = 0.85,
    soften: float = 0.6,
) -> np.ndarray:
    """Rain as a camera records it on a wet day: semi-opaque grey drops over a dimmer, softer scene.

    ``density`` drops per pixel fall as straight segments 8-40 px long, 1 or 2 px wide, along a common slant
    (``angle_deg`` from the horizontal; None draws 70-110) with a few degrees of jitter each. Each drop is
    alpha-composited (``opacity`` at its core, anti-aliased edges) in a light grey, so it covers the scene rather
    than only brightening it as :func:`add_rain`'s screen blend does; the scene behind is multiplied by ``dim``
    (overcast light) and blurred by a Gaussian of ``soften`` px (water on the lens, spray). Drop positions,
    lengths and greys come from ``rng``.
    """
    work = as_float_image(img)
    if not 0.0 <= density <= 1.0 or not 0.0 <= opacity <= 1.0:
        raise UsageError(f"rain density and opacity must be in [0, 1], got {density}, {opacity}")
    h, w = work.shape[:2]
    slant = float(rng.uniform(70.0, 110.0)) if angle_deg is None else float(angle_deg)
    count = int(rng.poisson(density * h * w))
    lengths = rng.uniform(8.0, 40.0, count)
    angles = np.radians(slant + rng.uniform(-3.0, 3.0, count))
    # Starts may lie above and left of the image so drops enter across its borders as they would.
    y0 = rng.uniform(-40.0, h, count)
    x0 = rng.uniform(-40.0, w + 40.0, count)
    wide = rng.random(count) < 0.3
    grey = rng.uniform(0.75, 0.95, count)
    alpha = np.zeros((h, w), dtype=np.float64)
    colour = np.zeros((h, w), dtype=np.float64)
    for i in range(count):
        steps = np.linspace(0.0, lengths[i], int(lengths[i] * 2) + 2)
        ys = np.round(y0[i] + steps * np.sin(angles[i])).astype(np.int64)
        xs = np.round(x0[i] - steps * np.cos(angles[i])).astype(np.int64)
        if wide[i]:
            ys, xs = np.concatenate([ys, ys]), np.concatenate([xs, xs + 1])
        inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
        alpha[ys[inside], xs[inside]] = 1.0
        colour[ys[inside], xs[inside]] = grey[i]
    # Anti-aliased edges: a light blur of the drop mask and its colour (colour normalised by the mask's blur).
    taps = gaussian_kernel_1d(0.6)
    mask = correlate_separable_reflect(alpha, taps)
    tint = correlate_separable_reflect(colour, taps) / np.maximum(mask, 1e-6)
    cover = np.clip(mask / max(float(taps.max() ** 2), 1e-6), 0.0, 1.0) * opacity
    scene = work * dim
    if soften > 0:
        scene = correlate_separable_reflect(scene, gaussian_kernel_1d(soften))
    if work.ndim == 3:
        cover, tint = cover[:, :, None], tint[:, :, None]
    return finish(scene * (1.0 - cover) + tint * cover)


# --- haze ------------------------------------------------------------------------------------------------------


def _depth_proxy(height: int, width: int, *, rng: np.random.Generator,
                 window: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """A plausible depth map in [0, 1]: far at the top (sky/horizon), near at the bottom, plus smooth variation.

    The smooth part is a 4x4 random grid enlarged with bicubic ``imresize``, so it has no high frequencies.
    ``window = (top, left, full_height, full_width)``: the image is that window of a larger photo, and gets the
    photo's depth there (a training patch then spans the small part of the depth range it would in a photo,
    not all of it).
    """
    top, left, full_h, full_w = window if window is not None else (0, 0, height, width)
    if top < 0 or left < 0 or top + height > full_h or left + width > full_w:
        raise UsageError(f"haze window {window} does not contain a {height}x{width} image")
    rows = np.linspace(1.0, 0.0, full_h)[top : top + height, None] * np.ones((1, width))
    coarse = rng.random((4, 4))
    smooth = imresize(coarse, output_shape=(full_h, full_w))
    smooth = (smooth - smooth.min()) / max(float(smooth.max() - smooth.min()), 1e-12)
    smooth = smooth[top : top + height, left : left + width]
    return np.clip(0.7 * rows + 0.3 * smooth, 0.0, 1.0)


def add_haze(
    img: np.ndarray,
    *,
    beta: float,
    rng: np.random.Generator,
    airlight: float | tuple[float, float] = (0.7, 1.0),
    window: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """Atmospheric scattering model ``I = J t + A (1 - t)``, ``t = exp(-beta d)`` (Koschmieder; as in RESIDE/SOTS).

    ``d`` is the depth proxy above, normalised to [0, 1], so ``beta`` is the optical thickness at the farthest
    point (beta 0.5 = light haze, 3 = thick fog). ``airlight`` A is gray, fixed or sampled from a range.
    ``window``: the image is a window of a larger photo (see ``_depth_proxy``).
    """
    work = as_float_image(img)
    if beta < 0:
        raise UsageError(f"haze beta must be >= 0, got {beta}")
    a = _pick(airlight, rng, name="airlight")
    depth = _depth_proxy(work.shape[0], work.shape[1], rng=rng, window=window)
    transmission = np.exp(-beta * depth)
    if work.ndim == 3:
        transmission = transmission[:, :, None]
    return finish(work * transmission + a * (1.0 - transmission))


def fractal_field(height: int, width: int, *, rng: np.random.Generator, octaves: int = 5,
                  persistence: float = 0.55) -> np.ndarray:
    """Smooth fractal noise in [0, 1] (fractional Brownian motion: random grids of doubling resolution enlarged
    bicubically and summed with falling weights), the usual look of fog banks."""
    field = np.zeros((height, width))
    weight, total = 1.0, 0.0
    for octave in range(octaves):
        cells = 2 ** (octave + 1)
        coarse = rng.random((cells + 1, cells + 1))
        field += weight * imresize(coarse, output_shape=(height, width))
        total += weight
        weight *= persistence
    field /= total
    return (field - field.min()) / max(float(field.max() - field.min()), 1e-12)


def add_transmission_haze(img: np.ndarray, *, transmission: np.ndarray | float,
                          airlight: float | tuple[float, float, float]) -> np.ndarray:
    """The scattering model ``I = J t + A (1 - t)`` for any transmission map ``t`` (HxW or a constant) and a gray or
    coloured airlight ``A`` (a blue-gray sky, a yellow smog): the veil other haze generators make."""
    work = as_float_image(img)
    t = np.clip(np.asarray(transmission, dtype=np.float64), 0.0, 1.0)
    if t.ndim == 2 and work.ndim == 3:
        t = t[:, :, None]
    a = np.asarray(airlight, dtype=np.float64)
    if work.ndim == 2 or (work.ndim == 3 and work.shape[2] == 1):
        a = a.mean()  # a gray photo sees the airlight's brightness
        a = a.reshape((1,) * work.ndim)
    return finish(work * t + a * (1.0 - t))


# --- low light -------------------------------------------------------------------------------------------------


def darken(
    img: np.ndarray,
    *,
    gamma: float,
    scale: float,
    noise_sigma: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Low-light synthesis: ``scale * img ** gamma`` (gamma > 1 crushes shadows more than highlights, as an
    under-exposed sensor response), then Gaussian noise of ``noise_sigma`` (0-255 scale) for the amplified read
    noise dark photographs show."""
    work = as_float_image(img)
    if gamma <= 0 or scale <= 0:
        raise UsageError(f"low light needs gamma > 0 and scale > 0, got gamma={gamma}, scale={scale}")
    dark = scale * np.power(np.clip(work, 0.0, 1.0), gamma)
    dark = dark + rng.standard_normal(work.shape) * (noise_sigma / 255.0)
    return finish(dark)


def lower_brightness(img: np.ndarray, *, offset: float) -> np.ndarray:
    """Brightness lowered by subtraction, as an editor's brightness slider or a raised black point does:
    ``img - offset``, so every value below ``offset`` is crushed to black and white becomes ``1 - offset``.
    Unlike :func:`darken`, which scales, it changes the photo's tone shape, and the crushed shadows are lost."""
    work = as_float_image(img)
    if not 0.0 < offset < 1.0:
        raise UsageError(f"a brightness offset must be between 0 and 1, got {offset}")
    return finish(work - offset)


# --- super-resolution ------------------------------------------------------------------------------------------


def downscale(img: np.ndarray, *, scale: int, kernel: str = "matlab") -> np.ndarray:
    """The field's SR input: MATLAB bicubic ``imresize(img, 1/scale)`` then 8-bit quantization; ``kernel`` one of
    :data:`RESAMPLING_KERNELS` shrinks with Pillow's antialiasing kernel instead (a photo tool's small image).

    Height and width must be multiples of ``scale`` (crop the ground truth with ``modcrop`` first), otherwise
    the LR image would not align with it.
    """
    work = as_float_image(img)
    if scale < 1:
        raise UsageError(f"SR scale must be >= 1, got {scale}")
    h, w = work.shape[:2]
    if h % scale or w % scale:
        raise UsageError(f"image {h}x{w} is not a multiple of scale {scale}; crop it with irtool.degrade.modcrop first")
    if kernel == "matlab":
        return quantize_uint8(imresize(work, 1.0 / scale))
    return quantize_uint8(resample(work, (h // scale, w // scale), kernel=kernel))


#: Pillow's resampling filters by the names photo tools give them ("area" is Pillow's box filter, which averages
#: the source pixels each output pixel covers when it shrinks an image, as OpenCV's INTER_AREA does).
RESAMPLING_KERNELS: dict[str, Image.Resampling] = {
    "bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS, "area": Image.Resampling.BOX}


def resample(img: np.ndarray, size: tuple[int, int], *, kernel: str) -> np.ndarray:
    """``img`` resized to ``size`` = (height, width) with Pillow's ``kernel`` (:data:`RESAMPLING_KERNELS`), in float
    (no 8-bit rounding between channels or steps; Pillow antialiases when it shrinks). Clipped to [0, 1]."""
    work = as_float_image(img)
    if kernel not in RESAMPLING_KERNELS:
        raise UsageError(f"kernel must be one of {', '.join(RESAMPLING_KERNELS)}, got {kernel!r}")
    height, width = size
    if height < 1 or width < 1:
        raise UsageError(f"cannot resample to {height}x{width}")
    planes = work[..., None] if work.ndim == 2 else work
    out = np.stack([np.asarray(Image.fromarray(planes[..., c].astype(np.float32), mode="F").resize(
        (width, height), resample=RESAMPLING_KERNELS[kernel])) for c in range(planes.shape[2])], axis=-1)
    return finish(out.reshape((height, width)) if work.ndim == 2 else out)
