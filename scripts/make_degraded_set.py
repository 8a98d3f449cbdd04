"""Degrade a folder of clean photos once, reproducibly, to score a restorer with ``irtool eval --data-lq``.

For the degradations that have no synthetic protocol in ``irtool eval`` (blur, rain, haze, low light), this
writes one degraded PNG per clean photo, same file name, at a fixed severity and a per-photo seed:

    python scripts/make_degraded_set.py --data runs/photos/val --kind blur --severity 0.5 --out runs/degraded/blur
    irtool eval --task deblur --data runs/photos/val --data-lq runs/degraded/blur --model res_hair_lite_aio

The degraded files are a pure function of (photo bytes, kind, severity, seed). Existing outputs are replaced
atomically; the clean folder is only read.

``--labelled`` writes instead the labelled layout ``irtool eval --task auto`` and ``--task detect --labelled`` read,
one image per (photo, degradation, generator) from every registered generator (the "wide" pool), the clean photos
beside them and a manifest, the same layout as ``scripts/heldout_degrade.py`` (albumentations) writes::

    python scripts/make_degraded_set.py --labelled --data runs/photos/val_crops --severity 0.5 --out runs/labelled
    irtool eval --task auto --data runs/labelled
"""

from __future__ import annotations

import argparse
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from irtool.degrade import DEGRADATION_KINDS, degrade
from irtool.io import atomic_output, list_images

KINDS = [k for k in DEGRADATION_KINDS if k != "low-resolution"]  # SR has its own protocol (bicubic from HR)


def degrade_folder(data: Path, out: Path, *, kind: str, severity: float, seed: int) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for src in list_images(data):
        clean = np.asarray(Image.open(src).convert("RGB"), dtype=np.float32) / 255.0
        rng = np.random.default_rng([seed, zlib.crc32(src.name.encode()), zlib.crc32(kind.encode())])
        lq, _info = degrade(clean, kind, severity=severity, rng=rng)
        pixels = np.clip(np.round(lq * 255.0), 0, 255).astype(np.uint8)
        target = out / f"{src.stem}.png"
        with atomic_output(target) as handle:
            Image.fromarray(pixels).save(handle, format="PNG")
        written.append(target)
    return written


def labelled_set(data: Path, out: Path, *, severity: float, seed: int) -> list[dict[str, str]]:
    """Every photo of ``data`` through every generator of every degradation at ``severity`` (low resolution:
    enlarged back to the photo's size, as ``degrade(..., same_size=True)`` makes it) ->
    ``out/<kind>/PHOTO__<generator>.png``, plus ``out/clean/PHOTO.png`` and ``out/manifest.json``."""
    import json

    from irtool.degradations import CLEAN, DEGRADATIONS
    from irtool.degrade import modcrop
    from irtool.io import atomic_write_text, read_image, write_image

    files: list[dict[str, str]] = []
    for src in list_images(data):
        pixels = read_image(src).pixels
        clean = modcrop(np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels[..., :3], 12)
        write_image(out / CLEAN / f"{src.stem}.png", clean, bit_depth=8)
        files.append({"file": f"{CLEAN}/{src.stem}.png", "type": CLEAN, "photo": f"{src.stem}.png"})
        for kind, entry in DEGRADATIONS.items():
            for generator in entry.pool("wide", same_size=True):
                rng = np.random.default_rng([seed, zlib.crc32(src.name.encode()), zlib.crc32(kind.encode()),
                                             zlib.crc32(generator.name.encode())])
                lq, _ = degrade(clean, kind, severity=severity, rng=rng, generator=generator.name, same_size=True)
                lq = np.round(np.clip(lq, 0, 1) * 255.0).astype(np.float32) / np.float32(255.0)
                name = f"{kind}/{src.stem}__{generator.name}.png"
                write_image(out / name, lq, bit_depth=8)
                files.append({"file": name, "type": kind, "setting": generator.name, "photo": f"{src.stem}.png"})
    manifest = {"generator": "irtool.degrade (wide pool)", "severity": severity, "seed": seed, "files": files}
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of clean photos")
    parser.add_argument("--kind", choices=KINDS)
    parser.add_argument("--labelled", action="store_true",
                        help="every degradation and generator, in the labelled layout (see the module docstring)")
    parser.add_argument("--severity", type=float, default=0.5, help="in [0, 1] (irtool.degrade's scale)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.out.resolve() == args.data.resolve():
        parser.error("--out must differ from --data (the clean photos are never modified)")
    if args.labelled:
        written = labelled_set(args.data, args.out, severity=args.severity, seed=args.seed)
        print(f"{len(written)} images (severity {args.severity}, seed {args.seed}) -> {args.out}")
        return
    if args.kind is None:
        parser.error("--kind is required without --labelled")
    files = degrade_folder(args.data, args.out, kind=args.kind, severity=args.severity, seed=args.seed)
    print(f"{len(files)} {args.kind} images (severity {args.severity}, seed {args.seed}) -> {args.out}")


if __name__ == "__main__":
    main()
