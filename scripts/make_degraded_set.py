"""Degrade a folder of clean photos once, reproducibly, to score a restorer with ``irtool eval --data-lq``.

For the degradations that have no synthetic protocol in ``irtool eval`` (blur, rain, haze, low light), this
writes one degraded PNG per clean photo, same file name, at a fixed severity and a per-photo seed:

    python scripts/make_degraded_set.py --data runs/photos/val --kind blur --severity 0.5 --out runs/degraded/blur
    irtool eval --task deblur --data runs/photos/val --data-lq runs/degraded/blur --model res_hair_lite_aio

The degraded files are a pure function of (photo bytes, kind, severity, seed). Existing outputs are replaced
atomically; the clean folder is only read.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of clean photos")
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--severity", type=float, default=0.5, help="in [0, 1] (irtool.degrade's scale)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.out.resolve() == args.data.resolve():
        parser.error("--out must differ from --data (the clean photos are never modified)")
    files = degrade_folder(args.data, args.out, kind=args.kind, severity=args.severity, seed=args.seed)
    print(f"{len(files)} {args.kind} images (severity {args.severity}, seed {args.seed}) -> {args.out}")


if __name__ == "__main__":
    main()
