"""Make the bundled sample images: one held-out photo per degradation, plus one clean photo.

The photos come from the validation split written by ``scripts/gather_photos.py`` (never trained on).
Each sample is a centre crop, degraded with ``irtool.degrade`` at a fixed severity and seed, so the
files are reproducible byte for byte:

    python scripts/gather_photos.py && python scripts/make_samples.py

writes ``irtool/assets/samples/`` and ``irtool/assets/samples/SAMPLES.json`` (what each file is).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

from irtool.degrade import degrade, imresize
from irtool.io import atomic_output, atomic_write_text

#: sample file -> (validation photo, degradation kind or "clean", severity, output format)
SAMPLES = {
    "noisy_ladybird.png": ("mate-LadyBird.png", "noise", 20 / 45, "png"),  # sigma 25
    "jpeg_coffee.jpg": ("skimage-coffee.png", "jpeg", 0.8, "jpeg"),  # quality 20
    "blurry_path.png": ("plasma-Path.png", "blur", 0.5, "png"),
    "rainy_friends.png": ("lomiri-friends.png", "rain", 0.6, "png"),
    "hazy_picos.png": ("lomiri-picosdeeuropa.png", "haze", 0.5, "png"),
    "dark_eveningglow.png": ("plasma-EveningGlow.png", "low-light", 0.6, "png"),
    "lowres_dune.png": ("mate-Dune.png", "low-resolution", 0.0, "png"),  # x2, upsampled back: soft
    "clean_picture1a.png": ("lomiri-Picture_1A.png", "clean", 0.0, "png"),
}
CROP = (288, 384)  # height, width: small enough that the README's first command runs in seconds on a CPU
SEED = 2026


def centre_crop(img: np.ndarray, height: int, width: int) -> np.ndarray:
    top = (img.shape[0] - height) // 2
    left = (img.shape[1] - width) // 2
    return img[top : top + height, left : left + width]


def make(photo: Path, kind: str, severity: float, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    img = np.asarray(Image.open(photo).convert("RGB"), dtype=np.float32) / 255.0
    img = centre_crop(img, *CROP)
    if kind == "clean":
        return img, {"kind": "clean"}
    if kind == "low-resolution":
        lq, info = degrade(img, kind, severity=severity, rng=rng, scale=2)
        lq = np.clip(imresize(np.round(lq * 255) / 255, output_shape=img.shape[:2]), 0, 1)
        return lq, {**info.to_dict(), "upsampled_back": "imresize bicubic"}
    lq, info = degrade(img, kind, severity=severity, rng=rng)
    return lq, info.to_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=Path("runs/photos/val"))
    samples = Path(__file__).resolve().parents[1] / "irtool" / "assets" / "samples"
    parser.add_argument("--out", type=Path, default=samples)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    record = {}
    for index, (name, (photo, kind, severity, fmt)) in enumerate(SAMPLES.items()):
        rng = np.random.default_rng([SEED, index])
        pixels, info = make(args.photos / photo, kind, severity, rng)
        out = args.out / name
        image = Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8))
        if fmt == "jpeg":
            # The JPEG sample is the compressed file itself, as a camera or website would deliver it.
            image = Image.fromarray(np.round(centre_crop(
                np.asarray(Image.open(args.photos / photo).convert("RGB"), dtype=np.float32) / 255.0, *CROP) * 255
            ).astype(np.uint8))
            with atomic_output(out) as handle:
                image.save(handle, format="JPEG", quality=int(info["params"]["quality"]), subsampling="4:2:0")
        else:
            with atomic_output(out) as handle:
                image.save(handle, format="PNG")
        record[name] = {"photo": photo, "degradation": info,
                        "sha256": hashlib.sha256(out.read_bytes()).hexdigest()}
        print(f"{name}: {photo} {kind}")
    atomic_write_text(args.out / "SAMPLES.json", json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
