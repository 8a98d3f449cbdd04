"""Generate tests/data/metrics_basicsr.npz: BasicSR's PSNR/SSIM on fixed random uint8 image pairs.

Not a test and not run by pytest. BasicSR is *not* part of irtool; this script imports its metric module from a
scratch checkout (BasicSR @ 8d56e3a045f9, 2024-05-17: basicsr/metrics/{psnr_ssim,metric_util}.py and
basicsr/utils/color_util.py, with a stub registry) in a scratch venv with numpy 2.4.6 + opencv-python-headless
5.0.0 (cv2.filter2D is BasicSR's SSIM filter); torch comes from the project venv's site-packages because
psnr_ssim.py imports it at module level:

    PYTHONPATH=/tmp/bsr_ref:/work/main/.venv/lib/python3.11/site-packages \
        /tmp/bsr/bin/python tests/data/metrics_make_basicsr_fixture.py

irtool images are RGB; BasicSR expects OpenCV's BGR, so color images are passed as ``img[..., ::-1]`` (this
only matters for ``test_y_channel``, where BasicSR calls ``bgr2ycbcr``).
"""

from pathlib import Path

import numpy as np
from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_ssim

# (name, shape, noise sigma of the distorted copy; None = an unrelated random image)
PAIRS = [
    ("color_a", (32, 32, 3), 10.0),
    ("color_b", (48, 40, 3), 30.0),
    ("color_c", (24, 36, 3), None),
    ("gray2d", (40, 33), 15.0),
    ("gray3d", (28, 30, 1), 5.0),
]


def main() -> None:
    rng = np.random.default_rng(20240518)
    arrays: dict[str, np.ndarray] = {}
    for name, shape, sigma in PAIRS:
        # A smooth-ish reference (random field plus gradient) so SSIM is in a realistic range.
        gradient = np.linspace(0, 120, shape[1]).reshape((1, shape[1]) + (1,) * (len(shape) - 2))
        ref = rng.integers(0, 256, size=shape).astype(np.float64) * 0.5 + gradient
        ref = np.clip(np.rint(ref), 0, 255).astype(np.uint8)
        if sigma is None:
            dist = rng.integers(0, 256, size=shape).astype(np.uint8)
        else:
            dist = np.clip(np.rint(ref + rng.normal(0.0, sigma, size=shape)), 0, 255).astype(np.uint8)
        arrays[f"{name}_ref"] = ref
        arrays[f"{name}_dist"] = dist
        to_bgr = (lambda im: im[..., ::-1].copy()) if (ref.ndim == 3 and ref.shape[2] == 3) else (lambda im: im)
        results = []
        for crop_border in (0, 4):
            for y_channel in (False, True):
                p = calculate_psnr(to_bgr(ref), to_bgr(dist), crop_border, input_order="HWC", test_y_channel=y_channel)
                s = calculate_ssim(to_bgr(ref), to_bgr(dist), crop_border, input_order="HWC", test_y_channel=y_channel)
                results.append((crop_border, int(y_channel), float(p), float(s)))
        # rows: crop_border, y_channel (0/1), psnr, ssim
        arrays[f"{name}_expected"] = np.array(results, dtype=np.float64)
    np.savez_compressed(Path(__file__).with_name("metrics_basicsr.npz"), **arrays)


if __name__ == "__main__":
    main()
