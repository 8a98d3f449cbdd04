"""How many clean photos (whole, and in grids of crops) carry a brightness cut's fingerprint: a share of pixels black
in every channel together with a white point below white (headroom).

A constant subtracted from a photo (a brightness slider; kornia's and albumentations' brightness) clips every pixel
darker than the constant to black and stops the brightest pixels that far below white; a low-key photo on a black
ground can look the same. This counts, in folders of photos irtool has not darkened, the images that fit the
fingerprint, so a test built on it can be checked against real scenes (docs/auto-history.md, "A brightness cut"):

    python scripts/tone_extremes.py --data runs/photos_extra/train runs/photos/train runs/photos/val
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from irtool.io import list_images, read_image


def black_share(rgb: np.ndarray) -> float:
    """Share of pixels at level 0 in every channel (``rgb`` float in [0, 1], 8-bit levels)."""
    return float(np.mean(np.all(rgb <= 0.5 / 255.0, axis=2)))


def headroom(rgb: np.ndarray) -> float:
    """1 minus the 99.9th percentile of each pixel's brightest channel."""
    return 1.0 - float(np.percentile(rgb.max(axis=2), 99.9))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="folders of clean photos")
    parser.add_argument("--grids", type=int, nargs="+", default=[1, 2, 3], help="n x n grids of crops (1: whole)")
    parser.add_argument("--black", type=float, nargs="+", default=[0.01, 0.05], help="black shares to count from")
    parser.add_argument("--headroom", type=float, default=0.2, help="headroom to count from")
    args = parser.parse_args(argv)
    rows: list[tuple[str, int, float, float]] = []
    for folder in args.data:
        for src in list_images(folder):
            pixels = read_image(src).pixels
            rgb = np.repeat(pixels[..., :1], 3, axis=2) if pixels.shape[2] < 3 else pixels[..., :3]
            height, width = rgb.shape[:2]
            for grid in args.grids:
                for r in range(grid):
                    for c in range(grid):
                        top, left = r * height // grid, c * width // grid
                        crop = rgb[top:(r + 1) * height // grid, left:(c + 1) * width // grid]
                        rows.append((f"{src.name} r{r}c{c}", grid, black_share(crop), headroom(crop)))
    print(f"| grid | images | {' | '.join(f'>= {b:.0%} black' for b in args.black)} | "
          f"{' | '.join(f'>= {b:.0%} black and >= {args.headroom} headroom' for b in args.black)} |")
    print("|---:|---:|" + "---:|" * 2 * len(args.black))
    for grid in args.grids:
        chosen = [row for row in rows if row[1] == grid]
        black = [sum(row[2] >= b for row in chosen) for b in args.black]
        both = [sum(row[2] >= b and row[3] >= args.headroom for row in chosen) for b in args.black]
        print(f"| {grid} x {grid} | {len(chosen)} | {' | '.join(map(str, black))} | {' | '.join(map(str, both))} |")
    fitting = [row for row in rows if row[2] >= min(args.black) and row[3] >= args.headroom]
    for name, grid, black_part, room in fitting:
        print(f"- {name} ({grid} x {grid}): {black_part:.1%} black, headroom {room:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
