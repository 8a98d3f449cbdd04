#!/usr/bin/env python3
"""Degrade clean photos with a library irtool never trains on, to measure how detection and ``--auto`` generalise.

The generators are albumentations' (``--library albumentations``, the default; an optional dependency of this
script only: ``pip install albumentations==2.0.8``) or kornia's (``--library kornia``: ``pip install
kornia==0.8.1``, a second library whose degradations irtool never trains on), at middle settings, one image per
(photo, setting). The output is the labelled layout ``irtool eval --task detect --labelled`` reads, with the clean
photo beside every degraded one:

    OUT/clean/PHOTO.png
    OUT/<type>/PHOTO__<setting>.png       type: noise, jpeg, blur, low-resolution, rain, haze, low-light
    OUT/clean/PHOTO__gray.png             the photo in gray (8-bit, one channel), and for the settings of
    OUT/<type>/PHOTO__<setting>-gray.png  GRAY_SETTINGS the gray photo degraded (one channel: a gray photo's noise
                                          is gray); the manifest pairs them with the gray original
    OUT/manifest.json                     every file with its setting and the library's version

Usage::

    python scripts/heldout_degrade.py --data runs/photos/val --out runs/heldout
    python scripts/heldout_degrade.py --data runs/photos/val_crops --out runs/heldout40_gray --only gray
    python scripts/heldout_degrade.py --library kornia --data runs/photos/val_crops --out runs/kornia40c --only colour

Every image is a pure function of ``--seed``, the photo's name, the setting and the library's version. Gray
source photos are read as RGB. Nothing here is imported by irtool.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from irtool.io import atomic_write_bytes, list_images, write_image

#: A degradation: ``apply(pixels, seed)`` takes HxWxC uint8 pixels (C 1 or 3) and returns the degraded pixels on the
#: 0-255 scale (uint8 or float; rounded to 8 bits when written).
Apply = Callable[[np.ndarray, int], np.ndarray]


def _albumentations(transform) -> Apply:
    def apply(pixels: np.ndarray, seed: int) -> np.ndarray:
        transform.set_random_seed(seed)
        return transform(image=pixels)["image"]

    return apply


def albumentations_settings() -> list[tuple[str, str, Apply]]:
    """(setting name, true type, degradation) at albumentations' middle settings."""
    import albumentations as A
    import cv2

    def one(transform) -> Apply:
        return _albumentations(A.Compose([transform]))

    down = {"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_LINEAR}
    lanczos = {"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_LANCZOS4}
    return [
        ("gauss-noise", "noise", one(A.GaussNoise(std_range=(0.08, 0.12), p=1.0))),
        ("iso-noise", "noise", one(A.ISONoise(color_shift=(0.03, 0.05), intensity=(0.4, 0.6), p=1.0))),
        ("gauss-noise-jpeg90", "noise", _albumentations(A.Compose([
            A.GaussNoise(std_range=(0.06, 0.1), p=1.0), A.ImageCompression(quality_range=(90, 90), p=1.0)]))),
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
    return [("motion-blur-centred", "blur", _albumentations(A.Compose([centred])))]


def _kornia(*transforms, rgb: bool = False) -> Apply:
    """The kornia transforms one after another on the pixels as floats in [0, 1], seeded through torch's global
    generator (kornia draws its parameters there). ``rgb``: the transforms need three channels (kornia's JPEG), so a
    gray image goes through as three equal channels and comes back as their mean."""
    import torch

    def apply(pixels: np.ndarray, seed: int) -> np.ndarray:
        torch.manual_seed(seed)
        x = torch.from_numpy(np.array(pixels, dtype=np.float32)).permute(2, 0, 1)[None] / 255.0
        gray = x.shape[1] == 1
        if gray and rgb:
            x = x.expand(-1, 3, -1, -1).contiguous()
        for transform in transforms:
            x = transform(x)
        if gray and rgb:
            x = x.mean(dim=1, keepdim=True)
        return x[0].clamp(0.0, 1.0).permute(1, 2, 0).numpy() * 255.0

    return apply


def _kornia_enlarged(factor: int, upscale: str) -> Apply:
    """Shrunk by ``factor`` with kornia's antialiased bilinear resize, enlarged back to the photo's size by
    ``upscale``, in floats (no 8-bit small image in between: kornia works in floats)."""
    from kornia.geometry.transform import resize

    def shrink_and_enlarge(x):
        h, w = x.shape[-2:]
        small = resize(x, (max(1, round(h / factor)), max(1, round(w / factor))), interpolation="bilinear",
                       antialias=True)
        return resize(small, (h, w), interpolation=upscale)

    return _kornia(shrink_and_enlarge)


def kornia_settings() -> list[tuple[str, str, Apply]]:
    """(setting name, true type, degradation) at kornia's middle settings. Kornia has no haze (its plasma brightness
    adds a separate fractal to each channel, colour blotches rather than a veil), so this set has none."""
    import kornia.augmentation as K

    return [
        ("gauss-noise", "noise", _kornia(K.RandomGaussianNoise(std=0.08, p=1.0))),
        ("gauss-noise-jpeg80", "noise", _kornia(K.RandomGaussianNoise(std=0.06, p=1.0),
                                                K.RandomJPEG(jpeg_quality=80.0, p=1.0), rgb=True)),
        ("jpeg-q25", "jpeg", _kornia(K.RandomJPEG(jpeg_quality=(20.0, 30.0), p=1.0), rgb=True)),
        ("gaussian-blur", "blur", _kornia(K.RandomGaussianBlur(kernel_size=(13, 13), sigma=(1.5, 2.5), p=1.0))),
        ("motion-blur", "blur", _kornia(K.RandomMotionBlur(kernel_size=(9, 15), angle=(-90.0, 90.0),
                                                           direction=(-0.5, 0.5), border_type="reflect", p=1.0))),
        ("x2-bicubic", "low-resolution", _kornia_enlarged(2, "bicubic")),
        ("x3-bilinear", "low-resolution", _kornia_enlarged(3, "bilinear")),
        ("rain", "rain", _kornia(K.RandomRain(number_of_drops=(1000, 2000), drop_height=(5, 20), drop_width=(-5, 5),
                                              p=1.0))),
        ("brightness-cut", "low-light", _kornia(K.RandomBrightness(brightness=(0.7, 0.8), p=1.0))),
        ("gamma-2.5", "low-light", _kornia(K.RandomGamma(gamma=(2.2, 2.8), p=1.0))),
    ]


#: Settings also applied to the gray version of each photo (black-and-white photos people have).
GRAY_SETTINGS = ("gauss-noise", "jpeg-q25", "gamma-2.5")

#: Each library: its package's import name, what to install, its settings and extra settings.
LIBRARIES = {
    "albumentations": ("albumentations", "pip install albumentations==2.0.8", albumentations_settings,
                       extra_settings),
    "kornia": ("kornia", "pip install kornia==0.8.1", kornia_settings, lambda: []),
}


def _write_png(path: Path, pixels: np.ndarray) -> None:
    write_image(path, pixels.astype(np.float32) / np.float32(255.0), format="png", bit_depth=8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of clean photos (held out from training)")
    parser.add_argument("--out", required=True, help="output folder (labelled layout)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--library", choices=sorted(LIBRARIES), default="albumentations",
                        help="whose degradations (default: albumentations)")
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
    package, install, library_settings, library_extras = LIBRARIES[args.library]
    try:
        library = importlib.import_module(package)
    except ImportError:
        print(f"--library {args.library} needs {package}: {install}", file=sys.stderr)
        return 2
    out = Path(args.out)
    extras = {entry[0]: entry for entry in library_extras()}
    if unknown := sorted(set(args.extra) - set(extras)):
        parser.error(f"--extra: unknown setting {', '.join(unknown)} (known: {', '.join(extras) or 'none'})")
    table = library_settings() + [extras[name] for name in args.extra]
    kinds = sorted({kind for _, kind, _ in table})
    if args.types is not None and (unknown := sorted(set(args.types) - set(kinds))):
        parser.error(f"--types: no setting makes {', '.join(unknown)} (types: {', '.join(kinds)})")
    table = [entry for entry in table if args.types is None or entry[1] in args.types]
    manifest = {"generator": f"{package} {library.__version__}", "seed": args.seed, "files": []}
    photos = list_images(args.data)
    for photo in photos:
        if args.only != "gray":
            with Image.open(photo) as im:
                clean = np.asarray(im.convert("RGB"))
            _write_png(out / "clean" / f"{photo.stem}.png", clean)
            manifest["files"].append({"file": f"clean/{photo.stem}.png", "type": "clean", "photo": photo.name})
            for name, kind, degrade in table:
                degraded = degrade(clean, zlib.crc32(f"{args.seed}:{photo.name}:{name}".encode()))
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
        for name, kind, degrade in table:
            if name not in GRAY_SETTINGS:
                continue
            degraded = degrade(gray, zlib.crc32(f"{args.seed}:{photo.name}:{name}-gray".encode()))
            relative = f"{kind}/{photo.stem}__{name}-gray.png"
            _write_png(out / relative, np.ascontiguousarray(degraded).reshape(gray.shape))
            manifest["files"].append({"file": relative, "type": kind, "setting": f"{name}-gray", "photo": gray_name})
    atomic_write_bytes(out / "manifest.json", json.dumps(manifest, indent=2).encode("utf-8"))
    print(f"{len(manifest['files'])} files from {len(photos)} photos in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
