"""Where ``--auto``'s pixel tests sit on training photos, clean and with each degradation: the veil test (haze) and
the noise floor (clean calls).

    .venv/bin/python scripts/pixel_tests.py --data runs/photos/train               # the veil test
    .venv/bin/python scripts/pixel_tests.py --data runs/photos/train --test noise  # the noise floor

He, Sun and Tang's dark channel prior: in a photo without haze most regions hold some pixel that is dark in one
colour channel, so the image's median dark channel is low; haze adds airlight ``A (1 - t)`` to every channel and
lifts it. ``--auto`` leaves an image it calls hazy as it is when its median dark channel
(:func:`irtool.detect.scene_statistics`, ``dark_channel_p50``) is below :data:`irtool.detect.VEIL_DARK_CHANNEL_MIN`
(``--gray``: the same on gray photos of the degraded scenes).
This script shows where that threshold sits among the training photos (never the held-out ones): per true type,
the spread of the median dark channel over random windows degraded by every registered generator (``--synthesis
wide``) at visible severities (0.25-1), and the share of each type below the threshold (for haze: visible haze the
test would wrongly leave; for the others: images the test keeps from the haze route if they are called hazy).

``--test noise``: :func:`irtool.detect.noise_floor` (Immerkaer's noise estimate in the flattest tenth of 16 px
blocks, 8-bit levels) per true type, and the share below :data:`irtool.detect.NOISE_FLOOR_MIN`, from which
``--auto`` denoises an image the detector calls clean; the rest are, for clean windows, the false alarms and, for
noise, the noisy images a clean call would no longer leave noisy.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of clean training photos")
    parser.add_argument("--windows", type=int, default=6, help="random windows per photo and type")
    parser.add_argument("--synthesis", default="wide", choices=["default", "wide"])
    parser.add_argument("--test", default="veil", choices=["veil", "noise", "exposure", "sharpness"])
    parser.add_argument("--gray", action="store_true",
                        help="gray photos of the degraded scenes (each window's luma after degrading), as a gray "
                             "camera or a black-and-white conversion makes them")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from irtool.degradations import CLEAN, detector_types
    from irtool.detect import (
        EDGE_SHARPNESS_MIN,
        HIGHLIGHT_LEVEL_MAX,
        NOISE_FLOOR_MIN,
        VEIL_DARK_CHANNEL_MIN,
        edge_sharpness,
        highlight_level,
        median_dark_channel,
        noise_floor,
    )
    from irtool.evaluate.benchmarks import folder_dataset
    from irtool.evaluate.detection import detection_input
    from irtool.evaluate.runner import read_uint8
    from irtool.train.vote import _window

    measure, measured, threshold = {
        "veil": (median_dark_channel, "median dark channel", VEIL_DARK_CHANNEL_MIN),
        "noise": (noise_floor, "noise floor (8-bit levels)", NOISE_FLOOR_MIN),
        "exposure": (highlight_level, "highlight level (99th percentile of luma)", HIGHLIGHT_LEVEL_MAX),
        "sharpness": (edge_sharpness, "edge sharpness", EDGE_SHARPNESS_MIN),
    }[args.test]
    values: dict[str, list[float]] = {kind: [] for kind in detector_types()}
    for sample in folder_dataset(args.data).samples:
        clean = read_uint8(sample.gt, mode="rgb").astype(np.float32) / np.float32(255.0)
        rng = np.random.default_rng([0, zlib.crc32(sample.name.encode("utf-8"))])
        for kind in values:
            for _ in range(args.windows):
                window = _window(clean, rng)
                severity = 0.0 if kind == CLEAN else float(rng.uniform(0.25, 1.0))
                pixels, _ = detection_input(window, kind, severity, rng=rng, synthesis=args.synthesis)
                if args.gray:
                    pixels = np.round(pixels @ np.float32([0.299, 0.587, 0.114]) * 255)[..., None] / 255
                image = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)
                values[kind].append(measure(image))
    print(f"{args.data}: {measured} per true type, {args.windows} windows per photo, severity 0.25-1, "
          f"{args.synthesis} generators{', gray' if args.gray else ''}; threshold {threshold}\n")
    print("| true type | samples | min | 2% | 10% | 50% | 90% | 98% | max | below the threshold |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, found in values.items():
        q = np.quantile(found, [0.0, 0.02, 0.1, 0.5, 0.9, 0.98, 1.0])
        below = float(np.mean(np.asarray(found) < threshold))
        print(f"| {kind} | {len(found)} | " + " | ".join(f"{v:.3f}" for v in q) + f" | {below:.1%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
