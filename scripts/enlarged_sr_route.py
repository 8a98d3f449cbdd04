#!/usr/bin/env python3
"""Which x2 or x4 super-resolution serves an enlargement by another factor better, once ``--auto`` has recovered
its small original (``find_enlargement``, ``recover_enlarged``): the x2 model then a bicubic resize up to the
photo's size (what ``restore_same_size`` does with the x2 route), or the x4 model then a bicubic (antialiased)
resize down to it. RGB PSNR against the clean photo, in dB, over the enlargements the search finds.

    python scripts/enlarged_sr_route.py --data runs/photos/val_crops            # irtool's own: Pillow enlargements
    python scripts/enlarged_sr_route.py --labelled runs/fresh160c               # a labelled set's low-resolution

``--data``: each clean photo shrunk by Pillow's bicubic by 2.5, 3 and 4 and enlarged back with Pillow's Lanczos and
bicubic kernels. ``--labelled``: the ``low-resolution`` images of a set made by ``scripts/heldout_degrade.py`` or
``scripts/make_degraded_set.py --labelled``, against their ``clean`` crops.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from irtool.degrade import imresize
from irtool.degrade.enlargement import find_enlargement, recover_enlarged
from irtool.evaluate.auto import labelled_pairs
from irtool.evaluate.runner import read_uint8
from irtool.metrics import psnr
from irtool.zoo import EngineSettings, ModelZoo

FACTORS = (2.5, 3.0, 4.0)
KERNELS = {"pillow-lanczos": Image.Resampling.LANCZOS, "pillow-bicubic": Image.Resampling.BICUBIC}


def own_enlargements(folder: Path):
    """(label, enlarged float image, clean uint8 photo) for every clean photo, factor and kernel."""
    for path in sorted(folder.glob("*.png")):
        clean = read_uint8(path, mode="rgb")
        h, w = clean.shape[:2]
        for factor in FACTORS:
            small = Image.fromarray(clean).resize((round(w / factor), round(h / factor)), Image.Resampling.BICUBIC)
            for name, kernel in KERNELS.items():
                yield f"x{factor:g} {name}", np.asarray(small.resize((w, h), kernel)).astype(np.float32) / 255, clean


def labelled_enlargements(root: Path):
    """(setting, image, clean crop) for every low-resolution image of a labelled set."""
    for kind, path, original in labelled_pairs(root):
        if kind == "low-resolution":
            setting = path.stem.split("__")[1] if "__" in path.stem else ""
            yield setting, read_uint8(path, mode="rgb").astype(np.float32) / 255, read_uint8(original, mode="rgb")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="folder of clean photos to enlarge with Pillow")
    source.add_argument("--labelled", type=Path, help="a labelled set's root (low-resolution/ and clean/)")
    args = parser.parse_args()
    zoo = ModelZoo(EngineSettings(device="cpu"))
    models = [zoo.from_entry("hi_ir_sr2_lite"), zoo.from_entry("hi_ir_sr4_lite")]
    images = own_enlargements(args.data) if args.data else labelled_enlargements(args.labelled)
    rows: dict[str, list[list[float]]] = {}
    for label, enlarged, clean in images:
        found = find_enlargement(enlarged)
        if found is None:
            continue
        small = np.clip(recover_enlarged(enlarged, *found), 0, 1).astype(np.float32)
        row = [psnr(enlarged, clean)]
        for model in models:
            out = np.clip(imresize(model.run_image(small), output_shape=clean.shape[:2]), 0, 1)
            row.append(psnr(np.round(out * 255).astype(np.uint8), clean))
        rows.setdefault(label, []).append(row)
    print("| enlargement | found | input (dB) | x2 model, resized up | x4 model, resized down |")
    print("|---|---:|---:|---:|---:|")
    for label, found_rows in rows.items():
        mean = np.mean(found_rows, axis=0)
        print(f"| {label} | {len(found_rows)} | {mean[0]:.2f} | {mean[1]:.2f} | {mean[2]:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
