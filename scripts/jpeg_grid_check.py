"""How well ``find_jpeg_grid`` reads a JPEG's quality from its pixels, and what the JPEG route does at each quality.

    .venv/bin/python scripts/jpeg_grid_check.py --data runs/photos/train
    .venv/bin/python scripts/jpeg_grid_check.py --data runs/photos/train --route-gain   # + the route model's gain

Two windows of each photo (``--side`` px, at random places; the second cut 1-7 px off the JPEG's grid after
compression, as a crop of a JPEG is), compressed at each quality by Pillow (4:2:0 and 4:4:4) and, when installed,
OpenCV (``pip install opencv-python-headless``: another program's encoder), then read back with
:func:`irtool.degrade.jpeg_grid.find_jpeg_grid`. Per encoder and quality it prints how many windows read above the
quality ``--auto`` restores up to (``irtool.restore.FINEST_RESTORED_JPEG_QUALITY``: those it copies), how many
read at or below it, how many show no grid, and how many read *finer* than the truth (more than 2 above the true
quality: the error the reading must not make, since it would copy a visible JPEG). The windows uncompressed are
read too (a grid found there is a false one). ``--route-gain`` adds the mean and worst PSNR gain of the JPEG
route's model (the ``weights.toml`` route) on the Pillow 4:2:0 windows at each quality, and how many it makes worse
(more than 0.1 dB below the input): where copying beats restoring.
"""

from __future__ import annotations

import argparse
import io as _io
from pathlib import Path

import numpy as np


def _encoders() -> dict:
    from PIL import Image

    def pillow(subsampling: int):
        def encode(rgb: np.ndarray, quality: int) -> np.ndarray:
            buffer = _io.BytesIO()
            Image.fromarray(rgb).save(buffer, "JPEG", quality=quality, subsampling=subsampling)
            buffer.seek(0)
            return np.asarray(Image.open(buffer).convert("RGB"))
        return encode

    encoders = {"Pillow 4:2:0": pillow(2), "Pillow 4:4:4": pillow(0)}
    try:
        import cv2
    except ImportError:
        print("(OpenCV not installed: its encoder's rows are left out)\n")
        return encoders

    def opencv(rgb: np.ndarray, quality: int) -> np.ndarray:
        _, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
        return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]

    encoders["OpenCV"] = opencv
    return encoders


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    from irtool.degrade.jpeg_grid import find_jpeg_grid
    from irtool.restore import FINEST_RESTORED_JPEG_QUALITY

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="folder of clean photos (PNG)")
    parser.add_argument("--side", type=int, default=320)
    parser.add_argument("--qualities", type=int, nargs="*",
                        default=[10, 20, 30, 40, 50, 60, 65, 70, 75, 80, 85, 90, 95])
    parser.add_argument("--route-gain", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    windows: list[tuple[np.ndarray, int, int]] = []  # (window with 8 px to spare, crop row, crop col)
    for path in sorted(Path(args.data).glob("*.png")):
        photo = np.asarray(Image.open(path).convert("RGB"))
        height, width = photo.shape[:2]
        if min(height, width) < args.side + 8:
            continue
        for k in range(2):
            top, left = rng.integers(0, height - args.side - 8), rng.integers(0, width - args.side - 8)
            shift = (0, 0) if k == 0 else (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
            windows.append((photo[top:top + args.side + 8, left:left + args.side + 8], *shift))
    limit = FINEST_RESTORED_JPEG_QUALITY
    print(f"{len(windows)} windows of {args.side} px from {args.data}; --auto copies a JPEG call read above quality "
          f"{limit}\n")
    print("| encoder | quality | read above | read at or below | no grid | read finer than the truth |")
    print("|---|---:|---:|---:|---:|---:|")
    clean = [find_jpeg_grid(w[r:r + args.side, c:c + args.side].astype(np.float32) / 255) for w, r, c in windows]
    print(f"| none (the windows as they are) | - | {sum(g is not None and g.quality > limit for g in clean)} | "
          f"{sum(g is not None and g.quality <= limit for g in clean)} | {sum(g is None for g in clean)} | - |")
    compressed: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for name, encode in _encoders().items():
        for quality in args.qualities:
            above = below = none = finer = 0
            for window, row, col in windows:
                decoded = encode(window, quality)[row:row + args.side, col:col + args.side]
                if name == "Pillow 4:2:0":
                    compressed.setdefault(quality, []).append(
                        (window[row:row + args.side, col:col + args.side], decoded))
                grid = find_jpeg_grid(decoded.astype(np.float32) / 255)
                if grid is None:
                    none += 1
                    continue
                above += grid.quality > limit
                below += grid.quality <= limit
                finer += grid.quality > quality + 2
            print(f"| {name} | {quality} | {above} | {below} | {none} | {finer} |")
    if args.route_gain:
        _route_gain(compressed)
    return 0


def _route_gain(compressed: dict[int, list[tuple[np.ndarray, np.ndarray]]]) -> None:
    from irtool.evaluate.auto import WORSE_DB
    from irtool.metrics import psnr
    from irtool.restore import restore_same_size
    from irtool.weights.routes import choose_route
    from irtool.zoo import EngineSettings, ModelZoo

    zoo = ModelZoo(EngineSettings())
    choice = choose_route(zoo.catalog, "jpeg")
    entry = choice.used or choice.preferences[0]
    loaded = zoo.from_entry(entry)
    print(f"\n{entry} on the Pillow 4:2:0 windows (gain: PSNR of its output minus the JPEG's, against the window)\n")
    print("| quality | mean gain (dB) | worst | made worse |")
    print("|---:|---:|---:|---:|")
    for quality, pairs in sorted(compressed.items()):
        gains = []
        for original, decoded in pairs:
            clean, jpeg = original.astype(np.float32) / 255, decoded.astype(np.float32) / 255
            gains.append(psnr(restore_same_size(loaded, jpeg), clean) - psnr(jpeg, clean))
        array = np.array(gains)
        print(f"| {quality} | {array.mean():+.2f} | {array.min():+.2f} | {int((array < -WORSE_DB).sum())} |")


if __name__ == "__main__":
    raise SystemExit(main())
