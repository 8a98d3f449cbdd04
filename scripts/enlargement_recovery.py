#!/usr/bin/env python3
"""How exactly ``recover_small`` gives back the small image of a MATLAB-bicubic enlargement, against a bicubic
downscale (PSNR in dB on RGB, [0, 1]).

    python scripts/enlargement_recovery.py irtool/assets/samples/clean_picture1a.png
"""

from __future__ import annotations

import sys

import numpy as np
from PIL import Image

from irtool.degrade import imresize, quantize_uint8
from irtool.degrade.enlargement import recover_small


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.clip(a, 0, 1) - b) ** 2)))


def main() -> int:
    with Image.open(sys.argv[1]) as im:
        image = np.asarray(im.convert("RGB"), dtype=np.float32) / np.float32(255.0)
    for scale in (2, 3, 4):
        # A small image whose enlargement has sides that are multiples of the scale.
        height, width = (image.shape[0] // (scale * 4)) * 4, (image.shape[1] // (scale * 4)) * 4
        small = image[:height, :width]
        enlarged = quantize_uint8(imresize(small, float(scale)))
        print(f"x{scale}: least squares {psnr(recover_small(enlarged, scale), small):.1f} dB, "
              f"bicubic downscale {psnr(imresize(enlarged, 1.0 / scale), small):.1f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
