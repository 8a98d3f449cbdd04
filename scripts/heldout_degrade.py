#!/usr/bin/env python3
"""Degrade clean photos with a library irtool never trains on, to measure how detection and ``--auto`` generalise.

The generators are albumentations' (an optional dependency of this script only: ``pip install
albumentations==2.0.8``), at middle settings, one image per (photo, setting). The output is the labelled layout
``irtool eval --task detect --labelled`` reads, with the clean photo beside every degraded one:

    OUT/clean/PHOTO.png
    OUT/<type>/PHOTO__<setting>.png       type: noise, jpeg, blur, low-resolution, rain, haze, low-light
    OUT/clean/PHOTO__gray.png             the photo in gray (8-bit, one channel), and for the settings of
    OUT/<type>/PHOTO__<setting>-gray.png  GRAY_SETTINGS the gray photo degraded (one channel: a gray photo's noise
                                          is gray); the manifest pairs them with the gray original
    OUT/manifest.json                     every file with its setting and albumentations' version

Usage::

    python scripts/heldout_degrade.py --data runs/photos/val --out runs/heldout
    python scripts/heldout_degrade.py --data runs/photos/val_crops --out runs/heldout40_gray --only gray

Every image is a pure function of ``--seed``, the photo's name and the setting. Gray source photos are read as
RGB. Nothing here is imported by irtool.
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from irtool.io import atomic_write_bytes, list_images, write_image


def settings():
    """(setting name, true type, transform) at the generator's middle settings."""
    import albumentations as A
    import cv2

    def one(transform):
        return A.Compose([transform])

    down = {"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_LINEAR}
    lanczos = {"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_LANCZOS4}
    return [
        ("gauss-noise", "noise", one(A.GaussNoise(std_range=(0.08, 0.12), p=1.0))),
        ("iso-noise", "noise", one(A.ISONoise(color_shift=(0.03, 0.05), intensity=(0.4, 0.6), p=1.0))),
        ("gauss-noise-jpeg90", "noise", A.Compose([A.GaussNoise(std_range=(0.06, 0.1), p=1.0),
                                                  A.ImageCompression(quality_range=(90, 90), p=1.0)])),
        ("jpeg-q25", "jpeg", one(A.ImageCompression(quality_range=(20, 30), p=1.0))),
        ("defocus", "blur", one(A.Defocus(radius=(4, 6), alias_blur=(0.2, 0.3), p=1.0))),
        ("motion-blur", "blur", one(A.MotionBlur(blur_limit=(11, 17), p=1.0))),
        ("downscale-x2-linear", "low-resolution",
         one(A.Downscale(scale_range=(0.5, 0.5), interpolation_pair=down, p=1.0))),
        ("downscale-x3-lanczos", "low-resolution",
         one(A.Downscale(scale_range=(0.33, 0.33), interpolation_pair=lanczos, p=1.0))),
        ("rain", "rain", one(A.RandomRain(rain_type="default", brightness_coefficient=0.8, p=1.0))),
        ("fog", "haze", one(A.RandomFog(fog_coef_range=(0.4, 0.6), alpha_coef=0.1, p=1.0))),
        ("darker-brightness", "low-light",
         one(A.RandomBrightnessContrast(brightness_limit=(-0.55, -0.45), contrast_limit=(-0.3, -0.2), p=1.0))),
        ("gamma-2.5", "low-light", one(A.RandomGamma(gamma_limit=(230, 270), p=1.0))),
    ]


def extra_settings():
    """Settings outside the sets (``--extra NAME``), so the sets keep their pixels: albumentations' motion blur with
    its kernel kept centred (not shifted, and its line symmetric about the centre: ``direction`` other than 0 keeps
    only part of the line on one side, which moves the photo as a shift does), to tell the deblurring route's own
    harms from the displacement an uncentred kernel adds (README "Motion blur with a centred kernel")."""
    import albumentations as A

    centred = A.MotionBlur(blur_limit=(11, 17), allow_shifted=False, direction_range=(0.0, 0.0), p=1.0)
    return [("motion-blur-centred", "blur", A.Compose([centred]))]


#: Settings also applied to the gray version of each photo (black-and-white photos people have).
GRAY_SETTINGS = ("gauss-noise", "jpeg-q25", "gamma-2.5")


def _write_png(path: Path, pixels: np.ndarray) -> None:
    write_image(path, pixels.astype(np.float32) / np.float32(255.0), format="png", bit_depth=8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of clean photos (held out from training)")
    parser.add_argument("--out", required=True, help="output folder (labelled layout)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["all", "colour", "gray"], default="all",
                        help="write only the colour photos and their degradations, or only the gray ones")
    parser.add_argument("--types", nargs="+", metavar="TYPE",
                        help="degrade only to these true types (noise, blur, low-resolution, ...; the clean photos "
                             "are always written, as the references): a smaller set for a question about some "
                             "routes; each setting kept draws the same pixels as in the whole set")
    parser.add_argument("--extra", nargs="+", default=[], metavar="NAME",
                        help="also these settings outside the sets (motion-blur-centred: motion blur with a centred "
                             "kernel)")
    args = parser.parse_args()
    try:
        import albumentations
    except ImportError:
        print("this script needs albumentations: pip install albumentations==2.0.8", file=sys.stderr)
        return 2
    out = Path(args.out)
    extras = {entry[0]: entry for entry in extra_settings()}
    if unknown := sorted(set(args.extra) - set(extras)):
        parser.error(f"--extra: unknown setting {', '.join(unknown)} (known: {', '.join(extras)})")
    table = settings() + [extras[name] for name in args.extra]
    kinds = sorted({kind for _, kind, _ in table})
    if args.types is not None and (unknown := sorted(set(args.types) - set(kinds))):
        parser.error(f"--types: no setting makes {', '.join(unknown)} (types: {', '.join(kinds)})")
    table = [entry for entry in table if args.types is None or entry[1] in args.types]
    manifest = {"generator": f"albumentations {albumentations.__version__}", "seed": args.seed, "files": []}
    photos = list_images(args.data)
    for photo in photos:
        if args.only != "gray":
            with Image.open(photo) as im:
                clean = np.asarray(im.convert("RGB"))
            _write_png(out / "clean" / f"{photo.stem}.png", clean)
            manifest["files"].append({"file": f"clean/{photo.stem}.png", "type": "clean", "photo": photo.name})
            for name, kind, transform in table:
                transform.set_random_seed(zlib.crc32(f"{args.seed}:{photo.name}:{name}".encode()))
                degraded = transform(image=clean)["image"]
                relative = f"{kind}/{photo.stem}__{name}.png"
                _write_png(out / relative, np.ascontiguousarray(degraded))
                manifest["files"].append({"file": relative, "type": kind, "setting": name, "photo": photo.name})
        if args.only == "colour":
            continue
        with Image.open(photo) as im:
            gray = np.asarray(im.convert("L"))[..., None]
        gray_name = f"{photo.stem}__gray.png"
        _write_png(out / "clean" / gray_name, gray)
        manifest["files"].append({"file": f"clean/{gray_name}", "type": "clean", "setting": "gray",
                                  "photo": gray_name})
        for name, kind, transform in table:
            if name not in GRAY_SETTINGS:
                continue
            transform.set_random_seed(zlib.crc32(f"{args.seed}:{photo.name}:{name}-gray".encode()))
            degraded = transform(image=gray)["image"]
            relative = f"{kind}/{photo.stem}__{name}-gray.png"
            _write_png(out / relative, np.ascontiguousarray(degraded).reshape(gray.shape))
            manifest["files"].append({"file": relative, "type": kind, "setting": f"{name}-gray", "photo": gray_name})
    atomic_write_bytes(out / "manifest.json", json.dumps(manifest, indent=2).encode("utf-8"))
    print(f"{len(manifest['files'])} files from {len(photos)} photos in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
