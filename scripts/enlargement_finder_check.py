#!/usr/bin/env python3
"""How often ``find_enlargement`` finds enlargements made by Pillow (and OpenCV, when installed) from crops of
training photos, and how often it takes a photo or a softened photo for one.

    python scripts/enlargement_finder_check.py --data runs/photos/train --photos 6

Each photo's 300x400 crop at (200, 200) is shrunk (Pillow bicubic) to 150x200, 99x132, 120x160 and 200x266 and
enlarged back with each library kernel; "found" means the exact small size was recovered. The photos themselves
and their Gaussian-softened copies (sigma 0.5 and 0.8 px, saved as 8 bits) should give nothing.
"""

from __future__ import annotations

import argparse
import functools

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from irtool.degrade.enlargement import find_enlargement
from irtool.io import list_images

SMALL_SIZES = ((150, 200), (99, 132), (120, 160), (200, 266))


def enlargers() -> dict:
    resample = Image.Resampling
    out = {f"pillow-{k.lower()}": (lambda s, m=getattr(resample, k): np.asarray(Image.fromarray(s).resize((400, 300),
                                                                                                           m)))
           for k in ("BICUBIC", "BILINEAR", "LANCZOS")}
    try:
        import cv2
    except ImportError:
        return out
    for name, flag in (("linear", cv2.INTER_LINEAR), ("cubic", cv2.INTER_CUBIC), ("lanczos4", cv2.INTER_LANCZOS4)):
        out[f"opencv-{name}"] = lambda s, f=flag: cv2.resize(s, (400, 300), interpolation=f)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--photos", type=int, default=6)
    parser.add_argument("--skip-clipped", action="store_true",
                        help="find_enlargement(skip_clipped=True): test lines free of samples clipped at black "
                             "or white")
    args = parser.parse_args()
    search = functools.partial(find_enlargement, skip_clipped=args.skip_clipped)
    found = total = false_positives = checked = 0
    by_kernel: dict[str, list[int]] = {}
    for path in list_images(args.data)[: args.photos]:
        with Image.open(path) as im:
            crop = np.asarray(im.convert("RGB"))[200:500, 200:600]
        for name, enlarge in enlargers().items():
            for size in SMALL_SIZES:
                small = np.asarray(Image.fromarray(crop).resize(size[::-1], Image.Resampling.BICUBIC))
                result = search(enlarge(small).astype(np.float32) / 255)
                hit = result is not None and result[:2] == size
                found, total = found + hit, total + 1
                by_kernel.setdefault(name, [0, 0])[0] += hit
                by_kernel[name][1] += 1
        for sigma in (0.0, 0.5, 0.8):
            image = crop if sigma == 0 else np.round(gaussian_filter(crop.astype(np.float32), (sigma, sigma, 0)))
            false_positives += search(image.astype(np.float32) / 255) is not None
            checked += 1
    print(f"enlargements found: {found} of {total}; photos taken for one: {false_positives} of {checked}")
    for name, (hits, count) in by_kernel.items():
        print(f"  {name}: {hits}/{count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
