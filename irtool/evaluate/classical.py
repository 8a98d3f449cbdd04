"""Classical Gaussian denoisers from scikit-image, as baselines for ``irtool eval --task denoise --classical``.

The bundled denoiser is measured against the best of scikit-image's classical denoisers (non-local means,
wavelet, TV) tuned for the noise level. Each denoiser here has one strength parameter proportional to the noise level
(given on the 0-255 scale, applied to images in [0, 1]), so the same constants serve every sigma:

* ``nlm``: ``denoise_nl_means`` (Buades et al.) in fast mode, told the noise sigma (it subtracts the expected
  noise contribution from patch distances), filter strength ``h = NLM_H_PER_SIGMA * sigma``;
* ``wavelet``: ``denoise_wavelet`` with BayesShrink soft thresholds on YCbCr, given
  ``WAVELET_SIGMA_FACTOR * sigma`` as the noise level;
* ``tv``: ``denoise_tv_chambolle`` (total variation), weight ``TV_WEIGHT_PER_SIGMA * sigma``.

The constants were chosen for sigma 25 on training photos only, never on the held-out split::

    OMP_NUM_THREADS=1 .venv/bin/python scripts/tune_classical.py --data runs/photos/train --sigma 25 \\
        --images 6 --crop 320

Inputs are HxWxC float images in [0, 1] (noisy inputs may overshoot that range; they are used as they are, like
a network sees them); outputs are float64 HxWxC of the same size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from irtool.errors import UsageError

__all__ = [
    "CLASSICAL_DENOISERS",
    "NLM_H_PER_SIGMA",
    "NLM_PATCH_DISTANCE",
    "NLM_PATCH_SIZE",
    "TV_WEIGHT_PER_SIGMA",
    "WAVELET_NAME",
    "WAVELET_SIGMA_FACTOR",
    "ClassicalDenoiser",
    "classical_denoisers",
    "denoise_nlm",
    "denoise_tv",
    "denoise_wavelet_bayes",
]

# Chosen for sigma 25 by the command in the module docstring (6 training photos, 320 px centre crops, mean PSNR
# under dn-rgb-swinir; input 20.73 dB): NLM h 0.5-1.0 x sigma, patch 5/7 -> 0.6, 5 (31.74 dB); wavelet noise level
# 0.8-1.5 x sigma, db1/db2/db4/sym4 -> 1.0, db2 (29.77 dB); TV weight 0.5-1.2 x sigma -> 0.85 (30.11 dB).
NLM_H_PER_SIGMA = 0.6
NLM_PATCH_SIZE = 5
#: scikit-image's documented example value; a search window of 13 x 13 keeps fast mode around 2 s per megapixel.
NLM_PATCH_DISTANCE = 6
WAVELET_SIGMA_FACTOR = 1.0
WAVELET_NAME = "db2"
TV_WEIGHT_PER_SIGMA = 0.85


def _unit_sigma(sigma: float) -> float:
    if not sigma > 0:
        raise UsageError(f"the classical denoisers need a positive noise sigma, got {sigma}")
    return float(sigma) / 255.0


def _channel_axis(image: np.ndarray) -> int | None:
    if image.ndim != 3:
        raise UsageError(f"expected an HxWxC image, got shape {image.shape}")
    return -1 if image.shape[2] > 1 else None


def _as_hwc(result: np.ndarray, image: np.ndarray) -> np.ndarray:
    # One-channel images are denoised as 2-D planes; give them their channel axis back.
    return result.reshape(image.shape).astype(np.float64, copy=False)


def denoise_nlm(image: np.ndarray, *, sigma: float, h_per_sigma: float = NLM_H_PER_SIGMA,
                patch_size: int = NLM_PATCH_SIZE, patch_distance: int = NLM_PATCH_DISTANCE) -> np.ndarray:
    """Non-local means (fast mode) with the noise ``sigma`` (0-255 scale) given and ``h = h_per_sigma * sigma``."""
    from skimage.restoration import denoise_nl_means

    s = _unit_sigma(sigma)
    axis = _channel_axis(image)
    plane = image if axis is not None else image[:, :, 0]
    out = denoise_nl_means(plane.astype(np.float64), h=h_per_sigma * s, sigma=s, fast_mode=True,
                           patch_size=patch_size, patch_distance=patch_distance, channel_axis=axis)
    return _as_hwc(out, image)


def denoise_wavelet_bayes(image: np.ndarray, *, sigma: float, sigma_factor: float = WAVELET_SIGMA_FACTOR,
                          wavelet: str = WAVELET_NAME) -> np.ndarray:
    """BayesShrink soft wavelet thresholding (on YCbCr for colour) with noise level ``sigma_factor * sigma``."""
    from skimage.restoration import denoise_wavelet

    s = _unit_sigma(sigma)
    axis = _channel_axis(image)
    plane = image if axis is not None else image[:, :, 0]
    out = denoise_wavelet(plane.astype(np.float64), sigma=sigma_factor * s, wavelet=wavelet, mode="soft",
                          method="BayesShrink", convert2ycbcr=axis is not None, rescale_sigma=True,
                          channel_axis=axis)
    return _as_hwc(out, image)


def denoise_tv(image: np.ndarray, *, sigma: float, weight_per_sigma: float = TV_WEIGHT_PER_SIGMA) -> np.ndarray:
    """Chambolle total-variation denoising with ``weight = weight_per_sigma * sigma``."""
    from skimage.restoration import denoise_tv_chambolle

    s = _unit_sigma(sigma)
    axis = _channel_axis(image)
    plane = image if axis is not None else image[:, :, 0]
    out = denoise_tv_chambolle(plane.astype(np.float64), weight=weight_per_sigma * s, channel_axis=axis)
    return _as_hwc(out, image)


#: Row name -> denoiser(image, *, sigma), in the order rows are shown.
CLASSICAL_DENOISERS: dict[str, Callable[..., np.ndarray]] = {
    "nlm": denoise_nlm,
    "wavelet": denoise_wavelet_bayes,
    "tv": denoise_tv,
}


@dataclass(frozen=True, kw_only=True)
class ClassicalDenoiser:
    """One classical denoiser bound to a noise level: an image restorer the evaluation runner can score.

    ``restore_image(HxWxC float) -> HxWxC float``; ``scale`` 1 and no parameters, like the input baseline.
    """

    name: str
    sigma: float
    scale: int = 1
    parameters: int = 0

    def __post_init__(self) -> None:
        if self.name not in CLASSICAL_DENOISERS:
            raise UsageError(f"unknown classical denoiser {self.name!r}; choose one of "
                             f"{', '.join(CLASSICAL_DENOISERS)}")
        _unit_sigma(self.sigma)

    def restore_image(self, image: np.ndarray) -> np.ndarray:
        return CLASSICAL_DENOISERS[self.name](image, sigma=self.sigma)


def classical_denoisers(*, sigma: float, names: tuple[str, ...] | None = None) -> list[ClassicalDenoiser]:
    """The classical baselines (all three by default) for noise level ``sigma`` on the 0-255 scale."""
    return [ClassicalDenoiser(name=name, sigma=sigma) for name in (names or tuple(CLASSICAL_DENOISERS))]
