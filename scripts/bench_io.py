"""Benchmark image file I/O: `irtool.io.read_image` and `irtool.io.write_image` on a large 8- and 16-bit photo.

    .venv/bin/python scripts/bench_io.py                      # 12 MP (4000x3000) 8- and 16-bit RGB, PNG and TIFF
    .venv/bin/python scripts/bench_io.py --width 6000 --height 4000 --repeats 5 --bits 16

The image is synthetic but photo-like (smooth structure plus sensor-like noise, so it compresses like a photograph,
not like a flat gradient or white noise). The files that are *read* are made by other encoders (imagecodecs' PNG
encoder at zlib level 6, libpng's default; tifffile with Adobe Deflate and horizontal differencing, as photo
editors write 16-bit TIFF), so the read column compares decoders on the same bytes whatever irtool writes. The
write column times `write_image` of float pixels to a file of the same depth, atomic rename and fsync included; the
"Pillow PNG" row is the reference for 8-bit writing (`PIL.Image.save`, compress_level 6, what irtool used before).
Each cell is the median of `--repeats` runs in a temporary folder. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def photo_like(height: int, width: int, seed: int = 0) -> np.ndarray:
    """HxWx3 uint16: smooth colour structure plus a little noise."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    channels = [
        0.5 + 0.3 * np.sin(7 * x + 3 * y) * np.cos(5 * y),
        0.45 + 0.25 * np.cos(11 * x * y + 2 * x),
        0.4 + 0.3 * np.sin(13 * y - 4 * x),
    ]
    image = np.stack(channels, axis=2) + rng.normal(0.0, 0.01, (height, width, 3)).astype(np.float32)
    return (np.clip(image, 0.0, 1.0) * 65535 + 0.5).astype(np.uint16)


def _median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bits", type=int, nargs="+", choices=(8, 16), default=[8, 16])
    args = parser.parse_args(argv)

    import imagecodecs
    import tifffile
    from PIL import Image

    from irtool.io import read_image, write_image

    samples16 = photo_like(args.height, args.width)
    megapixels = args.width * args.height / 1e6
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for bits in args.bits:
            samples = samples16 if bits == 16 else (samples16 >> 8).astype(np.uint8)
            peak = np.float32(65535 if bits == 16 else 255)
            pixels = samples.astype(np.float32) / peak
            source = {"png": Path(folder) / f"in{bits}.png", "tiff": Path(folder) / f"in{bits}.tif"}
            source["png"].write_bytes(imagecodecs.png_encode(samples, level=6))
            tifffile.imwrite(source["tiff"], samples, photometric="rgb", compression="adobe_deflate", predictor=True)
            for fmt, path in source.items():
                loaded = read_image(path)
                assert loaded.bit_depth == bits and np.array_equal(
                    (loaded.pixels * peak + 0.5).astype(samples.dtype), samples
                ), f"{fmt}: read back differs from the source"
                read_s = _median_seconds(lambda path=path: read_image(path), args.repeats)
                out = Path(folder) / f"out{bits}.{'tif' if fmt == 'tiff' else fmt}"
                write_s = _median_seconds(
                    lambda out=out, pixels=pixels, bits=bits: write_image(out, pixels, bit_depth=bits), args.repeats)
                rows.append((f"{fmt.upper()} {bits}-bit", path.stat().st_size / 2**20, read_s,
                             out.stat().st_size / 2**20, write_s))
            if bits == 8:
                ref = Path(folder) / "pillow.png"
                write_s = _median_seconds(
                    lambda ref=ref, samples=samples: Image.fromarray(samples).save(ref, format="PNG", compress_level=6),
                    args.repeats)
                rows.append(("Pillow PNG 8-bit (reference writer)", math.nan, math.nan, ref.stat().st_size / 2**20,
                             write_s))
    print(f"{args.width}x{args.height} ({megapixels:g} MP) RGB, median of {args.repeats}\n")
    print("| format | file read (MiB) | read_image | file written (MiB) | write_image |")
    print("|---|---:|---:|---:|---:|")
    for fmt, in_mib, read_s, out_mib, write_s in rows:
        read = "- | -" if math.isnan(read_s) else f"{in_mib:.1f} | {read_s:.2f} s"
        print(f"| {fmt} | {read} | {out_mib:.1f} | {write_s:.2f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
